//! Metrics and their bootstrap intervals.
//!
//! Ranking metrics take the 0-based rank of the single target in the top-K list (`None` = not in it):
//! Recall@k = 1 if rank < k; MRR@k = 1/(rank+1) if rank < k; NDCG@k = 1/log2(rank+2) if rank < k (one
//! relevant item, so the ideal DCG is 1). Intervals are percentile bootstraps over **sessions** (the
//! unit whose events are correlated), deterministic in the seed, and paired across rows when the same
//! seed and units are used.

use nextclick_model::encoder::SplitMix;

/// Recall@k of one target.
pub fn recall_at(rank: Option<usize>, k: usize) -> f64 {
    match rank {
        Some(r) if r < k => 1.0,
        _ => 0.0,
    }
}

/// Reciprocal rank at k of one target.
pub fn mrr_at(rank: Option<usize>, k: usize) -> f64 {
    match rank {
        Some(r) if r < k => 1.0 / (r as f64 + 1.0),
        _ => 0.0,
    }
}

/// NDCG@k of one target (single relevant item).
pub fn ndcg_at(rank: Option<usize>, k: usize) -> f64 {
    match rank {
        Some(r) if r < k => 1.0 / (r as f64 + 2.0).log2(),
        _ => 0.0,
    }
}

/// 0-based rank of `target` in `list`.
pub fn rank_in(list: &[u32], target: u32) -> Option<usize> {
    list.iter().position(|&x| x == target)
}

/// ROC-AUC (Mann–Whitney U with average ranks for ties). `None` when one class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n = scores.len();
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// Precision, recall and F1 of `score ≥ threshold` (0 where undefined).
pub fn prf1(scores: &[f64], labels: &[bool], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            _ => {}
        }
    }
    let p = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let r = if tp + fneg > 0.0 {
        tp / (tp + fneg)
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

/// Mean squared error.
pub fn mse(pred: &[f64], truth: &[f64]) -> f64 {
    if pred.is_empty() {
        return 0.0;
    }
    pred.iter()
        .zip(truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / pred.len() as f64
}

/// A point estimate and its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// On the full sample.
    pub value: f64,
    /// 2.5th percentile of the bootstrap distribution.
    pub lo: f64,
    /// 97.5th percentile.
    pub hi: f64,
}

impl Estimate {
    /// `0.1234 [0.1100, 0.1350]`.
    pub fn fmt(&self, digits: usize) -> String {
        format!(
            "{:.d$} [{:.d$}, {:.d$}]",
            self.value,
            self.lo,
            self.hi,
            d = digits
        )
    }
}

/// Bootstrap resamples of `n_units` units: `b` index vectors, deterministic in `seed`.
pub fn resamples(n_units: usize, b: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut r = SplitMix(seed);
    (0..b)
        .map(|_| {
            (0..n_units)
                .map(|_| r.below(n_units.max(1)) as u32)
                .collect()
        })
        .collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Interval of `stat` evaluated on each resample.
pub fn interval(value: f64, mut stats: Vec<f64>) -> Estimate {
    stats.retain(|x| x.is_finite());
    stats.sort_by(f64::total_cmp);
    Estimate {
        value,
        lo: percentile(&stats, 0.025),
        hi: percentile(&stats, 0.975),
    }
}

/// Per-unit sums of a mean-type metric: `sum[u]` of values and `count[u]` of cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitSums {
    /// Sum of values per unit.
    pub sum: Vec<f64>,
    /// Cases per unit.
    pub count: Vec<f64>,
}

impl UnitSums {
    /// Sums of `values` grouped by `units` (`n_units` units).
    pub fn new(n_units: usize, units: &[u32], values: &[f64]) -> UnitSums {
        let mut s = UnitSums {
            sum: vec![0.0; n_units],
            count: vec![0.0; n_units],
        };
        for (&u, &v) in units.iter().zip(values) {
            s.sum[u as usize] += v;
            s.count[u as usize] += 1.0;
        }
        s
    }

    /// Mean over all cases.
    pub fn mean(&self) -> f64 {
        let c: f64 = self.count.iter().sum();
        if c == 0.0 {
            f64::NAN
        } else {
            self.sum.iter().sum::<f64>() / c
        }
    }

    /// Mean over the cases of a resample of units.
    pub fn mean_of(&self, sample: &[u32]) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for &u in sample {
            s += self.sum[u as usize];
            c += self.count[u as usize];
        }
        if c == 0.0 {
            f64::NAN
        } else {
            s / c
        }
    }

    /// Estimate with the bootstrap interval over `samples`.
    pub fn estimate(&self, samples: &[Vec<u32>]) -> Estimate {
        interval(
            self.mean(),
            samples.iter().map(|s| self.mean_of(s)).collect(),
        )
    }

    /// Paired difference `self − other` (same units) with its interval.
    pub fn diff(&self, other: &UnitSums, samples: &[Vec<u32>]) -> Estimate {
        interval(
            self.mean() - other.mean(),
            samples
                .iter()
                .map(|s| self.mean_of(s) - other.mean_of(s))
                .collect(),
        )
    }
}

/// ROC-AUC with a unit-bootstrap interval (`units[i]` is the unit of case `i`).
pub fn auc_estimate(
    scores: &[f64],
    labels: &[bool],
    units: &[u32],
    n_units: usize,
    samples: &[Vec<u32>],
) -> Option<Estimate> {
    let value = roc_auc(scores, labels)?;
    let mut by_unit: Vec<Vec<usize>> = vec![Vec::new(); n_units];
    for (i, &u) in units.iter().enumerate() {
        by_unit[u as usize].push(i);
    }
    let mut s = Vec::new();
    let mut l = Vec::new();
    let stats = samples
        .iter()
        .map(|sample| {
            s.clear();
            l.clear();
            for &u in sample {
                for &i in &by_unit[u as usize] {
                    s.push(scores[i]);
                    l.push(labels[i]);
                }
            }
            roc_auc(&s, &l).unwrap_or(f64::NAN)
        })
        .collect();
    Some(interval(value, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_metrics_by_hand() {
        // ranks 0, 2, miss, 15, 25 (miss at 20)
        let ranks = [Some(0), Some(2), None, Some(15), Some(25)];
        let r10: f64 = ranks.iter().map(|&r| recall_at(r, 10)).sum::<f64>() / 5.0;
        let r20: f64 = ranks.iter().map(|&r| recall_at(r, 20)).sum::<f64>() / 5.0;
        assert_eq!((r10, r20), (0.4, 0.6));
        let mrr: f64 = ranks.iter().map(|&r| mrr_at(r, 20)).sum::<f64>() / 5.0;
        assert!((mrr - (1.0 + 1.0 / 3.0 + 1.0 / 16.0) / 5.0).abs() < 1e-12);
        let ndcg: f64 = ranks.iter().map(|&r| ndcg_at(r, 20)).sum::<f64>() / 5.0;
        let want = (1.0 + 1.0 / 4f64.log2() + 1.0 / 17f64.log2()) / 5.0;
        assert!((ndcg - want).abs() < 1e-12);
        assert_eq!(ndcg_at(Some(1), 20), 1.0 / 3f64.log2());
        assert_eq!(rank_in(&[5, 7, 9], 9), Some(2));
        assert_eq!(rank_in(&[5, 7, 9], 1), None);
    }

    #[test]
    fn auc_by_hand_with_ties() {
        // positives 0.9, 0.5; negatives 0.5, 0.1 → pairs: (0.9>0.5) 1, (0.9>0.1) 1, (0.5=0.5) 0.5, (0.5>0.1) 1
        let s = [0.9, 0.5, 0.5, 0.1];
        let l = [true, true, false, false];
        assert_eq!(roc_auc(&s, &l), Some(3.5 / 4.0));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), Some(0.0));
    }

    #[test]
    fn prf1_and_mse_by_hand() {
        let (p, r, f) = prf1(&[0.9, 0.6, 0.4, 0.2], &[true, false, true, false], 0.5);
        assert_eq!((p, r), (0.5, 0.5));
        assert!((f - 0.5).abs() < 1e-12);
        assert_eq!(prf1(&[0.1], &[true], 0.5), (0.0, 0.0, 0.0));
        assert_eq!(mse(&[1.0, 2.0], &[2.0, 4.0]), 2.5);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_mean() {
        let a = resamples(50, 200, 7);
        assert_eq!(a, resamples(50, 200, 7));
        assert_ne!(a, resamples(50, 200, 8));
        let units: Vec<u32> = (0..200).map(|i| i % 50).collect();
        let vals: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let s = UnitSums::new(50, &units, &vals);
        let e = s.estimate(&a);
        assert!(e.lo <= e.value && e.value <= e.hi && e.lo < e.hi, "{e:?}");
        assert_eq!(e, s.estimate(&resamples(50, 200, 7)));
        let d = s.diff(&s, &a);
        assert_eq!((d.value, d.lo, d.hi), (0.0, 0.0, 0.0));
        let sc: Vec<f64> = vals.iter().map(|v| v + 0.05).collect();
        let lb: Vec<bool> = vals.iter().map(|&v| v > 0.5).collect();
        let auc = auc_estimate(&sc, &lb, &units, 50, &a).unwrap();
        assert_eq!(auc.value, 1.0);
    }
}
