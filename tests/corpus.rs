//! Replays the fuzzing corpus (`tests/corpus/<target>/*`: small inputs kept from `make fuzz` runs and
//! hand-made edge cases) through the same checks as the cargo-fuzz targets in `fuzz/`, on the stable
//! toolchain, in `make test`. A file that once crashed a target stays here as a regression test.

#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

use nextclick::predictor::{Options, Predictor};

const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");

fn files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{} is empty", dir.display());
    v
}

fn replay(target: &str, mut f: impl FnMut(&[u8])) {
    for p in files(target) {
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            bytes.len() <= 64 << 10,
            "{}: corpus files stay small",
            p.display()
        );
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&bytes)));
        assert!(
            r.is_ok(),
            "{target} corpus file {} breaks the decoder",
            p.display()
        );
    }
}

#[test]
fn catalog_corpus() {
    replay("catalog", nextclick::fuzzing::catalog);
}

#[test]
fn state_corpus() {
    replay("state", nextclick::fuzzing::state);
}

#[test]
fn model_corpus() {
    replay("model", nextclick::fuzzing::model);
}

#[test]
fn event_corpus() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    replay("event", |b| nextclick::fuzzing::event(b, Some(&mut p)));
}

/// Writes the seed files of `tests/corpus/` (run once by hand:
/// `cargo test --test corpus -- --ignored write_seeds`); `make fuzz` starts from them and adds what it finds.
#[test]
#[ignore]
fn write_seeds() {
    use nextclick::catalog::{Catalog, ItemMeta};
    use nextclick::event::RawEvent;
    use prost::Message;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        std::fs::write(root.join(target).join(name), bytes).unwrap()
    };

    // catalog: 3 items × 4 dims, with metadata; and its int8 form
    let meta = |t: &str| ItemMeta {
        title: t.into(),
        url: format!("/p/{t}"),
        image: String::new(),
        price: Some(9.5),
    };
    let c = Catalog::from_f32(
        vec!["a".into(), "b".into(), "ü-ß".into()],
        4,
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.5, -0.5, 0.25],
        Some(vec![meta("a"), meta("b"), meta("c")]),
        [7; 32],
    )
    .unwrap();
    put("catalog", "seed-f32-meta", &c.to_bytes());
    put("catalog", "seed-int8", &c.quantize_int8().to_bytes());

    // state: a fresh predictor's state, and one after a few events
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    put("state", "seed-fresh", &p.export_state());
    for (i, kind) in ["view", "click", "cart", "purchase"].iter().enumerate() {
        let ev = RawEvent {
            kind: (*kind).into(),
            item_id: format!("ref-000{i}"),
            timestamp: Some(1.8e12 + i as f64 * 1e3),
            price: Some(3.0),
        };
        p.track_raw(&ev, 0.0).unwrap();
    }
    put("state", "seed-tracked", &p.export_state());

    // model: the reference model's interface without its weights and nodes (the contract check reads
    // only the graph interface and the metadata)
    let mut m = tract_onnx::pb::ModelProto::decode(MODEL).unwrap();
    let g = m.graph.as_mut().unwrap();
    g.node.clear();
    g.initializer.clear();
    put("model", "seed-interface", &m.encode_to_vec());

    // events: valid ones and the classes of bad input
    for (name, json) in [
        (
            "seed-view",
            r#"{"type":"view","itemId":"ref-0001","timestamp":1800000000000}"#,
        ),
        (
            "seed-cart-price",
            r#"{"type":"cart","itemId":"ref-0002","price":19.9}"#,
        ),
        (
            "seed-seconds",
            r#"{"type":"click","itemId":"ref-0003","timestamp":1800000000}"#,
        ),
        (
            "seed-negative-ts",
            r#"{"type":"view","itemId":"ref-0001","timestamp":-5}"#,
        ),
        (
            "seed-far-future",
            r#"{"type":"view","itemId":"ref-0001","timestamp":9e15}"#,
        ),
        (
            "seed-huge-number",
            r#"{"type":"view","itemId":"ref-0001","timestamp":1e308,"price":-1e308}"#,
        ),
        (
            "seed-unknown-type",
            r#"{"type":"hover","itemId":"ref-0001"}"#,
        ),
        ("seed-missing-item", r#"{"type":"view"}"#),
        (
            "seed-wrong-types",
            r#"{"type":7,"itemId":["x"],"timestamp":"soon"}"#,
        ),
        (
            "seed-unicode",
            r#"{"type":"view","itemId":"\u0000\u200b\ud83d\ude00 ref-0001 \ufeff"}"#,
        ),
        (
            "seed-lone-surrogate",
            r#"{"type":"view","itemId":"\ud800"}"#,
        ),
        (
            "seed-deep",
            &format!("{}{}", "[".repeat(200), "]".repeat(200)),
        ),
        (
            "seed-long-id",
            &format!(r#"{{"type":"view","itemId":"{}"}}"#, "x".repeat(300)),
        ),
        (
            "seed-unknown-item",
            r#"{"type":"purchase","itemId":"not-in-the-catalog","price":0}"#,
        ),
    ] {
        put("event", name, json.as_bytes());
    }
}
