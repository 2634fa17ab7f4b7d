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
use nextclick::features::NUM_FEATURES;
use nextclick::head::{Adapter, Logistic};
use nextclick::predictor::{Predictor, TrackStatus};
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
        purchase: None,
        exit: None,
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
            purchase: None,
            exit: None,
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

/// Settings of [`fit_intent`].
#[derive(Debug, Clone)]
pub struct IntentFitOptions {
    /// L2 penalties tried (on standardised inputs); the one with the best cross-validated ROC-AUC is used.
    pub l2: Vec<f64>,
    /// Inputs tried: the session features alone (`false`) and/or with the session vector (`true`); the
    /// one with the best cross-validated ROC-AUC is used.
    pub with_vector: Vec<bool>,
    /// Full-batch gradient steps per regression.
    pub iterations: usize,
    /// Cross-validation folds, by shopper (≥ 2): shopper `i` is in fold `i % folds`.
    pub folds: usize,
    /// Fewest cases of each label (a purchase followed, or not; the session ended, or not) to learn and
    /// judge a prior by; fewer: it is not learned.
    pub min_cases: usize,
    /// Most events each regression is fitted on (a larger history is subsampled evenly). Every case is
    /// held in memory while fitting: 4·(F + D) bytes an event (316 bytes for the default model).
    pub max_cases: usize,
}

impl Default for IntentFitOptions {
    fn default() -> Self {
        IntentFitOptions {
            l2: vec![1e-2, 1e-1, 1.0],
            with_vector: vec![false, true],
            iterations: 400,
            folds: 5,
            min_cases: 20,
            max_cases: 500_000,
        }
    }
}

/// What [`fit_intent`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IntentFitReport {
    /// Shoppers learned from.
    pub shoppers: usize,
    /// Their events the predictor accepted (one case each).
    pub events: u64,
    /// Their events of items the catalog does not have, or that the predictor refused (skipped).
    pub skipped_events: u64,
    /// Cases of each label's positive class (a purchase followed in the session; the event was its
    /// session's last).
    pub positives: [usize; 2],
    /// ROC-AUC over every case of the priors a shopper would otherwise start from (purchase, exit).
    pub prior_auc: [f64; 2],
    /// Cross-validated ROC-AUC of the learned priors (each shopper's cases scored by the regression
    /// fitted on the other folds, pooled), at the chosen L2 (purchase, exit).
    pub learned_auc: [f64; 2],
    /// The chosen L2 penalty of each.
    pub l2: [f64; 2],
    /// Does each use the session vector (else the session features alone)?
    pub with_vector: [bool; 2],
    /// Is each learned prior shipped (its cross-validated ROC-AUC beat the prior it replaces)?
    pub kept: [bool; 2],
    /// Seconds spent.
    pub seconds: f64,
}

/// Learns the shop's **intent priors** (purchase and exit [`Logistic`] heads) from its own event history.
/// Each shopper's events are replayed through `p` (learning off), in sessions as the predictor cuts
/// them; after every accepted event the intent heads' input ([`Predictor::intent_features`]) is one case,
/// labelled as the device labels it (a purchase follows later in the session; the event is the
/// session's last). L2-regularised logistic regressions are fitted on the cases (full-batch gradient
/// descent on standardised inputs, folded back into weights on the raw input). The result goes into the
/// [`ShopHead`] file: a new visitor's intent heads start from it instead of the hand-set priors, and
/// on-device learning goes on from there.
///
/// **Kept only if it helps**, judged by cross-validation over shoppers: each fold's cases are scored by
/// the regression fitted on the other folds, and the pooled ROC-AUC (at the best of the L2 penalties and
/// inputs tried) is compared with that of the heads a visitor would otherwise start from (`p`'s: the hand-set
/// priors, or the intent priors of the shop head set on `p`). Each prior is kept only if it is higher,
/// and is then fitted on every case; `None` where it is not kept (or with fewer than `min_cases` cases of
/// either class). `p`'s own state is replaced and learning is left on.
pub fn fit_intent(
    p: &mut Predictor,
    shoppers: &[Vec<Event>],
    o: &IntentFitOptions,
) -> Result<(Option<Logistic>, Option<Logistic>, IntentFitReport)> {
    let t0 = Instant::now();
    let folds = o.folds.max(2);
    let mut rep = IntentFitReport {
        shoppers: shoppers.len(),
        ..IntentFitReport::default()
    };
    let base = p.new_state();
    let prior = [base.purchase_head, base.exit_head];
    let (mut xs, mut ys, mut fold) = (Vec::new(), Vec::new(), Vec::new());
    for (i, s) in shoppers.iter().enumerate() {
        let (x, y) = intent_cases(p, &[s], &mut rep)?;
        fold.extend(std::iter::repeat_n(i % folds, x.len()));
        xs.extend(x);
        ys.extend(y);
    }
    let mut out: [Option<Logistic>; 2] = [None, None];
    for k in 0..2 {
        let y: Vec<bool> = ys.iter().map(|l| l[k]).collect();
        let pos = y.iter().filter(|&&v| v).count();
        rep.positives[k] = pos;
        if pos < o.min_cases || y.len() - pos < o.min_cases {
            continue;
        }
        let scores = |h: &Logistic, rows: &[usize]| -> Vec<f64> {
            rows.iter().map(|&r| f64::from(h.predict(&xs[r]))).collect()
        };
        let all: Vec<usize> = (0..xs.len()).collect();
        rep.prior_auc[k] = roc_auc(&scores(&prior[k], &all), &y);
        let mut best = (f64::NEG_INFINITY, 0.0, true);
        let cands: Vec<(f64, bool)> =
            o.l2.iter()
                .flat_map(|&l2| o.with_vector.iter().map(move |&v| (l2, v)))
                .collect();
        for (l2, with_vector) in cands {
            let cols = if with_vector {
                usize::MAX
            } else {
                NUM_FEATURES
            };
            // out-of-fold scores, pooled
            let mut oof = vec![0f64; xs.len()];
            for f in 0..folds {
                let (train, test): (Vec<usize>, Vec<usize>) =
                    all.iter().partition(|&&r| fold[r] != f);
                let ty: Vec<bool> = train.iter().map(|&r| y[r]).collect();
                if ty.iter().all(|&v| v) || ty.iter().all(|&v| !v) || test.is_empty() {
                    continue;
                }
                let tx: Vec<&[f32]> = train.iter().map(|&r| xs[r].as_slice()).collect();
                let h = fit_logistic(&tx, &ty, l2, cols, o);
                for (&r, s) in test.iter().zip(scores(&h, &test)) {
                    oof[r] = s;
                }
            }
            let auc = roc_auc(&oof, &y);
            if auc > best.0 {
                best = (auc, l2, with_vector);
            }
        }
        (rep.learned_auc[k], rep.l2[k], rep.with_vector[k]) = best;
        rep.kept[k] = rep.learned_auc[k] > rep.prior_auc[k];
        if rep.kept[k] {
            let tx: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
            let cols = if best.2 { usize::MAX } else { NUM_FEATURES };
            out[k] = Some(fit_logistic(&tx, &y, best.1, cols, o));
        }
    }
    p.set_learning(true);
    rep.seconds = t0.elapsed().as_secs_f64();
    let [purchase, exit] = out;
    Ok((purchase, exit, rep))
}

/// The intent cases of `shoppers` (learning off): after each accepted event, the intent heads' input and
/// its labels `[a purchase follows in the session, it is the session's last event]`, sessions as the
/// predictor cuts them.
#[allow(clippy::type_complexity)]
fn intent_cases(
    p: &mut Predictor,
    shoppers: &[&Vec<Event>],
    rep: &mut IntentFitReport,
) -> Result<(Vec<Vec<f32>>, Vec<[bool; 2]>)> {
    p.set_learning(false);
    let mut xs: Vec<Vec<f32>> = Vec::new();
    let mut labels: Vec<[bool; 2]> = Vec::new();
    let close = |session: &mut Vec<bool>, labels: &mut Vec<[bool; 2]>| {
        let n = session.len();
        let mut later = false;
        let mut out = vec![[false; 2]; n];
        for i in (0..n).rev() {
            out[i] = [later, i + 1 == n];
            later |= session[i];
        }
        labels.extend(out);
        session.clear();
    };
    for s in shoppers {
        let mut session: Vec<bool> = Vec::new(); // is each case's event a purchase?
        let fresh = p.new_state();
        p.put_state(fresh)?;
        for ev in s.iter() {
            let status = match p.track(ev) {
                Ok(st @ (TrackStatus::Accepted | TrackStatus::NewSession)) => st,
                _ => {
                    rep.skipped_events += 1;
                    continue;
                }
            };
            rep.events += 1;
            if status == TrackStatus::NewSession {
                close(&mut session, &mut labels);
            }
            let Some(x) = p.intent_features()? else {
                continue;
            };
            xs.push(x);
            session.push(ev.kind == EventKind::Purchase);
        }
        close(&mut session, &mut labels);
    }
    Ok((xs, labels))
}

/// An L2-regularised logistic regression of `y` on `xs`, full-batch gradient descent on standardised
/// inputs (each column to mean 0, deviation 1; constant columns, and the columns from `cols` on, left at
/// weight 0), returned on the raw inputs. Subsamples evenly to `o.max_cases` cases.
fn fit_logistic(xs: &[&[f32]], y: &[bool], l2: f64, cols: usize, o: &IntentFitOptions) -> Logistic {
    let stride = xs.len().div_ceil(o.max_cases.max(1)).max(1);
    let rows: Vec<usize> = (0..xs.len()).step_by(stride).collect();
    let m = xs.first().map_or(0, |x| x.len());
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; m];
    let mut sd = vec![0f64; m];
    for &r in &rows {
        for (j, &v) in xs[r].iter().enumerate() {
            mean[j] += f64::from(v) / n;
        }
    }
    for &r in &rows {
        for (j, &v) in xs[r].iter().enumerate() {
            sd[j] += (f64::from(v) - mean[j]).powi(2) / n;
        }
    }
    sd.iter_mut()
        .enumerate()
        .for_each(|(j, s)| *s = if j < cols { s.sqrt() } else { 0.0 });
    let z: Vec<Vec<f64>> = rows
        .iter()
        .map(|&r| {
            xs[r]
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    if sd[j] > 1e-9 {
                        (f64::from(v) - mean[j]) / sd[j]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let yy: Vec<f64> = rows.iter().map(|&r| f64::from(u8::from(y[r]))).collect();
    let rate = yy.iter().sum::<f64>() / n;
    // start at the base rate; the loss is convex, so plain gradient steps (standardised inputs keep its
    // curvature at most ≈ m/4) converge
    let mut w = vec![0f64; m];
    let mut c = (rate / (1.0 - rate)).ln();
    let lr = 4.0 / (m as f64 + 4.0);
    let mut g = vec![0f64; m];
    for _ in 0..o.iterations {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut gc = 0.0;
        for (zi, &yi) in z.iter().zip(&yy) {
            let t: f64 = zi.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + c;
            let e = 1.0 / (1.0 + (-t).exp()) - yi;
            for (gj, a) in g.iter_mut().zip(zi) {
                *gj += e * a;
            }
            gc += e;
        }
        for (wj, gj) in w.iter_mut().zip(&g) {
            *wj -= lr * (gj / n + l2 * *wj);
        }
        c -= lr * gc / n;
    }
    // back to raw inputs: w·(x − μ)/σ + c
    let raw: Vec<f32> = (0..m)
        .map(|j| {
            if sd[j] > 1e-9 {
                (w[j] / sd[j]) as f32
            } else {
                0.0
            }
        })
        .collect();
    let bias = c
        - (0..m)
            .map(|j| {
                if sd[j] > 1e-9 {
                    w[j] * mean[j] / sd[j]
                } else {
                    0.0
                }
            })
            .sum::<f64>();
    Logistic::new(raw, bias as f32)
}

/// ROC-AUC of `scores` for `labels` (the Mann–Whitney statistic; ties count one half).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut ix: Vec<usize> = (0..scores.len()).collect();
    ix.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0f64, 0usize);
    let mut i = 0;
    while i < ix.len() {
        let mut j = i;
        while j + 1 < ix.len() && scores[ix[j + 1]] == scores[ix[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0; // average 1-based rank of the tie group
        for &k in &ix[i..=j] {
            if labels[k] {
                rank_sum += mid;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_by_hand() {
        let y = [false, true, false, true];
        assert_eq!(roc_auc(&[0.1, 0.9, 0.2, 0.8], &y), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.1, 0.8, 0.2], &y), 0.0);
        // ties count one half: every score equal
        assert_eq!(roc_auc(&[0.5; 4], &y), 0.5);
        // one positive above one negative, tied with the other: (1 + 0.5 + 1 + 1) / 4
        assert_eq!(roc_auc(&[0.3, 0.5, 0.5, 0.9], &y), 0.875);
        // one class only
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), 0.5);
    }

    #[test]
    fn the_logistic_fit_separates_a_separable_feature_and_ignores_a_constant_one() {
        // column 0 decides the label, column 1 is constant, column 2 is noise
        let xs: Vec<Vec<f32>> = (0..200)
            .map(|i| vec![(i % 2) as f32 * 3.0 + 1.0, 7.0, ((i * 37) % 11) as f32])
            .collect();
        let y: Vec<bool> = (0..200).map(|i| i % 2 == 1).collect();
        let rows: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let h = fit_logistic(&rows, &y, 1e-2, usize::MAX, &IntentFitOptions::default());
        // the first column only
        let one = fit_logistic(&rows, &y, 1e-2, 1, &IntentFitOptions::default());
        assert!(one.weights()[0] > 0.5 && one.weights()[1..].iter().all(|&w| w == 0.0));
        assert!(h.weights()[0] > 0.5, "{h:?}");
        assert_eq!(h.weights()[1], 0.0);
        assert!(h.weights()[2].abs() < 0.1 * h.weights()[0], "{h:?}");
        assert!(h.predict(&xs[1]) > 0.8 && h.predict(&xs[0]) < 0.2, "{h:?}");
    }
}
