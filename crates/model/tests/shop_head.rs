//! The shop head (#17): learned from orders alone with the core's learner, loaded into a predictor, the
//! starting point of every new visitor; bound to its model; kept apart from what a shopper learns.

#![cfg(not(target_arch = "wasm32"))]

use nextclick::predictor::{Options, Predictor};
use nextclick::shop_head::ShopHead;
use nextclick::{Error, RawEvent};
use nextclick_data::orders::Customer;
use nextclick_model::shop_head::{fit, FitOptions};

const MODEL: &[u8] = include_bytes!("../../../models/reference.onnx");
const CATALOG: &[u8] = include_bytes!("../../../models/reference.catalog");

fn at(kind: &str, id: &str, ts_s: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(1.8e12 + ts_s * 1e3),
        price: None,
    }
}

fn rank(p: &mut Predictor, id: &str) -> usize {
    p.predict(300)
        .unwrap()
        .iter()
        .position(|x| x.item_id == id)
        .unwrap_or(300)
}

/// 40 customers who keep buying ref-0005 and then ref-0250 (and a few other things).
fn orders() -> Vec<Customer> {
    (0..40)
        .map(|c| Customer {
            id: format!("c{c}"),
            purchases: vec![
                (1.0, format!("ref-{:04}", 10 + c % 7)),
                (2.0, "ref-0005".into()),
                (3.0, "ref-0250".into()),
                (4.0, "gone-from-the-catalog".into()),
                (5.0, "ref-0005".into()),
                (6.0, "ref-0250".into()),
            ],
        })
        .collect()
}

fn head() -> Vec<u8> {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let (head, rep) = fit(&mut p, &orders(), &FitOptions::default()).unwrap();
    assert_eq!(
        (rep.customers, rep.purchases, rep.unknown_items),
        (40, 200, 40)
    );
    assert!(rep.steps > 100);
    assert_eq!(rep.holdout_cases, 40);
    assert!(rep.holdout_head > rep.holdout_source, "{rep:?}");
    assert!(rep.scale > 0.0);
    head.to_bytes()
}

#[test]
fn a_new_visitor_starts_from_the_shop_head() {
    let bytes = head();
    let mut plain = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let mut shop = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let info = shop.set_shop_head(Some(&bytes)).unwrap().unwrap();
    assert_eq!((info.customers, info.purchases), (40, 200));
    for p in [&mut plain, &mut shop] {
        p.track_raw(&at("view", "ref-0005", 0.0), 0.0).unwrap();
    }
    let (without, with) = (rank(&mut plain, "ref-0250"), rank(&mut shop, "ref-0250"));
    assert!(
        with < without,
        "ref-0250 at {with} with the shop head, {without} without"
    );
    assert!(with < 10, "rank {with}");
    assert_eq!(
        shop.alpha(),
        0.0,
        "no on-device step yet: served exactly at θ₀"
    );
    // forget() goes back to θ₀, not to the source model
    shop.forget();
    shop.track_raw(&at("view", "ref-0005", 10.0), 0.0).unwrap();
    assert_eq!(rank(&mut shop, "ref-0250"), with);
}

#[test]
fn on_device_learning_goes_on_from_the_head_and_state_round_trips() {
    let bytes = head();
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    p.set_shop_head(Some(&bytes)).unwrap();
    for i in 0..6 {
        let t = i as f64 * 3600.0;
        p.track_raw(&at("view", "ref-0100", t), 0.0).unwrap();
        p.track_raw(&at("view", "ref-0200", t + 5.0), 0.0).unwrap();
    }
    p.track_raw(&at("view", "ref-0100", 50_000.0), 0.0).unwrap();
    assert!(p.alpha() > 0.5);
    assert!(
        rank(&mut p, "ref-0200") < 5,
        "the shopper's own preference is learned on top"
    );
    let saved = p.export_state();
    let top = p.predict(10).unwrap();
    let mut q = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    q.set_shop_head(Some(&bytes)).unwrap();
    q.import_state(&saved).unwrap();
    assert_eq!(
        q.predict(10).unwrap(),
        top,
        "a reload with the same head continues"
    );
}

#[test]
fn a_head_for_another_model_or_corrupted_is_refused_and_changes_nothing() {
    let bytes = head();
    let mut h = ShopHead::from_bytes(&bytes).unwrap();
    h.model_sha256[0] ^= 1;
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let err = p.set_shop_head(Some(&h.to_bytes())).unwrap_err();
    assert!(
        matches!(err, Error::ShopHead(_)) && err.to_string().contains("learned for model"),
        "{err}"
    );
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    assert!(matches!(
        p.set_shop_head(Some(&bad)),
        Err(Error::ShopHead(_))
    ));
    assert!(p.shop_head().is_none());
    p.set_shop_head(Some(&bytes)).unwrap();
    assert!(p.shop_head().is_some());
    p.set_shop_head(None).unwrap();
    assert!(p.shop_head().is_none());
}

#[test]
fn orders_without_two_known_purchases_teach_nothing_and_say_so() {
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let lonely = vec![Customer {
        id: "x".into(),
        purchases: vec![(1.0, "ref-0001".into()), (2.0, "nope".into())],
    }];
    let err = fit(&mut p, &lonely, &FitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("nothing to learn"), "{err}");
    // 8 repeat customers (REES46's history window has as few): too few to learn and check a head
    let few = orders()[..8].to_vec();
    let err = fit(&mut p, &few, &FitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("only 8 customers"), "{err}");
}

#[test]
fn a_head_that_does_not_beat_the_source_model_on_held_out_purchases_is_not_shipped() {
    // every customer's purchases are unrelated random items: nothing to learn that generalises
    let noise: Vec<Customer> = (0..40)
        .map(|c| Customer {
            id: format!("n{c}"),
            purchases: (0..4)
                .map(|k| (k as f64, format!("ref-{:04}", (c * 37 + k * 101) % 300)))
                .collect(),
        })
        .collect();
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    match fit(&mut p, &noise, &FitOptions::default()) {
        Err(e) => assert!(
            e.to_string().contains("does not beat the source model"),
            "{e}"
        ),
        Ok((_, rep)) => assert!(
            rep.holdout_head > rep.holdout_source,
            "a head is shipped only if it helps: {rep:?}"
        ),
    }
    assert!(p.shop_head().is_none());
}

/// Shoppers whose sessions end in a purchase after three clicks, while the others only view: a signal the
/// hand-set purchase prior does not see (it looks at carts and order values), on items of the reference
/// catalog. Two sessions each, two hours apart.
fn funnel_shoppers(n: usize) -> Vec<Vec<nextclick::event::Event>> {
    use nextclick::contract::EventKind::{Click, Purchase, View};
    (0..n)
        .map(|s| {
            let mut evs = Vec::new();
            for session in 0..2usize {
                let buys = (s * 7 + session * 3) % 5 < 2;
                let kinds = if buys {
                    [View, Click, Click, Click, View, Purchase]
                } else {
                    [View; 6]
                };
                for (i, kind) in kinds.into_iter().enumerate() {
                    evs.push(nextclick::event::Event {
                        kind,
                        item_id: format!("ref-{:04}", (s * 13 + session * 5 + i * 3) % 200),
                        timestamp_ms: 1.8e12
                            + (session as f64 * 7200.0 + i as f64 * 60.0 + s as f64 * 1e5) * 1e3,
                        price: None,
                    });
                }
            }
            evs
        })
        .collect()
}

#[test]
fn intent_priors_learned_from_the_shops_history_start_new_visitors_and_are_kept_only_if_better() {
    use nextclick_model::shop_head::{fit_intent, IntentFitOptions};
    let mut p = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let shoppers = funnel_shoppers(200);
    let (purchase, exit, rep) =
        fit_intent(&mut p, &shoppers, &IntentFitOptions::default()).unwrap();
    assert_eq!(rep.shoppers, 200);
    assert_eq!(rep.events, 200 * 12);
    assert_eq!(rep.positives[1], 400); // every session has a last event
    assert!(rep.kept[0], "{rep:?}");
    assert!(
        rep.learned_auc[0] > 0.9 && rep.prior_auc[0] < 0.7,
        "{rep:?}"
    );
    let purchase = purchase.expect("kept");
    assert_eq!(purchase.updates(), 0);
    assert_eq!(exit.is_some(), rep.kept[1]);

    // shipped in the shop head file, a new visitor starts from them
    let mut fresh = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    let mut file = ShopHead::from_bytes(&head()).unwrap();
    file.purchase = Some(purchase.clone());
    fresh.set_shop_head(Some(&file.to_bytes())).unwrap();
    assert_eq!(fresh.new_state().purchase_head, purchase);
    let score = |p: &mut Predictor, kinds: &[&str]| {
        p.forget();
        for (i, k) in kinds.iter().enumerate() {
            p.track_raw(&at(k, &format!("ref-{:04}", 20 + i), i as f64 * 60.0), 0.0)
                .unwrap();
        }
        p.intent().unwrap().unwrap().purchase
    };
    p.set_shop_head(None).unwrap();
    let (clicks, views) = (
        score(&mut fresh, &["view", "click", "click", "click"]),
        score(&mut fresh, &["view", "view", "view", "view"]),
    );
    assert!(clicks > 2.0 * views, "{clicks} vs {views}");
    // forget() keeps the shop's priors (they are the shop's, not the shopper's)
    fresh.forget();
    assert_eq!(fresh.take_state().purchase_head, purchase);
    // a shopper whose head learned on the device keeps it when the shop head changes
    let mut learner = Predictor::new(MODEL, CATALOG, Options::default()).unwrap();
    for (i, k) in ["view", "click", "purchase"].iter().enumerate() {
        learner
            .track_raw(&at(k, "ref-0007", i as f64 * 60.0), 0.0)
            .unwrap();
    }
    learner.end_session();
    let own = learner.take_state();
    assert!(own.purchase_head.updates() > 0);
    learner.put_state(own.clone()).unwrap();
    learner.set_shop_head(Some(&file.to_bytes())).unwrap();
    assert_eq!(learner.take_state().purchase_head, own.purchase_head);

    // too little history to judge: nothing is learned
    let (purchase, exit, rep) =
        fit_intent(&mut p, &shoppers[..3], &IntentFitOptions::default()).unwrap();
    assert!(
        purchase.is_none() && exit.is_none() && rep.kept == [false, false],
        "{rep:?}"
    );
}
