//! The committed reference model, card, catalog and expected outputs are exactly what the generator
//! produces today (so the fixtures the browser tests compare against cannot silently go stale).

use std::path::Path;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_reference_files_are_up_to_date() {
    let r = nextclick_model::reference::build();
    let read = |p: &str| std::fs::read(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert!(
        read("models/reference.onnx") == r.onnx,
        "models/reference.onnx is stale: run `nextclick reference`"
    );
    assert!(
        read("models/reference.catalog") == r.catalog.to_bytes(),
        "models/reference.catalog is stale"
    );
    let card: nextclick::card::ModelCard =
        serde_json::from_slice(&read("models/reference.card.json")).unwrap();
    assert_eq!(card, r.card);
    let shape = nextclick::model::check_contract(&r.onnx).unwrap();
    card.verify(&r.onnx, shape).unwrap();
    let expected: Vec<nextclick_model::fixture::Step> =
        serde_json::from_slice(&read("tests/fixtures/reference_expected.json")).unwrap();
    let now = nextclick_model::fixture::run(&r.onnx, &r.catalog.to_bytes()).unwrap();
    assert_eq!(expected.len(), now.len());
    for (a, b) in expected.iter().zip(&now) {
        assert_eq!(a.status, b.status);
        let ids = |s: &nextclick_model::fixture::Step| {
            s.top.iter().map(|t| t.item_id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(a), ids(b));
    }
}

#[test]
fn committed_incremental_reference_files_are_up_to_date() {
    let r = nextclick_model::reference::build_incremental();
    let read = |p: &str| std::fs::read(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert!(
        read("models/reference-v2.onnx") == r.onnx,
        "models/reference-v2.onnx is stale: run `nextclick reference`"
    );
    assert!(
        read("models/reference-v2.catalog") == r.catalog.to_bytes(),
        "models/reference-v2.catalog is stale"
    );
    let card: nextclick::card::ModelCard =
        serde_json::from_slice(&read("models/reference-v2.card.json")).unwrap();
    assert_eq!(card, r.card);
    assert_eq!(card.contract, 2);
    let shape = nextclick::model::check_contract(&r.onnx).unwrap();
    card.verify(&r.onnx, shape).unwrap();
    // a card that names the other contract is refused
    let mut v1_card = card.clone();
    v1_card.contract = 1;
    assert!(v1_card.verify(&r.onnx, shape).is_err());
    let vectors: nextclick_model::reference::StepVectors =
        serde_json::from_slice(&read("tests/fixtures/reference_v2_vectors.json")).unwrap();
    // (compared to f32 print precision: a JSON float may parse one ulp away)
    let now = nextclick_model::reference::incremental_vectors(&r);
    let stale = "tests/fixtures/reference_v2_vectors.json is stale: run `nextclick reference`";
    assert_eq!(
        (
            vectors.max_len,
            vectors.dim,
            vectors.cache,
            vectors.events.len()
        ),
        (now.max_len, now.dim, now.cache, now.events.len()),
        "{stale}"
    );
    let close = |a: &[f32], b: &[f32]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-6 * x.abs().max(1.0))
    };
    for (a, b) in vectors.events.iter().zip(&now.events) {
        assert_eq!(
            (a.event_type, a.time_gap, a.position),
            (b.event_type, b.time_gap, b.position),
            "{stale}"
        );
        assert!(
            close(&a.item, &b.item) && close(&a.session, &b.session),
            "{stale}"
        );
    }
    let expected: Vec<nextclick_model::fixture::Step> =
        serde_json::from_slice(&read("tests/fixtures/reference_v2_expected.json")).unwrap();
    let now = nextclick_model::fixture::run_events(
        &r.onnx,
        &r.catalog.to_bytes(),
        nextclick_model::fixture::long_scenario_events(),
    )
    .unwrap();
    assert_eq!(expected.len(), now.len());
    for (i, (a, b)) in expected.iter().zip(&now).enumerate() {
        assert_eq!(a.status, b.status, "step {i}");
        assert_eq!(a.top.len(), b.top.len(), "step {i}");
        for (x, y) in a.top.iter().zip(&b.top) {
            assert_eq!(x.item_id, y.item_id, "step {i}");
            assert!((x.score - y.score).abs() < 1e-5, "step {i}");
        }
    }
}
