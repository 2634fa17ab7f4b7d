//! Shop-level adaptation that needs no raw clickstream on the server.
//!
//! **FedAvg is a simulation, on purpose.** nextclick ships no aggregation endpoint and no browser sends
//! adapter updates: the product's promise is that nothing learned from a shopper leaves the device, and
//! a real federated path would need an opt-in flow, an endpoint the shop runs, secure aggregation and an
//! `ε` budget shown to the shopper — a product decision, not a replay row. The rows below measure what
//! such a path would buy; the shop head from orders ([`history_orders`]) is the deployable shop-level
//! adaptation (it uses only data the shop already holds).
//!
//!
//! * [`fedavg`]: federated averaging of the on-device adapter across simulated browsers (one per user of
//!   the history window). Each round every browser starts from the global adapter, learns on its own
//!   history-window events on the device, and sends only its update, clipped to L2 norm `C`; the server
//!   adds Gaussian noise `N(0, (zC)²)` to the sum and averages. Privacy is user-level (add/remove one
//!   browser), every browser takes part in every round (no subsampling amplification is claimed), and
//!   `ε` is from the Rényi-DP accountant of the Gaussian mechanism composed over the rounds:
//!   `ε(δ) = min_λ>1 R·λ/(2z²) + ln(1/δ)/(λ − 1)`. The global adapter's step count (which sets the grown
//!   `α`) is a public constant, not a function of the data.
//! * [`history_orders`]: what an order system holds — each customer's purchases (item, time) of the
//!   history window, no views or carts — from which the shop head is learned
//!   (`nextclick_model::shop_head::fit`, the same code as `nextclick shop-head`).
//!
//! The adapter's weights are read and written through the core's public [`Adapter::params`] /
//! [`Adapter::set_params`].

use std::collections::BTreeMap;

use anyhow::Result;
use nextclick::contract::EventKind;
use nextclick::head::Adapter;
use nextclick::predictor::Predictor;
use nextclick::state::ShopperState;

use crate::device::{core_event, heads_only};
use nextclick_data::orders::Customer;
use nextclick_data::replay::{Dataset, Ev, Split};
use nextclick_model::encoder::SplitMix;

/// The adapter's weights `[a (D×D), b (D)]` and its step count ([`Adapter::params`]).
pub fn adapter_params(a: &Adapter) -> Result<(Vec<f32>, u64)> {
    Ok((a.params(), a.steps()))
}

/// `a` with weights `p` (as from [`adapter_params`]) and step count `steps` ([`Adapter::set_params`]).
pub fn with_params(a: &Adapter, p: &[f32], steps: u64) -> Result<Adapter> {
    let mut out = a.clone();
    out.set_params(p, steps).map_err(anyhow::Error::msg)?;
    Ok(out)
}

/// `ε` of `rounds` Gaussian mechanisms with noise multiplier `z` at `δ` (RDP accountant); infinite for
/// `z = 0`.
pub fn gaussian_epsilon(z: f64, rounds: usize, delta: f64) -> f64 {
    if z <= 0.0 {
        return f64::INFINITY;
    }
    let mut best = f64::INFINITY;
    let mut lambda = 1.01;
    while lambda < 10_000.0 {
        let e = rounds as f64 * lambda / (2.0 * z * z) + (1.0 / delta).ln() / (lambda - 1.0);
        best = best.min(e);
        lambda *= 1.01;
    }
    best
}

/// Settings of [`fedavg`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct FedOptions {
    /// Rounds.
    pub rounds: usize,
    /// L2 clip of one browser's update.
    pub clip: f32,
    /// Noise multiplier `z` (noise std = `z·clip` on the sum).
    pub noise_multiplier: f64,
    /// `δ` of the reported `(ε, δ)`.
    pub delta: f64,
    /// Step count given to the global adapter (public constant).
    pub global_steps: u64,
    /// Noise seed.
    pub seed: u64,
}

impl Default for FedOptions {
    fn default() -> Self {
        FedOptions {
            rounds: 3,
            clip: 1.0,
            noise_multiplier: 1.0,
            delta: 1e-5,
            global_steps: 1000,
            seed: 1,
        }
    }
}

/// What a federated run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FedReport {
    /// Browsers per round.
    pub browsers: usize,
    /// Settings.
    pub options: FedOptions,
    /// `ε` at `options.delta`.
    pub epsilon: f64,
    /// Fraction of updates that were clipped, per round.
    pub clipped: Vec<f64>,
    /// Mean L2 norm of the updates before clipping, per round.
    pub mean_norm: Vec<f64>,
}

/// Each user's history-window events, users in order of first appearance.
fn history_by_user<'a>(
    data: &'a Dataset,
    split: &Split,
    keep: impl Fn(&Ev) -> bool,
) -> Vec<Vec<&'a Ev>> {
    let mut by: BTreeMap<u32, usize> = BTreeMap::new();
    let mut out: Vec<Vec<&Ev>> = Vec::new();
    for e in data
        .events
        .iter()
        .filter(|e| e.ts < split.split_ts && keep(e))
    {
        let k = *by.entry(e.user).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[k].push(e);
    }
    out
}

/// Every user's history-window events as the core takes them, in time order (events whose timestamp the
/// core refuses are left out): what `nextclick shop-head --history` learns intent priors from.
pub fn history_events(data: &Dataset, split: &Split) -> Vec<Vec<nextclick::event::Event>> {
    history_by_user(data, split, |_| true)
        .into_iter()
        .map(|evs| evs.into_iter().filter_map(|e| core_event(e).ok()).collect())
        .collect()
}

/// Replays `events` (one user's, time order) into the predictor's active state with learning on, ending
/// the session at each data-session boundary.
fn learn_on(p: &mut Predictor, events: &[&Ev], by_data_session: bool) -> Result<()> {
    let mut cur = None;
    for e in events {
        if by_data_session && cur.is_some_and(|s| s != e.session) {
            p.end_session();
        }
        cur = Some(e.session);
        if let Ok(ev) = core_event(e) {
            let _ = p.track(&ev);
        }
    }
    p.end_session();
    Ok(())
}

/// Federated averaging of the adapter over the history window's browsers; returns the start state of a
/// new browser (global adapter, source intent heads) and the report.
pub fn fedavg(
    p: &mut Predictor,
    data: &Dataset,
    split: &Split,
    o: &FedOptions,
) -> Result<(ShopperState, FedReport)> {
    p.set_learning(true);
    let users = history_by_user(data, split, |_| true);
    let fresh = p.new_state();
    let (mut global, _) = adapter_params(&fresh.adapter)?;
    let mut rng = SplitMix(o.seed ^ 0xFEDA);
    let mut clipped = Vec::new();
    let mut mean_norm = Vec::new();
    for _round in 0..o.rounds {
        let mut sum = vec![0f64; global.len()];
        let (mut n_clipped, mut norm_sum) = (0usize, 0f64);
        for evs in &users {
            let mut st = fresh.clone();
            st.adapter = with_params(&fresh.adapter, &global, o.global_steps)?;
            p.put_state(st)?;
            learn_on(p, evs, true)?;
            let (local, _) = adapter_params(&p.take_state().adapter)?;
            let delta: Vec<f64> = local
                .iter()
                .zip(&global)
                .map(|(l, g)| (*l - *g) as f64)
                .collect();
            let norm = delta.iter().map(|x| x * x).sum::<f64>().sqrt();
            norm_sum += norm;
            let scale = if norm > o.clip as f64 {
                n_clipped += 1;
                o.clip as f64 / norm
            } else {
                1.0
            };
            sum.iter_mut()
                .zip(&delta)
                .for_each(|(s, d)| *s += d * scale);
        }
        let n = users.len().max(1) as f64;
        let sd = o.noise_multiplier * o.clip as f64;
        for (g, s) in global.iter_mut().zip(&sum) {
            let noise = if sd > 0.0 {
                rng.normal() as f64 * sd
            } else {
                0.0
            };
            *g += ((s + noise) / n) as f32;
        }
        clipped.push(n_clipped as f64 / n);
        mean_norm.push(norm_sum / n);
    }
    let mut init = heads_only(&fresh);
    init.adapter = with_params(&fresh.adapter, &global, o.global_steps)?;
    let epsilon = gaussian_epsilon(o.noise_multiplier, o.rounds, o.delta);
    Ok((
        init,
        FedReport {
            browsers: users.len(),
            options: o.clone(),
            epsilon,
            clipped,
            mean_norm,
        },
    ))
}

/// What an order system holds of the history window: each customer's purchases (time, item id), in
/// the layout `nextclick shop-head` reads from `orders.csv`.
pub fn history_orders(data: &Dataset, split: &Split) -> Vec<Customer> {
    history_by_user(data, split, |e| e.kind == EventKind::Purchase)
        .into_iter()
        .enumerate()
        .map(|(i, evs)| Customer {
            id: format!("u{i}"),
            purchases: evs
                .iter()
                .map(|e| (e.ts * 1000.0, e.item_id.clone()))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_accountant_by_hand() {
        assert!(gaussian_epsilon(0.0, 1, 1e-5).is_infinite());
        // one round, z = 1: min over λ of λ/2 + ln(1e5)/(λ−1) ≈ at λ = 1 + sqrt(2 ln 1e5) → ≈ 5.30
        let e = gaussian_epsilon(1.0, 1, 1e-5);
        let l = 1.0 + (2.0 * (1e5f64).ln()).sqrt();
        let want = l / 2.0 + (1e5f64).ln() / (l - 1.0);
        assert!((e - want).abs() < 0.01, "{e} vs {want}");
        assert!(gaussian_epsilon(2.0, 3, 1e-5) < gaussian_epsilon(1.0, 3, 1e-5));
        assert!(gaussian_epsilon(1.0, 3, 1e-5) > e);
    }

    #[test]
    fn adapter_params_round_trip() {
        let a = Adapter::new(3);
        let (p, s) = adapter_params(&a).unwrap();
        assert_eq!((p.len(), s), (12, 0));
        let q: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let b = with_params(&a, &q, 7).unwrap();
        assert_eq!(adapter_params(&b).unwrap(), (q, 7));
        assert!(with_params(&a, &[0.0; 3], 0).is_err());
    }
}
