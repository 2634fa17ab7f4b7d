//! The native core on the committed reference model: it loads, replays the scripted scenario exactly as
//! recorded in `tests/fixtures/reference_expected.json` (the file the browser tests compare against), and
//! refuses bad model, catalog and event input with specific errors.

#![cfg(not(target_arch = "wasm32"))]

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
            assert!(
                (a.score - b.score).abs() < 1e-5,
                "step {i}: {} vs {}",
                a.score,
                b.score
            );
        }
    }
    let stats = p.stats();
    assert_eq!(
        (
            stats.accepted,
            stats.duplicates,
            stats.unknown_items,
            stats.sessions
        ),
        (8, 1, 1, 2)
    );
}

#[test]
fn predictions_exclude_the_current_item_and_purchases_and_change_with_clicks() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    assert!(
        p.predict(5).unwrap().is_empty(),
        "empty session predicts nothing"
    );
    let ev = |kind: &str, id: &str, t: f64| RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(t),
        price: None,
    };
    p.track_raw(&ev("view", "ref-0001", 1e12), 0.0).unwrap();
    let a = p.predict(20).unwrap();
    assert_eq!(a.len(), 20);
    assert!(a.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(a.iter().all(|x| x.item_id != "ref-0001"));
    assert!(a[0].title.is_some() && a[0].url.is_some());
    p.track_raw(&ev("purchase", "ref-0002", 1e12 + 5000.0), 0.0)
        .unwrap();
    p.track_raw(&ev("view", "ref-0003", 1e12 + 9000.0), 0.0)
        .unwrap();
    let b = p.predict(300).unwrap();
    assert!(b
        .iter()
        .all(|x| x.item_id != "ref-0002" && x.item_id != "ref-0003"));
    assert_eq!(b.len(), 298);
    assert_ne!(a[0].item_id, b[0].item_id, "new clicks change the ranking");
}

#[test]
fn bad_model_bytes_are_refused_with_a_clear_message() {
    let err = Predictor::new(b"not an onnx file", CATALOG, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad(_)), "{err}");
    assert!(
        err.to_string().contains("not a loadable ONNX model"),
        "{err}"
    );
    let err = Predictor::new(&MODEL[..MODEL.len() / 2], CATALOG, Options::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad(_)), "{err}");
    let err = Predictor::new(&[], CATALOG, Options::default()).unwrap_err();
    assert!(
        matches!(err, Error::ModelLoad(_) | Error::ModelContract(_)),
        "{err}"
    );
}

#[test]
fn bad_catalog_bytes_are_refused_with_a_clear_message() {
    let err = Predictor::new(MODEL, b"garbage", Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "catalog: bad magic (not a nextclick catalog file)"
    );
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
    let small =
        Catalog::from_f32(vec!["x".into()], 3, vec![0.0; 3], None, *cat.model_sha256()).unwrap();
    let err = Predictor::new(MODEL, &small.to_bytes(), Options::default()).unwrap_err();
    assert_eq!(
        err,
        Error::DimensionMismatch {
            model: 32,
            catalog: 3
        }
    );
}

#[test]
fn pinned_hashes_are_enforced() {
    let good = nextclick::catalog::hex(&nextclick::catalog::sha256(MODEL));
    let o = Options {
        model_sha256: Some(good),
        ..Options::default()
    };
    assert!(Predictor::new(MODEL, CATALOG, o).is_ok());
    let o = Options {
        model_sha256: Some("00".repeat(32)),
        ..Options::default()
    };
    let err = Predictor::new(MODEL, CATALOG, o).unwrap_err();
    assert!(
        matches!(err, Error::Integrity { what: "model", .. }),
        "{err}"
    );
}

#[test]
fn malformed_events_are_rejected_and_counted() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let bad = RawEvent {
        kind: "teleport".into(),
        item_id: "ref-0001".into(),
        timestamp: None,
        price: None,
    };
    let err = p.track_raw(&bad, 1e12).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidEvent(EventError::UnknownType("teleport".into()))
    );
    assert!(err
        .to_string()
        .starts_with("event rejected: unknown event type \"teleport\""));
    let o = Options {
        unknown_items: nextclick::predictor::UnknownItemPolicy::Reject,
        ..Options::default()
    };
    let mut strict = Predictor::new(MODEL, CATALOG, o).unwrap();
    let unknown = RawEvent {
        kind: "view".into(),
        item_id: "nope".into(),
        timestamp: None,
        price: None,
    };
    let err = strict.track_raw(&unknown, 1e12).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event rejected: item \"nope\" is not in the catalog"
    );
    assert_eq!(p.stats().rejected, 1);
}

fn at(kind: &str, id: &str, t_s: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(1.8e12 + t_s * 1000.0),
        price: None,
    }
}

fn rank_of(p: &mut Predictor, id: &str) -> usize {
    p.predict(300)
        .unwrap()
        .iter()
        .position(|x| x.item_id == id)
        .expect("ranked")
}

#[test]
fn repeated_co_clicks_raise_the_co_clicked_items_rank() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    p.track_raw(&at("view", "ref-0005", 0.0), 0.0).unwrap();
    let before = rank_of(&mut p, "ref-0250");
    let mut t = 10.0;
    for _ in 0..8 {
        // a new session each time: A then B
        t += 3600.0;
        p.track_raw(&at("view", "ref-0005", t), 0.0).unwrap();
        p.predict(10).unwrap();
        p.track_raw(&at("view", "ref-0250", t + 5.0), 0.0).unwrap();
    }
    t += 3600.0;
    p.track_raw(&at("view", "ref-0005", t), 0.0).unwrap();
    let after = rank_of(&mut p, "ref-0250");
    assert!(after < before, "rank {before} -> {after}");
    assert!(after < 5, "rank after learning: {after}");
    assert!(p.alpha() > 0.3);
}

#[test]
fn learning_off_changes_nothing() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    p.set_learning(false);
    let fresh = p.export_state();
    for i in 0..5 {
        p.track_raw(&at("view", "ref-0005", i as f64 * 3600.0), 0.0)
            .unwrap();
        p.track_raw(&at("view", "ref-0250", i as f64 * 3600.0 + 5.0), 0.0)
            .unwrap();
    }
    assert_eq!(p.alpha(), 0.0);
    let mut q = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    q.import_state(&fresh).unwrap();
    q.track_raw(&at("view", "ref-0005", 99_000.0), 0.0).unwrap();
    p.track_raw(&at("view", "ref-0005", 99_000.0), 0.0).unwrap();
    let (a, b) = (p.predict(10).unwrap(), q.predict(10).unwrap());
    assert_eq!(
        a.iter().map(|x| &x.item_id).collect::<Vec<_>>(),
        b.iter().map(|x| &x.item_id).collect::<Vec<_>>()
    );
}

#[test]
fn state_survives_a_round_trip_and_bad_state_is_refused_without_loss() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    for i in 0..6 {
        p.track_raw(&at("view", "ref-0005", i as f64 * 3600.0), 0.0)
            .unwrap();
        p.track_raw(&at("cart", "ref-0250", i as f64 * 3600.0 + 5.0), 0.0)
            .unwrap();
    }
    p.track_raw(&at("view", "ref-0005", 50_000.0), 0.0).unwrap();
    let saved = p.export_state();
    let top = p.predict(10).unwrap();
    let mut q = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let report = q.import_state(&saved).unwrap();
    assert_eq!((report.dropped_events, report.model_changed), (0, false));
    assert_eq!(
        q.predict(10).unwrap(),
        top,
        "a reload continues where it left off"
    );
    assert_eq!(q.stats(), p.stats());

    let mut corrupt = saved.clone();
    corrupt[60] ^= 1;
    let err = q.import_state(&corrupt).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    assert!(matches!(q.import_state(b"{}"), Err(Error::State(_))));
    assert!(matches!(
        q.import_state(&saved[..saved.len() - 1]),
        Err(Error::State(_))
    ));
    let mut unknown = saved.clone();
    unknown[8] = 99;
    let n = unknown.len();
    let sum = nextclick::catalog::sha256(&unknown[..n - 32]);
    unknown[n - 32..].copy_from_slice(&sum);
    let err = q.import_state(&unknown).unwrap_err();
    assert!(err.to_string().contains("format version 99"), "{err}");
    // Refused imports kept the good state.
    assert_eq!(q.predict(10).unwrap(), top);
}

#[test]
fn forget_erases_sessions_heads_and_counters() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let fresh = p.export_state();
    for i in 0..4 {
        p.track_raw(&at("view", "ref-0005", i as f64), 0.0).unwrap();
        p.track_raw(&at("view", "ref-0006", i as f64 + 0.5), 0.0)
            .unwrap();
    }
    assert_ne!(p.export_state(), fresh);
    p.forget();
    assert_eq!(p.export_state(), fresh);
    assert!(p.predict(5).unwrap().is_empty());
}

#[test]
fn intent_heads_respond_to_carts_and_learn_from_labels() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    p.track_raw(&at("view", "ref-0005", 0.0), 0.0).unwrap();
    let browsing = p.intent().unwrap().unwrap();
    p.track_raw(&at("cart", "ref-0005", 20.0), 0.0).unwrap();
    let carting = p.intent().unwrap().unwrap();
    assert!(carting.purchase > browsing.purchase);
    assert!((0.0..=1.0).contains(&carting.exit));
    let mut t = 100.0;
    for _ in 0..30 {
        t += 7200.0;
        p.track_raw(&at("view", "ref-0007", t), 0.0).unwrap();
        p.intent().unwrap();
        p.track_raw(&at("cart", "ref-0007", t + 10.0), 0.0).unwrap();
        p.intent().unwrap();
        p.track_raw(&at("purchase", "ref-0007", t + 20.0), 0.0)
            .unwrap();
    }
    t += 7200.0;
    p.track_raw(&at("view", "ref-0007", t), 0.0).unwrap();
    p.track_raw(&at("cart", "ref-0007", t + 10.0), 0.0).unwrap();
    let learned = p.intent().unwrap().unwrap();
    assert!(
        learned.purchase > carting.purchase,
        "{} vs {}",
        learned.purchase,
        carting.purchase
    );
}

#[test]
fn a_flood_of_events_keeps_memory_bounded() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    p.set_learning(false);
    for i in 0..100_000u32 {
        let id = format!("ref-{:04}", i % 300);
        let kind = ["view", "click", "cart"][i as usize % 3];
        p.track_raw(&at(kind, &id, i as f64 * 0.01), 0.0).unwrap();
        if i % 5000 == 0 {
            p.track_raw(&at("view", "ref-0001", i as f64 * 0.01 + 4000.0), 0.0)
                .unwrap();
        }
    }
    assert!(p.sessions().current().len() <= Options::default().max_session_events);
    assert!(p.sessions().past().len() <= Options::default().max_past_sessions);
    assert!(
        p.export_state().len() < 200_000,
        "state bytes: {}",
        p.export_state().len()
    );
    assert_eq!(p.predict(20).unwrap().len(), 20);
}

#[test]
fn timestamps_ahead_of_the_page_clock_are_clamped_and_counted() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let now = 1.8e12;
    let future = RawEvent {
        kind: "view".into(),
        item_id: "ref-0001".into(),
        timestamp: Some(now + 3.6e6),
        price: None,
    };
    p.track_raw(&future, now).unwrap();
    assert_eq!(p.stats().clock_skewed, 1);
    assert_eq!(p.sessions().current().back().unwrap().ts_ms, now);
    // Seconds instead of milliseconds are understood.
    let secs = RawEvent {
        kind: "view".into(),
        item_id: "ref-0002".into(),
        timestamp: Some(now / 1000.0 + 10.0),
        price: None,
    };
    assert_eq!(
        p.track_raw(&secs, now).unwrap(),
        nextclick::TrackStatus::Accepted
    );
    assert_eq!(p.sessions().current().back().unwrap().ts_ms, now + 10_000.0);
}
