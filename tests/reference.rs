//! The native core on the committed reference model: it loads, replays the scripted scenario exactly as
//! recorded in `tests/fixtures/reference_expected.json` (the file the browser tests compare against), and
//! refuses bad model, catalog and event input with specific errors.

use nextclick::catalog::Catalog;
use nextclick::predictor::{Options, Predictor};
use nextclick::{Error, EventError, RawEvent};

const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");
const EXPECTED: &str = include_str!("fixtures/reference_expected.json");

#[derive(serde::Deserialize)]
struct Step {
    event: RawEvent,
    status: nextclick::TrackStatus,
    top: Vec<nextclick::Prediction>,
}

#[test]
fn replays_the_scenario_like_the_recorded_native_run() {
    let steps: Vec<Step> = serde_json::from_str(EXPECTED).unwrap();
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(p.track_raw(&s.event, 0.0).unwrap(), s.status, "step {i}");
        let top = p.predict(10).unwrap();
        assert_eq!(top.len(), s.top.len(), "step {i}");
        for (a, b) in top.iter().zip(&s.top) {
            assert_eq!(a.item_id, b.item_id, "step {i}");
            assert!((a.score - b.score).abs() < 1e-5, "step {i}: {} vs {}", a.score, b.score);
        }
    }
    let stats = p.stats();
    assert_eq!((stats.accepted, stats.duplicates, stats.unknown_items, stats.sessions), (8, 1, 1, 2));
}

#[test]
fn predictions_exclude_the_current_item_and_purchases_and_change_with_clicks() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    assert!(p.predict(5).unwrap().is_empty(), "empty session predicts nothing");
    let ev = |kind: &str, id: &str, t: f64| RawEvent { kind: kind.into(), item_id: id.into(), timestamp: Some(t), price: None };
    p.track_raw(&ev("view", "ref-0001", 1e12), 0.0).unwrap();
    let a = p.predict(20).unwrap();
    assert_eq!(a.len(), 20);
    assert!(a.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(a.iter().all(|x| x.item_id != "ref-0001"));
    assert!(a[0].title.is_some() && a[0].url.is_some());
    p.track_raw(&ev("purchase", "ref-0002", 1e12 + 5000.0), 0.0).unwrap();
    p.track_raw(&ev("view", "ref-0003", 1e12 + 9000.0), 0.0).unwrap();
    let b = p.predict(300).unwrap();
    assert!(b.iter().all(|x| x.item_id != "ref-0002" && x.item_id != "ref-0003"));
    assert_eq!(b.len(), 298);
    assert_ne!(a[0].item_id, b[0].item_id, "new clicks change the ranking");
}

#[test]
fn bad_model_bytes_are_refused_with_a_clear_message() {
    let err = Predictor::new(b"not an onnx file", CATALOG, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad(_)), "{err}");
    assert!(err.to_string().contains("not a loadable ONNX model"), "{err}");
    let err = Predictor::new(&MODEL[..MODEL.len() / 2], CATALOG, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad(_)), "{err}");
    let err = Predictor::new(&[], CATALOG, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad(_) | Error::ModelContract(_)), "{err}");
}

#[test]
fn bad_catalog_bytes_are_refused_with_a_clear_message() {
    let err = Predictor::new(MODEL, b"garbage", Options::default()).unwrap_err();
    assert_eq!(err.to_string(), "catalog: bad magic (not a nextclick catalog file)");
    let mut c = CATALOG.to_vec();
    let n = c.len();
    c[n / 2] ^= 0xff;
    let err = Predictor::new(MODEL, &c, Options::default()).unwrap_err();
    assert_eq!(err, Error::CatalogChecksum);
    // A valid catalog built for another model.
    let cat = Catalog::from_bytes(CATALOG).unwrap();
    let ids = cat.ids().to_vec();
    let mut v = vec![0f32; ids.len() * cat.dim()];
    for i in 0..ids.len() {
        cat.copy_row(i, &mut v[i * cat.dim()..(i + 1) * cat.dim()]);
    }
    let foreign = Catalog::from_f32(ids.clone(), cat.dim(), v, None, [9; 32]).unwrap();
    let err = Predictor::new(MODEL, &foreign.to_bytes(), Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelHashMismatch { .. }), "{err}");
    let small = Catalog::from_f32(vec!["x".into()], 3, vec![0.0; 3], None, *cat.model_sha256()).unwrap();
    let err = Predictor::new(MODEL, &small.to_bytes(), Options::default()).unwrap_err();
    assert_eq!(err, Error::DimensionMismatch { model: 32, catalog: 3 });
}

#[test]
fn pinned_hashes_are_enforced() {
    let good = nextclick::catalog::hex(&nextclick::catalog::sha256(MODEL));
    let o = Options { model_sha256: Some(good), ..Options::default() };
    assert!(Predictor::new(MODEL, CATALOG, o).is_ok());
    let o = Options { model_sha256: Some("00".repeat(32)), ..Options::default() };
    let err = Predictor::new(MODEL, CATALOG, o).unwrap_err();
    assert!(matches!(err, Error::Integrity { what: "model", .. }), "{err}");
}

#[test]
fn malformed_events_are_rejected_and_counted() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let bad = RawEvent { kind: "teleport".into(), item_id: "ref-0001".into(), timestamp: None, price: None };
    let err = p.track_raw(&bad, 1e12).unwrap_err();
    assert_eq!(err, Error::InvalidEvent(EventError::UnknownType("teleport".into())));
    assert!(err.to_string().starts_with("event rejected: unknown event type \"teleport\""));
    let o = Options { unknown_items: nextclick::predictor::UnknownItemPolicy::Reject, ..Options::default() };
    let mut strict = Predictor::new(MODEL, CATALOG, o).unwrap();
    let unknown = RawEvent { kind: "view".into(), item_id: "nope".into(), timestamp: None, price: None };
    let err = strict.track_raw(&unknown, 1e12).unwrap_err();
    assert_eq!(err.to_string(), "event rejected: item \"nope\" is not in the catalog");
    assert_eq!(p.stats().rejected, 1);
}
