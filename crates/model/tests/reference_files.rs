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
