//! The heads fine-tuned on the device (transfer learning).
//!
//! * [`Adapter`]: a residual linear adapter on the source model's session vector, `s' = s + α·(A s + b)`,
//!   initialised at the source model (`A = 0, b = 0`), trained online with each observed next item
//!   (softmax over the catalog, full up to [`FULL_SOFTMAX_MAX`] items, sampled above), with L2 toward the
//!   source weights. Serving with `α` is exactly `θ' = α·θ_tuned + (1 − α)·θ_source`, because the adapter
//!   is linear in its weights and the source adapter is zero. `α` is fixed or grows with evidence,
//!   `α = n / (n + n₀)` after `n` learning steps. A shop may ship a shop-level head `θ₀` learned from its
//!   own orders ([`crate::shop_head::ShopHead`]): new shoppers then start at `θ₀`, serving is
//!   `θ' = α·θ + (1 − α)·θ₀`, and the L2 pull goes toward `θ₀`.
//! * [`Logistic`]: the intent heads (purchase propensity, exit risk), logistic regressions on the session
//!   features and the session vector, pre-set with priors and updated online as labels arrive.

use serde::{Deserialize, Serialize};

use crate::catalog::{dot, Catalog};

/// Catalogs up to this size get the full softmax; larger ones a sampled one.
pub const FULL_SOFTMAX_MAX: usize = 4096;
/// Negatives drawn for the sampled softmax.
pub const SAMPLED_NEGATIVES: usize = 1024;

/// Settings of the on-device heads (part of the predictor options, `head: {…}` in JS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HeadOptions {
    /// Learn on the device at all (consent gating turns this off from the page).
    pub enabled: bool,
    /// Fixed blending weight in `[0, 1]`; unset (`None`, `null` in JS) grows it with evidence
    /// (`n / (n + alphaHalfLife)`).
    pub alpha: Option<f32>,
    /// Learning steps at which the grown `α` reaches one half.
    pub alpha_half_life: f32,
    /// SGD step size of the adapter.
    pub learning_rate: f32,
    /// L2 pull toward the source weights (zero adapter), per step.
    pub l2: f32,
    /// Softmax temperature of the scores (unset: the model's own, from its ONNX metadata, else 1).
    pub temperature: Option<f32>,
    /// Step size of the intent heads.
    pub intent_learning_rate: f32,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            enabled: true,
            alpha: None,
            alpha_half_life: 1.0,
            learning_rate: 0.05,
            l2: 1e-3,
            temperature: None,
            intent_learning_rate: 0.05,
        }
    }
}

impl HeadOptions {
    /// Checks ranges; returns the name and reason of the first bad field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(a) = self.alpha {
            if !(0.0..=1.0).contains(&a) {
                return Err(("head.alpha", format!("{a} must be in [0, 1]")));
            }
        }
        let pos = |name, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err((name, format!("{v} must be a positive number")))
            }
        };
        pos("head.alphaHalfLife", self.alpha_half_life)?;
        pos("head.learningRate", self.learning_rate)?;
        pos("head.intentLearningRate", self.intent_learning_rate)?;
        if let Some(t) = self.temperature {
            pos("head.temperature", t)?;
        }
        if !(self.l2.is_finite() && (0.0..1.0).contains(&self.l2)) {
            return Err(("head.l2", format!("{} must be in [0, 1)", self.l2)));
        }
        Ok(())
    }
}

/// The residual session-vector adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    dim: usize,
    /// `D × D`, row-major: `(A s)_i = Σ_j a[i·D + j] s_j`.
    a: Vec<f32>,
    b: Vec<f32>,
    steps: u64,
    rng: u64,
}

impl Adapter {
    /// The source adapter (identity map: `A = 0`, `b = 0`).
    pub fn new(dim: usize) -> Adapter {
        Adapter {
            dim,
            a: vec![0.0; dim * dim],
            b: vec![0.0; dim],
            steps: 0,
            rng: 0x5EED,
        }
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Learning steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The weights as one flat vector `[A (D×D, row-major), b (D)]`, e.g. to average adapters across
    /// browsers (federated averaging) or to inspect them.
    pub fn params(&self) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.a.len() + self.b.len());
        p.extend_from_slice(&self.a);
        p.extend_from_slice(&self.b);
        p
    }

    /// Replaces the weights with `params` (layout of [`Adapter::params`]) and the step count (which sets
    /// the grown `α`) with `steps`. Refuses a vector of the wrong length or with a non-finite value and
    /// then leaves the adapter unchanged.
    pub fn set_params(&mut self, params: &[f32], steps: u64) -> Result<(), String> {
        let d = self.dim;
        if params.len() != d * d + d {
            return Err(format!(
                "adapter parameters: {} values for D = {d} (want {})",
                params.len(),
                d * d + d
            ));
        }
        if let Some(i) = params.iter().position(|x| !x.is_finite()) {
            return Err(format!("adapter parameter {i} is {}", params[i]));
        }
        self.a.copy_from_slice(&params[..d * d]);
        self.b.copy_from_slice(&params[d * d..]);
        self.steps = steps;
        Ok(())
    }

    /// Are all weights finite and of the right size? (Checked on state import.)
    pub fn is_valid(&self) -> bool {
        self.a.len() == self.dim * self.dim
            && self.b.len() == self.dim
            && self.a.iter().chain(&self.b).all(|x| x.is_finite())
    }

    /// The blending weight in force.
    pub fn alpha(&self, opts: &HeadOptions) -> f32 {
        opts.alpha.unwrap_or_else(|| {
            let n = self.steps as f32;
            n / (n + opts.alpha_half_life)
        })
    }

    /// `delta = A s + b`.
    fn delta(&self, s: &[f32], out: &mut [f32]) {
        let rows = self.a.chunks_exact(self.dim);
        for ((o, row), b) in out.iter_mut().zip(rows).zip(&self.b) {
            *o = b + dot(row, s);
        }
    }

    /// The served session vector `s + α·(A s + b)`, for a shopper who started from the source model.
    pub fn apply(&self, s: &[f32], alpha: f32) -> Vec<f32> {
        self.apply_with_base(s, alpha, None)
    }

    /// The served session vector with a shop head `θ₀ = (A₀, b₀)` as the starting point:
    /// `s + α·(A s + b) + (1 − α)·(A₀ s + b₀)`, i.e. `θ' = α·θ + (1 − α)·θ₀` applied to `s` (the adapter is
    /// linear in its weights). Without a base, `θ₀ = 0`: the source model.
    pub fn apply_with_base(&self, s: &[f32], alpha: f32, base: Option<&Adapter>) -> Vec<f32> {
        let mut out = vec![0f32; self.dim];
        let alpha = if self.steps == 0 { 0.0 } else { alpha };
        let base = base.filter(|b| b.dim == self.dim && alpha < 1.0);
        if alpha == 0.0 {
            match base {
                None => out.copy_from_slice(s),
                Some(b) => {
                    b.delta(s, &mut out);
                    out.iter_mut().zip(s).for_each(|(o, x)| *o += x);
                }
            }
            return out;
        }
        self.delta(s, &mut out);
        out.iter_mut().zip(s).for_each(|(o, x)| *o = x + alpha * *o);
        if let Some(b) = base {
            let mut d0 = vec![0f32; self.dim];
            b.delta(s, &mut d0);
            out.iter_mut()
                .zip(&d0)
                .for_each(|(o, d)| *o += (1.0 - alpha) * d);
        }
        out
    }

    /// A new shopper's adapter when the shop ships a head: the head's weights, no steps of its own (so the
    /// grown `α` starts at 0 and serving starts exactly at `θ₀`).
    pub fn starting_at(base: &Adapter) -> Adapter {
        Adapter {
            dim: base.dim,
            a: base.a.clone(),
            b: base.b.clone(),
            steps: 0,
            rng: 0x5EED,
        }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One SGD step on `−log p(target | s)` with `p ∝ exp(⟨s + A s + b, v_i⟩ / τ)` over the catalog (or
    /// the target plus sampled negatives), plus the L2 pull toward the source. Returns the loss before
    /// the step.
    pub fn learn(
        &mut self,
        s: &[f32],
        target: usize,
        catalog: &Catalog,
        opts: &HeadOptions,
        temperature: f32,
    ) -> f32 {
        self.learn_with_base(s, target, catalog, opts, temperature, None)
    }

    /// [`Adapter::learn`] with the L2 pull toward the shop head `base` (`θ₀`) instead of toward zero.
    pub fn learn_with_base(
        &mut self,
        s: &[f32],
        target: usize,
        catalog: &Catalog,
        opts: &HeadOptions,
        temperature: f32,
        base: Option<&Adapter>,
    ) -> f32 {
        let base = base.filter(|b| b.dim == self.dim);
        let d = self.dim;
        let mut tuned = vec![0f32; d];
        self.delta(s, &mut tuned);
        tuned.iter_mut().zip(s).for_each(|(t, x)| *t += x);
        // Every row, or the rows a split catalog holds (`Catalog::pool_len`): negatives are only
        // ever drawn from vectors that are there.
        let n = catalog.pool_len();
        let candidates: Vec<usize> = if n <= FULL_SOFTMAX_MAX {
            let mut c: Vec<usize> = (0..n).map(|j| catalog.pool_row(j)).collect();
            if catalog.split().is_some() && !c.contains(&target) {
                c.push(target);
            }
            c
        } else {
            let mut c = Vec::with_capacity(SAMPLED_NEGATIVES + 1);
            c.push(target);
            for _ in 0..SAMPLED_NEGATIVES {
                let i = catalog.pool_row((self.next_rand() % n as u64) as usize);
                if i != target {
                    c.push(i);
                }
            }
            c
        };
        let mut row = vec![0f32; d];
        let mut logits = Vec::with_capacity(candidates.len());
        for &i in &candidates {
            catalog.copy_row(i, &mut row);
            logits.push(dot(&tuned, &row) / temperature);
        }
        let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let z: f32 = logits.iter().map(|l| (l - m).exp()).sum();
        let t_pos = candidates.iter().position(|&i| i == target).unwrap_or(0);
        let loss = -(logits[t_pos] - m - z.ln());
        // g = ∂loss/∂tuned = (Σ p_i v_i − v_target) / τ
        let mut g = vec![0f32; d];
        for (k, &i) in candidates.iter().enumerate() {
            let p = (logits[k] - m).exp() / z - if k == t_pos { 1.0 } else { 0.0 };
            if p.abs() > 1e-7 {
                catalog.copy_row(i, &mut row);
                g.iter_mut()
                    .zip(&row)
                    .for_each(|(gj, r)| *gj += p * r / temperature);
            }
        }
        // Clip the gradient so a single odd event cannot throw the adapter far.
        let gn = (g.iter().map(|x| x * x).sum::<f32>()
            * (1.0 + s.iter().map(|x| x * x).sum::<f32>()))
        .sqrt();
        // A non-finite step (an imported state of extreme but finite weights can overflow f32) is not
        // taken: the adapter keeps its weights rather than store an infinity that no state file can hold.
        if !(gn.is_finite() && s.iter().all(|x| x.is_finite())) {
            return loss;
        }
        let clip = if gn > 5.0 { 5.0 / gn } else { 1.0 };
        let lr = opts.learning_rate * clip;
        let before = (self.a.clone(), self.b.clone());
        let decay = 1.0 - opts.l2;
        for ((row, b), gi) in self.a.chunks_exact_mut(d).zip(self.b.iter_mut()).zip(&g) {
            let gi = gi * lr;
            for (a, x) in row.iter_mut().zip(s) {
                *a = *a * decay - gi * x;
            }
            *b = *b * decay - gi;
        }
        if let Some(base) = base {
            // decay toward θ₀: θ ← decay·θ + (1 − decay)·θ₀ (the step above did the decay·θ part)
            let keep = opts.l2;
            self.a
                .iter_mut()
                .zip(&base.a)
                .for_each(|(a, a0)| *a += keep * a0);
            self.b
                .iter_mut()
                .zip(&base.b)
                .for_each(|(b, b0)| *b += keep * b0);
        }
        if !self.is_valid() {
            (self.a, self.b) = before;
            return loss;
        }
        self.steps += 1;
        loss
    }
}

/// A logistic-regression head `p = σ(w·x + c)` over a fixed-length input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    w: Vec<f32>,
    c: f32,
    updates: u64,
}

/// Logistic sigmoid.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Logistic {
    /// A head with the given prior weights (length = input length) and bias.
    pub fn new(w: Vec<f32>, c: f32) -> Logistic {
        Logistic { w, c, updates: 0 }
    }
    /// Input length.
    pub fn len(&self) -> usize {
        self.w.len()
    }
    /// True if the head takes no input.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }
    /// Label updates received.
    pub fn updates(&self) -> u64 {
        self.updates
    }
    /// The weights `w`.
    pub fn weights(&self) -> &[f32] {
        &self.w
    }
    /// The bias `c`.
    pub fn bias(&self) -> f32 {
        self.c
    }
    /// This head as a new shopper's starting point: the same weights, no updates counted (a shopper whose
    /// head has no updates of its own takes a newly set starting point).
    pub fn as_prior(&self) -> Logistic {
        Logistic::new(self.w.clone(), self.c)
    }
    /// Are all weights finite?
    pub fn is_valid(&self) -> bool {
        self.c.is_finite() && self.w.iter().all(|x| x.is_finite())
    }
    /// `σ(w·x + c)`.
    pub fn predict(&self, x: &[f32]) -> f32 {
        sigmoid(dot(&self.w, x) + self.c)
    }
    /// One SGD step on the log loss toward `label`.
    pub fn update(&mut self, x: &[f32], label: bool, lr: f32) {
        let err = self.predict(x) - if label { 1.0 } else { 0.0 };
        if !(err.is_finite() && x.iter().all(|v| v.is_finite())) {
            return;
        }
        let before = (self.w.clone(), self.c);
        self.w
            .iter_mut()
            .zip(x)
            .for_each(|(w, xi)| *w -= lr * err * xi);
        self.c -= lr * err;
        // a step that overflows f32 is not taken (no state file can hold an infinity)
        if !self.is_valid() {
            (self.w, self.c) = before;
            return;
        }
        self.updates += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let n = 40;
        let d = 8;
        let v: Vec<f32> = (0..n * d)
            .map(|k| (((k * 2654435761usize) % 1000) as f32 / 500.0) - 1.0)
            .collect();
        Catalog::from_f32(
            (0..n).map(|i| format!("i{i}")).collect(),
            d,
            v,
            None,
            [0; 32],
        )
        .unwrap()
    }

    #[test]
    fn params_round_trip_and_bad_params_leave_the_adapter_unchanged() {
        let c = catalog();
        let mut a = Adapter::new(8);
        let s: Vec<f32> = (0..8).map(|i| (i as f32 * 0.3).sin()).collect();
        a.learn(&s, 3, &c, &HeadOptions::default(), 1.0);
        let p = a.params();
        assert_eq!(p.len(), 8 * 8 + 8);
        let mut b = Adapter::new(8);
        b.set_params(&p, a.steps()).unwrap();
        assert_eq!(b.params(), p);
        assert_eq!(b.steps(), 1);
        assert_eq!(b.apply(&s, 1.0), a.apply(&s, 1.0));
        assert!(b.set_params(&p[1..], 9).is_err());
        let mut bad = p.clone();
        bad[5] = f32::NAN;
        assert!(b.set_params(&bad, 9).is_err());
        assert_eq!((b.params(), b.steps()), (p, 1));
    }

    #[test]
    fn source_adapter_is_the_identity_and_learning_lowers_the_loss() {
        let c = catalog();
        let opts = HeadOptions::default();
        let mut a = Adapter::new(8);
        let s: Vec<f32> = (0..8).map(|i| (i as f32 * 0.3).cos()).collect();
        assert_eq!(a.apply(&s, 1.0), s);
        assert_eq!(a.alpha(&opts), 0.0);
        let first = a.learn(&s, 17, &c, &opts, 1.0);
        let mut last = first;
        for _ in 0..50 {
            last = a.learn(&s, 17, &c, &opts, 1.0);
        }
        assert!(last < first * 0.5, "loss {first} -> {last}");
        assert!(a.alpha(&opts) > 0.8);
        // The served vector ranks the learned target higher than the source vector does.
        let rank = |q: &[f32]| {
            let mut sc = Vec::new();
            c.score_all(q, &mut sc);
            sc.iter().filter(|&&x| x > sc[17]).count()
        };
        assert!(rank(&a.apply(&s, a.alpha(&opts))) < rank(&s));
        assert!(a.is_valid());
    }

    #[test]
    fn a_shop_head_is_the_starting_point_and_the_blend_is_alpha_theta_plus_one_minus_alpha_theta0()
    {
        let c = catalog();
        let opts = HeadOptions::default();
        let s: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).sin()).collect();
        // θ₀: a non-zero head
        let mut base = Adapter::new(8);
        for _ in 0..20 {
            base.learn(&s, 5, &c, &opts, 1.0);
        }
        let mut a = Adapter::starting_at(&base);
        assert_eq!(a.steps(), 0);
        assert_eq!(a.params(), base.params());
        // before any on-device step: exactly θ₀
        let at0 = a.apply_with_base(&s, a.alpha(&opts), Some(&base));
        assert_eq!(at0, base.apply(&s, 1.0));
        assert_ne!(at0, s, "θ₀ is not the source model");
        // after on-device steps: s + α(A s + b) + (1 − α)(A₀ s + b₀)
        for _ in 0..3 {
            a.learn_with_base(&s, 11, &c, &opts, 1.0, Some(&base));
        }
        let alpha = a.alpha(&opts);
        assert!(alpha > 0.5 && alpha < 1.0);
        let got = a.apply_with_base(&s, alpha, Some(&base));
        let theta = a.apply(&s, 1.0);
        let theta0 = base.apply(&s, 1.0);
        for j in 0..8 {
            let want = alpha * theta[j] + (1.0 - alpha) * theta0[j];
            assert!((got[j] - want).abs() < 1e-5, "{j}: {} vs {want}", got[j]);
        }
        // the L2 pull goes toward θ₀: with a huge l2, one step lands next to θ₀, not next to zero
        let strong = HeadOptions {
            l2: 0.999,
            learning_rate: 1e-6,
            ..HeadOptions::default()
        };
        let mut b = Adapter::starting_at(&base);
        b.learn_with_base(&s, 11, &c, &strong, 1.0, Some(&base));
        let dist =
            |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p - q).powi(2)).sum::<f32>();
        assert!(dist(&b.params(), &base.params()) < 1e-6);
        let mut z = Adapter::starting_at(&base);
        z.learn(&s, 11, &c, &strong, 1.0);
        assert!(dist(&z.params(), &vec![0.0; 72]) < dist(&z.params(), &base.params()));
    }

    #[test]
    fn logistic_head_learns_a_separable_signal() {
        let mut h = Logistic::new(vec![0.0; 2], 0.0);
        for _ in 0..500 {
            h.update(&[1.0, 0.0], true, 0.5);
            h.update(&[0.0, 1.0], false, 0.5);
        }
        assert!(h.predict(&[1.0, 0.0]) > 0.9);
        assert!(h.predict(&[0.0, 1.0]) < 0.1);
    }

    #[test]
    fn options_are_range_checked() {
        assert!(HeadOptions {
            alpha: Some(1.5),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(HeadOptions {
            learning_rate: f32::NAN,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(HeadOptions::default().validate().is_ok());
    }
}
