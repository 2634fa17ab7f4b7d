//! The streaming trainer on Parquet shards in `nextclick prepare`'s layout (written here with
//! `nextclick_data::shards`' writer, so the query engine is not needed): the loss goes down and the model
//! learns the generated pattern; the windows held at once are counted and bounded by the shuffle buffer +
//! the pool, the same for 4× the data; the step limit; a tampered shard is an error naming it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use nextclick_data::shards::{self, ShardSet, ShardWriter};
use nextclick_model::content::CONTENT_DIM;
use nextclick_model::encoder::{EncoderConfig, SplitMix};
use nextclick_train::train::{
    eval_cases, evaluate, train_stream, Net, NetConfig, StreamOptions, TrainOptions,
};

const ITEMS: u32 = 60;

/// A shard row: (user, session, timestamp, event type, item, split).
type Row = (String, String, i64, String, String, String);
const PARTS: u32 = 3;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nextclick-stream-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(d.join("shards")).unwrap();
    d
}

/// `users` users with 1–3 sessions each of 3–14 views that walk the catalog (`x, x+1, x+2, …` mod
/// ITEMS): a pattern an encoder learns quickly. Leave-one-out split per user, sorted by (user, time) and
/// partitioned by the user hash, as `prepare` writes it.
fn write_prepared(dir: &Path, users: usize, seed: u64) {
    let mut items = String::from("item_id,title,category,brand,price\n");
    for i in 0..ITEMS {
        items.push_str(&format!("i{i:03},Item {i},,,\n"));
    }
    std::fs::write(dir.join("items.csv"), items).unwrap();
    let mut r = SplitMix(seed);
    let mut parts: Vec<Vec<Row>> = vec![Vec::new(); PARTS as usize];
    let mut keys: Vec<String> = (0..users).map(|u| format!("u{u:05}")).collect();
    keys.sort();
    for user in keys {
        let mut rows = Vec::new();
        let mut t = 1_000_000i64;
        for s in 0..1 + r.below(3) {
            let mut x = r.below(ITEMS as usize) as u32;
            for _ in 0..3 + r.below(12) {
                rows.push((
                    user.clone(),
                    format!("{user}-s{s}"),
                    t,
                    "view".to_string(),
                    format!("i{x:03}"),
                ));
                x = (x + 1) % ITEMS;
                t += 30;
            }
            t += 7200;
        }
        let n = rows.len();
        let k = shards::user_partition(&user, PARTS) as usize;
        for (j, (u, s, t, e, i)) in rows.into_iter().enumerate() {
            let split = if n >= 3 && j == n - 1 {
                "test"
            } else if n >= 3 && j == n - 2 {
                "valid"
            } else {
                "train"
            };
            parts[k].push((u, s, t, e, i, split.to_string()));
        }
    }
    let mut listed = Vec::new();
    for (k, rows) in parts.iter().enumerate() {
        let file = format!("shards/{}", shards::shard_name(k as u32));
        let path = dir.join(&file);
        let mut w = ShardWriter::create(&path).unwrap();
        let col = |f: &dyn Fn(&Row) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        if !rows.is_empty() {
            w.write(vec![
                col(&|r| r.0.clone()),
                col(&|r| r.1.clone()),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                col(&|r| r.3.clone()),
                col(&|r| r.4.clone()),
                col(&|r| r.5.clone()),
            ])
            .unwrap();
        }
        let n = w.finish().unwrap();
        assert_eq!(n, rows.len() as u64);
        listed.push(serde_json::json!({
            "file": file, "rows": n, "sha256": shards::sha256_file(&path).unwrap()
        }));
    }
    let manifest = serde_json::json!({
        "format": shards::FORMAT_VERSION,
        "parameters": {"time": "unix", "partitions": PARTS},
        "shards": listed,
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

fn index() -> HashMap<String, u32> {
    (0..ITEMS).map(|i| (format!("i{i:03}"), i)).collect()
}

/// A small ID model reading 8 events (so long sessions are cut into windows).
fn net() -> Net {
    Net::new(
        NetConfig {
            encoder: EncoderConfig {
                max_len: 8,
                dim: 32,
                heads: 2,
                layers: 1,
                ffn: 64,
                ln_eps: 1e-5,
            },
            content_dim: CONTENT_DIM,
            tower_hidden: 0,
            id_items: ITEMS as usize,
            temperature: 1.0,
            cosine: false,
            id_residual: 0,
            aux_items: 0,
            aux_layout: 0,
            positions_from_start: false,
        },
        3,
    )
    .unwrap()
}

fn opts(epochs: usize, checkpoint: Option<PathBuf>) -> TrainOptions {
    TrainOptions {
        epochs,
        batch_tokens: 256,
        lr: 5e-3,
        dropout: 0.0,
        patience: 10,
        max_minutes: 10.0,
        checkpoint,
        progress: false,
        ..TrainOptions::default()
    }
}

const SMALL: StreamOptions = StreamOptions {
    shuffle_buffer: 64,
    pool: 32,
    steps: 0,
    test_cases: 1000,
};

#[test]
fn streaming_training_learns_and_holds_a_bounded_number_of_windows() {
    let dir = tmp("learn");
    write_prepared(&dir, 400, 11);
    let set = ShardSet::open(&dir).unwrap();
    let items = index();
    let d = eval_cases(&set, &items, 8, 1000, 1000, 1).unwrap();
    assert!(
        d.windows > 4 * 96,
        "the data must be larger than the bound: {d:?}"
    );
    assert!(
        d.valid.len() > 300 && d.test.len() > 300,
        "{}",
        d.valid.len()
    );
    let mut n = net();
    let table = n.item_vectors(None).unwrap();
    let before = evaluate(&n, &table, &d.test, 256).unwrap();
    let ck = dir.join("ck.safetensors");
    let rep = train_stream(&mut n, None, &set, &items, &d, &opts(4, Some(ck)), &SMALL).unwrap();
    let l = &rep.train.losses;
    assert_eq!(l.len(), 4);
    assert!(l[3] < 0.7 * l[0], "loss did not decrease: {l:?}");
    let table = n.item_vectors(None).unwrap();
    let after = evaluate(&n, &table, &d.test, 256).unwrap();
    assert!(
        after.r10 >= 0.6 && after.r10 > 2.0 * before.r10,
        "test R@10 {:.3} after, {:.3} before",
        after.r10,
        before.r10
    );
    // the counted bound: buffer (64) + pool (32) windows of at most L + 1 events
    assert_eq!(rep.held_bound, 96);
    assert!(rep.peak_held <= rep.held_bound, "{rep:?}");
    assert!(rep.max_window_events <= 9, "{rep:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_bound_is_the_same_for_four_times_the_data() {
    let mut peaks = Vec::new();
    let mut windows = Vec::new();
    for (name, users) in [("x1", 200), ("x4", 800)] {
        let dir = tmp(name);
        write_prepared(&dir, users, 5);
        let set = ShardSet::open(&dir).unwrap();
        let items = index();
        let d = eval_cases(&set, &items, 8, 200, 200, 1).unwrap();
        let mut n = net();
        let rep = train_stream(&mut n, None, &set, &items, &d, &opts(1, None), &SMALL).unwrap();
        peaks.push(rep.peak_held);
        windows.push(d.windows);
        std::fs::remove_dir_all(&dir).ok();
    }
    assert!(windows[1] > 3 * windows[0], "{windows:?}");
    // both fill the buffer and the pool, neither holds more
    assert_eq!(peaks, vec![96, 96], "windows per epoch {windows:?}");
}

#[test]
fn step_limit_and_tampered_shards() {
    let dir = tmp("steps");
    write_prepared(&dir, 200, 2);
    let set = ShardSet::open(&dir).unwrap();
    let items = index();
    let d = eval_cases(&set, &items, 8, 100, 100, 1).unwrap();
    let mut n = net();
    let so = StreamOptions { steps: 5, ..SMALL };
    let rep = train_stream(&mut n, None, &set, &items, &d, &opts(3, None), &so).unwrap();
    assert_eq!(rep.steps, 5);
    assert!(rep.step_limited);
    assert_eq!(rep.train.epochs, 1);
    // one byte changed in a shard: the first pass and training refuse it, naming the file
    let p = dir.join("shards").join(shards::shard_name(1));
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&p, bytes).unwrap();
    let e = eval_cases(&set, &items, 8, 100, 100, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tampered") && e.contains("part-00001"), "{e}");
    let e = train_stream(&mut n, None, &set, &items, &d, &opts(1, None), &SMALL)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tampered") && e.contains("part-00001"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
