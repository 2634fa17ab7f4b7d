//! Learning the shop head `θ₀` from the shop's order history alone (no clickstream): the core's own
//! on-device learner ([`nextclick::head::Adapter::learn`]) run centrally, through one shared adapter,
//! over every customer's purchases in time order, for a few shuffled epochs.
//!
//! Each customer's purchases are replayed as one session of `kind` events (default `view`: the head
//! serves browsing sessions, whose contexts are views), so each purchase is the observed next item of
//! the purchases before it. What the head learns is the shop's co-purchase structure in the model's
//! vector space; it is shipped as a [`ShopHead`] file and every new visitor starts from it.

use std::time::Instant;

use anyhow::{bail, Result};
use nextclick::contract::EventKind;
use nextclick::event::Event;
use nextclick::predictor::Predictor;
use nextclick::shop_head::ShopHead;
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
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 3,
            kind: EventKind::View,
            seed: 1,
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
}

/// Learns the shop head on `p`'s model and catalog from `customers`. `p`'s own state is replaced (it
/// ends fresh), its shop head removed, and learning is left on.
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
