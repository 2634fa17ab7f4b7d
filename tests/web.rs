//! In-browser tests of the wasm binding (`wasm-pack test --headless --chrome` / `--firefox`): the same
//! reference model and scenario as the native tests, compared with the recorded native outputs.

#![cfg(target_arch = "wasm32")]

use nextclick::wasm::JsPredictor;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MODEL: &[u8] = include_bytes!("../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../models/reference.catalog");
const EXPECTED: &str = include_str!("fixtures/reference_expected.json");

#[derive(serde::Deserialize)]
struct Step {
    event: serde_json::Value,
    status: String,
    top: Vec<Top>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Top {
    item_id: String,
    score: f32,
}

fn js(v: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap()
}

fn message(e: JsValue) -> String {
    js_sys::Error::from(e).message().into()
}

#[wasm_bindgen_test]
fn browser_matches_native_top_k_and_scores() {
    let steps: Vec<Step> = serde_json::from_str(EXPECTED).unwrap();
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    assert_eq!(p.catalog_size(), 300);
    for (i, s) in steps.iter().enumerate() {
        let status = p.track(js(&s.event)).map_err(JsValue::from).unwrap();
        assert_eq!(status.as_string().unwrap(), s.status, "step {i}");
        let top: Vec<Top> =
            serde_wasm_bindgen::from_value(p.predict(10).map_err(JsValue::from).unwrap()).unwrap();
        assert_eq!(top.len(), s.top.len(), "step {i}");
        for (a, b) in top.iter().zip(&s.top) {
            assert_eq!(a.item_id, b.item_id, "step {i}");
            assert!(
                (a.score - b.score).abs() < 1e-5,
                "step {i}: browser {} vs native {}",
                a.score,
                b.score
            );
        }
    }
}

/// Contract v2 in the browser: the incremental reference model, stepped event by event from its key/value
/// cache (past `L`, so the ring wraps), gives the native run's top-K and scores.
#[wasm_bindgen_test]
fn incremental_model_matches_native_top_k_and_scores() {
    const V2_MODEL: &[u8] = include_bytes!("../models/reference-v2.onnx");
    const V2_CATALOG: &[u8] = include_bytes!("../models/reference-v2.catalog");
    const V2_EXPECTED: &str = include_str!("fixtures/reference_v2_expected.json");
    let steps: Vec<Step> = serde_json::from_str(V2_EXPECTED).unwrap();
    assert!(steps.len() > 60);
    let mut p = JsPredictor::create(V2_MODEL, V2_CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    let mut worst = 0f32;
    for (i, s) in steps.iter().enumerate() {
        let status = p.track(js(&s.event)).map_err(JsValue::from).unwrap();
        assert_eq!(status.as_string().unwrap(), s.status, "step {i}");
        let top: Vec<Top> =
            serde_wasm_bindgen::from_value(p.predict(10).map_err(JsValue::from).unwrap()).unwrap();
        assert_eq!(top.len(), s.top.len(), "step {i}");
        for (a, b) in top.iter().zip(&s.top) {
            assert_eq!(a.item_id, b.item_id, "step {i}");
            worst = worst.max((a.score - b.score).abs());
        }
    }
    assert!(worst < 1e-5, "max |browser − native| score = {worst}");
}

#[wasm_bindgen_test]
fn bad_model_and_catalog_bytes_throw_readable_errors() {
    let e = JsPredictor::create(b"nope", CATALOG, JsValue::UNDEFINED, None)
        .map(|_| ())
        .map_err(JsValue::from)
        .unwrap_err();
    assert!(message(e).starts_with("nextclick: model: not a loadable ONNX model"));
    let e = JsPredictor::create(MODEL, b"nope", JsValue::UNDEFINED, None)
        .map(|_| ())
        .map_err(JsValue::from)
        .unwrap_err();
    assert_eq!(
        message(e),
        "nextclick: catalog: bad magic (not a nextclick catalog file)"
    );
    let mut c = CATALOG.to_vec();
    c.truncate(100);
    let e = JsPredictor::create(MODEL, &c, JsValue::UNDEFINED, None)
        .map(|_| ())
        .map_err(JsValue::from)
        .unwrap_err();
    assert!(message(e).starts_with("nextclick: catalog: "));
    let opts = js(&serde_json::json!({"sessionTimeout": 3}));
    let e = JsPredictor::create(MODEL, CATALOG, opts, None)
        .map(|_| ())
        .map_err(JsValue::from)
        .unwrap_err();
    assert!(
        message(e).contains("invalid options"),
        "{}",
        "unknown option key"
    );
}

#[wasm_bindgen_test]
fn malformed_events_throw_and_the_predictor_keeps_working() {
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    let cases = [
        (
            serde_json::json!({"type": "teleport", "itemId": "ref-0001"}),
            "unknown event type",
        ),
        (
            serde_json::json!({"type": "view"}),
            "missing or empty itemId",
        ),
        (
            serde_json::json!({"type": "view", "itemId": 42}),
            "malformed event",
        ),
        (serde_json::json!({"itemId": "ref-0001"}), "malformed event"),
        (
            serde_json::json!({"type": "view", "itemId": "ref-0001", "price": -3}),
            "price",
        ),
        (serde_json::json!("just a string"), "malformed event"),
    ];
    for (ev, want) in cases {
        let e = p.track(js(&ev)).map_err(JsValue::from).unwrap_err();
        let m = message(e);
        assert!(m.contains(want), "{ev}: {m}");
    }
    let nan = js_sys::Object::new();
    js_sys::Reflect::set(&nan, &"type".into(), &"view".into()).unwrap();
    js_sys::Reflect::set(&nan, &"itemId".into(), &"ref-0001".into()).unwrap();
    js_sys::Reflect::set(&nan, &"timestamp".into(), &f64::NAN.into()).unwrap();
    let m = message(p.track(nan.into()).map_err(JsValue::from).unwrap_err());
    assert!(m.contains("timestamp"), "{m}");
    let ok = p
        .track(js(
            &serde_json::json!({"type": "view", "itemId": "ref-0001"}),
        ))
        .map_err(JsValue::from)
        .unwrap();
    assert_eq!(ok.as_string().unwrap(), "new_session");
    let top = p.predict(5).map_err(JsValue::from).unwrap();
    assert_eq!(js_sys::Array::from(&top).length(), 5);
}

fn ev(kind: &str, id: &str, t_s: f64) -> JsValue {
    js(&serde_json::json!({"type": kind, "itemId": id, "timestamp": 1.8e12 + t_s * 1000.0}))
}

fn ids(v: JsValue) -> Vec<String> {
    let top: Vec<Top> = serde_wasm_bindgen::from_value(v).unwrap();
    top.into_iter().map(|t| t.item_id).collect()
}

#[wasm_bindgen_test]
fn learning_in_the_browser_raises_co_clicked_items_and_state_round_trips() {
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    p.track(ev("view", "ref-0005", 0.0))
        .map_err(JsValue::from)
        .unwrap();
    let before = ids(p.predict(300).map_err(JsValue::from).unwrap())
        .iter()
        .position(|x| x == "ref-0250")
        .unwrap();
    let mut t = 10.0;
    for _ in 0..8 {
        t += 3600.0;
        p.track(ev("view", "ref-0005", t))
            .map_err(JsValue::from)
            .unwrap();
        p.track(ev("view", "ref-0250", t + 5.0))
            .map_err(JsValue::from)
            .unwrap();
    }
    p.track(ev("view", "ref-0005", t + 3600.0))
        .map_err(JsValue::from)
        .unwrap();
    let top = ids(p.predict(300).map_err(JsValue::from).unwrap());
    let after = top.iter().position(|x| x == "ref-0250").unwrap();
    assert!(after < before && after < 5, "rank {before} -> {after}");

    // A "reload": a new predictor restores the saved state and predicts the same.
    let saved = p.export_state();
    let mut q = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    q.import_state(&saved).map_err(JsValue::from).unwrap();
    assert_eq!(ids(q.predict(300).map_err(JsValue::from).unwrap()), top);

    // Corrupted state is refused with a message, and the good state stays.
    let mut bad = saved.clone();
    bad[50] ^= 1;
    let m = message(q.import_state(&bad).map_err(JsValue::from).unwrap_err());
    assert!(m.contains("stored state: checksum mismatch"), "{m}");
    assert_eq!(ids(q.predict(300).map_err(JsValue::from).unwrap()), top);

    // forget() erases everything learned.
    q.forget();
    let fresh = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    assert_eq!(q.export_state(), fresh.export_state());
}

#[wasm_bindgen_test]
fn without_consent_nothing_is_learned() {
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    p.set_learning(false);
    for i in 0..6 {
        p.track(ev("view", "ref-0005", i as f64 * 3600.0))
            .map_err(JsValue::from)
            .unwrap();
        p.track(ev("view", "ref-0250", i as f64 * 3600.0 + 5.0))
            .map_err(JsValue::from)
            .unwrap();
    }
    assert_eq!(p.alpha(), 0.0);
    let intent = p.intent().map_err(JsValue::from).unwrap();
    assert!(!intent.is_null());
}

#[wasm_bindgen_test]
fn a_flood_of_events_stays_bounded_in_the_browser() {
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    p.set_learning(false);
    let memory_before = wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length();
    for i in 0..100_000u32 {
        let id = format!("ref-{:04}", i % 300);
        p.track(ev("view", &id, i as f64 * 0.01))
            .map_err(JsValue::from)
            .unwrap();
    }
    let memory_after = wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length();
    assert!(p.export_state().len() < 200_000);
    assert!(
        memory_after - memory_before < 8 << 20,
        "wasm memory grew by {} bytes",
        memory_after - memory_before
    );
    assert_eq!(
        js_sys::Array::from(&p.predict(20).map_err(JsValue::from).unwrap()).length(),
        20
    );
}

/// The reference catalog's rows `keep`, in that order, as a catalog for the same model.
fn catalog_of(keep: &[usize]) -> Vec<u8> {
    let c = nextclick::catalog::Catalog::from_bytes(CATALOG).unwrap();
    let d = c.dim();
    let mut v = vec![0f32; d];
    let mut vecs = Vec::new();
    for &i in keep {
        c.copy_row(i, &mut v);
        vecs.extend_from_slice(&v);
    }
    let ids = keep.iter().map(|&i| c.id(i).to_string()).collect();
    let meta = keep
        .iter()
        .map(|&i| c.meta(i).cloned().unwrap_or_default())
        .collect();
    nextclick::catalog::Catalog::from_f32(ids, d, vecs, Some(meta), *c.model_sha256())
        .unwrap()
        .to_bytes()
}

#[wasm_bindgen_test]
fn state_survives_a_reordered_and_a_smaller_catalog_in_the_browser() {
    let mut p = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    for (i, id) in ["ref-0005", "ref-0250", "ref-0007"].iter().enumerate() {
        p.track(ev("view", id, i as f64 * 10.0))
            .map_err(JsValue::from)
            .unwrap();
    }
    let saved = p.export_state();
    let top = ids(p.predict(20).map_err(JsValue::from).unwrap());

    // reordered: the same products come back
    let reversed: Vec<usize> = (0..300).rev().collect();
    let mut q = JsPredictor::create(MODEL, &catalog_of(&reversed), JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    let report = q.import_state(&saved).map_err(JsValue::from).unwrap();
    let dropped = js_sys::Reflect::get(&report, &"droppedEvents".into()).unwrap();
    assert_eq!(dropped.as_f64(), Some(0.0));
    assert_eq!(ids(q.predict(20).map_err(JsValue::from).unwrap()), top);

    // smaller (ref-0250 removed): no trap, the removed product's event is dropped
    let small: Vec<usize> = (0..100).rev().collect();
    let mut r = JsPredictor::create(MODEL, &catalog_of(&small), JsValue::UNDEFINED, None)
        .map_err(JsValue::from)
        .unwrap();
    let report = r.import_state(&saved).map_err(JsValue::from).unwrap();
    let dropped = js_sys::Reflect::get(&report, &"droppedEvents".into()).unwrap();
    assert_eq!(dropped.as_f64(), Some(1.0));
    let got = ids(r.predict(20).map_err(JsValue::from).unwrap());
    assert_eq!(got.len(), 20);
    assert!(!got.iter().any(|x| x == "ref-0250"));
    r.track(ev("view", "ref-0005", 100.0))
        .map_err(JsValue::from)
        .unwrap();
}

#[wasm_bindgen(
    inline_js = "export function subtle_digest(b) { return crypto.subtle.digest('SHA-256', b).then((d) => new Uint8Array(d)); }"
)]
extern "C" {
    /// The platform's SHA-256 (WebCrypto), as the SDK's engine computes the catalog digest.
    fn subtle_digest(bytes: &[u8]) -> js_sys::Promise;
}

async fn platform_digest(bytes: &[u8]) -> Vec<u8> {
    let d = wasm_bindgen_futures::JsFuture::from(subtle_digest(bytes))
        .await
        .expect("crypto.subtle.digest (the test page is a secure context)");
    js_sys::Uint8Array::new(&d).to_vec()
}

#[wasm_bindgen_test]
async fn the_catalog_checks_against_the_platforms_sha256() {
    let body = &CATALOG[..CATALOG.len() - 32];
    let digest = platform_digest(body).await;
    // the browser's digest of the checksummed part is the file's checksum: the wasm does not hash again
    let mut with = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, Some(digest.clone()))
        .expect("loads with the platform's digest");
    let mut without = JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, None)
        .expect("loads hashing in wasm");
    let e = ev("view", "ref-0003", 1_000.0);
    with.track(e.clone()).unwrap();
    without.track(e).unwrap();
    assert_eq!(
        ids(with.predict(5).unwrap()),
        ids(without.predict(5).unwrap())
    );
    // a corrupted file is still refused: its checksum no longer matches the digest of what arrived
    let mut bad = CATALOG.to_vec();
    let at = bad.len() - 40;
    bad[at] ^= 1;
    let bad_digest = platform_digest(&bad[..bad.len() - 32]).await;
    let err = message(
        JsPredictor::create(MODEL, &bad, JsValue::UNDEFINED, Some(bad_digest))
            .map(|_| ())
            .map_err(JsValue::from)
            .unwrap_err(),
    );
    assert!(err.contains("checksum"), "{err}");
    // a digest that is not a SHA-256 is refused by name
    let err = message(
        JsPredictor::create(MODEL, CATALOG, JsValue::UNDEFINED, Some(vec![0; 31]))
            .map(|_| ())
            .map_err(JsValue::from)
            .unwrap_err(),
    );
    assert!(err.contains("catalogDigest"), "{err}");
}
