//! What `prepare` is asked to do: inputs, the event-type mapping, the filters, the split, the engine.

use std::path::PathBuf;

use anyhow::{bail, Result};
use nextclick::contract::EventKind;
use serde::Serialize;

/// The explicit event-type mapping: raw type (trimmed, lower-cased) → canonical kind.
///
/// The right-hand sides go through the core's `nextclick::event::parse_kind` (the one owner of the
/// vocabulary: canonical names and aliases); the left-hand sides are the log's own spellings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// `(raw type, canonical name)`, in the order given.
    pub pairs: Vec<(String, String)>,
}

impl Mapping {
    /// Parses `raw=kind,raw=kind,…` (e.g. `view=view,addtocart=cart,transaction=purchase`).
    pub fn parse(spec: &str) -> Result<Mapping> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((raw, kind)) = part.split_once('=') else {
                bail!("--map: {part:?} is not raw=kind (e.g. addtocart=cart)");
            };
            let raw = raw.trim().to_ascii_lowercase();
            if raw.is_empty() {
                bail!("--map: {part:?} has an empty raw event type");
            }
            let k = nextclick::event::parse_kind(kind.trim()).map_err(|e| {
                anyhow::anyhow!("--map: {part:?}: {e} (canonical: view, click, cart, remove_from_cart, purchase and their aliases)")
            })?;
            if pairs.iter().any(|(r, _)| *r == raw) {
                bail!("--map: raw event type {raw:?} is mapped twice");
            }
            pairs.push((raw, k.name().to_string()));
        }
        if pairs.is_empty() {
            bail!("--map: no raw=kind pair");
        }
        Ok(Mapping { pairs })
    }

    /// The canonical names mapped to themselves (`view=view,click=click,…`): the default mapping.
    pub fn canonical() -> Mapping {
        Mapping {
            pairs: EventKind::ALL
                .iter()
                .map(|k| (k.name().to_string(), k.name().to_string()))
                .collect(),
        }
    }
}

/// How `timestamp` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeMode {
    /// Unix seconds (integers, or ISO-8601 date-times): sessions are cut at the inactivity gap.
    Unix,
    /// Order only (0, 1, 2, … within a source session): the source sessions are kept.
    Ordinal,
}

/// How the kept events are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "rule")]
pub enum SplitRule {
    /// Leave-one-out per user (crates/data/src/split.rs): last event test, second last valid, the rest
    /// train; users with fewer than 3 events all train.
    Loo,
    /// By time: `timestamp >= test_from` test, `>= valid_from` valid, else train.
    Time {
        /// First timestamp of the validation period.
        valid_from: i64,
        /// First timestamp of the test period.
        test_from: i64,
    },
}

/// Where the plan runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// Embedded DataFusion on this machine.
    Local,
    /// A Ballista scheduler, `df://host:port`.
    Cluster(String),
}

/// Everything `prepare` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events: a `.csv` / `.parquet` file or a folder of them (one kind).
    pub events: PathBuf,
    /// The canonical items.csv.
    pub items: PathBuf,
    /// Output folder (created; existing shards are replaced).
    pub out: PathBuf,
    /// Raw event type → canonical kind.
    pub mapping: Mapping,
    /// An event type without a mapping is an error (default: counted and dropped).
    pub strict: bool,
    /// Inactivity gap in seconds that starts a new session (unix time).
    pub session_gap: i64,
    /// Timestamp reading.
    pub time: TimeMode,
    /// Sessions with fewer events (after dedup) are dropped.
    pub min_session_events: u64,
    /// Items with fewer events (after the session filter) are dropped.
    pub min_item_events: u64,
    /// Split rule.
    pub split: SplitRule,
    /// Output shards (users hashed into this many files).
    pub partitions: u32,
    /// Memory pool limit in bytes of the embedded engine (operators spill to disk beyond it).
    pub memory_limit: Option<usize>,
    /// DataFusion target partitions (parallelism) of the embedded engine; default: the cores.
    pub threads: Option<usize>,
    /// Work buckets between the plan's stages (1..=[`crate::buckets::MAX_BUCKETS`]); default: from the
    /// input size and `memory_limit` ([`crate::buckets::Buckets::for_input`]). The output does not depend
    /// on it.
    pub buckets: Option<u32>,
    /// Embedded or a Ballista cluster.
    pub engine: Engine,
    /// A progress spinner on stderr (rows read, rows written, the shard being written); the CLI turns it
    /// on, the library's callers default to quiet.
    pub progress: bool,
}

impl Options {
    /// Defaults for `events`, `items`, `out`: canonical mapping, 30 min gap, unix time, sessions of ≥ 2
    /// events, items of ≥ 5 events, leave-one-out, 16 shards, 2 GiB memory pool, embedded.
    pub fn new(events: PathBuf, items: PathBuf, out: PathBuf) -> Options {
        Options {
            events,
            items,
            out,
            mapping: Mapping::canonical(),
            strict: false,
            session_gap: 30 * 60,
            time: TimeMode::Unix,
            min_session_events: 2,
            min_item_events: 5,
            split: SplitRule::Loo,
            partitions: 16,
            memory_limit: Some(2 << 30),
            threads: None,
            buckets: None,
            engine: Engine::Local,
            progress: false,
        }
    }

    /// Checks the values that the plan interpolates.
    pub fn validate(&self) -> Result<()> {
        if self.partitions == 0 || self.partitions > 65_536 {
            bail!("--partitions must be 1..=65536, got {}", self.partitions);
        }
        if let Some(b) = self.buckets {
            if b == 0 || b > crate::buckets::MAX_BUCKETS {
                bail!(
                    "--buckets must be 1..={}, got {b}",
                    crate::buckets::MAX_BUCKETS
                );
            }
        }
        if self.session_gap < 0 {
            bail!("--session-gap must not be negative");
        }
        if let SplitRule::Time {
            valid_from,
            test_from,
        } = self.split
        {
            if valid_from > test_from {
                bail!("--valid-from ({valid_from}) is after --test-from ({test_from})");
            }
        }
        if let Engine::Cluster(url) = &self.engine {
            if !url.starts_with("df://") {
                bail!("--cluster must be df://host:port, got {url:?}");
            }
        }
        Ok(())
    }
}
