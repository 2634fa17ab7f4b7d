//! The subcommands of `nextclick`, one file each: its arguments (clap) and a `run` that calls the library
//! crates. Nothing here is imported by tests: what a command computes lives in `nextclick-data`,
//! `nextclick-model`, `nextclick-train` or `nextclick-eval`.
//!
//! Built without the `train` feature (`make demo`), the commands that need the text model and the
//! trainer are absent; without `eval`, the replay evaluation is. `prepare` (off by default) compiles the
//! query engine (DataFusion, Ballista); without it `nextclick prepare` says how to get it.

use anyhow::Result;
use clap::Subcommand;

#[cfg(feature = "train")]
pub mod catalog;
#[cfg(feature = "train")]
pub mod embed_items;
#[cfg(feature = "train")]
pub mod eval_checkpoints;
#[cfg(feature = "train")]
pub mod eval_loo;
#[cfg(feature = "train")]
pub mod export;
pub mod merge_embeddings;
#[cfg(feature = "prepare")]
pub mod prepare;
pub mod reference;
#[cfg(feature = "train")]
pub mod shop;
pub mod shop_head;
pub mod split_catalog;
#[cfg(feature = "train")]
pub mod train;

/// Every subcommand.
#[derive(Subcommand)]
pub enum Command {
    /// Writes the deterministic reference model, its card, its catalog and the expected test outputs.
    Reference(reference::ReferenceArgs),
    /// Serves a folder (the demo shop) on 127.0.0.1 with strict CSP and correct MIME types.
    Serve(crate::serve::ServeArgs),
    /// Generates the demo shop's products (items.csv; optionally a hashed stand-in catalog).
    DemoCatalog(crate::demo::DemoCatalogArgs),
    /// Learns the shop head (the shop-level adapter new visitors start from) from the shop's orders.
    ShopHead(shop_head::ShopHeadArgs),
    /// Embed an items.csv with all-MiniLM-L6-v2 (cached by content hash), or one shard of it (`--shard i/n`).
    #[cfg(feature = "train")]
    EmbedItems(embed_items::EmbedItemsArgs),
    /// Merge the partial files of `embed-items --shard i/n` into the `.emb` of one unsharded run.
    MergeEmbeddings(merge_embeddings::MergeEmbeddingsArgs),
    /// Train a session encoder (+ item tower, or an ID table) on a platform folder, leave-one-out split.
    #[cfg(feature = "train")]
    Train(Box<train::TrainArgs>),
    /// Export a checkpoint: contract-v1 ONNX + model card + item-tower file.
    #[cfg(feature = "train")]
    Export(export::ExportArgs),
    /// Build the binary catalog of a shop: content embedding → item tower, offline.
    #[cfg(feature = "train")]
    Catalog(catalog::CatalogArgs),
    /// Split a catalog (format version 3) for pages that fetch it on demand: a head and a body of chunks.
    SplitCatalog(split_catalog::SplitCatalogArgs),
    /// A shop's product feed → a deployable folder (`shop build`) or items.csv (`shop items`).
    #[cfg(feature = "train")]
    Shop(shop::ShopArgs),
    /// Leave-one-out full-ranking evaluation of an exported model through tract (paper protocol).
    #[cfg(feature = "train")]
    EvalLoo(eval_loo::EvalLooArgs),
    /// Leave-one-out scores of training checkpoints and of their ensemble (the training framework's
    /// forward pass; for choosing distillation teachers).
    #[cfg(feature = "train")]
    EvalCheckpoints(eval_checkpoints::EvalCheckpointsArgs),
    /// Raw event logs (CSV / Parquet, any size) → validated, sessionized, split training shards in
    /// Parquet, on DataFusion or a Ballista cluster (docs/prepare.md).
    #[cfg(feature = "prepare")]
    Prepare(Box<prepare::PrepareArgs>),
    /// Raw event logs → training shards: not in this build (`make prepare` builds the CLI with it).
    #[cfg(not(feature = "prepare"))]
    #[command(disable_help_flag = true)]
    Prepare {
        /// Whatever was passed.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// Synthetic raw event logs for `make bench-prepare` (`DIR/items.csv`, `DIR/events/part-NNN.csv`):
    /// power-law items, a funnel, ~2 % bad rows. Hidden: a benchmark tool, in the binary the benchmark
    /// runs anyway (so it needs no second build of the query engine's crate).
    #[cfg(feature = "prepare")]
    #[command(hide = true)]
    GenEvents {
        /// Output folder.
        dir: std::path::PathBuf,
        /// About this many event rows.
        events: u64,
        /// CSV files.
        #[arg(default_value_t = 8)]
        files: u32,
        /// Seed.
        #[arg(default_value_t = 1)]
        seed: u64,
    },
    /// Replays a target shop through the core predictor and the baselines; writes the results section.
    #[cfg(feature = "eval")]
    Eval(Box<nextclick_eval::args::EvalArgs>),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Reference(a) => reference::run(a),
            Command::Serve(a) => crate::serve::run(a),
            Command::DemoCatalog(a) => crate::demo::run(a),
            Command::ShopHead(a) => shop_head::run(a),
            #[cfg(feature = "train")]
            Command::EmbedItems(a) => embed_items::run(a),
            Command::MergeEmbeddings(a) => merge_embeddings::run(a),
            #[cfg(feature = "train")]
            Command::Train(a) => train::run(*a),
            #[cfg(feature = "train")]
            Command::Export(a) => export::run(a),
            #[cfg(feature = "train")]
            Command::Catalog(a) => catalog::run(a),
            Command::SplitCatalog(a) => split_catalog::run(a),
            #[cfg(feature = "train")]
            Command::Shop(a) => shop::run(a),
            #[cfg(feature = "train")]
            Command::EvalLoo(a) => eval_loo::run(a),
            #[cfg(feature = "train")]
            Command::EvalCheckpoints(a) => eval_checkpoints::run(a),
            #[cfg(feature = "prepare")]
            Command::Prepare(a) => prepare::run(*a),
            #[cfg(not(feature = "prepare"))]
            Command::Prepare { .. } => anyhow::bail!(
                "this nextclick was built without the `prepare` feature (the DataFusion / Ballista query \
                 engine is not compiled into the default CLI); `make prepare` builds target/release/nextclick \
                 with it (cargo build --release -p nextclick-cli --features prepare), see docs/prepare.md"
            ),
            #[cfg(feature = "prepare")]
            Command::GenEvents {
                dir,
                events,
                files,
                seed,
            } => {
                let t = std::time::Instant::now();
                let g = nextclick_prepare::generate::generate(&dir, events, files, seed)?;
                println!(
                    "gen-events: {} rows, {} items in {:.1} s → {}",
                    g.rows,
                    g.items,
                    t.elapsed().as_secs_f64(),
                    dir.display()
                );
                Ok(())
            }
            #[cfg(feature = "eval")]
            Command::Eval(a) => nextclick_eval::run::run(*a),
        }
    }
}
