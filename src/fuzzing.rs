//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the stable corpus replay
//! (`tests/corpus.rs`): each feeds untrusted bytes to one decoder and **panics** if the decoder breaks
//! its promise (a panic inside, an error of the wrong class, or an accepted value that violates the
//! decoder's invariants). Native builds only; not part of the public API.

use crate::catalog::{sha256, Catalog};
use crate::error::{Error, EventError};
use crate::event::{RawEvent, MAX_ITEM_ID_LEN, MAX_TIMESTAMP_MS};
use crate::model::check_contract_meta;
use crate::predictor::Predictor;

/// Re-seals `bytes` with a valid trailing SHA-256 over the rest, so that mutations get past the checksum.
fn reseal(bytes: &[u8]) -> Option<Vec<u8>> {
    let n = bytes.len().checked_sub(32)?;
    let mut b = bytes.to_vec();
    let sum = sha256(&b[..n]);
    b[n..].copy_from_slice(&sum);
    Some(b)
}

/// Catalog bytes, as given and re-sealed.
pub fn catalog(data: &[u8]) {
    for b in std::iter::once(data.to_vec()).chain(reseal(data)) {
        match Catalog::from_bytes(&b) {
            Ok(c) => {
                assert!(!c.is_empty() && c.dim() >= 1, "accepted an empty catalog");
                assert!(c.len() <= crate::catalog::MAX_ITEMS);
            }
            Err(
                Error::CatalogBadMagic
                | Error::CatalogVersion { .. }
                | Error::CatalogTruncated { .. }
                | Error::CatalogChecksum
                | Error::CatalogInvalid { .. }
                | Error::CatalogDuplicateId(_)
                | Error::CatalogNonFinite(_),
            ) => {}
            Err(e) => panic!("catalog: unexpected error class: {e}"),
        }
    }
}

/// The reference predictor the state target imports into (built once per process).
fn reference_predictor() -> std::sync::MutexGuard<'static, Predictor> {
    static P: std::sync::OnceLock<std::sync::Mutex<Predictor>> = std::sync::OnceLock::new();
    const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
    const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");
    P.get_or_init(|| {
        let p = Predictor::new(MODEL, CATALOG, crate::predictor::Options::default())
            .expect("the reference model and catalog load");
        std::sync::Mutex::new(p)
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// Persisted state bytes, as given and re-sealed (so that mutations reach the payload decoder), imported
/// into a predictor on the reference model and catalog and then **used**: tracked on (which learns),
/// predicted from, exported and imported again. A state the decoder accepts must never make any of it
/// panic, and must never leave an event pointing outside the catalog.
pub fn state(data: &[u8]) {
    let mut p = reference_predictor();
    for b in std::iter::once(data.to_vec()).chain(reseal(data)) {
        match p.import_state(&b) {
            Ok(report) => {
                assert!(
                    report.kept_events <= 200,
                    "kept {} events",
                    report.kept_events
                );
                for (i, kind) in ["view", "cart", "purchase"].into_iter().enumerate() {
                    let ev = RawEvent {
                        kind: kind.into(),
                        item_id: format!("ref-000{i}"),
                        timestamp: Some(1.9e12 + i as f64 * 1e3),
                        price: Some(2.5),
                    };
                    let _ = p.track_raw(&ev, 0.0);
                    let _ = p.predict(5).expect("predicts on imported state");
                }
                let _ = p.intent().expect("intent on imported state");
                let _ = p.features();
                let again = p.export_state();
                p.import_state(&again)
                    .expect("a state the predictor wrote imports again");
            }
            Err(Error::State(_)) => {}
            Err(e) => panic!("state: unexpected error class: {e}"),
        }
    }
}

/// Model bytes: the ONNX contract check that runs before tract sees the bytes.
pub fn model(data: &[u8]) {
    match check_contract_meta(data) {
        Ok((shape, temperature)) => {
            assert!(shape.dim >= 1 && shape.dim <= crate::contract::MAX_SUPPORTED_DIM);
            assert!(shape.max_len >= 1 && shape.max_len <= crate::contract::MAX_SUPPORTED_LEN);
            assert!(
                temperature.is_finite() && temperature > 0.0,
                "temperature {temperature}"
            );
        }
        Err(Error::ModelLoad(_) | Error::ModelContract(_)) => {}
        Err(e) => panic!("model: unexpected error class: {e}"),
    }
}

/// A raw event as JSON (what a page could hand to `track`): decoded, validated, and — when `predictor`
/// is given — tracked (sessionizing, clock-skew clamp, on-device learning).
pub fn event(data: &[u8], predictor: Option<&mut Predictor>) {
    let Ok(raw) = serde_json::from_slice::<RawEvent>(data) else {
        return; // the binding reports this as EventError::Malformed
    };
    let now = 1.8e12;
    match raw.validate(now) {
        Ok(ev) => {
            assert!(
                ev.timestamp_ms.is_finite() && (0.0..=MAX_TIMESTAMP_MS).contains(&ev.timestamp_ms)
            );
            assert!(!ev.item_id.is_empty() && ev.item_id.len() <= MAX_ITEM_ID_LEN);
            assert!(ev.price.is_none_or(|p| p.is_finite() && p >= 0.0));
        }
        Err(
            EventError::UnknownType(_)
            | EventError::MissingItem
            | EventError::TooLong { .. }
            | EventError::BadNumber { .. },
        ) => {}
        Err(e) => panic!("event: unexpected error class: {e}"),
    }
    if let Some(p) = predictor {
        match p.track_raw(&raw, now) {
            Ok(_) | Err(Error::InvalidEvent(_)) => {}
            Err(e) => panic!("track: unexpected error class: {e}"),
        }
        let top = p.predict(5).expect("predict after track");
        assert!(top.iter().all(|x| x.score.is_finite()), "non-finite score");
    }
}
