//! The training loss of a batch: softmax over catalog items (full or sampled), optional soft targets.

use std::collections::HashMap;

use anyhow::{bail, Result};
use candle_core::{Tensor, Var};

use nextclick_model::encoder::SplitMix;

use super::optim::{TableRows, ID_TABLE};
use super::sources::Domain;
use super::{batch::*, encode::*, evaluate::*, fit::*, net::*, ops::*};

/// One optimisation step's loss terms on `batch`; returns (loss tensor, scored positions). With
/// `teachers` (and `opts.distill_alpha > 0`) the soft targets are the mean of their next-item
/// distributions at temperature `opts.distill_temp` (one teacher, or an ensemble).
pub fn batch_loss(
    net: &Net,
    content: Option<&Tensor>,
    batch: &Batch,
    opts: &TrainOptions,
    teachers: &[Teacher],
    rng: &mut SplitMix,
) -> Result<(Tensor, usize)> {
    let domain = Domain::whole(net, content)?;
    let (loss, n, _) = batch_loss_rows(
        net, content, None, domain, batch, opts, teachers, rng, false,
    )?;
    Ok((loss, n))
}

/// [`batch_loss`] for the trainers, returning also the ID table's rows the loss read ([`TableRows`]).
///
/// `input_content`, when given (same shape as `content`), feeds the encoder and `content` the softmax.
/// Text-encoder fine-tuning gives fresh rows to the inputs only, so the candidates never tell a batch's
/// items (fresh) from the rest (stale) — which would leak the targets.
///
/// With `split_table` (the optimiser trains the ID table row by row,
/// [`super::optim::Optimiser::sparse_table`]) and sampled negatives, the ID table's rows the batch reads
/// become their own leaf variable, returned as [`TableRows`]: the gradient is then theirs, not a dense
/// `[V, D]` one. Same loss value either way.
///
/// `domain` says which items the batch's indices (inputs and targets, local to the domain) are and which
/// items the softmax runs over: the content rows `offset..offset + len` (the tower), or the rows of the
/// ID table of an ID-only source ([`Domain::Ids`]); negatives are drawn from the domain only.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_loss_rows(
    net: &Net,
    content: Option<&Tensor>,
    input_content: Option<&Tensor>,
    domain: Domain,
    batch: &Batch,
    opts: &TrainOptions,
    teachers: &[Teacher],
    rng: &mut SplitMix,
    split_table: bool,
) -> Result<(Tensor, usize, Option<TableRows>)> {
    let dev = &net.device;
    let n_items = domain.len();
    let narrow = |c: Option<&Tensor>| -> Result<Option<Tensor>> {
        match (domain, c) {
            (Domain::Content { offset, len }, Some(c)) if net.cfg.id_items == 0 => {
                Ok(Some(c.narrow(0, offset, len)?))
            }
            _ => Ok(None),
        }
    };
    let content = narrow(content)?;
    let input_content = narrow(input_content)?;
    let (content, input_content) = (content.as_ref(), input_content.as_ref());
    anyhow::ensure!(
        teachers.is_empty() || domain == Domain::whole(net, content)?,
        "distillation scores one catalog: not with several sources"
    );
    let d = net.cfg.encoder.dim;
    let valid: Vec<u32> = (0..batch.b * batch.t)
        .filter(|&i| batch.targets[i] != u32::MAX)
        .map(|i| i as u32)
        .collect();
    if valid.is_empty() {
        bail!("batch without targets");
    }
    let targets: Vec<u32> = valid.iter().map(|&i| batch.targets[i as usize]).collect();
    // candidate set: the whole catalog, or the batch's targets plus shared uniform negatives. With sampling,
    // only the items the batch touches (candidates first, then the inputs) go through the tower.
    let sampled = opts.negatives > 0 && opts.negatives < n_items;
    let (subset, n_cand, tgt, local_batch): (Option<Vec<u32>>, usize, Vec<u32>, Option<Batch>) =
        if !sampled {
            (None, n_items, targets.clone(), None)
        } else {
            let mut pos: HashMap<u32, u32> = HashMap::new();
            let mut cand: Vec<u32> = Vec::new();
            let tgt = targets
                .iter()
                .map(|&t| {
                    *pos.entry(t).or_insert_with(|| {
                        cand.push(t);
                        (cand.len() - 1) as u32
                    })
                })
                .collect();
            let want = (cand.len() + opts.negatives).min(n_items);
            let mut guard = 0;
            while cand.len() < want && guard < opts.negatives * 20 {
                guard += 1;
                let c = rng.below(n_items) as u32;
                if let std::collections::hash_map::Entry::Vacant(e) = pos.entry(c) {
                    e.insert(cand.len() as u32);
                    cand.push(c);
                }
            }
            let n_cand = cand.len();
            let mut lb = batch.clone();
            for (k, it) in lb.items.iter_mut().enumerate() {
                if batch.mask[k] > 0.0 {
                    let next = cand.len() as u32;
                    let local = *pos.entry(*it).or_insert_with(|| {
                        cand.push(*it);
                        next
                    });
                    *it = local;
                } else {
                    *it = 0;
                }
            }
            (Some(cand), n_cand, tgt, Some(lb))
        };
    let subset_t = subset
        .as_ref()
        .map(|c| Tensor::from_vec(c.clone(), c.len(), dev))
        .transpose()?;
    let rows = match domain {
        // an ID-only source's rows are always split off (with a full softmax, all of its rows), so a
        // step never touches another source's rows or their moments
        Domain::Ids { offset, len } if split_table => {
            let global: Vec<u32> = match &subset {
                Some(cand) => cand.iter().map(|&c| c + offset as u32).collect(),
                None => (offset as u32..(offset + len) as u32).collect(),
            };
            let at = Tensor::from_vec(global.clone(), global.len(), dev)?;
            Some(TableRows {
                var: Var::from_tensor(&net.p(ID_TABLE).index_select(&at, 0)?.detach())?,
                rows: global,
            })
        }
        Domain::Content { .. } => {
            let has_table = net.cfg.id_items > 0 || net.cfg.id_residual > 0;
            match (&subset, &subset_t) {
                (Some(cand), Some(u)) if split_table && has_table => Some(TableRows {
                    rows: cand.clone(),
                    var: Var::from_tensor(&net.p(ID_TABLE).index_select(u, 0)?.detach())?,
                }),
                _ => None,
            }
        }
        Domain::Ids { .. } => None,
    };
    let id_rows = rows.as_ref().map(|r| r.var.as_tensor());
    let vectors = |n: &Net, c: Option<&Tensor>| match domain {
        Domain::Content { .. } => n.item_vectors_with(c, subset_t.as_ref(), id_rows),
        Domain::Ids { offset, len } => n.source_id_vectors(offset, len, subset_t.as_ref(), id_rows),
    };
    let batch = local_batch.as_ref().unwrap_or(batch);
    let table = vectors(net, content)?;
    let in_table = match input_content {
        Some(c) => vectors(net, Some(c))?,
        None => table.clone(),
    };
    let mut drop_rng = SplitMix(rng.next_u64());
    let hs = encode(net, &in_table, batch, opts.dropout, Some(&mut drop_rng))?;
    let vidx = Tensor::from_vec(valid.clone(), valid.len(), dev)?;
    let h = hs.reshape((batch.b * batch.t, d))?.index_select(&vidx, 0)?;
    let cvec = table.narrow(0, 0, n_cand)?;
    let logits = (h.matmul(&cvec.t()?)? / net.cfg.temperature as f64)?;
    let tgt_t = Tensor::from_vec(tgt, targets.len(), dev)?;
    let lsm = log_softmax(&logits)?;
    let hard = lsm.gather(&tgt_t.unsqueeze(1)?, 1)?.neg()?.mean_all()?;
    let loss = if teachers.is_empty() || opts.distill_alpha <= 0.0 {
        hard
    } else {
        let mut tls = Vec::with_capacity(teachers.len());
        for t in teachers {
            anyhow::ensure!(
                t.table.dim(0)? == n_items,
                "a teacher scores {} items, the student {n_items}: not the same catalog",
                t.table.dim(0)?
            );
            let tn = t.net;
            let ttable = match &subset_t {
                Some(u) => t.table.index_select(u, 0)?,
                None => t.table.clone(),
            };
            let ths = encode(tn, &ttable, batch, 0.0, None)?;
            let th = ths
                .reshape((batch.b * batch.t, tn.cfg.encoder.dim))?
                .index_select(&vidx, 0)?;
            tls.push((th.matmul(&ttable.narrow(0, 0, n_cand)?.t()?)? / tn.cfg.temperature as f64)?);
        }
        let tau = opts.distill_temp as f64;
        let lpt = log_mean_softmax(&tls, tau)?.detach();
        let pt = lpt.exp()?;
        let lps = log_softmax(&(&logits / tau)?)?;
        let kl = (pt * (lpt - lps)?)?.sum(1)?.mean_all()?;
        let a = opts.distill_alpha as f64;
        ((kl * (a * tau * tau))? + (hard * (1.0 - a))?)?
    };
    Ok((loss, targets.len(), rows))
}
