//! A shopper's stored state under tomorrow's catalog (#17): items added, removed, reordered, a smaller
//! catalog, a new model. The state names items by their shop ids, so it is resolved against whatever
//! catalog is live; nothing may trap or point at the wrong product.

#![cfg(not(target_arch = "wasm32"))]

use nextclick::catalog::{Catalog, ItemMeta};
use nextclick::predictor::{Options, Predictor};
use nextclick::{Error, RawEvent};

const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");

fn at(kind: &str, id: &str, ts_s: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(1.8e12 + ts_s * 1e3),
        price: None,
    }
}

/// One catalog row: id, vector, display metadata.
type Row = (String, Vec<f32>, ItemMeta);

/// Rows of the reference catalog, its dimension and model hash.
fn rows() -> (Vec<Row>, usize, [u8; 32]) {
    let c = Catalog::from_bytes(CATALOG).unwrap();
    let d = c.dim();
    let rows = (0..c.len())
        .map(|i| {
            let mut v = vec![0f32; d];
            c.copy_row(i, &mut v);
            (
                c.id(i).to_string(),
                v,
                c.meta(i).cloned().unwrap_or_default(),
            )
        })
        .collect();
    (rows, d, *c.model_sha256())
}

/// A catalog for the same model from `rows`.
fn catalog_of(rows: &[Row], d: usize, sha: [u8; 32]) -> Vec<u8> {
    let ids = rows.iter().map(|r| r.0.clone()).collect();
    let vecs = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
    let meta = rows.iter().map(|r| r.2.clone()).collect();
    Catalog::from_f32(ids, d, vecs, Some(meta), sha)
        .unwrap()
        .to_bytes()
}

/// A shopper who has browsed and learned under catalog A (the reference catalog).
fn shopper() -> Predictor {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    for i in 0..6 {
        let t = i as f64 * 3600.0;
        p.track_raw(&at("view", "ref-0005", t), 0.0).unwrap();
        p.track_raw(&at("cart", "ref-0250", t + 5.0), 0.0).unwrap();
    }
    p.track_raw(&at("view", "ref-0005", 50_000.0), 0.0).unwrap();
    p.track_raw(&at("view", "ref-0007", 50_010.0), 0.0).unwrap();
    p.track_raw(&at("view", "ref-0250", 50_020.0), 0.0).unwrap();
    p
}

fn ids(p: &mut Predictor, k: usize) -> Vec<String> {
    p.predict(k)
        .unwrap()
        .into_iter()
        .map(|x| x.item_id)
        .collect()
}

#[test]
fn reordered_catalog_restores_the_same_items_and_predictions() {
    let mut a = shopper();
    let saved = a.export_state();
    let want = a.predict(10).unwrap();
    let (mut rows, d, sha) = rows();
    rows.reverse();
    let mut b = Predictor::new(MODEL, &catalog_of(&rows, d, sha), Options::default()).unwrap();
    let report = b.import_state(&saved).unwrap();
    assert_eq!(report.dropped_events, 0);
    assert_eq!(report.kept_events, 3);
    assert!(!report.model_changed);
    let got = b.predict(10).unwrap();
    assert_eq!(
        got.iter().map(|x| &x.item_id).collect::<Vec<_>>(),
        want.iter().map(|x| &x.item_id).collect::<Vec<_>>(),
        "the same products, whatever their rows"
    );
    for (x, y) in got.iter().zip(&want) {
        assert!((x.score - y.score).abs() < 1e-5);
    }
    assert_eq!(b.alpha(), a.alpha(), "the adapter is kept");
    assert_eq!(b.features(), a.features());
}

#[test]
fn removed_items_are_dropped_and_a_smaller_catalog_never_traps() {
    let a = shopper();
    let saved = a.export_state();
    let (rows, d, sha) = rows();
    // keep the first 100 rows (ref-0250 is gone, ref-0005 and ref-0007 stay), then shuffle them
    let mut small: Vec<_> = rows[..100].to_vec();
    small.rotate_left(37);
    let mut b = Predictor::new(MODEL, &catalog_of(&small, d, sha), Options::default()).unwrap();
    let report = b.import_state(&saved).unwrap();
    assert_eq!(report.dropped_events, 1, "the removed product's event");
    assert_eq!(report.kept_events, 2);
    assert_eq!(
        b.features().events,
        a.features().events,
        "the session's count stays"
    );
    let top = ids(&mut b, 100);
    assert!(top.iter().all(|id| small.iter().any(|r| &r.0 == id)));
    // the shopper goes on under the new catalog
    b.track_raw(&at("view", "ref-0007", 50_030.0), 0.0).unwrap();
    assert!(!ids(&mut b, 5).is_empty());
    // and its next export round-trips
    let again = b.export_state();
    let mut c = Predictor::new(MODEL, &catalog_of(&small, d, sha), Options::default()).unwrap();
    assert_eq!(c.import_state(&again).unwrap().dropped_events, 0);
    assert_eq!(ids(&mut c, 10), ids(&mut b, 10));
}

#[test]
fn added_items_are_ranked_and_learned_preferences_survive() {
    // learned: ref-0005 is followed by ref-0250; the current session is ref-0005 alone
    let mut a = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    for i in 0..6 {
        let t = i as f64 * 3600.0;
        a.track_raw(&at("view", "ref-0005", t), 0.0).unwrap();
        a.track_raw(&at("cart", "ref-0250", t + 5.0), 0.0).unwrap();
    }
    a.track_raw(&at("view", "ref-0005", 50_000.0), 0.0).unwrap();
    let saved = a.export_state();
    let rank = |p: &mut Predictor, id: &str| ids(p, 400).iter().position(|x| x == id);
    let learned = rank(&mut a, "ref-0250").unwrap();
    let (mut rows, d, sha) = rows();
    // a new product, a copy of an existing one's vector under a new id, at the front
    let mut new = rows[3].clone();
    new.0 = "new-1".into();
    rows.insert(0, new);
    let mut b = Predictor::new(MODEL, &catalog_of(&rows, d, sha), Options::default()).unwrap();
    b.import_state(&saved).unwrap();
    let fresh_b =
        &mut Predictor::new(MODEL, &catalog_of(&rows, d, sha), Options::default()).unwrap();
    fresh_b
        .track_raw(&at("view", "ref-0005", 50_000.0), 0.0)
        .unwrap();
    let after = rank(&mut b, "ref-0250").unwrap();
    assert!(
        after <= learned + 1,
        "rank {learned} under A, {after} under B"
    );
    let untrained = rank(fresh_b, "ref-0250").unwrap_or(usize::MAX);
    assert!(
        after <= untrained,
        "learned {after} vs untrained {untrained}"
    );
    assert!(ids(&mut b, rows.len()).iter().any(|x| x == "new-1"));
}

#[test]
fn state_of_another_model_keeps_sessions_and_restarts_the_heads() {
    let a = shopper();
    let mut saved = a.export_state();
    // the same bytes, sealed for another model hash
    saved[10] ^= 0xff;
    let n = saved.len();
    let sum = nextclick::catalog::sha256(&saved[..n - 32]);
    saved[n - 32..].copy_from_slice(&sum);
    let mut b = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let report = b.import_state(&saved).unwrap();
    assert!(report.model_changed);
    assert_eq!(report.kept_events, 3);
    assert_eq!(b.alpha(), 0.0, "the adapter restarts");
    assert!(a.alpha() > 0.0);
    assert_eq!(b.stats(), a.stats(), "counters are kept");
    assert_eq!(b.features().events, a.features().events);
}

#[test]
fn a_catalog_for_another_model_is_still_refused() {
    let (rows, d, mut sha) = rows();
    sha[0] ^= 1;
    let err = Predictor::new(MODEL, &catalog_of(&rows, d, sha), Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelHashMismatch { .. }), "{err}");
}

#[test]
fn format_1_state_keeps_the_heads_and_drops_unverifiable_events() {
    // A format-1 state as the previous release wrote it: the payload names catalog rows.
    let a = shopper();
    let v2 = a.export_state();
    let n = u32::from_le_bytes(v2[42..46].try_into().unwrap()) as usize;
    let payload: serde_json::Value = serde_json::from_slice(&v2[46..46 + n]).unwrap();
    let table: Vec<String> = serde_json::from_value(payload["items"].clone()).unwrap();
    let mut state = payload["state"].clone();
    let cat = Catalog::from_bytes(CATALOG).unwrap();
    for e in state["sessions"]["current"].as_array_mut().unwrap() {
        let slot = e["item"].as_u64().unwrap() as usize;
        e["item"] = cat.index_of(&table[slot]).unwrap().into();
    }
    let body = serde_json::to_vec(&state).unwrap();
    let mut v1 = v2[..10].to_vec();
    v1[8..10].copy_from_slice(&1u16.to_le_bytes());
    v1.extend_from_slice(&v2[10..42]);
    v1.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v1.extend_from_slice(&body);
    let sum = nextclick::catalog::sha256(&v1);
    v1.extend_from_slice(&sum);
    let mut b = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let report = b.import_state(&v1).unwrap();
    assert_eq!(report.format_version, 1);
    assert_eq!(report.dropped_events, 3);
    assert_eq!(report.kept_events, 0);
    assert_eq!(b.alpha(), a.alpha(), "the learned adapter is kept");
    assert_eq!(b.stats(), a.stats());
}

#[test]
fn a_state_naming_rows_past_its_table_is_refused() {
    let a = shopper();
    let v2 = a.export_state();
    let n = u32::from_le_bytes(v2[42..46].try_into().unwrap()) as usize;
    let mut payload: serde_json::Value = serde_json::from_slice(&v2[46..46 + n]).unwrap();
    payload["state"]["sessions"]["current"][0]["item"] = 9.into();
    let body = serde_json::to_vec(&payload).unwrap();
    let mut bad = v2[..42].to_vec();
    bad.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bad.extend_from_slice(&body);
    let sum = nextclick::catalog::sha256(&bad);
    bad.extend_from_slice(&sum);
    let mut b = shopper();
    let before = b.export_state();
    let err = b.import_state(&bad).unwrap_err();
    assert!(matches!(err, Error::State(_)), "{err}");
    assert_eq!(
        b.export_state(),
        before,
        "the refused import changed nothing"
    );
}
