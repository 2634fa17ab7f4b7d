//! The training shards of `nextclick prepare` (docs/prepare.md, "Output contract"): the user hash, the
//! schema, the deterministic Parquet writer, the manifest, and a streaming reader that verifies every shard
//! (SHA-256 of the manifest, row count, schema) before it yields a row from it.
//!
//! The reader ([`ShardSet::sessions`]) keeps one Parquet batch and the session being assembled in memory:
//! sessions are yielded shard by shard, batch by batch, never the whole data set.
//!
//! Arrow + Parquet only (the `parquet` feature): the trainer reads the shards without the query engine.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::BatchCoalescer;
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use nextclick::contract::gap_bucket;
use nextclick::event::parse_kind;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Event;

/// Version of the output layout this reader understands (`manifest.json`'s `format`).
pub const FORMAT_VERSION: u32 = 1;
/// Rows per Parquet page batch and per coalesced write: batches reach the writer in exactly this size, so
/// the page layout does not depend on how the engine batched its output.
pub const WRITE_BATCH: usize = 8192;
/// Rows per row group.
pub const ROW_GROUP: usize = 128 * 1024;
/// Rows per batch the reader decodes at a time.
pub const READ_BATCH: usize = 8192;
/// Longest session the reader holds: a session with more events is yielded in consecutive pieces of at
/// most this many (the same user and session ids; each piece's first event keeps its real time gap).
pub const MAX_SESSION_EVENTS: usize = 4096;

/// The shard of a user key: the first 8 bytes of SHA-256 of its UTF-8 bytes, read big-endian as a `u64`,
/// mod `partitions`. The plan computes the same value in SQL.
pub fn user_partition(user: &str, partitions: u32) -> u32 {
    let h = Sha256::digest(user.as_bytes());
    let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (v % partitions as u64) as u32
}

/// The file name of shard `k`: `part-00000.parquet`.
pub fn shard_name(k: u32) -> String {
    format!("part-{k:05}.parquet")
}

/// The shard schema: `user_id, session_id: Utf8; timestamp: Int64; event_type, item_id, split: Utf8`
/// (none nullable).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("item_id", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
    ]))
}

/// Fixed writer properties (no time or host in the metadata; `created_by` fixed).
pub fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by("nextclick-prepare shard v1".to_string())
        .set_compression(Compression::SNAPPY)
        .set_write_batch_size(WRITE_BATCH)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build()
}

/// One shard being written: batches coalesced to [`WRITE_BATCH`] rows, then the Parquet writer. The same
/// writer, with another schema and properties ([`ShardWriter::create_with`]), writes `prepare`'s work files.
pub struct ShardWriter {
    path: PathBuf,
    schema: SchemaRef,
    coalescer: BatchCoalescer,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ShardWriter {
    /// Creates `path` (the shard [`schema`] and [`properties`]).
    pub fn create(path: &Path) -> Result<ShardWriter> {
        ShardWriter::create_with(path, schema(), properties())
    }

    /// Creates `path` for batches of `schema`, written with `props`.
    pub fn create_with(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<ShardWriter> {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = ArrowWriter::try_new(f, schema.clone(), Some(props))?;
        Ok(ShardWriter {
            path: path.to_path_buf(),
            coalescer: BatchCoalescer::new(schema.clone(), WRITE_BATCH),
            schema,
            writer,
            rows: 0,
        })
    }

    /// Appends rows (columns in the schema's order, already of its types).
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        self.write_batch(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// Appends a batch of the schema.
    pub fn write_batch(&mut self, b: RecordBatch) -> Result<()> {
        self.rows += b.num_rows() as u64;
        self.coalescer.push_batch(b)?;
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        while let Some(b) = self.coalescer.next_completed_batch() {
            self.writer
                .write(&b)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Flushes and closes; returns the row count.
    pub fn finish(mut self) -> Result<u64> {
        self.coalescer.finish_buffered_batch()?;
        self.drain()?;
        self.writer
            .close()
            .with_context(|| format!("cannot close {}", self.path.display()))?;
        Ok(self.rows)
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&h.finalize()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One shard as `manifest.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestShard {
    /// Path relative to the prepared folder (`shards/part-00000.parquet`).
    pub file: String,
    /// Rows.
    pub rows: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// The parameters of `manifest.json` the reader needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestParameters {
    /// `unix` or `ordinal`: how `timestamp` is read (ordinal: no time gaps).
    pub time: String,
    /// Shards.
    pub partitions: u32,
}

/// The parts of `manifest.json` the reader needs (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The run's parameters.
    pub parameters: ManifestParameters,
    /// The shard files.
    pub shards: Vec<ManifestShard>,
}

/// Whether `dir` is a prepared folder (it has a `manifest.json`) rather than a platform folder.
pub fn is_prepared(dir: &Path) -> bool {
    dir.join("manifest.json").is_file()
}

/// Which split an event belongs to (the shards' `split` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training.
    Train,
    /// Validation.
    Valid,
    /// Test.
    Test,
}

/// One session of a shard: its events in order, encoded for the model, and each event's split.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSession {
    /// The user key.
    pub user_id: String,
    /// The session id.
    pub session_id: String,
    /// Events in time order (gaps within the session).
    pub events: Vec<Event>,
    /// The split of each event.
    pub splits: Vec<Split>,
}

/// A prepared folder: its manifest, checked against the files present.
#[derive(Debug, Clone)]
pub struct ShardSet {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl ShardSet {
    /// Reads `dir/manifest.json`: a missing or unreadable manifest, a format other than
    /// [`FORMAT_VERSION`], an unknown time mode or a listed shard that is not on disk is an error naming
    /// the file. Shards' contents are verified when they are read ([`ShardSet::sessions`]).
    pub fn open(dir: &Path) -> Result<ShardSet> {
        let mp = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mp)
            .with_context(|| format!("cannot read {} (not a prepared folder?)", mp.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", mp.display()))?;
        match v.get("format").and_then(|f| f.as_u64()) {
            Some(f) if f == FORMAT_VERSION as u64 => {}
            Some(f) => bail!(
                "{}: manifest format {f}; this nextclick reads format {FORMAT_VERSION} (re-run nextclick prepare with this version)",
                mp.display()
            ),
            None => bail!("{}: no numeric \"format\" field", mp.display()),
        }
        let manifest: Manifest = serde_json::from_value(v)
            .with_context(|| format!("{}: not a nextclick prepare manifest", mp.display()))?;
        if manifest.parameters.time != "unix" && manifest.parameters.time != "ordinal" {
            bail!(
                "{}: parameters.time {:?} is neither \"unix\" nor \"ordinal\"",
                mp.display(),
                manifest.parameters.time
            );
        }
        if manifest.shards.len() != manifest.parameters.partitions as usize {
            bail!(
                "{}: {} shards listed for {} partitions",
                mp.display(),
                manifest.shards.len(),
                manifest.parameters.partitions
            );
        }
        for s in &manifest.shards {
            let p = dir.join(&s.file);
            if !p.is_file() {
                bail!(
                    "{}: missing shard (listed in {})",
                    p.display(),
                    mp.display()
                );
            }
        }
        Ok(ShardSet {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The item table `nextclick prepare` wrote beside the shards (`items.csv`).
    pub fn items_path(&self) -> PathBuf {
        self.dir.join("items.csv")
    }

    /// Events over all shards (the manifest's row counts).
    pub fn rows(&self) -> u64 {
        self.manifest.shards.iter().map(|s| s.rows).sum()
    }

    /// Whether timestamps are ordinals (no time gaps).
    pub fn ordinal(&self) -> bool {
        self.manifest.parameters.time == "ordinal"
    }

    /// Verifies shard `k` (SHA-256 against the manifest, then its schema) and opens a batch reader on it.
    pub fn open_shard(&self, k: usize) -> Result<ParquetRecordBatchReader> {
        let s = self
            .manifest
            .shards
            .get(k)
            .ok_or_else(|| anyhow!("no shard {k} in {}", self.dir.display()))?;
        let p = self.dir.join(&s.file);
        if !p.is_file() {
            bail!("{}: missing shard (listed in manifest.json)", p.display());
        }
        let got = sha256_file(&p)?;
        if !got.eq_ignore_ascii_case(&s.sha256) {
            bail!(
                "{}: tampered shard: SHA-256 {got} is not the manifest's {}",
                p.display(),
                s.sha256
            );
        }
        let f = File::open(&p).with_context(|| format!("cannot open {}", p.display()))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(f)
            .with_context(|| format!("{}: not a Parquet file", p.display()))?;
        check_schema(&p, b.schema())?;
        let rows = b.metadata().file_metadata().num_rows() as u64;
        if rows != s.rows {
            bail!("{}: {rows} rows, the manifest says {}", p.display(), s.rows);
        }
        b.with_batch_size(READ_BATCH)
            .build()
            .with_context(|| format!("cannot read {}", p.display()))
    }

    /// Streams the sessions of the shards in `order` (indices into the manifest's shards), each shard
    /// verified before its first row; `items` maps item ids to indices. An item id not in `items`, an
    /// unknown event type or a session whose timestamps go back is an error naming the shard.
    pub fn sessions<'a>(
        &'a self,
        order: Vec<usize>,
        items: &'a HashMap<String, u32>,
    ) -> SessionStream<'a> {
        SessionStream {
            set: self,
            items,
            order,
            next_shard: 0,
            current: None,
            pending: None,
            failed: false,
        }
    }
}

fn check_schema(path: &Path, got: &SchemaRef) -> Result<()> {
    let want = schema();
    let same = got.fields().len() == want.fields().len()
        && got.fields().iter().zip(want.fields()).all(|(a, b)| {
            a.name() == b.name()
                && a.data_type() == b.data_type()
                && a.is_nullable() == b.is_nullable()
        });
    if !same {
        let show = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}{}",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { " (nullable)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        bail!(
            "{}: wrong schema [{}]; a shard has [{}]",
            path.display(),
            show(got),
            show(&want)
        );
    }
    Ok(())
}

struct Current {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    rows_read: u64,
}

/// The iterator of [`ShardSet::sessions`].
pub struct SessionStream<'a> {
    set: &'a ShardSet,
    items: &'a HashMap<String, u32>,
    order: Vec<usize>,
    next_shard: usize,
    current: Option<Current>,
    pending: Option<(ShardSession, i64)>,
    failed: bool,
}

impl SessionStream<'_> {
    fn step(&mut self) -> Result<Option<ShardSession>> {
        loop {
            if self.current.is_none() {
                let Some(&k) = self.order.get(self.next_shard) else {
                    return Ok(self.pending.take().map(|(s, _)| s));
                };
                self.next_shard += 1;
                let reader = self.set.open_shard(k)?;
                self.current = Some(Current {
                    path: self.set.dir.join(&self.set.manifest.shards[k].file),
                    reader,
                    batch: None,
                    row: 0,
                    rows_read: 0,
                });
            }
            let cur = self.current.as_mut().expect("set above");
            let need = cur.batch.as_ref().is_none_or(|b| cur.row >= b.num_rows());
            if need {
                match cur.reader.next() {
                    Some(b) => {
                        let b = b.with_context(|| format!("cannot read {}", cur.path.display()))?;
                        cur.rows_read += b.num_rows() as u64;
                        cur.batch = Some(b);
                        cur.row = 0;
                        continue;
                    }
                    None => {
                        // sessions never span shards (a user's rows are in one shard)
                        self.current = None;
                        if let Some((s, _)) = self.pending.take() {
                            return Ok(Some(s));
                        }
                        continue;
                    }
                }
            }
            let b = cur.batch.as_ref().expect("checked above");
            let col = |i: usize| b.column(i);
            let user = col(0).as_string::<i32>();
            let sess = col(1).as_string::<i32>();
            let ts = col(2).as_primitive::<Int64Type>();
            let et = col(3).as_string::<i32>();
            let item = col(4).as_string::<i32>();
            let split = col(5).as_string::<i32>();
            let ordinal = self.set.ordinal();
            while cur.row < b.num_rows() {
                let i = cur.row;
                let at = || {
                    format!(
                        "{}: row {}",
                        cur.path.display(),
                        cur.rows_read - b.num_rows() as u64 + i as u64 + 1
                    )
                };
                if [0, 1, 2, 3, 4, 5].iter().any(|&c| col(c).is_null(i)) {
                    bail!("{}: null value", at());
                }
                let sid = sess.value(i);
                let t = ts.value(i);
                let kind = parse_kind(et.value(i))
                    .map_err(|e| anyhow!("{}: event_type: {e}", at()))?
                    .id();
                let it = *self.items.get(item.value(i)).ok_or_else(|| {
                    anyhow!(
                        "{}: item_id {:?} is not in the item table",
                        at(),
                        item.value(i)
                    )
                })?;
                let sp = match split.value(i) {
                    "train" => Split::Train,
                    "valid" => Split::Valid,
                    "test" => Split::Test,
                    o => bail!("{}: split {o:?} is not train, valid or test", at()),
                };
                let same = self
                    .pending
                    .as_ref()
                    .is_some_and(|(s, _)| s.session_id == sid && s.user_id == user.value(i));
                if !same {
                    let done = self.pending.take().map(|(s, _)| s);
                    let gap = gap_bucket(None);
                    self.pending = Some((
                        ShardSession {
                            user_id: user.value(i).to_string(),
                            session_id: sid.to_string(),
                            events: vec![Event {
                                item: it,
                                kind,
                                gap,
                            }],
                            splits: vec![sp],
                        },
                        t,
                    ));
                    cur.row += 1;
                    if let Some(d) = done {
                        return Ok(Some(d));
                    }
                    continue;
                }
                let (s, prev) = self.pending.as_mut().expect("same session");
                if t < *prev {
                    bail!(
                        "{}: timestamp {t} is before the previous event's {prev} in session {sid:?} (shards are sorted by time)",
                        at()
                    );
                }
                let gap = if ordinal {
                    gap_bucket(None)
                } else {
                    gap_bucket(Some((t - *prev) as f64))
                };
                *prev = t;
                let e = Event {
                    item: it,
                    kind,
                    gap,
                };
                cur.row += 1;
                if s.events.len() >= MAX_SESSION_EVENTS {
                    // a very long session (a bot, a kiosk) is yielded in pieces, so memory is bounded
                    // by the piece, not by the session; the piece after keeps the real gap
                    let cont = ShardSession {
                        user_id: s.user_id.clone(),
                        session_id: s.session_id.clone(),
                        events: vec![e],
                        splits: vec![sp],
                    };
                    let done = std::mem::replace(s, cont);
                    return Ok(Some(done));
                }
                s.events.push(e);
                s.splits.push(sp);
            }
        }
    }
}

impl Iterator for SessionStream<'_> {
    type Item = Result<ShardSession>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn partition_is_first_eight_bytes_mod_p() {
        // the value is stable across releases (the trainer and the plan rely on it)
        let h = Sha256::digest(b"u1");
        let v = u64::from_be_bytes(h[..8].try_into().unwrap());
        assert_eq!(user_partition("u1", 16), (v % 16) as u32);
        assert_eq!(user_partition("u1", 1), 0);
        assert_eq!(shard_name(7), "part-00007.parquet");
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("nextclick-shards-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        std::fs::create_dir_all(d.join("shards")).unwrap();
        d
    }

    type Row<'a> = (&'a str, &'a str, i64, &'a str, &'a str, &'a str);

    fn write_set(dir: &Path, parts: &[Vec<Row>]) {
        let mut shards = Vec::new();
        for (k, rows) in parts.iter().enumerate() {
            let name = format!("shards/{}", shard_name(k as u32));
            let mut w = ShardWriter::create(&dir.join(&name)).unwrap();
            let s = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
            w.write(vec![
                s(rows.iter().map(|r| r.0).collect()),
                s(rows.iter().map(|r| r.1).collect()),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                s(rows.iter().map(|r| r.3).collect()),
                s(rows.iter().map(|r| r.4).collect()),
                s(rows.iter().map(|r| r.5).collect()),
            ])
            .unwrap();
            let n = w.finish().unwrap();
            shards.push(serde_json::json!({"file": name, "rows": n, "sha256": sha256_file(&dir.join(&name)).unwrap()}));
        }
        let m = serde_json::json!({"format": 1, "parameters": {"time": "unix", "partitions": parts.len()}, "shards": shards});
        std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
    }

    fn items() -> HashMap<String, u32> {
        [("a", 0), ("b", 1), ("c", 2)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    #[test]
    fn sessions_are_streamed_in_order_with_splits_and_gaps() {
        let d = tmp("ok");
        write_set(
            &d,
            &[
                vec![
                    ("u1", "u1/1", 100, "view", "a", "train"),
                    ("u1", "u1/1", 110, "cart", "b", "train"),
                    ("u1", "u1/2", 9000, "view", "c", "valid"),
                    ("u1", "u1/2", 9001, "purchase", "c", "test"),
                ],
                vec![],
                vec![("u2", "u2/1", 5, "view", "a", "train")],
            ],
        );
        let set = ShardSet::open(&d).unwrap();
        assert!(is_prepared(&d));
        assert_eq!(set.rows(), 5);
        let it = items();
        let got: Vec<ShardSession> = set
            .sessions(vec![2, 1, 0], &it)
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(
            got.iter()
                .map(|s| s.session_id.as_str())
                .collect::<Vec<_>>(),
            ["u2/1", "u1/1", "u1/2"]
        );
        let s = &got[1];
        assert_eq!(s.events.iter().map(|e| e.item).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(s.events[0].gap, gap_bucket(None));
        assert_eq!(s.events[1].gap, gap_bucket(Some(10.0)));
        assert_eq!(s.events[1].kind, parse_kind("cart").unwrap().id());
        assert_eq!(got[2].splits, [Split::Valid, Split::Test]);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_very_long_session_comes_in_bounded_pieces() {
        let d = tmp("long");
        let n = MAX_SESSION_EVENTS + 10;
        let mut rows: Vec<Row> = (0..n)
            .map(|i| ("u1", "u1/1", 100 + 5 * i as i64, "view", "a", "train"))
            .collect();
        rows.push(("u2", "u2/1", 7, "view", "b", "train"));
        write_set(&d, &[rows]);
        let set = ShardSet::open(&d).unwrap();
        let it = items();
        let got: Vec<ShardSession> = set.sessions(vec![0], &it).map(|s| s.unwrap()).collect();
        let lens: Vec<usize> = got.iter().map(|s| s.events.len()).collect();
        assert_eq!(lens, [MAX_SESSION_EVENTS, 10, 1]);
        assert_eq!(got[1].session_id, "u1/1");
        // the piece's first event keeps its real gap, not a session start's
        assert_eq!(got[1].events[0].gap, gap_bucket(Some(5.0)));
        assert_eq!(got[2].session_id, "u2/1");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn bad_folders_are_specific_errors() {
        let it = items();
        let rows = vec![vec![
            ("u1", "u1/1", 100, "view", "a", "train"),
            ("u1", "u1/1", 110, "view", "zzz", "train"),
        ]];
        let d = tmp("bad");
        write_set(&d, &rows);
        let set = ShardSet::open(&d).unwrap();
        let e = set
            .sessions(vec![0], &it)
            .find_map(|r| r.err())
            .unwrap()
            .to_string();
        assert!(
            e.contains("part-00000.parquet: row 2") && e.contains("zzz"),
            "{e}"
        );

        // wrong format version
        let m = std::fs::read_to_string(d.join("manifest.json")).unwrap();
        std::fs::write(
            d.join("manifest.json"),
            m.replace("\"format\":1", "\"format\":2"),
        )
        .unwrap();
        let e = ShardSet::open(&d).unwrap_err().to_string();
        assert!(
            e.contains("manifest format 2") && e.contains("format 1"),
            "{e}"
        );
        std::fs::write(d.join("manifest.json"), &m).unwrap();

        // a tampered byte
        let p = d.join("shards").join(shard_name(0));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        let set = ShardSet::open(&d).unwrap();
        let e = set
            .sessions(vec![0], &it)
            .find_map(|r| r.err())
            .unwrap()
            .to_string();
        assert!(
            e.contains("part-00000.parquet") && e.contains("tampered"),
            "{e}"
        );

        // a missing shard
        std::fs::remove_file(&p).unwrap();
        let e = ShardSet::open(&d).unwrap_err().to_string();
        assert!(
            e.contains("part-00000.parquet") && e.contains("missing shard"),
            "{e}"
        );

        // no manifest
        std::fs::remove_file(d.join("manifest.json")).unwrap();
        assert!(!is_prepared(&d));
        let e = ShardSet::open(&d).unwrap_err().to_string();
        assert!(e.contains("manifest.json"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_file_of_another_schema_is_named() {
        let d = tmp("schema");
        let name = format!("shards/{}", shard_name(0));
        let sch = Arc::new(Schema::new(vec![Field::new(
            "user_id",
            DataType::Utf8,
            false,
        )]));
        let f = File::create(d.join(&name)).unwrap();
        let mut w = ArrowWriter::try_new(f, sch.clone(), None).unwrap();
        let a: ArrayRef = Arc::new(StringArray::from(vec!["u1"]));
        w.write(&RecordBatch::try_new(sch, vec![a]).unwrap())
            .unwrap();
        w.close().unwrap();
        let m = serde_json::json!({"format": 1, "parameters": {"time": "unix", "partitions": 1},
            "shards": [{"file": name, "rows": 1, "sha256": sha256_file(&d.join(&name)).unwrap()}]});
        std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
        let set = ShardSet::open(&d).unwrap();
        let e = set.open_shard(0).unwrap_err().to_string();
        assert!(
            e.contains("part-00000.parquet") && e.contains("wrong schema"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
