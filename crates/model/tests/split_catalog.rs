//! The core predictor on a split catalog (format version 3): the page's loop — ask which body chunks an
//! operation needs, fetch them, add them — gives the same predictions as the whole IVF-PQ catalog, fetches
//! only part of the body, learns on the resident rows, keeps and restores state by item id, refuses a
//! state import it cannot resolve yet, stays within its memory limits, and `forget()` drops every chunk.

use nextclick::catalog::{sha256, Catalog};
use nextclick::split::{self, ChunkRequest, Limits};
use nextclick::{Error, Options, Predictor, RawEvent, TrackStatus};
use nextclick_model::ivfpq::{build, clustered_vectors, IvfPqConfig};

const MODEL: &[u8] = include_bytes!("../../../models/reference.onnx");

/// An IVF-PQ catalog of `n` items (format version 2) and the same catalog split: (whole, head, body).
fn catalogs(n: usize, rescore: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dim = nextclick::Encoder::from_bytes(MODEL).unwrap().shape().dim;
    let v = clustered_vectors(n, dim, 50, 0.6, 9);
    let ids = (0..n).map(|i| format!("it-{i}")).collect();
    let cfg = IvfPqConfig {
        rescore,
        subspaces: Some(if dim.is_multiple_of(4) { dim / 4 } else { dim }),
        ..Default::default()
    };
    let cat = build(ids, dim, &v, None, sha256(MODEL), &cfg, &|_, _, _| {}).unwrap();
    let (head, body) = split::write_catalog(&cat, 0, 64).unwrap();
    (cat.to_bytes(), head, body)
}

fn ev(kind: &str, item: usize, ts: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: format!("it-{item}"),
        timestamp: Some(ts),
        price: None,
    }
}

/// What the page does: fetch what `need` names until it names nothing. Returns the bytes fetched.
fn settle(
    p: &mut Predictor,
    body: &[u8],
    mut need: impl FnMut(&mut Predictor) -> Vec<ChunkRequest>,
) -> usize {
    let mut fetched = 0;
    for _ in 0..4 {
        let reqs = need(p);
        if reqs.is_empty() {
            return fetched;
        }
        for r in reqs {
            let (a, len) = (r.offset as usize, r.length as usize);
            p.add_chunk(&r, &body[a..a + len]).unwrap();
            fetched += len;
        }
    }
    panic!("chunks still missing after 4 rounds");
}

fn track(p: &mut Predictor, body: &[u8], e: &RawEvent) -> TrackStatus {
    let id = e.item_id.clone();
    settle(p, body, |p| p.chunks_for_ids([id.as_str()]));
    p.track_raw(e, 0.0).unwrap()
}

fn predict(p: &mut Predictor, body: &[u8], k: usize) -> (Vec<nextclick::Prediction>, usize) {
    let fetched = settle(p, body, |p| p.chunks_for_predict(k).unwrap());
    (p.predict(k).unwrap(), fetched)
}

const ITEMS: [usize; 8] = [5, 17, 400, 17, 5999, 1234, 88, 3000];

#[test]
fn a_split_catalog_predicts_like_the_whole_one_and_fetches_part_of_the_body() {
    for rescore in [true, false] {
        let (whole, head, body) = catalogs(6_000, rescore);
        let mut a = Predictor::new(MODEL, &whole, Options::default()).unwrap();
        let mut b = Predictor::new(MODEL, &head, Options::default()).unwrap();
        // learning draws negatives from what is there (every row vs the resident ones): off here
        a.set_learning(false);
        b.set_learning(false);
        let mut ts = 1.7e12;
        let mut fetched = 0;
        for (k, &item) in ITEMS.iter().enumerate() {
            ts += 20_000.0;
            let e = ev(if k == 3 { "purchase" } else { "view" }, item, ts);
            assert_eq!(a.track_raw(&e, 0.0).unwrap(), track(&mut b, &body, &e));
            let (got, f) = predict(&mut b, &body, 20);
            fetched += f;
            assert_eq!(got, a.predict(20).unwrap(), "event {k} (rescore {rescore})");
            assert_eq!(got.len(), 20);
        }
        let (lists, _, _) = b.catalog().split().unwrap().resident();
        let nlist = b.catalog().split().unwrap().geometry().nlist();
        assert!(lists < nlist, "{lists} of {nlist} lists fetched");
        assert!(
            fetched < body.len() / 2,
            "{fetched} of {} body bytes",
            body.len()
        );
        // an item the catalog does not have is an unknown item once its bucket is in
        let e = RawEvent {
            item_id: "nope".into(),
            ..ev("view", 0, ts + 1.0)
        };
        assert_eq!(track(&mut b, &body, &e), TrackStatus::UnknownItem);
    }
}

#[test]
fn state_moves_between_whole_and_split_catalogs_by_item_id() {
    let (whole, head, body) = catalogs(6_000, true);
    let mut b = Predictor::new(MODEL, &head, Options::default()).unwrap();
    let mut ts = 1.7e12;
    for &item in &ITEMS {
        ts += 20_000.0;
        track(&mut b, &body, &ev("view", item, ts));
    }
    assert!(
        b.state().adapter.steps() > 0,
        "learned on the resident rows"
    );
    let saved = b.export_state();
    // a fresh page: the state's items are not resolved yet, so the import is refused, changing nothing
    let mut c = Predictor::new(MODEL, &head, Options::default()).unwrap();
    let fresh = c.export_state();
    assert!(matches!(
        c.import_state(&saved),
        Err(Error::CatalogChunksNeeded(_))
    ));
    assert_eq!(c.export_state(), fresh);
    settle(&mut c, &body, |p| p.chunks_for_state(&saved).unwrap());
    let report = c.import_state(&saved).unwrap();
    assert_eq!(report.dropped_events, 0);
    assert_eq!(c.export_state(), saved, "the same state, byte for byte");
    // the whole catalog reads it as well (ids, not rows)
    let mut a = Predictor::new(MODEL, &whole, Options::default()).unwrap();
    assert_eq!(a.import_state(&saved).unwrap().dropped_events, 0);
    assert_eq!(a.export_state(), saved);
    // forget(): a fresh predictor's state, and no chunk left
    c.forget();
    assert_eq!(c.export_state(), fresh);
    assert_eq!(c.catalog().split().unwrap().resident(), (0, 0, 0));
    // an event for an item whose chunks were not fetched is refused, not dropped silently
    let e = ev("view", 5, ts + 1.0);
    assert!(matches!(
        c.track_raw(&e, 0.0),
        Err(Error::CatalogChunksNeeded(1))
    ));
}

#[test]
fn residency_stays_within_the_limits_with_the_session_pinned() {
    let (_, head, body) = catalogs(6_000, true);
    let mut b = Predictor::new(MODEL, &head, Options::default()).unwrap();
    let limits = Limits {
        list_bytes: 20_000,
        blocks: 8,
        buckets: 2,
    };
    b.set_catalog_limits(limits);
    let mut ts = 1.7e12;
    for k in 0..40usize {
        ts += 20_000.0;
        let item = k * 149 % 6000;
        track(&mut b, &body, &ev("view", item, ts));
        let (got, _) = predict(&mut b, &body, 10);
        assert!(!got.is_empty());
        let sp = b.catalog().split().unwrap();
        let (_, blocks, buckets) = sp.resident();
        assert!(blocks <= limits.blocks && buckets <= limits.buckets);
        // lists: the limit's worth, plus what the session pins and one query scans (the current
        // operation's chunks are never dropped mid-way)
        let (lists, _, _) = sp.resident();
        let mut pinned: Vec<usize> = b
            .sessions()
            .current()
            .iter()
            .map(|e| sp.list_of(e.item as usize))
            .collect();
        pinned.sort_unstable();
        pinned.dedup();
        let probe = sp.geometry().nprobe;
        assert!(
            lists <= pinned.len() + probe + 3,
            "{lists} lists resident ({} pinned, nprobe {probe})",
            pinned.len()
        );
        // the session's items keep their vectors and ids
        for e in b.sessions().current() {
            assert!(sp.has_list(sp.list_of(e.item as usize)));
            assert!(!b.catalog().id(e.item as usize).is_empty());
        }
        assert!(sp.wasm32_heap_bytes() < 4 << 20);
    }
    let saved = b.export_state();
    let ids = nextclick::state::ShopperState::item_ids(&saved).unwrap();
    assert!(ids.iter().all(|id| id.starts_with("it-")), "{ids:?}");
    let _ = Catalog::from_bytes(&head).unwrap();
}
