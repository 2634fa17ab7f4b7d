//! nextclick's training (candle): the only crate of the workspace that links an ML framework.
//!
//! - [`embed`]: item text → all-MiniLM-L6-v2 content embeddings (candle-transformers' BERT), cached by
//!   content hash.
//! - [`train`]: the trainer of the contract-v1 session encoder with an item tower (or an ID table), in
//!   one-job modules (net, ops, batch, encode, split, loss, evaluate, fit), and streaming from
//!   `nextclick prepare`'s Parquet shards with memory bounded by a shuffle buffer (stream).
//! - [`textft`]: fine-tuning the text encoder's top layers with the tower.
//! - [`export`]: a trained net's item tower in the plain-Rust form the catalogs are built with.
//! - [`items`]: an items.csv loaded and embedded in one call.
//! - [`shop`]: `nextclick shop build`: a product feed → a deployable folder, embedding incrementally.
//!
//! The exported model, catalogs and ranking metrics are `nextclick-model`'s; the data layout is
//! `nextclick-data`'s.

#![warn(missing_docs)]

pub mod embed;
pub mod export;
pub mod items;
pub mod shop;
pub mod textft;
pub mod train;
