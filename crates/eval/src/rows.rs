//! The rows of the replay table: what each is, and what replaying it gave.

use std::path::PathBuf;

use crate::replay::ReplayOutput;
use crate::shop::FedReport;

/// Top-K scored.
pub const K: usize = 20;

/// What a row is.
#[derive(Debug, Clone, PartialEq)]
pub enum RowKind {
    /// Popularity in the history window.
    Popularity,
    /// Item-to-item co-occurrence.
    Cooccurrence,
    /// Session-kNN.
    Sknn,
    /// A centrally trained model (ONNX, catalog).
    Reference(PathBuf, PathBuf),
    /// The source model, no on-device learning.
    ZeroShot,
    /// The source model with on-device learning at `α` (`None` = grown).
    Device(Option<f32>),
    /// Federated averaging with noise multiplier `z`.
    Fed(f64),
    /// The shop head learned from the history window's purchases (`nextclick shop-head`), with on-device
    /// learning on top (`true`) or alone (`false`).
    ShopHead(bool),
    /// As [`RowKind::ShopHead`], the shop head also carrying intent priors learned from the history
    /// window's events (`nextclick shop-head --history`), with on-device learning (`true`) or not.
    ShopIntent(bool),
    /// Feature-based transfer: the catalog's item vectors shifted towards the contexts of the history window's purchases
    /// (`nextclick_model::item_shift`), no on-device learning.
    ItemShift,
}

/// A row to replay.
#[derive(Debug, Clone)]
pub struct RowSpec {
    /// Short name (`--rows`).
    pub name: String,
    /// Table label.
    pub label: String,
    /// What it is trained on / how it runs.
    pub how: String,
    /// Kind.
    pub kind: RowKind,
}

/// A replayed row.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The spec.
    pub spec: RowSpec,
    /// The replay.
    pub out: ReplayOutput,
    /// Extra facts (federated report, purchases used, events refused by the core).
    pub note: String,
    /// The federated report, if any.
    pub fed: Option<FedReport>,
    /// Seconds spent training before the replay.
    pub train_seconds: f64,
}
