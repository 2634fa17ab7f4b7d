//! `nextclick prepare` (#21): raw event logs in CSV or Parquet (a file or a folder, any size), the item table
//! and an explicit event-type mapping → validated, deduplicated, sessionized, filtered and split training
//! shards in Parquet, partitioned by user hash, with a report of every row dropped and why.
//!
//! One plan in three stages ([`plan`]) over work buckets that bound the memory of each ([`buckets`]), two
//! executors: embedded DataFusion with a bounded, spilling memory pool ([`Engine::Local`]) or an Apache
//! Ballista cluster ([`Engine::Cluster`], `df://host:port`). The client streams the last stage's sorted
//! output into the shard files ([`shards::ShardWriter`], deterministic writer properties), so both engines
//! and every bucket count give byte-identical shards. The output contract is docs/prepare.md.

pub mod buckets;
pub mod generate;
pub mod options;
pub mod plan;
pub mod shards;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use ballista::prelude::SessionContextExt;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use nextclick_data::feed::FeedItem;
use nextclick_data::{load_items, LoadReport, EVENTS_HEADER};
use serde::Serialize;

pub use options::{Engine, Mapping, Options, SplitRule, TimeMode};

/// Version of the output layout (`manifest.json`'s `format`).
pub const FORMAT_VERSION: u32 = 1;

/// Why rows are dropped, in the order the plan tests them, with the report's explanation.
pub const REASONS: [(&str, &str); 9] = [
    ("missing_user", "both user_id and session_id empty"),
    ("bad_timestamp", "timestamp empty, unparseable or negative"),
    ("empty_event_type", "event_type empty"),
    ("empty_item", "item_id empty"),
    (
        "unknown_event_type",
        "event type not in the mapping (--map)",
    ),
    ("unknown_item", "item_id not in the item table"),
    (
        "duplicate",
        "same user, source session, timestamp, event type and item as a kept row",
    ),
    (
        "short_session",
        "session shorter than --min-session-events (after dedup)",
    ),
    (
        "rare_item",
        "item with fewer than --min-item-events events (after the session filter)",
    ),
];

/// One count of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Reason key (see [`REASONS`]).
    pub reason: String,
    /// Source rows dropped for it.
    pub rows: u64,
    /// What it means.
    pub why: String,
}

/// One shard file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// Path relative to the output folder (`shards/part-00000.parquet`).
    pub file: String,
    /// Rows.
    pub rows: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// What `prepare` did: every count, the shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Source rows read.
    pub input_rows: u64,
    /// Rows dropped, per reason, in [`REASONS`] order.
    pub dropped: Vec<Dropped>,
    /// Unmapped raw event types and their row counts.
    pub unknown_event_types: BTreeMap<String, u64>,
    /// Events written.
    pub events: u64,
    /// Users (user keys) written.
    pub users: u64,
    /// Sessions written.
    pub sessions: u64,
    /// Items in `items.csv` (the items of the written events).
    pub items: u64,
    /// Items of the item table.
    pub items_in_table: u64,
    /// Events per split (`train`, `valid`, `test`).
    pub splits: BTreeMap<String, u64>,
    /// The shard files.
    pub shards: Vec<Shard>,
}

impl Report {
    /// The count for `reason` (0 when absent).
    pub fn dropped(&self, reason: &str) -> u64 {
        self.dropped
            .iter()
            .find(|d| d.reason == reason)
            .map_or(0, |d| d.rows)
    }

    /// The printed report.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![format!("input rows        {:>12}", self.input_rows)];
        for d in &self.dropped {
            v.push(format!(
                "dropped {:<18} {:>12}  ({})",
                d.reason, d.rows, d.why
            ));
        }
        for (t, n) in &self.unknown_event_types {
            v.push(format!("  unknown type {t:?}: {n}"));
        }
        v.push(format!(
            "kept events       {:>12}  (train {}, valid {}, test {})",
            self.events,
            self.splits.get("train").unwrap_or(&0),
            self.splits.get("valid").unwrap_or(&0),
            self.splits.get("test").unwrap_or(&0)
        ));
        v.push(format!(
            "users {}, sessions {}, items {} of {}, shards {}",
            self.users,
            self.sessions,
            self.items,
            self.items_in_table,
            self.shards.len()
        ));
        v
    }
}

/// The events input: where, and which format.
#[derive(Debug, Clone)]
struct Input {
    path: String,
    parquet: bool,
    files: Vec<PathBuf>,
}

fn find_input(path: &Path) -> Result<Input> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let kind = |p: &Path| match p.extension().and_then(|e| e.to_str()) {
        Some("csv") => Some(false),
        Some("parquet") => Some(true),
        _ => None,
    };
    let abs = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    if meta.is_file() {
        let parquet = kind(path).ok_or_else(|| {
            anyhow!(
                "{}: events must be a .csv or .parquet file (or a folder of them)",
                path.display()
            )
        })?;
        return Ok(Input {
            path: abs.display().to_string(),
            parquet,
            files: vec![abs],
        });
    }
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for e in std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))? {
        let p = e?.path();
        if let Some(k) = kind(&p) {
            files.push((p, k));
        }
    }
    files.sort();
    let Some(&(_, parquet)) = files.first() else {
        bail!(
            "{}: no *.csv or *.parquet files in the folder",
            path.display()
        );
    };
    if files.iter().any(|(_, k)| *k != parquet) {
        bail!(
            "{}: the folder mixes .csv and .parquet files; use one format",
            path.display()
        );
    }
    Ok(Input {
        path: format!("{}/", abs.display()),
        parquet,
        files: files.into_iter().map(|(p, _)| p).collect(),
    })
}

fn text_schema() -> Schema {
    Schema::new(
        EVENTS_HEADER
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    )
}

async fn context(opts: &Options, spill: &Path) -> Result<SessionContext> {
    match &opts.engine {
        Engine::Local => {
            let threads = opts
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let mut config = SessionConfig::new()
                .with_target_partitions(threads)
                .with_batch_size(8192);
            plain_strings(&mut config);
            let mut rt = RuntimeEnvBuilder::new().with_temp_file_path(spill);
            if let Some(limit) = opts.memory_limit {
                rt = rt.with_memory_limit(limit, 1.0);
            }
            let state = SessionStateBuilder::new()
                .with_config(config)
                .with_runtime_env(rt.build_arc()?)
                .with_default_features()
                .build();
            Ok(SessionContext::new_with_state(state))
        }
        Engine::Cluster(url) => {
            use ballista::prelude::SessionConfigExt;
            let mut config = SessionConfig::new_with_ballista();
            plain_strings(&mut config);
            let state = SessionStateBuilder::new()
                .with_config(config)
                .with_default_features()
                .build();
            SessionContext::remote_with_state(url, state)
                .await
                .with_context(|| format!("cannot connect to the Ballista scheduler {url}"))
        }
    }
}

/// Plain `Utf8` strings instead of DataFusion's default `Utf8View` (read from Parquet, and for SQL's
/// `VARCHAR`). A view array taken or filtered from a batch keeps the batch's whole data buffers, and the
/// memory pool charges them to every array that shares them: the sorts of a 1M-row bucket were charged
/// 1.5 GB and failed within a 2 GiB pool (measured; the run passed or failed with the batch layout).
fn plain_strings(config: &mut SessionConfig) {
    let o = config.options_mut();
    o.execution.parquet.schema_force_view_types = false;
    o.sql_parser.map_string_types_to_utf8view = false;
}

/// Stack size of the thread that plans and drives the query and of the runtime's workers. DataFusion's
/// SQL planner and optimiser recurse over the plan tree; the frames of an unoptimised build (the
/// `ci-prepare` profile of `make test-prepare`) are many times those of `release`, and a 2 MiB thread
/// (a test thread's default) overflows on this plan. 64 MiB is reserved address space, not resident memory.
pub const ENGINE_STACK: usize = 64 << 20;

/// A multi-threaded tokio runtime whose workers have [`ENGINE_STACK`].
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(ENGINE_STACK)
        .build()
        .context("cannot start the tokio runtime")
}

/// Runs `f` on a scoped thread with [`ENGINE_STACK`] (for `block_on` of engine futures: they are polled
/// on the calling thread).
pub fn on_engine_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("nextclick-prepare".into())
            .stack_size(ENGINE_STACK)
            .spawn_scoped(s, f)
            .context("cannot start the prepare thread")?
            .join()
            .map_err(|p| {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                anyhow::anyhow!("prepare panicked: {msg}")
            })
    })
}

/// Runs `prepare` on a fresh tokio runtime (see [`prepare_async`]), driven from a thread with
/// [`ENGINE_STACK`].
pub fn prepare(opts: &Options) -> Result<Report> {
    on_engine_stack(|| runtime()?.block_on(prepare_async(opts)))?
}

fn column(b: &RecordBatch, name: &str, t: &DataType) -> Result<ArrayRef> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| anyhow!("plan output has no column {name}"))?;
    Ok(cast(c, t)?)
}

/// Reads, validates, deduplicates, sessionizes, filters, splits and writes `opts.out` (docs/prepare.md).
pub async fn prepare_async(opts: &Options) -> Result<Report> {
    opts.validate()?;
    let input = find_input(&opts.events)?;
    if !input.parquet {
        for f in &input.files {
            nextclick_data::csv::open(f, &EVENTS_HEADER, nextclick_data::csv::Policy::Tolerant)?;
        }
    }
    let items = load_items(&opts.items, &mut LoadReport::default())?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let out = std::fs::canonicalize(&opts.out)?;
    let work = out.join("_work");
    let shard_dir = out.join("shards");
    for d in [&work, &shard_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d)
                .with_context(|| format!("cannot replace {}", d.display()))?;
        }
    }
    std::fs::create_dir_all(work.join("spill"))?;
    std::fs::create_dir_all(&shard_dir)?;

    let ctx = context(opts, &work.join("spill")).await?;
    if input.parquet {
        ctx.register_parquet("raw", &input.path, ParquetReadOptions::default())
            .await
            .with_context(|| format!("cannot read {}", opts.events.display()))?;
        let t = ctx.table("raw").await?;
        let have: Vec<String> = t
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for c in EVENTS_HEADER {
            if !have.iter().any(|h| h == c) {
                bail!(
                    "{}: Parquet events have no column {c:?} (columns: {have:?}; expected {EVENTS_HEADER:?})",
                    opts.events.display()
                );
            }
        }
    } else {
        let schema = text_schema();
        let o = CsvReadOptions::new()
            .has_header(true)
            .schema(&schema)
            .file_extension(".csv")
            .truncated_rows(true);
        ctx.register_csv("raw", &input.path, o)
            .await
            .with_context(|| format!("cannot read {}", opts.events.display()))?;
    }
    let explain = std::env::var_os("NEXTCLICK_PREPARE_EXPLAIN").is_some();
    let bar = if opts.progress {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .expect("a valid template"),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let buckets = match opts.buckets {
        Some(n) => buckets::Buckets::new(n, opts.partitions),
        None => {
            buckets::Buckets::for_input(estimate_rows(&input)?, opts.memory_limit, opts.partitions)
        }
    };
    let utf8 = DataType::Utf8;
    let i64t = DataType::Int64;
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut st = Streamed::default();

    // Stage 1: validate, hash, and write the good rows into their buckets.
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    bar.set_message(format!(
        "stage 1 of 3: reading and validating the events into {} work buckets",
        buckets.count
    ));
    let bucket_schema = Arc::new(Schema::new(vec![
        Field::new("part", DataType::Int64, false),
        Field::new("hk", DataType::Utf8, false),
        Field::new("ukey", DataType::Utf8, false),
        Field::new("sid", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("et", DataType::Utf8, false),
        Field::new("item", DataType::Utf8, false),
    ]));
    let bucket_path = |b: u32| work.join(format!("bucket-{b:05}.parquet"));
    let sessions_path = |b: u32| work.join(format!("sessions-{b:05}.parquet"));
    let mut writers: Vec<shards::ShardWriter> = (0..buckets.count)
        .map(|b| buckets::work_file(&bucket_path(b), bucket_schema.clone()))
        .collect::<Result<_>>()?;
    {
        let df = ctx
            .sql(&plan::scan_sql(opts))
            .await
            .context("cannot plan prepare")?;
        if explain {
            print_plan("stage 1 (scan)", &df).await?;
        }
        let mut stream = df.execute_stream().await.context("cannot run prepare")?;
        let mut idx: Vec<Vec<u32>> = vec![Vec::new(); buckets.count as usize];
        while let Some(batch) = stream.next().await {
            let b = batch.map_err(plan_error)?;
            let bad_a = column(&b, "bad", &utf8)?;
            let bad = bad_a.as_string::<i32>();
            let et_bad_a = column(&b, "et_bad", &utf8)?;
            let et_bad = et_bad_a.as_string::<i32>();
            let hk_a = column(&b, "hk", &utf8)?;
            let hk = hk_a.as_string::<i32>();
            let item_a = column(&b, "item", &utf8)?;
            let item = item_a.as_string::<i32>();
            let mut parts: Vec<i64> = vec![0; b.num_rows()];
            for (i, part_of_row) in parts.iter_mut().enumerate() {
                st.input += 1;
                if bad.is_valid(i) {
                    let r = bad.value(i);
                    *counts.entry(r.to_string()).or_default() += 1;
                    if r == "unknown_event_type" {
                        *unknown.entry(et_bad.value(i).to_string()).or_default() += 1;
                    }
                    continue;
                }
                if !index.contains_key(item.value(i)) {
                    *counts.entry("unknown_item".to_string()).or_default() += 1;
                    continue;
                }
                let (part, bucket) = buckets.of(buckets::parse_hash(hk.value(i))?);
                *part_of_row = part as i64;
                idx[bucket as usize].push(i as u32);
            }
            let parts: ArrayRef = Arc::new(Int64Array::from(parts));
            let cols: Vec<ArrayRef> = vec![
                parts,
                hk_a.clone(),
                column(&b, "ukey", &utf8)?,
                column(&b, "sid", &utf8)?,
                column(&b, "ts", &i64t)?,
                column(&b, "et", &utf8)?,
                item_a.clone(),
            ];
            for (k, ix) in idx.iter_mut().enumerate() {
                if ix.is_empty() {
                    continue;
                }
                let ix = UInt32Array::from(std::mem::take(ix));
                let taken = cols
                    .iter()
                    .map(|c| take(c, &ix, None))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                writers[k].write(taken)?;
            }
            bar.set_message(format!(
                "stage 1 of 3: {} source rows read into {} work buckets",
                st.input, buckets.count
            ));
        }
    }
    let bucket_rows: Vec<u64> = writers
        .into_iter()
        .map(|w| w.finish())
        .collect::<Result<_>>()?;
    if opts.strict {
        if let Some((t, c)) = unknown.iter().next() {
            bail!(
                "--strict: event type {t:?} ({c} rows) is not in the mapping {:?}",
                opts.mapping
                    .pairs
                    .iter()
                    .map(|(a, b)| format!("{a}={b}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
    }

    // Stage 2, per bucket: dedup, sessions, the short-session tag; count each item's surviving events.
    let mut item_events = vec![0u64; items.len()];
    for (k, &rows) in bucket_rows.iter().enumerate() {
        let k = k as u32;
        if rows == 0 {
            continue;
        }
        bar.set_message(format!(
            "stage 2 of 3: bucket {} of {} ({rows} rows): dedup and sessions",
            k + 1,
            buckets.count
        ));
        ctx.register_parquet(
            "b",
            bucket_path(k).display().to_string(),
            ParquetReadOptions::default(),
        )
        .await?;
        let df = ctx
            .sql(&plan::sessions_sql(opts))
            .await
            .context("cannot plan prepare")?;
        if explain && k == bucket_rows.iter().position(|&r| r > 0).unwrap_or(0) as u32 {
            print_plan("stage 2 (sessions)", &df).await?;
        }
        let mut stream = df.execute_stream().await.context("cannot run prepare")?;
        let mut out: Option<shards::ShardWriter> = None;
        while let Some(batch) = stream.next().await {
            let b = batch.map_err(plan_error)?;
            let item_a = column(&b, "item", &utf8)?;
            let item = item_a.as_string::<i32>();
            let drop_a = column(&b, "drop1", &utf8)?;
            let drop1 = drop_a.as_string::<i32>();
            for i in 0..b.num_rows() {
                if drop1.is_null(i) {
                    let ix = index.get(item.value(i)).ok_or_else(|| {
                        anyhow!("internal: item {:?} passed validation", item.value(i))
                    })?;
                    item_events[*ix] += 1;
                }
            }
            if out.is_none() {
                out = Some(buckets::work_file(&sessions_path(k), b.schema())?);
            }
            out.as_mut().expect("created").write_batch(b)?;
        }
        if let Some(w) = out {
            w.finish()?;
        }
        ctx.deregister_table("b")?;
        std::fs::remove_file(bucket_path(k)).ok();
    }
    let rare_pq = work.join("rare.parquet");
    write_item_ids(
        &rare_pq,
        items
            .iter()
            .zip(&item_events)
            .filter(|(_, &n)| n > 0 && n < opts.min_item_events)
            .map(|(it, _)| it.id.as_str()),
    )?;
    ctx.register_parquet(
        "rare",
        rare_pq.display().to_string(),
        ParquetReadOptions::default(),
    )
    .await?;

    // Stage 3, per bucket in output order: the rare-item tag, the split, the sort, the shards.
    let mut item_used = vec![false; items.len()];
    let mut splits: BTreeMap<String, u64> = BTreeMap::new();
    let mut writer: Option<(u32, shards::ShardWriter)> = None;
    let mut shard_rows: Vec<u64> = vec![0; opts.partitions as usize];
    let mut next_part: u32 = 0;
    let mut explained = false;
    for k in 0..buckets.count {
        let path = sessions_path(k);
        if !path.exists() {
            continue;
        }
        bar.set_message(format!(
            "stage 3 of 3: bucket {} of {}: split and sort; {} events written, shard {} of {}",
            k + 1,
            buckets.count,
            st.events,
            next_part,
            opts.partitions
        ));
        ctx.register_parquet(
            "s",
            path.display().to_string(),
            ParquetReadOptions::default(),
        )
        .await?;
        let df = ctx
            .sql(&plan::final_sql(opts))
            .await
            .context("cannot plan prepare")?;
        if explain && !explained {
            print_plan("stage 3 (split and order)", &df).await?;
            explained = true;
        }
        let mut stream = df.execute_stream().await.context("cannot run prepare")?;
        while let Some(batch) = stream.next().await {
            let b = batch.map_err(plan_error)?;
            let part_a = column(&b, "part", &i64t)?;
            let part = part_a.as_primitive::<Int64Type>();
            let copies_a = column(&b, "copies", &i64t)?;
            let copies = copies_a.as_primitive::<Int64Type>();
            let dropped_a = column(&b, "dropped", &utf8)?;
            let dropped = dropped_a.as_string::<i32>();
            let user_a = column(&b, "user_id", &utf8)?;
            let user = user_a.as_string::<i32>();
            let sess_a = column(&b, "session_id", &utf8)?;
            let sess = sess_a.as_string::<i32>();
            let item_a = column(&b, "item_id", &utf8)?;
            let item = item_a.as_string::<i32>();
            let split_a = column(&b, "split", &utf8)?;
            let split = split_a.as_string::<i32>();
            let ts_a = column(&b, "timestamp", &i64t)?;

            let mut keep: Vec<u32> = Vec::new();
            let mut keep_part: Option<u32> = None;
            for i in 0..b.num_rows() {
                let c = copies.value(i) as u64;
                *counts.entry("duplicate".into()).or_default() += c - 1;
                if dropped.is_valid(i) {
                    *counts.entry(dropped.value(i).to_string()).or_default() += 1;
                    continue;
                }
                let p = u32::try_from(part.value(i))
                    .map_err(|_| anyhow!("plan output: bad partition {}", part.value(i)))?;
                if keep_part != Some(p) {
                    if let Some(kp) = keep_part {
                        flush(
                            &b,
                            &ts_a,
                            &mut keep,
                            kp,
                            &mut writer,
                            &mut next_part,
                            &shard_dir,
                            &mut shard_rows,
                        )?;
                    }
                    keep_part = Some(p);
                }
                keep.push(i as u32);
                st.event(user.value(i), sess.value(i));
                *splits.entry(split.value(i).to_string()).or_default() += 1;
                if let Some(&ix) = index.get(item.value(i)) {
                    item_used[ix] = true;
                }
            }
            if let Some(kp) = keep_part {
                flush(
                    &b,
                    &ts_a,
                    &mut keep,
                    kp,
                    &mut writer,
                    &mut next_part,
                    &shard_dir,
                    &mut shard_rows,
                )?;
            }
        }
        ctx.deregister_table("s")?;
        std::fs::remove_file(&path).ok();
    }
    bar.finish_and_clear();
    if let Some((k, w)) = writer.take() {
        shard_rows[k as usize] = w.finish()?;
    }
    while next_part < opts.partitions {
        shards::ShardWriter::create(&shard_dir.join(shards::shard_name(next_part)))?.finish()?;
        next_part += 1;
    }

    let mut kept_items: Vec<FeedItem> = items
        .iter()
        .zip(&item_used)
        .filter(|(_, u)| **u)
        .map(|(it, _)| FeedItem {
            item: it.clone(),
            link: String::new(),
            image: String::new(),
            sale_price: None,
            currency: String::new(),
            availability: String::new(),
            group_id: String::new(),
            variants: 1,
        })
        .collect();
    kept_items.sort_by(|a, b| a.item.id.cmp(&b.item.id));
    nextclick_data::feed::write_items_csv(&out.join("items.csv"), &kept_items)?;

    let mut shard_list = Vec::new();
    for k in 0..opts.partitions {
        let name = shards::shard_name(k);
        shard_list.push(Shard {
            file: format!("shards/{name}"),
            rows: shard_rows[k as usize],
            sha256: shards::sha256_file(&shard_dir.join(&name))?,
        });
    }
    let report = Report {
        input_rows: st.input,
        dropped: REASONS
            .iter()
            .map(|(r, why)| Dropped {
                reason: r.to_string(),
                rows: counts.get(*r).copied().unwrap_or(0),
                why: why.to_string(),
            })
            .collect(),
        unknown_event_types: unknown,
        events: st.events,
        users: st.users,
        sessions: st.sessions,
        items: kept_items.len() as u64,
        items_in_table: items.len() as u64,
        splits,
        shards: shard_list,
    };
    let dropped_total: u64 = report.dropped.iter().map(|d| d.rows).sum();
    if dropped_total + report.events != report.input_rows {
        bail!(
            "internal: counts do not add up ({} dropped + {} kept != {} read)",
            dropped_total,
            report.events,
            report.input_rows
        );
    }
    write_json(&out.join("report.json"), &report)?;
    write_json(&out.join("manifest.json"), &manifest(opts, &report))?;
    std::fs::remove_dir_all(&work).ok();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn flush(
    b: &RecordBatch,
    ts: &ArrayRef,
    keep: &mut Vec<u32>,
    k: u32,
    writer: &mut Option<(u32, shards::ShardWriter)>,
    next_part: &mut u32,
    dir: &Path,
    shard_rows: &mut [u64],
) -> Result<()> {
    if keep.is_empty() {
        return Ok(());
    }
    if writer.as_ref().map(|(wk, _)| *wk) != Some(k) {
        if let Some((wk, w)) = writer.take() {
            shard_rows[wk as usize] = w.finish()?;
        }
        if k < *next_part {
            bail!("internal: plan output is not sorted by partition ({k} after {next_part})");
        }
        while *next_part < k {
            shards::ShardWriter::create(&dir.join(shards::shard_name(*next_part)))?.finish()?;
            *next_part += 1;
        }
        *writer = Some((
            k,
            shards::ShardWriter::create(&dir.join(shards::shard_name(k)))?,
        ));
        *next_part = k + 1;
    }
    let idx = UInt32Array::from(std::mem::take(keep));
    let mut cols = Vec::with_capacity(6);
    for name in [
        "user_id",
        "session_id",
        "timestamp",
        "event_type",
        "item_id",
        "split",
    ] {
        let t = if name == "timestamp" {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        let c = if name == "timestamp" {
            ts.clone()
        } else {
            column(b, name, &t)?
        };
        cols.push(take(&c, &idx, None)?);
    }
    let w = &mut writer.as_mut().expect("writer").1;
    w.write(cols)
}

#[derive(Default)]
struct Streamed {
    input: u64,
    events: u64,
    users: u64,
    sessions: u64,
    last_user: String,
    last_session: String,
}

impl Streamed {
    fn event(&mut self, user: &str, session: &str) {
        self.events += 1;
        if self.events == 1 || user != self.last_user {
            self.users += 1;
            self.sessions += 1;
            self.last_user.clear();
            self.last_user.push_str(user);
            self.last_session.clear();
            self.last_session.push_str(session);
        } else if session != self.last_session {
            self.sessions += 1;
            self.last_session.clear();
            self.last_session.push_str(session);
        }
    }
}

fn write_item_ids<'a>(path: &Path, ids: impl Iterator<Item = &'a str>) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "item_id",
        DataType::Utf8,
        false,
    )]));
    let mut w = buckets::work_file(path, schema)?;
    let mut ids = ids.peekable();
    while ids.peek().is_some() {
        let a = StringArray::from_iter_values(ids.by_ref().take(65_536));
        w.write(vec![Arc::new(a)])?;
    }
    w.finish()?;
    Ok(())
}

/// The error of a failed plan, with the hint for DataFusion's CSV field-count error.
fn plan_error(e: datafusion::error::DataFusionError) -> anyhow::Error {
    let hint = if e.to_string().contains("number of fields") {
        " (a CSV row has more fields than the header: quote such fields or convert the file to \
         Parquet; docs/prepare.md, \"Known limit\")"
    } else {
        ""
    };
    anyhow::Error::new(e).context(format!("prepare failed while running the plan{hint}"))
}

/// Prints a stage's physical plan (`NEXTCLICK_PREPARE_EXPLAIN`, for diagnosing memory or speed).
async fn print_plan(stage: &str, df: &datafusion::dataframe::DataFrame) -> Result<()> {
    let p = df.clone().create_physical_plan().await?;
    eprintln!(
        "{stage}:\n{}",
        datafusion::physical_plan::displayable(p.as_ref()).indent(true)
    );
    Ok(())
}

/// About how many rows the input has: Parquet footers' row counts, or CSV bytes /
/// [`buckets::CSV_BYTES_PER_ROW`] (only the bucket count depends on it).
fn estimate_rows(input: &Input) -> Result<u64> {
    let mut rows = 0u64;
    for f in &input.files {
        if input.parquet {
            let file =
                std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
            let r = parquet::file::reader::SerializedFileReader::new(file)
                .with_context(|| format!("{}: not a Parquet file", f.display()))?;
            rows += parquet::file::reader::FileReader::metadata(&r)
                .file_metadata()
                .num_rows()
                .max(0) as u64;
        } else {
            rows += std::fs::metadata(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .len()
                / buckets::CSV_BYTES_PER_ROW;
        }
    }
    Ok(rows)
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)?;
    std::fs::write(path, s + "\n").with_context(|| format!("cannot write {}", path.display()))
}

fn manifest(opts: &Options, r: &Report) -> serde_json::Value {
    serde_json::json!({
        "format": FORMAT_VERSION,
        "tool": "nextclick prepare",
        "parameters": {
            "mapping": opts.mapping.pairs.iter().map(|(a, b)| format!("{a}={b}")).collect::<Vec<_>>(),
            "strict": opts.strict,
            "time": opts.time,
            "session_gap_s": opts.session_gap,
            "min_session_events": opts.min_session_events,
            "min_item_events": opts.min_item_events,
            "split": opts.split,
            "partitions": opts.partitions,
            "partition_hash": "u64 big-endian of the first 8 bytes of SHA-256(user_id UTF-8) mod partitions",
        },
        "counts": {
            "input_rows": r.input_rows,
            "events": r.events,
            "users": r.users,
            "sessions": r.sessions,
            "items": r.items,
            "splits": r.splits,
            "dropped": r.dropped.iter().map(|d| (d.reason.clone(), d.rows)).collect::<BTreeMap<_, _>>(),
        },
        "shards": r.shards,
    })
}
