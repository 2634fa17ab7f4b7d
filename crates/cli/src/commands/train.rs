//! `nextclick train`: trains a session encoder (+ item tower, or an ID table) on a platform folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use nextclick_data::{self as data, item_text, TimeMode};
use nextclick_model::content::CONTENT_DIM;
use nextclick_model::encoder::EncoderConfig;
use nextclick_train::items::load_and_embed;
use nextclick_train::train::{
    self, loo_split, Metrics, Net, NetConfig, StreamOptions, Tensor, TrainOptions,
};

use super::eval_checkpoints::score_members;

/// Model size presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Browser student: 2 layers, D = 64, L = 50, 2-layer tower.
    Student,
    /// Teacher: 4 layers, D = 256, L = 50.
    Teacher,
    /// SASRec-style ID baseline (student shape, learned item-id table, no content).
    Id,
}

impl Preset {
    fn config(self, n_items: usize) -> NetConfig {
        match self {
            Preset::Student | Preset::Id => NetConfig {
                encoder: EncoderConfig {
                    max_len: 50,
                    dim: 64,
                    heads: 2,
                    layers: 2,
                    ffn: 256,
                    ln_eps: 1e-5,
                },
                content_dim: CONTENT_DIM,
                tower_hidden: if self == Preset::Id { 0 } else { 256 },
                id_items: if self == Preset::Id { n_items } else { 0 },
                temperature: 1.0,
                cosine: false,
                id_residual: 0,
                aux_items: 0,
                aux_layout: 0,
                positions_from_start: false,
            },
            Preset::Teacher => NetConfig {
                encoder: EncoderConfig {
                    max_len: 50,
                    dim: 256,
                    heads: 4,
                    layers: 4,
                    ffn: 1024,
                    ln_eps: 1e-5,
                },
                content_dim: CONTENT_DIM,
                tower_hidden: 512,
                id_items: 0,
                temperature: 1.0,
                cosine: false,
                id_residual: 0,
                aux_items: 0,
                aux_layout: 0,
                positions_from_start: false,
            },
        }
    }
}

/// Arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Platform folder (items.csv + events.csv), or a folder written by `nextclick prepare`
    /// (manifest.json, items.csv, Parquet shards): that one is streamed, with memory bounded by
    /// `--shuffle-buffer` and `--pool` whatever its size (docs/prepare.md, "Training on the shards").
    #[arg(long)]
    pub data: PathBuf,
    /// Checkpoint path (safetensors; `<out>.json` config and `<out>.report.json` are written beside).
    #[arg(long)]
    pub out: PathBuf,
    /// Size preset.
    #[arg(long, value_enum, default_value = "student")]
    pub preset: Preset,
    /// Start from this checkpoint (fine-tuning); its shapes must match the preset's.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Train only the item tower (backbone frozen).
    #[arg(long)]
    pub freeze_backbone: bool,
    /// Cosine scoring: L2-normalised item and session vectors, scores = cosine / temperature. From a
    /// dot-product `--init`, the encoder's input scale is set to the source's mean item-vector norm.
    #[arg(long)]
    pub cosine: bool,
    /// Positions counted from the session start (capped at L − 1) instead of right-aligned: the export is
    /// a contract-v2 (incremental) model, whose page runs one event per call from cached keys and values
    /// (docs/model-contract.md, "Contract v2"). From a right-aligned `--init`, the position table is
    /// copied and re-learned (its rows meant "k events before the last").
    #[arg(long)]
    pub positions_from_start: bool,
    /// Hidden width of the item tower instead of the preset's (0 = a single linear layer). The tower runs
    /// offline (catalog building), so its size costs the page nothing. With `--init` from a checkpoint of
    /// another tower shape, only the backbone is copied and the tower starts fresh.
    #[arg(long)]
    pub tower_hidden: Option<usize>,
    /// Model width `D` instead of the preset's (e.g. a wider teacher or ID baseline).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Attention heads instead of the preset's (`D` must be divisible by it).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Transformer blocks instead of the preset's.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Feed-forward width instead of the preset's.
    #[arg(long)]
    pub ffn: Option<usize>,
    /// Content plus ID: learn a per-item offset (zero-initialised) added to the tower's item vectors, for
    /// fine-tuning on a fixed catalog (trained with the tower, also under `--freeze-backbone`). The
    /// catalog must then come from the checkpoint: `export --data` writes it; other catalogs get the
    /// tower alone.
    #[arg(long)]
    pub id_residual: bool,
    /// Softmax temperature of the scores (default: 1, or 0.07 with `--cosine`). Exported in the ONNX
    /// metadata and the card; the in-page head uses it.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Teacher checkpoint for distillation (soft + hard targets); repeat it for an ensemble of teachers
    /// (soft targets = the mean of their next-item distributions). Each is scored on the validation and
    /// test users first, and the ensemble too.
    #[arg(long)]
    pub teacher: Vec<PathBuf>,
    /// Weight of the soft targets in distillation.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// Distillation temperature.
    #[arg(long, default_value_t = 2.0)]
    pub distill_temp: f32,
    /// Epoch limit.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Learning rate (AdamW).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Dropout.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f32,
    /// Weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Shared sampled negatives per batch (0 = full softmax).
    #[arg(long, default_value_t = 0)]
    pub negatives: usize,
    /// Tokens per batch. Small batches mean more optimiser steps per epoch, which is what these small
    /// datasets need (4,096 gave amazon-games only 71 steps per epoch and Scientific 9).
    #[arg(long, default_value_t = 1024)]
    pub batch_tokens: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Early-stopping patience (epochs).
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// On a validation plateau (`--patience` epochs without gain): go back to the best weights and
    /// multiply the learning rate by `--lr-decay`, up to this many times, before stopping early.
    #[arg(long, default_value_t = 0)]
    pub lr_decays: usize,
    /// Learning-rate factor of each plateau decay (see `--lr-decays`).
    #[arg(long, default_value_t = 0.15)]
    pub lr_decay: f64,
    /// Validation users used for early stopping.
    #[arg(long, default_value_t = 3000)]
    pub valid_cases: usize,
    /// Wall-time limit (minutes).
    #[arg(long, default_value_t = 15.0)]
    pub max_minutes: f64,
    /// How to read timestamps.
    #[arg(long, value_enum, default_value = "auto")]
    pub time: TimeMode,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Fine-tune the top K layers of the text encoder (all-MiniLM-L6-v2, 6 layers) with the tower
    /// (0 = off). The text encoder runs offline only, so this costs the page nothing; the fine-tuned
    /// encoder is written as a model folder (`--text-out`) that `catalog`, `eval-loo` and `export` take as
    /// `--model-dir`. Each step runs the K layers forward and backward for (up to `--text-rows` of) the
    /// items in its batch's inputs.
    #[arg(long, default_value_t = 0)]
    pub text_layers: usize,
    /// Learning rate of the text encoder's layers (AdamW; decayed with `--lr` on plateaus).
    #[arg(long, default_value_t = 2e-5)]
    pub text_lr: f64,
    /// Fresh text-encoder rows per step: at most this many of the items in a batch's inputs (a random
    /// draw) go through the trainable layers; the others, and every candidate of the softmax, use the
    /// content of the last refresh (once per epoch). 0 = every input item (slow: about 3 × 3.5 MFLOP
    /// per token and layer).
    #[arg(long, default_value_t = 64)]
    pub text_rows: usize,
    /// Output folder of the fine-tuned text encoder (default: `<out>.text`).
    #[arg(long)]
    pub text_out: Option<PathBuf>,
    /// Prepared shards only: training windows (at most L + 1 events each) held in the shuffle buffer.
    #[arg(long, default_value_t = 65_536)]
    pub shuffle_buffer: usize,
    /// Prepared shards only: windows taken from the shuffle buffer before they are sorted by length and
    /// cut into batches.
    #[arg(long, default_value_t = 8_192)]
    pub pool: usize,
    /// Prepared shards only: stop after this many optimiser steps (0 = epochs, early stopping and
    /// `--max-minutes` decide).
    #[arg(long, default_value_t = 0)]
    pub steps: usize,
    /// Prepared shards only: test cases kept (a seeded sample) for the final report.
    #[arg(long, default_value_t = 20_000)]
    pub test_cases: usize,
    /// Multi-source pre-training: a platform folder whose sessions train the backbone alongside `--data`
    /// through an item-ID table of its own (its item content, if any, is not read), never exported: the
    /// exported model stays the encoder and the tower of `--data`. Repeat it for several sources (e.g.
    /// the ID-only clickstreams of `$NEXTCLICK_DATA`); each batch comes from one source, its softmax over
    /// that source's items. Tower presets only, one in-memory `--data` folder.
    #[arg(long = "id-source", value_name = "DIR")]
    pub id_sources: Vec<PathBuf>,
    /// With `--id-source`: each step's source is drawn with probability ∝ its batches^alpha (1 = in
    /// proportion to the data, 0 = uniform over the sources).
    #[arg(long, default_value_t = 0.5)]
    pub source_alpha: f64,
    /// With `--id-source`: which validation NDCG@10 chooses the epoch (early stopping, plateau decays, the
    /// checkpoint): `first` = `--data`'s, the platform the exported model is for; `mean` = the mean over
    /// all sources, each weighing the same.
    #[arg(long, default_value = "first")]
    pub select: train::Selection,
    /// With `--id-source` and `--init`: keep the init checkpoint's table of the ID-only sources (an error
    /// unless its rows are the same items, `NetConfig::aux_layout`). The default restarts the table in every
    /// stage: on REES46 a second stage that kept it transferred worse (zero-shot validation Recall@20 .135
    /// against .217, docs/results.md "Multi-source pre-training").
    #[arg(long)]
    pub keep_id_table: bool,
}

pub(crate) fn report_path(ckpt: &Path) -> PathBuf {
    let mut s = ckpt.as_os_str().to_owned();
    s.push(".report.json");
    s.into()
}

pub(crate) fn metrics_json(m: &Metrics) -> serde_json::Value {
    serde_json::json!({"r10": m.r10, "n10": m.n10, "r50": m.r50, "n50": m.n50, "n": m.n})
}

/// The net of the preset and the shape options, initialised from `--init` when given.
fn make_net(
    a: &TrainArgs,
    n_items: usize,
    aux: (usize, u64),
    content: Option<&Tensor>,
) -> Result<(Net, NetConfig)> {
    let mut cfg = a.preset.config(n_items);
    cfg.cosine = a.cosine;
    cfg.positions_from_start = a.positions_from_start;
    (cfg.aux_items, cfg.aux_layout) = aux;
    if let Some(h) = a.tower_hidden {
        anyhow::ensure!(
            a.preset != Preset::Id,
            "--tower-hidden: the ID preset has no tower"
        );
        cfg.tower_hidden = h;
    }
    let e = &mut cfg.encoder;
    e.dim = a.dim.unwrap_or(e.dim);
    e.heads = a.heads.unwrap_or(e.heads);
    e.layers = a.layers.unwrap_or(e.layers);
    e.ffn = a.ffn.unwrap_or(e.ffn);
    anyhow::ensure!(
        e.dim > 0 && e.ffn > 0 && e.layers > 0 && e.heads > 0 && e.dim.is_multiple_of(e.heads),
        "model shape: --dim {} must be a positive multiple of --heads {}, --layers {} and --ffn {} positive",
        e.dim,
        e.heads,
        e.layers,
        e.ffn
    );
    if a.id_residual {
        anyhow::ensure!(
            a.preset != Preset::Id,
            "--id-residual: the ID preset is IDs only already"
        );
        cfg.id_residual = n_items;
    }
    cfg.temperature = a.temperature.unwrap_or(if a.cosine { 0.07 } else { 1.0 });
    anyhow::ensure!(
        cfg.temperature.is_finite() && cfg.temperature > 0.0,
        "--temperature {} must be a positive number",
        cfg.temperature
    );
    let mut net = Net::new(cfg, a.seed)?;
    if let Some(init) = &a.init {
        let src = Net::load(init)?;
        if src.cfg.tower_hidden == cfg.tower_hidden {
            // item offsets too when both are content+ID models of the same catalog (a second stage)
            let same_offsets = cfg.id_residual > 0 && src.cfg.id_residual == cfg.id_residual;
            // the ID-only sources' table only when asked and every row is still the same item
            if a.keep_id_table {
                anyhow::ensure!(
                    cfg.same_id_sources(&src.cfg),
                    "--keep-id-table: {} cannot give its ID-only sources' table to this run: {}",
                    init.display(),
                    if src.cfg.aux_items == 0 {
                        "the checkpoint has no such table"
                    } else if src.cfg.aux_layout == 0 {
                        "the checkpoint predates the table's layout fingerprint (its rows cannot be checked)"
                    } else {
                        "its rows are other items (other sources, another order or changed items.csv files)"
                    }
                );
            }
            let prefixes: &[&str] = if same_offsets || a.keep_id_table {
                &["enc.", "tower.", "idemb"]
            } else {
                &["enc.", "tower."]
            };
            net.copy_from(&src, prefixes)?;
            eprintln!("initialised from {}", init.display());
            if a.keep_id_table {
                eprintln!(
                    "  with its ID-only sources' table ({} rows, the same items)",
                    cfg.aux_items
                );
            } else if cfg.aux_items > 0 {
                eprintln!("  the ID-only sources' table starts fresh (--keep-id-table keeps it)");
            }
        } else {
            anyhow::ensure!(
                !a.keep_id_table,
                "--keep-id-table: {} has another tower (a second stage keeps the tower too)",
                init.display()
            );
            net.copy_from(&src, &["enc."])?;
            eprintln!(
                "initialised the backbone from {} (its tower is {} wide, this one {}: fresh tower)",
                init.display(),
                src.cfg.tower_hidden,
                cfg.tower_hidden
            );
        }
        if cfg.positions_from_start != src.cfg.positions_from_start {
            eprintln!(
                "positions {} from {}, whose positions are {}: the position table is re-learned",
                if cfg.positions_from_start {
                    "from the session start"
                } else {
                    "right-aligned"
                },
                init.display(),
                if src.cfg.positions_from_start {
                    "from the session start"
                } else {
                    "right-aligned"
                },
            );
        }
        if cfg.cosine && !src.cfg.cosine {
            let s = net.match_input_scale(&src, content)?;
            eprintln!("cosine from a dot-product source: encoder input scale set to its mean item norm {s:.3}");
        }
    }
    Ok((net, cfg))
}

/// The training options of the arguments (`distill`: teachers are given).
fn train_options(a: &TrainArgs, distill: bool) -> TrainOptions {
    TrainOptions {
        epochs: a.epochs,
        batch_tokens: a.batch_tokens,
        lr: a.lr,
        weight_decay: a.weight_decay,
        dropout: a.dropout,
        negatives: a.negatives,
        seed: a.seed,
        patience: a.patience,
        lr_decay: a.lr_decay,
        lr_decays: a.lr_decays,
        valid_cases: a.valid_cases,
        max_minutes: a.max_minutes,
        trainable: if a.freeze_backbone {
            vec!["tower.".into(), "idemb".into()]
        } else {
            vec!["enc.".into(), "tower.".into(), "idemb".into()]
        },
        distill_alpha: if distill { a.alpha } else { 0.0 },
        distill_temp: a.distill_temp,
        checkpoint: Some(a.out.clone()),
        progress: true,
    }
}

/// Runs the command.
pub fn run(a: TrainArgs) -> Result<()> {
    anyhow::ensure!(
        !a.keep_id_table || (a.init.is_some() && !a.id_sources.is_empty()),
        "--keep-id-table keeps the ID-only sources' table of the --init checkpoint: give --init and --id-source"
    );
    if data::shards::is_prepared(&a.data) {
        anyhow::ensure!(
            a.id_sources.is_empty(),
            "--id-source: multi-source pre-training reads in-memory platform folders, not prepared shards"
        );
        return run_stream(a);
    }
    if !a.id_sources.is_empty() {
        anyhow::ensure!(
            a.preset != Preset::Id && !a.id_residual,
            "--id-source: the ID-only sources' table belongs to a tower model (not --preset id, not --id-residual)"
        );
        anyhow::ensure!(
            a.teacher.is_empty() && a.text_layers == 0,
            "--id-source: not with --teacher or --text-layers (they train one source)"
        );
    }
    let t0 = std::time::Instant::now();
    let platform = data::load_platform(&a.data, a.time)?;
    platform.report.print(&a.data.display().to_string());
    let n_events: usize = platform.sessions.iter().map(|s| s.len()).sum();
    eprintln!(
        "{}: {} items, {} sessions, {} events, time {}",
        a.data.display(),
        platform.items.len(),
        platform.sessions.len(),
        n_events,
        if platform.ordinal {
            "ordinal"
        } else {
            "unix seconds"
        }
    );
    let mut texts: Vec<String> = Vec::new();
    let content = if a.preset == Preset::Id {
        None
    } else {
        let (items, emb) = load_and_embed(&a.data.join("items.csv"), a.model_dir.as_deref())?;
        texts = items.iter().map(item_text).collect();
        Some(train::content_tensor(&emb.vecs, emb.dim)?)
    };
    let tuner = if a.text_layers > 0 {
        anyhow::ensure!(
            a.preset != Preset::Id,
            "--text-layers: the ID preset has no content"
        );
        let dir = nextclick_train::embed::find_model_dir(a.model_dir.as_deref())?;
        let t1 = std::time::Instant::now();
        let t = nextclick_train::textft::TextTuner::load(&dir, &texts, a.text_layers)?;
        eprintln!(
            "text encoder: top {} layers train; {} items' token states below them cached ({:.0} MB) in {:.0} s",
            a.text_layers,
            t.len(),
            t.cached_floats() as f64 * 4.0 / 1e6,
            t1.elapsed().as_secs_f64()
        );
        Some((dir, t))
    } else {
        None
    };
    let text_out = a.text_out.clone().unwrap_or_else(|| {
        let mut s = a.out.as_os_str().to_owned();
        s.push(".text");
        s.into()
    });
    let split = loo_split(&platform.sessions);
    eprintln!(
        "split: {} training sequences, {} validation, {} test users",
        split.train.len(),
        split.valid.len(),
        split.test.len()
    );
    let (aux, aux_layout) = load_id_sources(&a)?;
    let aux_items: usize = aux.iter().map(|s| s.items).sum();
    let (mut net, cfg) = make_net(
        &a,
        platform.items.len(),
        (aux_items, aux_layout),
        content.as_ref(),
    )?;
    let teacher_nets = a
        .teacher
        .iter()
        .map(|p| Net::load(p).with_context(|| format!("teacher {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let teachers = teacher_nets
        .iter()
        .map(|t| train::Teacher::new(t, content.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let teacher_scores = score_members("teacher", &a.teacher, &teachers, &split)?;
    let opts = train_options(&a, !teachers.is_empty());
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    let data_name = folder_name(&a.data);
    let mut sources = vec![train::Source {
        name: &data_name,
        domain: train::Domain::Content {
            offset: 0,
            len: platform.items.len(),
        },
        split: &split,
    }];
    for s in &aux {
        sources.push(train::Source {
            name: &s.name,
            domain: s.domain,
            split: &s.split,
        });
    }
    let rep = if aux.is_empty() {
        train::train_with_text(
            &mut net,
            content.as_ref(),
            &split,
            &opts,
            &teachers,
            tuner.as_ref().map(|(dir, t)| train::TextTuning {
                tuner: t,
                lr: a.text_lr,
                save: Some((dir.clone(), text_out.clone())),
                rows: a.text_rows,
            }),
        )?
    } else {
        train::train_sources(
            &mut net,
            content.as_ref(),
            &sources,
            a.source_alpha,
            a.select,
            &opts,
        )?
    };
    let content = match &tuner {
        Some((_, t)) => Some(t.encode_all()?),
        None => content,
    };
    if tuner.is_some() {
        eprintln!(
            "fine-tuned text encoder (the best epoch's): {} (pass it as --model-dir)",
            text_out.display()
        );
    }
    let table = net.item_vectors(content.as_ref())?;
    let valid = train::evaluate(&net, &table, &split.valid, 256)?;
    let test = train::evaluate(&net, &table, &split.test, 256)?;
    let mut source_rows = Vec::new();
    for (st, s) in rep.sources.iter().zip(&sources).skip(1) {
        let t = train::source_vectors(&net, None, s.domain)?;
        let m = train::evaluate(&net, &t, &s.split.test, 256)?;
        eprintln!(
            "  {}: {} steps ({:.1} % of them), test R@10 {:.4} N@10 {:.4}",
            st.name,
            st.steps,
            100.0 * st.steps as f64
                / rep.sources.iter().map(|x| x.steps).sum::<usize>().max(1) as f64,
            m.r10,
            m.n10
        );
        source_rows.push(serde_json::json!({
            "name": st.name, "batches_per_epoch": st.batches_per_epoch, "weight": st.weight,
            "steps": st.steps, "tokens": st.tokens,
            "best_valid_n10": st.best_valid_n10, "best_valid_r10": st.best_valid_r10,
            "test": metrics_json(&m),
        }));
    }
    let total = t0.elapsed().as_secs_f64();
    eprintln!(
        "trained {} epochs in {:.0} s ({:.0} tokens/s); best epoch {}; {data_name}: valid N@10 {:.4} R@10 {:.4}; test R@10 {:.4} N@10 {:.4} R@50 {:.4} N@50 {:.4}",
        rep.epochs, rep.seconds, rep.tokens_per_sec, rep.best_epoch, valid.n10, valid.r10, test.r10, test.n10, test.r50, test.n50
    );
    let report = serde_json::json!({
        "data": a.data.display().to_string(),
        "preset": format!("{:?}", a.preset).to_lowercase(),
        "config": cfg,
        "init": a.init.as_ref().map(|p| p.display().to_string()),
        "freeze_backbone": a.freeze_backbone,
        "teacher": a.teacher.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "teacher_scores": teacher_scores,
        "alpha": a.alpha, "distill_temp": a.distill_temp,
        "epochs": rep.epochs, "best_epoch": rep.best_epoch, "losses": rep.losses,
        "train_seconds": rep.seconds, "total_seconds": total, "tokens_per_sec": rep.tokens_per_sec,
        "lr": a.lr, "lr_decay": a.lr_decay, "lr_decays": a.lr_decays, "lr_decays_taken": rep.lr_decays,
        "dropout": a.dropout, "negatives": a.negatives, "seed": a.seed,
        "text_layers": a.text_layers, "text_lr": a.text_lr, "text_rows": a.text_rows,
        "text_out": tuner.as_ref().map(|_| text_out.display().to_string()),
        "users": platform.sessions.len(), "items": platform.items.len(), "events": n_events,
        "valid": metrics_json(&valid), "test": metrics_json(&test),
        "id_sources": source_rows, "source_alpha": a.source_alpha, "select": format!("{:?}", a.select).to_lowercase(),
        "keep_id_table": a.keep_id_table,
    });
    std::fs::write(report_path(&a.out), serde_json::to_string_pretty(&report)?)?;
    eprintln!(
        "wrote {} and {}",
        a.out.display(),
        report_path(&a.out).display()
    );
    Ok(())
}

/// An `--id-source` folder, loaded and split, with its rows of the ID table.
struct IdSource {
    name: String,
    items: usize,
    domain: train::Domain,
    split: train::LooSplit,
}

/// The last component of `p` (a source's name in logs and the report).
fn folder_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Loads every `--id-source` (its time mode detected per folder, as `--time auto` does) and gives each a
/// contiguous range of the ID table, in the order given; with the table's layout fingerprint
/// ([`train::id_layout`]).
fn load_id_sources(a: &TrainArgs) -> Result<(Vec<IdSource>, u64)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut layout = Vec::new();
    for dir in &a.id_sources {
        let p = data::load_platform(dir, TimeMode::Auto)
            .with_context(|| format!("--id-source {}", dir.display()))?;
        p.report.print(&dir.display().to_string());
        let split = loo_split(&p.sessions);
        let events: usize = p.sessions.iter().map(|s| s.len()).sum();
        anyhow::ensure!(
            !split.train.is_empty(),
            "--id-source {}: no session of two or more events to train on",
            dir.display()
        );
        eprintln!(
            "--id-source {}: {} items (ID rows {offset}..{}), {} sessions, {events} events, time {}; {} training sequences, {} validation",
            dir.display(),
            p.items.len(),
            offset + p.items.len(),
            p.sessions.len(),
            if p.ordinal { "ordinal" } else { "unix seconds" },
            split.train.len(),
            split.valid.len()
        );
        out.push(IdSource {
            name: folder_name(dir),
            items: p.items.len(),
            domain: train::Domain::Ids {
                offset,
                len: p.items.len(),
            },
            split,
        });
        offset += p.items.len();
        layout.push(p.items);
    }
    Ok((out, train::id_layout(layout.iter().map(Vec::as_slice))))
}

/// `train --data PREPARED`: streams the shards of `nextclick prepare` (see
/// [`nextclick_train::train::train_stream`]).
fn run_stream(a: TrainArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    anyhow::ensure!(
        a.teacher.is_empty(),
        "--teacher: distillation reads an in-memory platform folder, not prepared shards"
    );
    anyhow::ensure!(
        a.text_layers == 0,
        "--text-layers: text-encoder fine-tuning reads an in-memory platform folder, not prepared shards"
    );
    let set = data::shards::ShardSet::open(&a.data)?;
    // items.csv read once: with the embeddings for a content model, alone for the ID preset
    let (items, content) = if a.preset == Preset::Id {
        let mut report = data::LoadReport::default();
        let items = data::load_items(&set.items_path(), &mut report)?;
        report.print(&set.items_path().display().to_string());
        (items, None)
    } else {
        let (items, emb) = load_and_embed(&set.items_path(), a.model_dir.as_deref())?;
        (items, Some(train::content_tensor(&emb.vecs, emb.dim)?))
    };
    let index: std::collections::HashMap<String, u32> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.clone(), i as u32))
        .collect();
    let (mut net, cfg) = make_net(&a, items.len(), (0, 0), content.as_ref())?;
    let opts = train_options(&a, false);
    let sopts = StreamOptions {
        shuffle_buffer: a.shuffle_buffer,
        pool: a.pool,
        steps: a.steps,
        test_cases: a.test_cases,
    };
    let t1 = std::time::Instant::now();
    let d = train::eval_cases(
        &set,
        &index,
        cfg.encoder.max_len,
        opts.valid_cases,
        sopts.test_cases,
        opts.seed,
    )?;
    eprintln!(
        "{}: {} shards, {} items, {} sessions, {} events; {} training windows ({} targets) per epoch; {} of {} validation and {} of {} test cases sampled ({} without history); first pass {:.1} s",
        a.data.display(),
        set.manifest.shards.len(),
        items.len(),
        d.sessions,
        d.events,
        d.windows,
        d.targets,
        d.valid.len(),
        d.valid_seen,
        d.test.len(),
        d.test_seen,
        d.without_history,
        t1.elapsed().as_secs_f64()
    );
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    let rep = train::train_stream(&mut net, content.as_ref(), &set, &index, &d, &opts, &sopts)?;
    let table = net.item_vectors(content.as_ref())?;
    let eb = train::eval_batch(items.len());
    let valid = train::evaluate(&net, &table, &d.valid, eb)?;
    let test = train::evaluate(&net, &table, &d.test, eb)?;
    let total = t0.elapsed().as_secs_f64();
    eprintln!(
        "trained {} epochs, {} steps in {:.0} s ({:.0} tokens/s); at most {} windows held (bound {}); best epoch {}; valid N@10 {:.4} R@10 {:.4}; test R@10 {:.4} N@10 {:.4} R@50 {:.4} N@50 {:.4}",
        rep.train.epochs,
        rep.steps,
        rep.train.seconds,
        rep.train.tokens_per_sec,
        rep.peak_held,
        rep.held_bound,
        rep.train.best_epoch,
        valid.n10,
        valid.r10,
        test.r10,
        test.n10,
        test.r50,
        test.n50
    );
    let json = serde_json::json!({
        "data": a.data.display().to_string(),
        "prepared": true,
        "preset": format!("{:?}", a.preset).to_lowercase(),
        "config": cfg,
        "init": a.init.as_ref().map(|p| p.display().to_string()),
        "freeze_backbone": a.freeze_backbone,
        "epochs": rep.train.epochs, "best_epoch": rep.train.best_epoch, "losses": rep.train.losses,
        "steps": rep.steps, "step_limited": rep.step_limited,
        "shuffle_buffer": a.shuffle_buffer, "pool": a.pool,
        "peak_windows_held": rep.peak_held, "windows_held_bound": rep.held_bound,
        "max_window_events": rep.max_window_events,
        "train_seconds": rep.train.seconds, "total_seconds": total, "tokens_per_sec": rep.train.tokens_per_sec,
        "lr": a.lr, "lr_decay": a.lr_decay, "lr_decays": a.lr_decays, "lr_decays_taken": rep.train.lr_decays,
        "dropout": a.dropout, "negatives": a.negatives, "seed": a.seed,
        "items": items.len(), "sessions": d.sessions, "events": d.events,
        "windows_per_epoch": d.windows, "targets_per_epoch": d.targets,
        "valid_cases": d.valid.len(), "valid_seen": d.valid_seen,
        "test_cases": d.test.len(), "test_seen": d.test_seen, "without_history": d.without_history,
        "valid": metrics_json(&valid), "test": metrics_json(&test),
    });
    std::fs::write(report_path(&a.out), serde_json::to_string_pretty(&json)?)?;
    eprintln!(
        "wrote {} and {}",
        a.out.display(),
        report_path(&a.out).display()
    );
    Ok(())
}
