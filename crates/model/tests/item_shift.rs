//! Feature-based transfer `f' = f + Δf` (#17): item vectors shifted towards the contexts of their purchases, baked
//! into the catalog, kept only if it beats the source catalog on held-out purchases.

#![cfg(not(target_arch = "wasm32"))]

use nextclick::catalog::Catalog;
use nextclick::predictor::{Options, Predictor};
use nextclick::RawEvent;
use nextclick_data::orders::Customer;
use nextclick_model::item_shift::{fit, ShiftOptions};

const MODEL: &[u8] = include_bytes!("../../../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../../../models/reference.catalog");

/// 40 customers who buy a random item, then ref-0005 and ref-0250, twice.
fn orders() -> Vec<Customer> {
    (0..40)
        .map(|c| Customer {
            id: format!("c{c}"),
            purchases: vec![
                (1.0, format!("ref-{:04}", (c * 53) % 300)),
                (2.0, "ref-0005".into()),
                (3.0, "ref-0250".into()),
                (4.0, "gone-from-the-catalog".into()),
                (5.0, "ref-0005".into()),
                (6.0, "ref-0250".into()),
            ],
        })
        .collect()
}

fn rank_after(catalog: &[u8], context: &str, id: &str) -> usize {
    let mut p = Predictor::new(MODEL, catalog, Options::default()).unwrap();
    p.track_raw(
        &RawEvent {
            kind: "view".into(),
            item_id: context.into(),
            timestamp: Some(1.8e12),
            price: None,
        },
        1.8e12,
    )
    .unwrap();
    p.predict(300)
        .unwrap()
        .iter()
        .position(|x| x.item_id == id)
        .unwrap_or(300)
}

#[test]
fn an_item_bought_after_another_ranks_up_after_the_shift_and_the_catalog_keeps_its_binding() {
    let source = Catalog::from_bytes(CATALOG).unwrap();
    let (shifted, rep) = fit(MODEL, &source, &orders(), &ShiftOptions::default()).unwrap();
    assert_eq!(
        (rep.customers, rep.purchases, rep.holdout_cases),
        (40, 200, 40)
    );
    assert!(rep.holdout_shifted > rep.holdout_source, "{rep:?}");
    assert!(rep.beta > 0.0 && rep.items_shifted >= 2, "{rep:?}");
    eprintln!("Δf kept: {rep:?}");
    // same ids in the same order, same model, same storage: the state format and the SDK are untouched
    assert_eq!(shifted.ids(), source.ids());
    assert_eq!(shifted.model_sha256(), source.model_sha256());
    assert_eq!(shifted.is_int8(), source.is_int8());
    let bytes = shifted.to_bytes();
    let before = rank_after(CATALOG, "ref-0005", "ref-0250");
    let after = rank_after(&bytes, "ref-0005", "ref-0250");
    assert!(
        after < before,
        "ref-0250 after ref-0005: rank {before} → {after}"
    );
}

#[test]
fn too_few_customers_or_no_gain_ships_the_catalog_unshifted() {
    let source = Catalog::from_bytes(CATALOG).unwrap();
    let err = fit(MODEL, &source, &orders()[..8], &ShiftOptions::default()).unwrap_err();
    assert!(err.to_string().contains("only 8 customers"), "{err}");
    let noise: Vec<Customer> = (0..40)
        .map(|c| Customer {
            id: format!("n{c}"),
            purchases: (0..4)
                .map(|k| (k as f64, format!("ref-{:04}", (c * 37 + k * 101) % 300)))
                .collect(),
        })
        .collect();
    match fit(MODEL, &source, &noise, &ShiftOptions::default()) {
        Err(e) => assert!(
            e.to_string().contains("does not beat the source catalog"),
            "{e}"
        ),
        Ok((_, rep)) => assert!(
            rep.holdout_shifted > rep.holdout_source,
            "kept only if it helps: {rep:?}"
        ),
    }
    let bad = ShiftOptions {
        betas: vec![f32::NAN],
        ..Default::default()
    };
    assert!(fit(MODEL, &source, &orders(), &bad)
        .unwrap_err()
        .to_string()
        .contains("β must be positive"));
}
