//! Property tests of every decoder of untrusted bytes or values: arbitrary and mutated inputs never panic,
//! never allocate beyond what the input can justify, and each class of bad input gets its own error.
//!
//! `make test` runs a time-boxed number of cases; `make fuzz` runs many more (`PROPTEST_CASES`).
//! Inputs that once found a bug (or a fuzz target's seeds) are kept in `tests/corpus/<target>/` and replayed by
//! `tests/corpus.rs` on every `make test`.

#![cfg(not(target_arch = "wasm32"))]

use nextclick::catalog::{Catalog, Vectors};
use nextclick::event::RawEvent;
use nextclick::model::{check_contract, Encoder};
use nextclick::predictor::{Options, Predictor};
use nextclick::Error;
use proptest::prelude::*;

const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
const MODEL_V2: &[u8] = include_bytes!("../models/reference-v2.onnx");
const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");

/// The exported state of a fresh predictor, and its model hash (built once: loading tract is slow in
/// debug builds).
fn fresh_state() -> &'static (Vec<u8>, [u8; 32]) {
    static STATE: std::sync::OnceLock<(Vec<u8>, [u8; 32])> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
        for i in 0..5 {
            let ev = RawEvent {
                kind: "view".into(),
                item_id: format!("ref-000{i}"),
                timestamp: Some(1.8e12 + i as f64 * 1e3),
                price: None,
            };
            p.track_raw(&ev, 0.0).unwrap();
        }
        (p.export_state(), *p.encoder().sha256())
    })
}

/// One predictor on the reference model and catalog, shared by the cases that use decoded state.
fn predictor() -> std::sync::MutexGuard<'static, Predictor> {
    static P: std::sync::OnceLock<std::sync::Mutex<Predictor>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        std::sync::Mutex::new(Predictor::new(MODEL, CATALOG, Options::default()).unwrap())
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// Uses an imported state the way a page does: track (which learns), predict, intent, features, export
/// and re-import. Nothing of it may panic (a panic is a wasm trap in the page).
fn use_state(p: &mut Predictor) {
    for i in 0..3 {
        let ev = RawEvent {
            kind: ["view", "cart", "purchase"][i].into(),
            item_id: format!("ref-000{i}"),
            timestamp: Some(1.9e12 + i as f64 * 1e3),
            price: Some(2.5),
        };
        let _ = p.track_raw(&ev, 0.0);
        let _ = p.predict(5);
    }
    let _ = p.intent();
    let _ = p.features();
    let again = p.export_state();
    p.import_state(&again)
        .expect("a state the predictor wrote imports again");
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A mutation of valid bytes: flip bytes, truncate, or splice in random bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Splice(usize, Vec<u8>),
    SetU32(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(i, v)| Mutation::Splice(i, v)),
        (0usize..64, any::<u32>()).prop_map(|(i, v)| Mutation::SetU32(i, v)),
    ]
}

fn apply(bytes: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in muts {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, x) => {
                let i = i % b.len();
                b[i] ^= x;
            }
            Mutation::Truncate(n) => b.truncate(n % (b.len() + 1)),
            Mutation::Splice(i, v) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, v.iter().cloned());
            }
            Mutation::SetU32(i, v) => {
                if i + 4 <= b.len() {
                    b[*i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    b
}

/// Re-seals a mutated catalog body with a valid checksum, so mutations reach the field checks.
fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    if b.len() >= 32 {
        let n = b.len() - 32;
        let sum = nextclick::catalog::sha256(&b[..n]);
        b[n..].copy_from_slice(&sum);
    }
    b
}

/// The reference catalog as a split catalog (format version 3): two lists, one zero codeword, its int8
/// vectors for re-scoring; with metadata. `(head, body)`.
fn split_reference() -> &'static (Vec<u8>, Vec<u8>) {
    static SPLIT: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    SPLIT.get_or_init(|| {
        let cat = Catalog::from_bytes(CATALOG).unwrap();
        let (n, d) = (cat.len(), cat.dim());
        let q = cat.quantize_int8();
        let Vectors::Int8 { scales, data } = q.vectors() else {
            unreachable!()
        };
        let ix = nextclick::ivfpq::IvfPq {
            dim: d,
            subspaces: 1,
            ksub: 1,
            centroids: vec![0.0; 2 * d],
            codebooks: vec![0.0; d],
            offsets: vec![0, (n / 2) as u32, n as u32],
            codes: vec![0; n],
            rescore: Some((scales.clone(), data.clone())),
            nprobe: 1,
            rerank: 8,
        };
        let meta: Vec<_> = (0..n)
            .map(|i| cat.meta(i).cloned().unwrap_or_default())
            .collect();
        nextclick::split::write(&ix, cat.ids(), Some(&meta), cat.model_sha256(), 2, 3).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn split_catalog_head_and_chunks_refuse_mutations_cleanly(muts in proptest::collection::vec(mutation(), 1..4), seal in any::<bool>(), which in 0usize..3) {
        let (head, body) = split_reference();
        // the head
        let mut h = apply(head, &muts);
        if seal { h = reseal(h); }
        match Catalog::from_bytes(&h) {
            Ok(c) => prop_assert!(!c.is_empty()),
            Err(e) => prop_assert!(matches!(e,
                Error::CatalogBadMagic | Error::CatalogVersion { .. } | Error::CatalogTruncated { .. }
                | Error::CatalogChecksum | Error::CatalogInvalid { .. }), "unexpected error class: {e}"),
        }
        // a chunk: mutated bytes are refused with CatalogChunk and leave nothing resident
        let mut cat = Catalog::from_bytes(head).unwrap();
        let sp = cat.split_mut().unwrap();
        let list = sp.list_request(0);
        let at = |r: &nextclick::split::ChunkRequest| body[r.offset as usize..(r.offset + r.length as u64) as usize].to_vec();
        let req = match which {
            0 => list,
            1 => sp.requests_for_ids(["ref-0001"]).into_iter().next().unwrap(),
            _ => {
                sp.add(&list, &at(&list), &[]).unwrap();
                sp.requests_for_rows([0]).into_iter().next().unwrap()
            }
        };
        let before = sp.resident();
        let bad = apply(&at(&req), &muts);
        match sp.add(&req, &bad, &[]) {
            Ok(()) => prop_assert_eq!(bad, at(&req)),
            Err(e) => {
                prop_assert!(matches!(e, Error::CatalogChunk { .. }), "unexpected error class: {e}");
                prop_assert_eq!(sp.resident(), before);
            }
        }
    }

    #[test]
    fn catalog_decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Catalog::from_bytes(&bytes);
        let mut with_magic = nextclick::catalog::MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Catalog::from_bytes(&with_magic);
    }

    #[test]
    fn catalog_decoder_refuses_mutations_cleanly(muts in proptest::collection::vec(mutation(), 1..4), seal in any::<bool>()) {
        let mut b = apply(CATALOG, &muts);
        if seal { b = reseal(b); }
        match Catalog::from_bytes(&b) {
            Ok(c) => prop_assert!(!c.is_empty() && c.dim() >= 1),
            Err(e) => prop_assert!(matches!(e,
                Error::CatalogBadMagic | Error::CatalogVersion { .. } | Error::CatalogTruncated { .. }
                | Error::CatalogChecksum | Error::CatalogInvalid { .. } | Error::CatalogDuplicateId(_)
                | Error::CatalogNonFinite(_)), "unexpected error class: {e}"),
        }
    }

    #[test]
    fn state_decoder_never_panics(muts in proptest::collection::vec(mutation(), 1..4), seal in any::<bool>()) {
        let (state, sha) = fresh_state();
        let mut b = apply(state, &muts);
        if seal { b = reseal(b); }
        let _ = sha;
        let mut p = predictor();
        match p.import_state(&b) {
            Ok(report) => {
                prop_assert!(report.kept_events <= 200);
                use_state(&mut p);
            }
            Err(e) => prop_assert!(matches!(e, Error::State(_)), "unexpected error class: {e}"),
        }
    }

    #[test]
    fn event_validation_never_panics(kind in ".{0,80}", id in "\\PC{0,300}", ts in any::<f64>(), price in any::<Option<f64>>()) {
        let raw = RawEvent { kind, item_id: id, timestamp: Some(ts), price };
        if let Ok(ev) = raw.validate(1.8e12) {
            prop_assert!(ev.timestamp_ms.is_finite() && ev.timestamp_ms >= 0.0);
            prop_assert!(!ev.item_id.is_empty() && ev.item_id.len() <= 256);
            prop_assert!(ev.price.is_none_or(|p| p.is_finite() && p >= 0.0));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn model_loader_never_panics_on_mutated_onnx(muts in proptest::collection::vec(mutation(), 1..3)) {
        let b = apply(MODEL, &muts);
        let _ = check_contract(&b);
        let r = std::panic::catch_unwind(|| Encoder::from_bytes(&b).map(|_| ()));
        prop_assert!(r.is_ok(), "the model loader panicked");
        if let Ok(Err(e)) = r {
            prop_assert!(matches!(e, Error::ModelLoad(_) | Error::ModelContract(_) | Error::ModelRun(_)), "{e}");
        }
    }

    #[test]
    fn incremental_model_loader_never_panics_on_mutated_onnx(muts in proptest::collection::vec(mutation(), 1..3)) {
        let b = apply(MODEL_V2, &muts);
        let _ = check_contract(&b);
        let r = std::panic::catch_unwind(|| Encoder::from_bytes(&b).map(|_| ()));
        prop_assert!(r.is_ok(), "the model loader panicked on a mutated v2 model");
        if let Ok(Err(e)) = r {
            prop_assert!(matches!(e, Error::ModelLoad(_) | Error::ModelContract(_) | Error::ModelRun(_)), "{e}");
        }
    }

    #[test]
    fn model_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let r = std::panic::catch_unwind(|| Encoder::from_bytes(&bytes).map(|_| ()));
        prop_assert!(r.is_ok());
    }
}

#[test]
fn oversized_inputs_are_refused_before_allocation() {
    // A catalog header announcing 4M items × 4096 dims in 100 bytes.
    let mut b = nextclick::catalog::MAGIC.to_vec();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&4_000_000u32.to_le_bytes());
    b.extend_from_slice(&4096u32.to_le_bytes());
    b.extend_from_slice(&[0; 64]);
    assert!(matches!(
        Catalog::from_bytes(&b),
        Err(Error::CatalogTruncated { .. })
    ));
    let big = vec![0u8; nextclick::state::MAX_STATE_BYTES + 1];
    assert!(matches!(
        predictor().import_state(&big),
        Err(Error::State(_))
    ));
}

/// A regression the model proptest found (2026-12-07): one flipped byte of the reference model gives an
/// Unsqueeze axis out of range, on which tract's `AddDims` indexed out of bounds (a panic, i.e. a crashed
/// page in wasm). The loader's Unsqueeze builders now check the axes: it is a load error.
#[test]
fn an_unsqueeze_axis_out_of_range_is_a_load_error() {
    let b = apply(MODEL, &[Mutation::Flip(5_001_605_074_271_126_734, 4)]);
    let r = std::panic::catch_unwind(|| Encoder::from_bytes(&b).map(|_| ()));
    let e = r.expect("no panic").expect_err("a corrupted model");
    assert!(
        matches!(e, Error::ModelContract(_) | Error::ModelLoad(_)),
        "{e}"
    );
    assert!(e.to_string().contains("Unsqueeze"), "{e}");
}
