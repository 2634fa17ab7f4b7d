//! Evaluation of nextclick on real data, natively, through the very code the page runs.
//!
//! - `nextclick eval` ([`run`]): a target shop's sessions (its canonical-layout folder, read by
//!   [`nextclick_data::replay`]) replayed in time order through the core [`nextclick::predictor::Predictor`]
//!   ([`device`]: zero-shot, on-device learning, shop adaptation in [`shop`]) and through the baselines
//!   ([`baselines`]: popularity, co-occurrence, session-kNN), scored by [`metrics`] and written as a report
//!   section with plots ([`report`], [`plot`]).
//! - `nextclick eval-loo` ([`loo`]): the paper protocol (leave-one-out per user, full-catalog ranking,
//!   history excluded) of an exported model through tract.
//!
//! No ML framework here: models come in as exported ONNX files and catalogs.

#![warn(missing_docs)]

pub mod args;
pub mod baselines;
pub mod device;
pub mod loo;
pub mod metrics;
pub mod plot;
pub mod replay;
pub mod report;
pub mod rows;
pub mod run;
pub mod shop;
