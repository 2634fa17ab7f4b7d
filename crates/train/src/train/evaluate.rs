//! Full-catalog evaluation in candle: one model, or members and their ensemble in one pass; teachers.

use anyhow::{bail, Result};
use candle_core::Tensor;

use nextclick_data::Event;
use nextclick_model::rank::{rank_of, Metrics};

use super::{batch::*, encode::*, net::*, ops::*};

/// Full-ranking evaluation of `cases` in candle (the framework side).
pub fn evaluate(
    net: &Net,
    item_table: &Tensor,
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Metrics> {
    let member = Teacher {
        net,
        table: item_table.clone(),
    };
    let mut m = evaluate_members(std::slice::from_ref(&member), cases, batch)?;
    Ok(m.remove(0))
}

/// A frozen model whose next-item distribution is a distillation target ([`batch_loss`]) or a member of
/// a scored ensemble ([`evaluate_ensemble`]): the net and its item vectors of the whole catalog, computed
/// once.
pub struct Teacher<'a> {
    /// The teacher.
    pub net: &'a Net,
    /// Its item vectors `[V, D]` (detached).
    pub table: Tensor,
}

impl<'a> Teacher<'a> {
    /// `net` as a teacher over the catalog `content` (ignored by an ID model).
    pub fn new(net: &'a Net, content: Option<&Tensor>) -> Result<Self> {
        Ok(Self {
            net,
            table: net.item_vectors(content)?.detach(),
        })
    }
}

/// Log of the mean of the distributions `softmax(logits_i / tau)` (`[n, C]` each): the soft targets of an
/// ensemble, computed in log space (a member's tiny probabilities do not underflow to `log 0`).
pub fn log_mean_softmax(logits: &[Tensor], tau: f64) -> Result<Tensor> {
    let ls = logits
        .iter()
        .map(|l| Ok(log_softmax(&(l / tau)?)?))
        .collect::<Result<Vec<_>>>()?;
    match ls.len() {
        0 => bail!("no members"),
        1 => Ok(ls[0].clone()),
        m => {
            let st = Tensor::stack(&ls, 0)?;
            let mx = st.max_keepdim(0)?;
            let lse = (st.broadcast_sub(&mx)?.exp()?.sum_keepdim(0)?.log()? + mx)?.squeeze(0)?;
            Ok((lse - (m as f64).ln())?)
        }
    }
}

/// [`evaluate`] for an ensemble: items ranked by the mean of the members' next-item distributions
/// (each member's scores divided by its temperature). One member ranks as [`evaluate`] does.
pub fn evaluate_ensemble(
    members: &[Teacher],
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Metrics> {
    let mut m = evaluate_members(members, cases, batch)?;
    Ok(m.pop().expect("one metrics per member at least"))
}

/// [`evaluate`] of each member and, for more than one, of their ensemble (as [`evaluate_ensemble`]) in
/// one pass: each member encodes every batch once. Returns the members' metrics in order, then the
/// ensemble's.
pub fn evaluate_members(
    members: &[Teacher],
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Vec<Metrics>> {
    anyhow::ensure!(!members.is_empty(), "no members");
    let ensemble = members.len() > 1;
    let mut ms = vec![Metrics::default(); members.len() + usize::from(ensemble)];
    let tables = members
        .iter()
        .map(|t| Ok(t.table.t()?.contiguous()?))
        .collect::<Result<Vec<_>>>()?;
    let mut logits = Vec::with_capacity(members.len());
    for chunk in cases.chunks(batch.max(1)) {
        let ex: Vec<(&[Event], &[u32])> =
            chunk.iter().map(|(h, _)| (h.as_slice(), &[][..])).collect();
        let hists: Vec<Vec<u32>> = chunk
            .iter()
            .map(|(h, _)| h.iter().map(|e| e.item).collect())
            .collect();
        let rank_all = |m: &mut Metrics, scores: Vec<Vec<f32>>| {
            for (((_, tgt), hist), sc) in chunk.iter().zip(&hists).zip(scores) {
                m.add(rank_of(&sc, *tgt as usize, hist));
            }
        };
        logits.clear();
        for ((t, tt), m) in members.iter().zip(&tables).zip(ms.iter_mut()) {
            let bt = Batch::new(&ex, t.net.cfg.encoder.max_len);
            let raw = session_vectors(t.net, &t.table, &bt)?.matmul(tt)?;
            rank_all(m, raw.to_vec2::<f32>()?);
            if ensemble {
                logits.push((raw / t.net.cfg.temperature as f64)?);
            }
        }
        if ensemble {
            let scores = log_mean_softmax(&logits, 1.0)?.to_vec2::<f32>()?;
            rank_all(ms.last_mut().expect("ensemble slot"), scores);
        }
    }
    Ok(ms.into_iter().map(|m| m.finish()).collect())
}
