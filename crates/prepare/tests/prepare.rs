//! `prepare` end to end on a small generated log with every bad-row kind: exact report counts and shard rows,
//! CSV = Parquet input, embedded DataFusion = a Ballista scheduler + executor on loopback (byte-identical
//! shards), and clear errors for bad inputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use nextclick_prepare::shards::{shard_name, user_partition};
use nextclick_prepare::{prepare, prepare_async, Engine, Mapping, Options, Report};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The log: (session_id, user_id, timestamp, event_type, item_id); `None` = a missing (truncated) field.
const ROWS: &[[&str; 5]] = &[
    // u1: two sessions (gap 3980 s > 1800 s), one duplicate.
    ["s1", "u1", "1000", "view", "i1"],
    ["s1", "u1", "1010", "addtocart", "i1"],
    ["s1", "u1", "1010", "addtocart", "i1"],
    ["s1", "u1", "1020", "view", "i2"],
    ["s1", "u1", "5000", "view", "i3"],
    ["s1", "u1", "5005", "transaction", "i3"],
    // u2: one session of 3.
    ["s2", "u2", "2000", "view", "i2"],
    ["s2", "u2", "2001", "view", "i1"],
    ["s2", "u2", "2002", "view", "i3"],
    // empty user_id: the session id is the user key.
    ["s3", "", "3000", "view", "i1"],
    ["s3", "", "3050", "view", "i2"],
    // a session of one event.
    ["s4", "u4", "4000", "view", "i2"],
    // i6 occurs once: a rare item.
    ["s5", "u5", "100", "view", "i6"],
    ["s5", "u5", "110", "view", "i1"],
    // bad rows, one of each kind (two unknown types, two bad timestamps + the truncated row).
    ["s6", "u6", "notatime", "view", "i1"],
    ["s6", "u6", "", "view", "i1"],
    ["", "", "6000", "view", "i1"],
    ["s6", "u6", "6000", "", "i1"],
    ["s6", "u6", "6000", "view", ""],
    ["s6", "u6", "6000", "search", "i1"],
    ["s6", "u6", "6001", "Search", "i2"],
    ["s6", "u6", "6000", "view", "i99"],
    // ISO-8601 time (7200 s).
    ["s7", "u7", "1970-01-01T02:00:00", "view", "i1"],
    ["s7", "u7", "7300", "view", "i2"],
];

const ITEMS: &str = "item_id,title,category,brand,price\n\
i1,One,c,b,1.5\ni2,Two,c,b,2\ni3,Three,c,b,\ni4,Four,c,b,4\ni5,Five,c,b,5\ni6,Six,c,b,6\n";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nextclick-prepare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("session_id,user_id,timestamp,event_type,item_id\n");
    for r in ROWS {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s.push_str("s6,u6\n"); // truncated row: no timestamp, type or item
    let p = dir.join("events.csv");
    std::fs::write(&p, s).unwrap();
    p
}

fn write_parquet(dir: &Path) -> PathBuf {
    let names = [
        "session_id",
        "user_id",
        "timestamp",
        "event_type",
        "item_id",
    ];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let cols = (0..5)
        .map(|c| {
            let mut v: Vec<Option<&str>> = ROWS
                .iter()
                .map(|r| if r[c].is_empty() { None } else { Some(r[c]) })
                .collect();
            v.push(match c {
                0 => Some("s6"),
                1 => Some("u6"),
                _ => None,
            });
            Arc::new(StringArray::from(v)) as _
        })
        .collect();
    let b = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let d = dir.join("pq");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("events.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&p).unwrap(), schema, None)
            .unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    d
}

fn options(dir: &Path, events: PathBuf, out: &str) -> Options {
    let items = dir.join("items.csv");
    std::fs::write(&items, ITEMS).unwrap();
    let mut o = Options::new(events, items, dir.join(out));
    o.mapping = Mapping::parse("view=view,addtocart=cart,transaction=purchase").unwrap();
    o.min_session_events = 2;
    o.min_item_events = 2;
    o.partitions = 4;
    o.threads = Some(2);
    o
}

/// (user_id, session_id, timestamp, event_type, item_id, split) of every shard row, checking that each row
/// sits in its user's shard and that each shard is sorted.
fn shard_rows(out: &Path, parts: u32) -> Vec<(String, String, i64, String, String, String)> {
    let mut all = Vec::new();
    for k in 0..parts {
        let f = std::fs::File::open(out.join("shards").join(shard_name(k))).unwrap();
        let r = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        let mut rows = Vec::new();
        for b in r {
            let b = b.unwrap();
            let s = |i: usize| b.column(i).as_string::<i32>().clone();
            let (u, se, et, it, sp) = (s(0), s(1), s(3), s(4), s(5));
            let ts = b.column(2).as_primitive::<Int64Type>().clone();
            for i in 0..b.num_rows() {
                assert_eq!(
                    user_partition(u.value(i), parts),
                    k,
                    "user {} in shard {k}",
                    u.value(i)
                );
                rows.push((
                    u.value(i).to_string(),
                    se.value(i).to_string(),
                    ts.value(i),
                    et.value(i).to_string(),
                    it.value(i).to_string(),
                    sp.value(i).to_string(),
                ));
            }
        }
        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| (user_hash(&r.0), r.0.clone(), r.2));
        assert_eq!(
            rows, sorted,
            "shard {k} sorted by (user hash, user, timestamp)"
        );
        all.extend(rows);
    }
    all.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    all
}

/// The user hash that orders a shard: the first 8 bytes of SHA-256 of the key, big-endian.
fn user_hash(user: &str) -> u64 {
    let h = <sha2::Sha256 as sha2::Digest>::digest(user.as_bytes());
    u64::from_be_bytes(h[..8].try_into().unwrap())
}

fn check_report(r: &Report) {
    let want = [
        ("missing_user", 1),
        ("bad_timestamp", 3),
        ("empty_event_type", 1),
        ("empty_item", 1),
        ("unknown_event_type", 2),
        ("unknown_item", 1),
        ("duplicate", 1),
        ("short_session", 1),
        ("rare_item", 1),
    ];
    for (k, n) in want {
        assert_eq!(r.dropped(k), n, "{k}: {:?}", r.dropped);
    }
    assert_eq!(r.input_rows, 25);
    assert_eq!(r.events, 13);
    assert_eq!(r.users, 5);
    assert_eq!(r.sessions, 6);
    assert_eq!(r.items, 3);
    assert_eq!(r.items_in_table, 6);
    assert_eq!(r.unknown_event_types.get("search"), Some(&2));
    assert_eq!(r.splits.get("train"), Some(&9));
    assert_eq!(r.splits.get("valid"), Some(&2));
    assert_eq!(r.splits.get("test"), Some(&2));
    assert_eq!(r.shards.len(), 4);
    assert_eq!(r.shards.iter().map(|s| s.rows).sum::<u64>(), 13);
}

fn expected() -> Vec<(String, String, i64, String, String, String)> {
    let rows = [
        ("s3", "s3/1", 3000, "view", "i1", "train"),
        ("s3", "s3/1", 3050, "view", "i2", "train"),
        ("u1", "u1/1", 1000, "view", "i1", "train"),
        ("u1", "u1/1", 1010, "cart", "i1", "train"),
        ("u1", "u1/1", 1020, "view", "i2", "train"),
        ("u1", "u1/2", 5000, "view", "i3", "valid"),
        ("u1", "u1/2", 5005, "purchase", "i3", "test"),
        ("u2", "u2/1", 2000, "view", "i2", "train"),
        ("u2", "u2/1", 2001, "view", "i1", "valid"),
        ("u2", "u2/1", 2002, "view", "i3", "test"),
        ("u5", "u5/1", 110, "view", "i1", "train"),
        ("u7", "u7/1", 7200, "view", "i1", "train"),
        ("u7", "u7/1", 7300, "view", "i2", "train"),
    ];
    rows.iter()
        .map(|(u, s, t, e, i, sp)| {
            (
                u.to_string(),
                s.to_string(),
                *t,
                e.to_string(),
                i.to_string(),
                sp.to_string(),
            )
        })
        .collect()
}

#[test]
fn csv_log_gives_the_expected_report_and_shards() {
    let d = tmp("csv");
    let o = options(&d, write_csv(&d), "out");
    let r = prepare(&o).unwrap();
    check_report(&r);
    assert_eq!(shard_rows(&o.out, 4), expected());
    let items = std::fs::read_to_string(o.out.join("items.csv")).unwrap();
    assert_eq!(
        items,
        "item_id,title,category,brand,price\ni1,One,c,b,1.5\ni2,Two,c,b,2\ni3,Three,c,b,\n"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.out.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["format"], 1);
    assert_eq!(m["shards"].as_array().unwrap().len(), 4);
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["input_rows"], 25);
    assert!(!o.out.join("_work").exists());

    // Parquet input (a folder of one file) gives the same bytes.
    let p = options(&d, write_parquet(&d), "out-pq");
    let rp = prepare(&p).unwrap();
    assert_eq!(rp, r);
    for s in &r.shards {
        assert_eq!(
            std::fs::read(o.out.join(&s.file)).unwrap(),
            std::fs::read(p.out.join(&s.file)).unwrap(),
            "{}",
            s.file
        );
    }

    // A second run replaces the output with identical bytes.
    assert_eq!(prepare(&o).unwrap(), r);

    // Any number of work buckets, fewer or more than the partitions, gives the same bytes.
    for n in [2u32, 3, 7, 64] {
        let mut b = options(&d, d.join("events.csv"), &format!("out-b{n}"));
        b.buckets = Some(n);
        assert_eq!(prepare(&b).unwrap(), r, "{n} buckets");
        for s in &r.shards {
            assert_eq!(
                std::fs::read(o.out.join(&s.file)).unwrap(),
                std::fs::read(b.out.join(&s.file)).unwrap(),
                "{n} buckets: {}",
                s.file
            );
        }
        assert!(!b.out.join("_work").exists());
    }
}

#[test]
fn time_split_and_strict_mapping() {
    let d = tmp("time");
    let mut o = options(&d, write_csv(&d), "out");
    o.split = nextclick_prepare::SplitRule::Time {
        valid_from: 3000,
        test_from: 5000,
    };
    let r = prepare(&o).unwrap();
    // Kept timestamps ≥ 5000: 5000, 5005, 7200, 7300; in [3000, 5000): 3000, 3050.
    assert_eq!(r.splits.get("test"), Some(&4));
    assert_eq!(r.splits.get("valid"), Some(&2));
    assert_eq!(r.splits.get("train"), Some(&7));

    o.strict = true;
    let e = format!("{:#}", prepare(&o).unwrap_err());
    assert!(e.contains("--strict") && e.contains("search"), "{e}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let d = tmp("bad");
    // Wrong header.
    let ev = d.join("events.csv");
    std::fs::write(
        &ev,
        "session,user_id,timestamp,event_type,item_id\ns,u,1,view,i1\n",
    )
    .unwrap();
    let e = format!("{:#}", prepare(&options(&d, ev.clone(), "o1")).unwrap_err());
    assert!(e.contains("header") && e.contains("events.csv"), "{e}");
    // Unreadable input.
    let e = format!(
        "{:#}",
        prepare(&options(&d, d.join("nope.csv"), "o2")).unwrap_err()
    );
    assert!(e.contains("nope.csv"), "{e}");
    // A bucket count out of range.
    let mut o = options(&d, d.join("nope.csv"), "o2");
    o.buckets = Some(0);
    let e = format!("{:#}", prepare(&o).unwrap_err());
    assert!(e.contains("--buckets"), "{e}");
    // Parquet without a column.
    let schema = Arc::new(Schema::new(vec![Field::new(
        "user_id",
        DataType::Utf8,
        true,
    )]));
    let pq = d.join("events.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&pq).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    w.write(&RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["u"]))]).unwrap())
        .unwrap();
    w.close().unwrap();
    let e = format!("{:#}", prepare(&options(&d, pq, "o3")).unwrap_err());
    assert!(
        e.contains("session_id") && e.contains("events.parquet"),
        "{e}"
    );
    // A row with more fields than the header: the run stops, and the error says why and what to do.
    let ev = d.join("wide.csv");
    std::fs::write(
        &ev,
        "session_id,user_id,timestamp,event_type,item_id\ns,u,1,view,i1\ns,u,2,view,i1,extra\n",
    )
    .unwrap();
    let e = format!("{:#}", prepare(&options(&d, ev, "o4")).unwrap_err());
    assert!(
        e.contains("more fields than the header") && e.contains("Known limit"),
        "{e}"
    );
    // Bad mappings.
    for (m, want) in [
        ("view=flyby", "flyby"),
        ("view", "raw=kind"),
        ("view=view,view=cart", "twice"),
    ] {
        let e = format!("{:#}", Mapping::parse(m).unwrap_err());
        assert!(e.contains("--map") && e.contains(want), "{m}: {e}");
    }
    // Aliases are the core's: `add_to_cart` means cart.
    assert_eq!(
        Mapping::parse("atc=add_to_cart").unwrap().pairs,
        vec![("atc".to_string(), "cart".to_string())]
    );
}

#[test]
fn ballista_cluster_gives_byte_identical_shards() {
    let d = tmp("ballista");
    let local = options(&d, write_csv(&d), "local");
    let r_local = prepare(&local).unwrap();
    let mut remote = options(&d, d.join("events.csv"), "cluster");
    let rt = nextclick_prepare::runtime().unwrap();
    let r_remote = nextclick_prepare::on_engine_stack(|| rt.block_on(async {
        // A scheduler and an executor on loopback, as `ballista-scheduler` / `ballista-executor` would run.
        let addr = ballista_scheduler::standalone::new_standalone_scheduler()
            .await
            .unwrap();
        let url = format!("http://localhost:{}", addr.port());
        let client = loop {
            match ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient::connect(
                url.clone(),
            )
            .await
            {
                Ok(c) => break c,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        };
        ballista_executor::new_standalone_executor(
            client,
            2,
            ballista_core::serde::BallistaCodec::default(),
        )
        .await
        .unwrap();
        remote.engine = Engine::Cluster(format!("df://localhost:{}", addr.port()));
        // three work buckets on the cluster against one locally: still the same bytes
        remote.buckets = Some(3);
        prepare_async(&remote).await.unwrap()
    }))
    .unwrap();
    assert_eq!(r_remote, r_local);
    for s in &r_local.shards {
        assert_eq!(
            std::fs::read(local.out.join(&s.file)).unwrap(),
            std::fs::read(remote.out.join(&s.file)).unwrap(),
            "{}",
            s.file
        );
    }
    assert_eq!(shard_rows(&remote.out, 4), expected());
}
