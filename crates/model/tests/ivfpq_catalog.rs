//! The core predictor on an IVF-PQ catalog (format version 2): tracking, predictions with exclusions,
//! on-device learning (sampled softmax over the catalog's item vectors), state export / import, and the
//! same search answers after a round trip through the bytes.

use nextclick::catalog::{sha256, Catalog};
use nextclick::{Options, Predictor, RawEvent, TrackStatus};
use nextclick_model::ivfpq::{build, clustered_vectors, IvfPqConfig};

const MODEL: &[u8] = include_bytes!("../../../models/reference.onnx");

fn catalog(n: usize, rescore: bool) -> Vec<u8> {
    let dim = nextclick::Encoder::from_bytes(MODEL).unwrap().shape().dim;
    let v = clustered_vectors(n, dim, 50, 0.6, 9);
    let ids = (0..n).map(|i| format!("it-{i}")).collect();
    let cfg = IvfPqConfig {
        rescore,
        subspaces: Some(if dim.is_multiple_of(4) { dim / 4 } else { dim }),
        ..Default::default()
    };
    build(ids, dim, &v, None, sha256(MODEL), &cfg, &|_, _, _| {})
        .unwrap()
        .to_bytes()
}

fn ev(kind: &str, item: usize, ts: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: format!("it-{item}"),
        timestamp: Some(ts),
        price: None,
    }
}

#[test]
fn predictor_tracks_predicts_learns_and_restores_on_an_ivfpq_catalog() {
    // 6,000 items: above the full-softmax limit, so learning samples negatives from the catalog.
    for rescore in [true, false] {
        let bytes = catalog(6_000, rescore);
        let cat = Catalog::from_bytes(&bytes).unwrap();
        assert!(cat.ivfpq().is_some());
        let mut p = Predictor::new(MODEL, &bytes, Options::default()).unwrap();
        assert!(p.learning());
        let mut ts = 1.7e12;
        let mut last = Vec::new();
        for (k, item) in [5usize, 17, 400, 17, 5999, 1234].iter().enumerate() {
            ts += 20_000.0;
            let kind = if k == 3 { "purchase" } else { "view" };
            let st = p.track_raw(&ev(kind, *item, ts), ts).unwrap();
            assert!(matches!(
                st,
                TrackStatus::Accepted | TrackStatus::NewSession
            ));
            last = p.predict(20).unwrap();
            assert_eq!(last.len(), 20);
            // the current item and the purchased one are never predicted
            assert!(last.iter().all(|x| x.item_id != format!("it-{item}")));
            if k >= 3 {
                assert!(last.iter().all(|x| x.item_id != "it-17"));
            }
            assert!(last.windows(2).all(|w| w[0].score >= w[1].score));
        }
        assert!(
            p.state().adapter.steps() > 0,
            "learned on the catalog vectors"
        );
        let saved = p.export_state();
        let mut q = Predictor::new(MODEL, &bytes, Options::default()).unwrap();
        let report = q.import_state(&saved).unwrap();
        assert_eq!(report.dropped_events, 0);
        assert_eq!(q.predict(20).unwrap(), last);
        // a catalog bound to another model is refused
        let mut other = Catalog::from_bytes(&bytes).unwrap().to_bytes();
        other[20] ^= 1;
        let n = other.len() - 32;
        let s = sha256(&other[..n]);
        other[n..].copy_from_slice(&s);
        assert!(Predictor::new(MODEL, &other, Options::default()).is_err());
    }
}
