//! The training loop: AdamW, plateau decays, early stopping, checkpoints; optionally with the text encoder.

use anyhow::{Context, Result};
use candle_core::Tensor;
use candle_nn::Optimizer;

use nextclick_data::Event;
use nextclick_model::encoder::SplitMix;
use nextclick_model::rank::Metrics;

use super::optim::{Optimiser, ID_TABLE};
use super::sources::{
    epoch_schedule, shuffle, source_vectors, source_weights, Domain, Selection, Source,
};
use super::{batch::*, evaluate::*, loss::*, net::*, sources::SourceStats};
use nextclick_data::split::LooSplit;

/// Training options.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Epoch limit.
    pub epochs: usize,
    /// Target tokens per batch (sessions are grouped by length).
    pub batch_tokens: usize,
    /// Learning rate (AdamW).
    pub lr: f64,
    /// Weight decay (AdamW).
    pub weight_decay: f64,
    /// Dropout probability.
    pub dropout: f32,
    /// Sampled negatives per batch (shared); 0 = full softmax over the catalog.
    pub negatives: usize,
    /// Seed of init, shuffling, sampling and dropout.
    pub seed: u64,
    /// Early-stopping patience in epochs.
    pub patience: usize,
    /// Learning-rate decay on a plateau: when validation has not improved for `patience` epochs, training
    /// goes back to the best checkpoint's weights, multiplies the learning rate by `lr_decay` and goes on
    /// with fresh optimiser moments, at most `lr_decays` times; only then does it stop early. 0 decays
    /// (the default): stop at the first plateau.
    pub lr_decay: f64,
    /// How many times the learning rate may be decayed (see `lr_decay`).
    pub lr_decays: usize,
    /// Validation cases used for early stopping (a fixed subset).
    pub valid_cases: usize,
    /// Wall-time limit in minutes (training stops after the epoch that crosses it).
    pub max_minutes: f64,
    /// Trainable parameter prefixes (`enc.`, `tower.`, `idemb`).
    pub trainable: Vec<String>,
    /// Distillation weight of the soft targets (0 = hard targets only).
    pub distill_alpha: f32,
    /// Distillation temperature.
    pub distill_temp: f32,
    /// Where the best checkpoint goes.
    pub checkpoint: Option<std::path::PathBuf>,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 20,
            batch_tokens: 1024,
            lr: 2e-3,
            weight_decay: 0.0,
            dropout: 0.2,
            negatives: 0,
            seed: 1,
            patience: 3,
            lr_decay: 0.15,
            lr_decays: 0,
            valid_cases: 2000,
            max_minutes: 15.0,
            trainable: vec!["enc.".into(), "tower.".into(), "idemb".into()],
            distill_alpha: 0.0,
            distill_temp: 2.0,
            checkpoint: None,
            progress: true,
        }
    }
}

/// What a training run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: usize,
    /// Best validation NDCG@10 (on the early-stopping subset).
    pub best_valid_n10: f64,
    /// Epoch of the best validation score (1-based).
    pub best_epoch: usize,
    /// Mean training loss per epoch.
    pub losses: Vec<f64>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Tokens (scored positions) per second.
    pub tokens_per_sec: f64,
    /// Learning-rate decays taken on plateaus.
    pub lr_decays: usize,
    /// Each source's share (one entry for a one-source run; [`train_sources`]).
    pub sources: Vec<SourceStats>,
}

/// The trainable prefixes of `opts` and a maker of the optimiser over their variables at a learning rate
/// (with `opts.weight_decay`; AdamW, row by row for the ID table: [`super::optim`]), after the checks both
/// trainers make: some variable is trainable and the plateau decay factor is in (0, 1). Shared by
/// [`train_with_text`] and the streaming trainer.
pub(crate) fn optimiser<'o>(
    net: &Net,
    opts: &'o TrainOptions,
) -> Result<(Vec<&'o str>, impl Fn(f64) -> Result<Optimiser>)> {
    let prefixes: Vec<&str> = opts.trainable.iter().map(|s| s.as_str()).collect();
    let vars = net.vars_with_prefix(&prefixes);
    anyhow::ensure!(
        !vars.is_empty(),
        "no trainable parameters for prefixes {prefixes:?}"
    );
    anyhow::ensure!(
        opts.lr_decays == 0 || (opts.lr_decay > 0.0 && opts.lr_decay < 1.0),
        "learning-rate decay factor {} must be in (0, 1)",
        opts.lr_decay
    );
    let weight_decay = opts.weight_decay;
    let table = net.vars_with_prefix(&[ID_TABLE]).into_iter().next();
    let make = move |lr: f64| Optimiser::new(vars.clone(), table.clone(), lr, weight_decay);
    Ok((prefixes, make))
}

/// Trains `net` on `split` (content embeddings `content` `[V, C]` for tower models).
pub fn train(
    net: &mut Net,
    content: Option<&Tensor>,
    split: &LooSplit,
    opts: &TrainOptions,
    teachers: &[Teacher],
) -> Result<TrainReport> {
    train_with_text(net, content, split, opts, teachers, None)
}

/// Fine-tuning the text encoder with the tower (see [`crate::textft`]).
pub struct TextTuning<'a> {
    /// The tuner (its item order is the catalog's).
    pub tuner: &'a crate::textft::TextTuner,
    /// Learning rate of its layers (scaled by the same plateau decays as `opts.lr`).
    pub lr: f64,
    /// `(source folder, output folder)`: the best epoch's encoder is written there as a model folder.
    pub save: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// At most this many of the items in a batch's inputs get fresh (differentiable) content rows, drawn
    /// at random each step; the other inputs and every candidate use the last refresh. 0 = every input.
    pub rows: usize,
}

/// [`train`], optionally fine-tuning the text encoder too (`text`): the content rows of (up to
/// `text.rows` of) the items in each batch's inputs are recomputed through the tuner's trainable layers
/// (differentiable); the softmax over the catalog uses the content of the last refresh (after each
/// epoch) for every item, so fresh rows never mark the batch's targets. `content` is then ignored (the
/// tuner gives it).
pub fn train_with_text(
    net: &mut Net,
    content: Option<&Tensor>,
    split: &LooSplit,
    opts: &TrainOptions,
    teachers: &[Teacher],
    text: Option<TextTuning>,
) -> Result<TrainReport> {
    // with the text encoder tuned, `content` is ignored: the tuner's items are the catalog
    let domain = match &text {
        Some(t) if net.cfg.id_items == 0 => Domain::Content {
            offset: 0,
            len: t.tuner.len(),
        },
        _ => Domain::whole(net, content)?,
    };
    let source = Source {
        name: "train",
        domain,
        split,
    };
    let one = Mixing {
        alpha: 1.0,
        select: Selection::First,
    };
    fit(net, content, &[source], one, opts, teachers, text)
}

/// Multi-source pre-training ([`super::sources`]): `net` (with [`NetConfig::aux_items`] rows for the
/// ID-only sources) on every source of `sources`, each batch from one of them, drawn per step with
/// probability ∝ `batches^alpha`. Early stopping, the plateau decays and the checkpoint follow `select`
/// ([`Selection`]: the first source's validation NDCG@10, or the mean of all sources', each on its own
/// catalog). `content` holds the titled sources' content rows.
pub fn train_sources(
    net: &mut Net,
    content: Option<&Tensor>,
    sources: &[Source],
    alpha: f64,
    select: Selection,
    opts: &TrainOptions,
) -> Result<TrainReport> {
    anyhow::ensure!(!sources.is_empty(), "no source to train on");
    anyhow::ensure!(
        alpha.is_finite() && alpha >= 0.0,
        "source sampling exponent {alpha} must be a number ≥ 0"
    );
    for s in sources {
        if let Domain::Ids { offset, len } = s.domain {
            anyhow::ensure!(
                offset + len <= net.cfg.aux_items,
                "source {}: ID rows {offset}..{} beyond the net's {} (NetConfig::aux_items)",
                s.name,
                offset + len,
                net.cfg.aux_items
            );
        }
    }
    fit(
        net,
        content,
        sources,
        Mixing { alpha, select },
        opts,
        &[],
        None,
    )
}

/// How the sources of one run are mixed: the sampling exponent and the selection.
#[derive(Clone, Copy)]
struct Mixing {
    alpha: f64,
    select: Selection,
}

fn fit(
    net: &mut Net,
    content: Option<&Tensor>,
    sources: &[Source],
    mixing: Mixing,
    opts: &TrainOptions,
    teachers: &[Teacher],
    text: Option<TextTuning>,
) -> Result<TrainReport> {
    let Mixing { alpha, select } = mixing;
    let t0 = std::time::Instant::now();
    anyhow::ensure!(
        sources.len() == 1 || (teachers.is_empty() && text.is_none()),
        "distillation and text-encoder fine-tuning train one source"
    );
    if text.is_some() {
        anyhow::ensure!(
            net.cfg.id_items == 0,
            "an ID model has no content to fine-tune"
        );
    }
    for t in teachers {
        anyhow::ensure!(
            t.net.cfg.encoder.max_len == net.cfg.encoder.max_len,
            "a teacher reads {} events, the student {}",
            t.net.cfg.encoder.max_len,
            net.cfg.encoder.max_len
        );
    }
    let (prefixes, adamw) = optimiser(net, opts)?;
    let mut lr = opts.lr;
    let mut opt = adamw(lr)?;
    let text_adamw = |lr: f64| -> Result<Option<candle_nn::AdamW>> {
        text.as_ref()
            .map(|t| {
                candle_nn::AdamW::new(
                    t.tuner.vars(),
                    candle_nn::ParamsAdamW {
                        lr: t.lr * lr / opts.lr,
                        weight_decay: 0.0,
                        ..Default::default()
                    },
                )
            })
            .transpose()
            .map_err(Into::into)
    };
    let mut topt = text_adamw(lr)?;
    let mut content_now: Option<Tensor> = match &text {
        Some(t) => Some(t.tuner.encode_all()?),
        None => content.cloned(),
    };
    let mut best_text: Option<Vec<Tensor>> = None;
    let mut decays = 0;
    let max_len = net.cfg.encoder.max_len;
    let batches: Vec<Vec<Vec<usize>>> = sources
        .iter()
        .map(|s| make_batches(&s.split.train, opts.batch_tokens, max_len))
        .collect();
    let counts: Vec<usize> = batches.iter().map(|b| b.len()).collect();
    let weights = source_weights(&counts, alpha);
    let mut rng = SplitMix(opts.seed ^ 0x5eed);
    let mut sched_rng = SplitMix(opts.seed ^ 0xd0a1);
    let mut vr = SplitMix(opts.seed ^ 0x7a11d);
    let valid: Vec<Vec<(Vec<Event>, u32)>> = sources
        .iter()
        .map(|s| {
            let mut v = s.split.valid.clone();
            shuffle(&mut v, &mut vr);
            v.truncate(opts.valid_cases);
            v
        })
        .collect();
    let mut stats: Vec<SourceStats> = sources
        .iter()
        .zip(&counts)
        .zip(&weights)
        .map(|((s, &b), &w)| SourceStats {
            name: s.name.to_string(),
            batches_per_epoch: b,
            weight: w,
            steps: 0,
            tokens: 0,
            best_valid_n10: f64::NAN,
            best_valid_r10: f64::NAN,
        })
        .collect();
    let mut best = f64::NEG_INFINITY;
    let mut best_epoch = 0;
    let mut bad = 0;
    let mut losses = Vec::new();
    let mut tokens = 0usize;
    let mut epochs = 0;
    for epoch in 1..=opts.epochs {
        epochs = epoch;
        let mut orders: Vec<Vec<usize>> = counts.iter().map(|&n| (0..n).collect()).collect();
        for o in orders.iter_mut() {
            shuffle(o, &mut rng);
        }
        let mut cursor = vec![0usize; sources.len()];
        let schedule = epoch_schedule(&counts, alpha, &mut sched_rng);
        let pb = if opts.progress {
            indicatif::ProgressBar::new(schedule.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "epoch {prefix} {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .expect("valid template"),
        );
        pb.set_prefix(format!("{epoch}/{}", opts.epochs));
        let (mut sum, mut cnt) = (0f64, 0usize);
        for &si in &schedule {
            // a source drawn more often than it has batches starts a fresh pass over them
            if cursor[si] == orders[si].len() {
                shuffle(&mut orders[si], &mut rng);
                cursor[si] = 0;
            }
            let bi = orders[si][cursor[si]];
            cursor[si] += 1;
            let (src, train) = (&sources[si], &sources[si].split.train);
            let ex: Vec<(&[Event], &[u32])> = batches[si][bi]
                .iter()
                .map(|&i| (train[i].inputs.as_slice(), train[i].targets.as_slice()))
                .collect();
            let offsets: Vec<u64> = batches[si][bi].iter().map(|&i| train[i].offset).collect();
            let batch = Batch::with_offsets(&ex, &offsets, max_len);
            let split_table = opt.sparse_table();
            let (loss, n, rows) = match &text {
                None => batch_loss_rows(
                    net,
                    content_now.as_ref(),
                    None,
                    src.domain,
                    &batch,
                    opts,
                    teachers,
                    &mut rng,
                    split_table,
                )?,
                Some(t) => {
                    let mut touched = input_items(&batch);
                    if t.rows > 0 && touched.len() > t.rows {
                        for i in 0..t.rows {
                            let j = i + rng.below(touched.len() - i);
                            touched.swap(i, j);
                        }
                        touched.truncate(t.rows);
                        touched.sort_unstable();
                    }
                    let fresh = t.tuner.encode(&touched)?;
                    let stale = content_now.as_ref().context("content of the tuner")?;
                    let c = crate::textft::with_fresh_rows(stale, &touched, &fresh)?;
                    batch_loss_rows(
                        net,
                        Some(stale),
                        Some(&c),
                        src.domain,
                        &batch,
                        opts,
                        teachers,
                        &mut rng,
                        split_table,
                    )?
                }
            };
            let lv = loss.to_scalar::<f32>()? as f64;
            anyhow::ensure!(lv.is_finite(), "loss became {lv} at epoch {epoch}");
            let grads = loss.backward()?;
            opt.step(&grads, rows.as_ref())?;
            if let Some(o) = topt.as_mut() {
                o.step(&grads)?;
            }
            sum += lv * n as f64;
            cnt += n;
            tokens += n;
            stats[si].steps += 1;
            stats[si].tokens += n;
            pb.set_message(format!(
                "loss {:.4} {:.0} tok/s",
                sum / cnt as f64,
                tokens as f64 / t0.elapsed().as_secs_f64()
            ));
            pb.inc(1);
        }
        let mean = sum / cnt.max(1) as f64;
        losses.push(mean);
        if let Some(t) = &text {
            content_now = Some(t.tuner.encode_all()?);
        }
        let mut per_source = Vec::with_capacity(sources.len());
        for (s, v) in sources.iter().zip(&valid) {
            let table = source_vectors(net, content_now.as_ref(), s.domain)?;
            per_source.push(evaluate(net, &table, v, 256)?);
        }
        let mean_all = mean_metrics(&per_source);
        let m = match select {
            Selection::First => per_source[0],
            Selection::Mean => mean_all,
        };
        let each = if sources.len() > 1 {
            let parts: Vec<String> = sources
                .iter()
                .zip(&per_source)
                .map(|(s, x)| format!("{} {:.4}", s.name, x.n10))
                .collect();
            format!(
                " ({}; mean {:.4}; chosen on {select:?})",
                parts.join(", "),
                mean_all.n10
            )
        } else {
            String::new()
        };
        pb.finish_with_message(format!(
            "loss {mean:.4} valid N@10 {:.4}{each} R@10 {:.4}",
            m.n10, m.r10
        ));
        if !opts.progress || pb.is_hidden() {
            // no terminal (logs, make): the bars are hidden, so print the epoch summary
            eprintln!(
                "epoch {epoch}: loss {mean:.4} valid N@10 {:.4}{each} R@10 {:.4} ({:.0} s, {:.0} tokens/s)",
                m.n10,
                m.r10,
                t0.elapsed().as_secs_f64(),
                tokens as f64 / t0.elapsed().as_secs_f64()
            );
        }
        if m.n10 > best {
            best = m.n10;
            best_epoch = epoch;
            bad = 0;
            for (st, x) in stats.iter_mut().zip(&per_source) {
                st.best_valid_n10 = x.n10;
                st.best_valid_r10 = x.r10;
            }
            if let Some(p) = &opts.checkpoint {
                net.save(p)?;
            }
            if let Some(t) = &text {
                best_text = Some(t.tuner.snapshot()?);
                if let Some((src, out)) = &t.save {
                    t.tuner.save(src, out)?;
                }
            }
        } else {
            bad += 1;
            if bad >= opts.patience {
                if decays == opts.lr_decays {
                    eprintln!("early stop: no validation gain for {bad} epochs (best N@10 {best:.4} at epoch {best_epoch})");
                    break;
                }
                // back to the best weights (set in place, so the optimiser's variables stay the same),
                // a lower learning rate, fresh moments
                if let (Some(p), true) = (&opts.checkpoint, best_epoch > 0) {
                    net.copy_from(&Net::load(p)?, &prefixes)?;
                }
                if let (Some(t), Some(b)) = (&text, &best_text) {
                    t.tuner.restore(b)?;
                    content_now = Some(t.tuner.encode_all()?);
                }
                decays += 1;
                lr *= opts.lr_decay;
                opt = adamw(lr)?;
                topt = text_adamw(lr)?;
                bad = 0;
                eprintln!(
                    "plateau: no validation gain for {} epochs; back to epoch {best_epoch}'s weights, learning rate {lr:.3e} (decay {decays}/{})",
                    opts.patience, opts.lr_decays
                );
            }
        }
        if t0.elapsed().as_secs_f64() > opts.max_minutes * 60.0 {
            eprintln!(
                "time limit of {} min reached after epoch {epoch}",
                opts.max_minutes
            );
            break;
        }
    }
    if let Some(p) = &opts.checkpoint {
        if best_epoch > 0 {
            *net = Net::load(p)?;
        }
    }
    if let (Some(t), Some(b)) = (&text, &best_text) {
        t.tuner.restore(b)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(TrainReport {
        epochs,
        best_valid_n10: best,
        best_epoch,
        losses,
        seconds: secs,
        tokens_per_sec: tokens as f64 / secs,
        lr_decays: decays,
        sources: stats,
    })
}

/// The mean of the sources' validation metrics over the sources with validation cases (each weighs the
/// same, whatever its size); one source's metrics are returned as they are.
fn mean_metrics(per_source: &[Metrics]) -> Metrics {
    if per_source.len() == 1 {
        return per_source[0];
    }
    let with: Vec<&Metrics> = per_source.iter().filter(|m| m.n > 0).collect();
    if with.is_empty() {
        return per_source[0];
    }
    let k = with.len() as f64;
    let f = |g: fn(&Metrics) -> f64| with.iter().map(|m| g(m)).sum::<f64>() / k;
    Metrics {
        r10: f(|m| m.r10),
        n10: f(|m| m.n10),
        r50: f(|m| m.r50),
        n50: f(|m| m.n50),
        n: with.iter().map(|m| m.n).sum(),
    }
}
