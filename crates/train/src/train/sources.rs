//! Multi-source pre-training: one backbone trained on several platforms at once (issue #22).
//!
//! A titled source (the platform the exported model is for) reaches its items through the item tower, as in
//! a one-source run. An ID-only clickstream (no item content: yoochoose, diginetica, retailrocket, …) has a
//! range of rows of its own in the net's ID table (`idemb`, [`super::NetConfig::aux_items`] rows over all
//! such sources), trained with the backbone and never exported. What the ID-only sources teach is what does
//! not depend on content — event types, real time gaps, repeats, session lengths — through the shared
//! encoder, whose event-type and time-gap embeddings a purchases-only, ordinal source leaves at zero.
//!
//! Each batch comes from one source ([`Domain`]); its softmax runs over that source's items only (all of
//! them, or its targets plus negatives drawn from the same source), so no source's items are ever
//! negatives of another's. Which source the next batch comes from is drawn per step with probability
//! ∝ `batches^alpha` ([`epoch_schedule`]): `alpha = 1` samples in proportion to the data, `0` uniformly
//! over the sources, in between (0.5, the default) up-weights the small ones — the temperature sampling of
//! multilingual training. An epoch is as many steps as all sources have batches.

use anyhow::Result;
use candle_core::Tensor;

use nextclick_model::encoder::SplitMix;

use super::net::Net;
use nextclick_data::split::LooSplit;

/// The fingerprint of an ID table's layout ([`super::NetConfig::aux_layout`]): SHA-256 over every ID-only
/// source's item IDs in row order (each source's row count first, so the boundaries count too), its first
/// 8 bytes. Never 0 for a non-empty layout, so 0 can mean "unknown".
pub fn id_layout<'a>(sources: impl IntoIterator<Item = &'a [nextclick_data::Item]>) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut any = false;
    for items in sources {
        any = true;
        h.update((items.len() as u64).to_le_bytes());
        for it in items {
            h.update((it.id.len() as u64).to_le_bytes());
            h.update(it.id.as_bytes());
        }
    }
    if !any {
        return 0;
    }
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes")).max(1)
}

/// Which items a batch's indices are and which items its softmax runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Content rows `offset..offset + len` through the tower (or, for the ID preset, its ID table).
    Content {
        /// First row.
        offset: usize,
        /// Rows.
        len: usize,
    },
    /// Rows `offset..offset + len` of the ID-only sources' table (`idemb` of a multi-source net).
    Ids {
        /// First row.
        offset: usize,
        /// Rows.
        len: usize,
    },
}

impl Domain {
    /// The whole catalog of a one-source net: every content row, or the ID preset's table.
    pub fn whole(net: &Net, content: Option<&Tensor>) -> Result<Domain> {
        let len = match content {
            Some(c) if net.cfg.id_items == 0 => c.dim(0)?,
            _ => net.cfg.id_items,
        };
        Ok(Domain::Content { offset: 0, len })
    }

    /// Items in the domain.
    pub fn len(&self) -> usize {
        match *self {
            Domain::Content { len, .. } | Domain::Ids { len, .. } => len,
        }
    }

    /// Whether the domain has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One source of a run: its name (for reports), its items and its leave-one-out split (item indices local
/// to the domain).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Name in logs and reports (e.g. the folder name).
    pub name: &'a str,
    /// Its items.
    pub domain: Domain,
    /// Its training, validation and test cases.
    pub split: &'a LooSplit,
}

/// Which validation scores choose the epoch in multi-source training: early stopping, the plateau
/// decays and the checkpoint written all follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    /// The first source's validation NDCG@10: the `--data` platform, the one the exported model is for
    /// (the default). The ID-only sources train the backbone but do not choose it: an easy clickstream's
    /// gains cannot hide the exported source's losses.
    #[default]
    First,
    /// The mean of every source's validation NDCG@10 (each source weighs the same, whatever its size).
    Mean,
}

impl std::str::FromStr for Selection {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "first" => Ok(Selection::First),
            "mean" => Ok(Selection::Mean),
            _ => anyhow::bail!("selection {s:?}: expected first or mean"),
        }
    }
}

/// What training did with one source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceStats {
    /// The source's name.
    pub name: String,
    /// Its batches (one pass over its training sequences).
    pub batches_per_epoch: usize,
    /// Its share of the steps ([`epoch_schedule`]'s probability).
    pub weight: f64,
    /// Steps trained on it.
    pub steps: usize,
    /// Scored positions trained on it.
    pub tokens: usize,
    /// Validation NDCG@10 (its early-stopping subset, its own catalog) at the best epoch.
    pub best_valid_n10: f64,
    /// Validation Recall@10 at the best epoch.
    pub best_valid_r10: f64,
}

/// The probability of each source per step: `batches^alpha`, normalised (sources without batches: 0).
pub fn source_weights(batches: &[usize], alpha: f64) -> Vec<f64> {
    let raw: Vec<f64> = batches
        .iter()
        .map(|&b| if b == 0 { 0.0 } else { (b as f64).powf(alpha) })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter()
        .map(|w| if sum > 0.0 { w / sum } else { 0.0 })
        .collect()
}

/// One epoch's sources, step by step: `Σ batches` draws by [`source_weights`]. One source: every step is
/// its own, without a draw (so a one-source run is the same run as before multi-source training existed).
pub fn epoch_schedule(batches: &[usize], alpha: f64, rng: &mut SplitMix) -> Vec<usize> {
    let total: usize = batches.iter().sum();
    if batches.len() == 1 {
        return vec![0; total];
    }
    let w = source_weights(batches, alpha);
    let mut cum = Vec::with_capacity(w.len());
    let mut acc = 0.0;
    for x in &w {
        acc += x;
        cum.push(acc);
    }
    let last = w.iter().rposition(|&x| x > 0.0).unwrap_or(0);
    (0..total)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            cum.iter().position(|&c| u < c).unwrap_or(last)
        })
        .collect()
}

/// Every item vector of `domain`: the tower on its content rows (the ID preset's table), or its rows of
/// the ID-only sources' table. What validation and the final evaluation score a source's cases against.
pub fn source_vectors(net: &Net, content: Option<&Tensor>, domain: Domain) -> Result<Tensor> {
    match domain {
        Domain::Content { offset, len } => {
            let c = match content {
                Some(c) if net.cfg.id_items == 0 => Some(c.narrow(0, offset, len)?),
                _ => None,
            };
            net.item_vectors(c.as_ref())
        }
        Domain::Ids { offset, len } => net.source_id_vectors(offset, len, None, None),
    }
}

/// Shuffles `v` in place with `rng` (Fisher–Yates, the trainers' one order).
pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut SplitMix) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i + 1);
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_alpha() {
        let w = source_weights(&[100, 1], 1.0);
        assert!((w[0] - 100.0 / 101.0).abs() < 1e-12);
        let w = source_weights(&[100, 1], 0.0);
        assert_eq!(w, vec![0.5, 0.5]);
        let w = source_weights(&[100, 0, 4], 0.5);
        assert_eq!(w[1], 0.0);
        assert!((w[0] - 10.0 / 12.0).abs() < 1e-12 && (w[2] - 2.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn an_epoch_samples_every_source_in_proportion() {
        let mut rng = SplitMix(3);
        let s = epoch_schedule(&[900, 100, 0], 0.5, &mut rng);
        assert_eq!(s.len(), 1000);
        let count = |d: usize| s.iter().filter(|&&x| x == d).count() as f64;
        // weights 30/40 and 10/40 at alpha 0.5: ±5 standard deviations of a binomial(1000, 0.25)
        assert!((count(1) - 250.0).abs() < 5.0 * (1000.0f64 * 0.25 * 0.75).sqrt());
        assert_eq!(count(2), 0.0, "a source without batches is never drawn");
        assert_eq!(count(0) + count(1), 1000.0);
        // one source: no draws, so the run's random stream is untouched
        let mut a = SplitMix(5);
        let b = SplitMix(5);
        assert_eq!(epoch_schedule(&[7], 0.5, &mut a), vec![0; 7]);
        assert_eq!(a.0, b.0);
    }
}
