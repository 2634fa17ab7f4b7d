//! Learning the shop head `θ₀` from the shop's order history alone (no clickstream): the core's own
//! on-device learner ([`nextclick::head::Adapter::learn`]) run centrally, through one shared adapter,
//! over every customer's purchases in time order, for a few shuffled epochs.
//!
//! Each customer's purchases are replayed as one session of `kind` events (default `view`: the head
//! serves browsing sessions, whose contexts are views), so each purchase is the observed next item of
//! the purchases before it. What the head learns is the shop's co-purchase structure in the model's
//! vector space; it is shipped as a [`ShopHead`] file and every new visitor starts from it.
//!
//! **Kept only if it helps.** Each customer's last purchase is held out: a head is learned on the rest,
//! and the held-out purchases are ranked (Recall@20, the context being the customer's earlier purchases)
//! by the source model and by the head scaled by `λ ∈ {¼, ½, 1}`. The best `λ` wins if it beats the
//! source model; then the head is learned again on everything and scaled by that `λ`. Otherwise — and
//! when fewer than [`FitOptions::min_customers`] customers have two purchases of catalog items — [`fit`]
//! refuses with the figures, and the shop ships no head (visitors start from the source model).

use std::time::Instant;

use anyhow::{bail, Result};
use nextclick::contract::EventKind;
use nextclick::event::Event;
use nextclick::head::Adapter;
use nextclick::predictor::Predictor;
use nextclick::shop_head::ShopHead;
use nextclick::state::ShopperState;
use nextclick_data::orders::Customer;

use crate::encoder::SplitMix;

/// Settings of [`fit`].
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Passes over the customers (shuffled each time).
    pub epochs: usize,
    /// Event type the purchases are replayed as.
    pub kind: EventKind,
    /// Shuffle seed.
    pub seed: u64,
    /// Fewest customers with two purchases of catalog items to learn from (fewer: refused).
    pub min_customers: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 3,
            kind: EventKind::View,
            seed: 1,
            min_customers: 30,
        }
    }
}

/// What [`fit`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Customers with at least two purchases of catalog items (the others teach nothing).
    pub customers: usize,
    /// Their purchases of catalog items.
    pub purchases: usize,
    /// Purchases of items the catalog does not have (skipped).
    pub unknown_items: usize,
    /// SGD steps taken.
    pub steps: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// Held-out Recall@20 of the source model.
    pub holdout_source: f64,
    /// Held-out Recall@20 of the chosen head.
    pub holdout_head: f64,
    /// The chosen scale `λ` of the head.
    pub scale: f32,
    /// Held-out purchases ranked.
    pub holdout_cases: usize,
}

/// Learns the shop head on `p`'s model and catalog from `customers`, checked on held-out purchases (see
/// the module docs). `p`'s own state is replaced, its shop head removed, and learning is left on.
pub fn fit(
    p: &mut Predictor,
    customers: &[Customer],
    o: &FitOptions,
) -> Result<(ShopHead, FitReport)> {
    let t0 = Instant::now();
    p.set_shop_head(None)?;
    p.set_learning(true);
    let fresh = p.new_state();
    let mut rep = FitReport::default();
    // each customer's purchases of catalog items, as validated events one second apart (one session)
    let seqs: Vec<Vec<Event>> = customers
        .iter()
        .filter_map(|c| {
            let evs: Vec<Event> = c
                .purchases
                .iter()
                .filter(|(_, id)| {
                    let known = p.catalog().index_of(id).is_some();
                    rep.unknown_items += usize::from(!known);
                    known
                })
                .enumerate()
                .map(|(i, (_, id))| Event {
                    kind: o.kind,
                    item_id: id.clone(),
                    timestamp_ms: 1.0e12 + i as f64 * 1000.0,
                    price: None,
                })
                .collect();
            (evs.len() >= 2).then_some(evs)
        })
        .collect();
    rep.customers = seqs.len();
    rep.purchases = seqs.iter().map(|s| s.len()).sum();
    if seqs.is_empty() {
        bail!(
            "no customer has two purchases of catalog items ({} customers, {} purchases of unknown items): nothing to learn a shop head from",
            customers.len(),
            rep.unknown_items
        );
    }
    if seqs.len() < o.min_customers {
        bail!(
            "only {} customers have two purchases of catalog items (at least {} needed to learn and check a shop head); ship no head: visitors start from the source model",
            seqs.len(),
            o.min_customers
        );
    }
    // held out: each customer's last purchase
    let train: Vec<Vec<Event>> = seqs.iter().map(|s| s[..s.len() - 1].to_vec()).collect();
    let trial = learn(p, &fresh, &train, o)?;
    let cases: Vec<(&[Event], &str)> = seqs
        .iter()
        .map(|s| (&s[..s.len() - 1], s[s.len() - 1].item_id.as_str()))
        .collect();
    let base = holdout_recall(p, &cases, None)?;
    let mut best = (0f32, base);
    for scale in [0.25f32, 0.5, 1.0] {
        let r = holdout_recall(p, &cases, Some(&scaled(&trial, scale)?))?;
        if r > best.1 {
            best = (scale, r);
        }
    }
    rep.holdout_source = base;
    rep.holdout_cases = cases.len();
    if best.0 == 0.0 {
        bail!(
            "the shop head does not beat the source model on the {} held-out purchases (Recall@20 {:.4} without it, at most that with it); ship no head",
            cases.len(),
            base
        );
    }
    let adapter = scaled(&learn(p, &fresh, &seqs, o)?, best.0)?;
    p.set_shop_head(None)?;
    rep.scale = best.0;
    rep.holdout_head = best.1;
    rep.steps = adapter.steps();
    rep.seconds = t0.elapsed().as_secs_f64();
    let head = ShopHead {
        adapter,
        model_sha256: *p.encoder().sha256(),
        customers: rep.customers.min(u32::MAX as usize) as u32,
        purchases: rep.purchases.min(u32::MAX as usize) as u32,
    };
    Ok((head, rep))
}

/// Sequential SGD of one shared adapter over `seqs`, `o.epochs` shuffled passes.
fn learn(
    p: &mut Predictor,
    fresh: &ShopperState,
    seqs: &[Vec<Event>],
    o: &FitOptions,
) -> Result<Adapter> {
    p.set_shop_head(None)?;
    p.set_learning(true);
    let mut adapter = fresh.adapter.clone();
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    let mut rng = SplitMix(o.seed ^ 0x5409_4EAD);
    for _ in 0..o.epochs.max(1) {
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        for &k in &order {
            let mut st = fresh.clone();
            st.adapter = adapter;
            p.put_state(st)?;
            for ev in &seqs[k] {
                p.track(ev)?;
            }
            adapter = p.take_state().adapter;
        }
    }
    Ok(adapter)
}

/// `a` with its weights multiplied by `scale` (the step count kept).
fn scaled(a: &Adapter, scale: f32) -> Result<Adapter> {
    let params: Vec<f32> = a.params().iter().map(|x| x * scale).collect();
    let mut out = a.clone();
    out.set_params(&params, a.steps())
        .map_err(anyhow::Error::msg)?;
    Ok(out)
}

/// Recall@20 of the held-out purchases, each ranked after its customer's earlier purchases, with `head`
/// as every visitor's starting point (learning off).
fn holdout_recall(
    p: &mut Predictor,
    cases: &[(&[Event], &str)],
    head: Option<&Adapter>,
) -> Result<f64> {
    let bytes = head.map(|a| {
        ShopHead {
            adapter: a.clone(),
            model_sha256: *p.encoder().sha256(),
            customers: 0,
            purchases: 0,
        }
        .to_bytes()
    });
    p.set_shop_head(bytes.as_deref())?;
    p.set_learning(false);
    let mut hits = 0usize;
    for (context, target) in cases {
        let fresh = p.new_state();
        p.put_state(fresh)?;
        for ev in *context {
            p.track(ev)?;
        }
        let top = p.predict_indices(20)?;
        let t = p.catalog().index_of(target);
        hits += usize::from(top.iter().any(|(i, _)| Some(*i) == t));
    }
    p.set_learning(true);
    Ok(hits as f64 / cases.len().max(1) as f64)
}
