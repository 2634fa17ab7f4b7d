//! Full-catalog ranking metrics of the paper protocol (Recall@10/50, NDCG@10/50), shared by the trainer's
//! evaluation (candle) and `eval-loo` (through tract), so both report the same figures the same way.

/// Ranking metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Recall@10.
    pub r10: f64,
    /// NDCG@10.
    pub n10: f64,
    /// Recall@50.
    pub r50: f64,
    /// NDCG@50.
    pub n50: f64,
    /// Cases evaluated.
    pub n: usize,
}

impl Metrics {
    /// Accumulates one case whose target has `rank` (0 = best).
    pub fn add(&mut self, rank: usize) {
        self.n += 1;
        let g = 1.0 / ((rank as f64) + 2.0).log2();
        if rank < 10 {
            self.r10 += 1.0;
            self.n10 += g;
        }
        if rank < 50 {
            self.r50 += 1.0;
            self.n50 += g;
        }
    }
    /// Means over the accumulated cases.
    pub fn finish(mut self) -> Metrics {
        let n = self.n.max(1) as f64;
        self.r10 /= n;
        self.n10 /= n;
        self.r50 /= n;
        self.n50 /= n;
        self
    }
}

/// Rank of `target` among `scores` (number of items scoring strictly higher), with the `excluded` items
/// (the user's history, as in RecBole's full-sort evaluation) removed from the ranking.
pub fn rank_of(scores: &[f32], target: usize, excluded: &[u32]) -> usize {
    let st = scores[target];
    let mut rank = scores.iter().filter(|&&s| s > st).count();
    let mut seen = std::collections::HashSet::new();
    for &e in excluded {
        let e = e as usize;
        if e != target && seen.insert(e) && scores[e] > st {
            rank -= 1;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_excludes_history() {
        let s = [0.9f32, 0.5, 0.7, 0.1];
        assert_eq!(rank_of(&s, 1, &[]), 2);
        assert_eq!(rank_of(&s, 1, &[0, 0, 1]), 1);
        assert_eq!(rank_of(&s, 0, &[2]), 0);
    }
}
