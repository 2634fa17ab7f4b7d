//! `nextclick prepare`: raw event logs (CSV / Parquet, a file or a folder, any size) + items.csv + an
//! explicit event-type mapping → training shards in Parquet (docs/prepare.md), on embedded DataFusion or a
//! Ballista cluster (`--cluster df://host:port`). The work is `nextclick_prepare::prepare`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use nextclick_prepare::{Engine, Mapping, Options, SplitRule, TimeMode};

/// How `timestamp` is read.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Time {
    /// Unix seconds (or ISO-8601 date-times): sessions cut at `--session-gap`.
    Unix,
    /// Ordinals within each source session: the source sessions are kept.
    Ordinal,
}

/// The split rule.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Split {
    /// Leave-one-out per user: last event test, second last valid (users with ≥ 3 events).
    Loo,
    /// By time: `--valid-from` and `--test-from`.
    Time,
}

/// Arguments of `prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Events: a .csv or .parquet file, or a folder of them (`session_id,user_id,timestamp,event_type,item_id`).
    #[arg(long)]
    pub events: PathBuf,
    /// The canonical items.csv (`item_id,title,category,brand,price`).
    #[arg(long)]
    pub items: PathBuf,
    /// Output folder: items.csv, shards/part-NNNNN.parquet, manifest.json, report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Raw event type → canonical kind, e.g. `view=view,addtocart=cart,transaction=purchase` (kinds: the
    /// core's names and aliases). Default: the canonical names only.
    #[arg(long)]
    pub map: Option<String>,
    /// An event type without a mapping stops the run (default: counted in the report and dropped).
    #[arg(long)]
    pub strict: bool,
    /// Inactivity gap that starts a new session, in minutes.
    #[arg(long, default_value_t = 30.0)]
    pub session_gap: f64,
    /// How timestamps are read.
    #[arg(long, value_enum, default_value_t = Time::Unix)]
    pub time: Time,
    /// Sessions with fewer events (after dedup) are dropped.
    #[arg(long, default_value_t = 2)]
    pub min_session_events: u64,
    /// Items with fewer events (after the session filter) are dropped.
    #[arg(long, default_value_t = 5)]
    pub min_item_events: u64,
    /// Split rule.
    #[arg(long, value_enum, default_value_t = Split::Loo)]
    pub split: Split,
    /// `--split time`: first timestamp of the validation period.
    #[arg(long)]
    pub valid_from: Option<i64>,
    /// `--split time`: first timestamp of the test period.
    #[arg(long)]
    pub test_from: Option<i64>,
    /// Output shards (users hashed into this many files).
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Memory pool of the embedded engine in MiB (operators spill to disk beyond it; 0 = unlimited).
    #[arg(long, default_value_t = 2048)]
    pub memory_limit: usize,
    /// Parallelism of the embedded engine (default: the cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Work buckets between the plan's stages (default: from the input size and --memory-limit, one per
    /// 2M rows at 2 GiB); more buckets, less memory per stage. The shards do not depend on it.
    #[arg(long)]
    pub buckets: Option<u32>,
    /// Run on a Ballista cluster: the scheduler's `df://host:port` (inputs and --out on shared storage).
    #[arg(long)]
    pub cluster: Option<String>,
}

/// Runs the command.
pub fn run(a: PrepareArgs) -> Result<()> {
    let mut o = Options::new(a.events, a.items, a.out);
    if let Some(m) = &a.map {
        o.mapping = Mapping::parse(m)?;
    }
    o.strict = a.strict;
    if !(a.session_gap.is_finite() && a.session_gap >= 0.0) {
        bail!("--session-gap must be a non-negative number of minutes");
    }
    o.session_gap = (a.session_gap * 60.0).round() as i64;
    o.time = match a.time {
        Time::Unix => TimeMode::Unix,
        Time::Ordinal => TimeMode::Ordinal,
    };
    o.min_session_events = a.min_session_events;
    o.min_item_events = a.min_item_events;
    o.split = match (a.split, a.valid_from, a.test_from) {
        (Split::Loo, None, None) => SplitRule::Loo,
        (Split::Loo, _, _) => bail!("--valid-from / --test-from need --split time"),
        (Split::Time, Some(valid_from), Some(test_from)) => SplitRule::Time {
            valid_from,
            test_from,
        },
        (Split::Time, _, _) => bail!("--split time needs --valid-from and --test-from"),
    };
    o.partitions = a.partitions;
    o.memory_limit = (a.memory_limit > 0).then_some(a.memory_limit << 20);
    o.threads = a.threads;
    o.buckets = a.buckets;
    if let Some(c) = a.cluster {
        o.engine = Engine::Cluster(c);
    }
    o.progress = true;
    let t = std::time::Instant::now();
    let r = nextclick_prepare::prepare(&o)?;
    for l in r.lines() {
        println!("{l}");
    }
    println!(
        "prepare: {} events → {} in {:.1} s",
        r.input_rows,
        o.out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
