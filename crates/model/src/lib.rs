//! nextclick's models without a training framework.
//!
//! - [`encoder`]: the contract-v1 session encoder's weights, its ONNX writer and its plain-Rust reference
//!   forward pass (what tract must reproduce), and the deterministic [`encoder::SplitMix`] generator.
//! - [`tower`]: the item tower (content embedding → item vector) in plain Rust, its file format, and where
//!   a model's card and tower live beside its ONNX.
//! - [`content`]: content-embedding files (`.emb`); [`content_shard`]: their shards (`.embp`) and the merge.
//! - [`catalog`]: a shop's catalog from its items and content embeddings through a tower; the contract
//!   input of a session.
//! - [`ivfpq`]: the IVF-PQ catalog builder (k-means lists, product quantisation) for big shops.
//! - [`rank`]: full-catalog ranking metrics.
//! - [`shop_head`]: the shop head `θ₀` learned from the shop's orders with the core's own learner.
//! - [`item_shift`]: feature-based transfer `f' = f + Δf` from the same orders, baked into the catalog.
//! - [`bundle`]: a shop's deployable folder: file hashes and SRI, the manifest, the init module and the
//!   HTML snippet, item changes between builds.
//! - [`reference`], [`fixture`]: the deterministic reference model and the scripted scenario whose outputs
//!   the browser tests compare against.
//!
//! Training lives in `nextclick-train` (candle), evaluation in `nextclick-eval`.

#![warn(missing_docs)]

pub mod bundle;
pub mod catalog;
pub mod content;
pub mod content_shard;
pub mod encoder;
pub mod fixture;
pub mod item_shift;
pub mod ivfpq;
pub mod rank;
pub mod reference;
pub mod shop_head;
pub mod tower;
