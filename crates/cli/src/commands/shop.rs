//! `nextclick shop`: a shop's product feed → what the shop deploys.
//!
//! - `shop build`: a static folder any CDN can serve from the shop's origin (SDK, wasm, model, catalog,
//!   manifest, snippet), rebuilt incrementally (`nextclick_train::shop`).
//! - `shop items`: a feed converted to the canonical items.csv (for `train`, `catalog`, `eval`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use nextclick_data::feed::{self, Format, ReadOptions};
use nextclick_train::shop::{build, BuildOptions};

/// Arguments of `shop`.
#[derive(Debug, Args)]
pub struct ShopArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ShopCommand,
}

/// The `shop` subcommands.
#[derive(Debug, Subcommand)]
pub enum ShopCommand {
    /// Build a deployable folder from a product feed: SDK, release wasm, model, content-hashed catalog,
    /// manifest.json (sizes, SHA-256, SRI) and snippet.html. Re-embeds only new or changed items.
    Build(Box<BuildArgs>),
    /// Convert a product feed to the canonical items.csv (item_id,title,category,brand,price).
    Items(ItemsArgs),
}

/// The feed arguments shared by the subcommands.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// The product feed: Google Merchant Center XML (RSS / Atom) or TSV, a Shopify product CSV export,
    /// or items.csv.
    #[arg(long)]
    pub feed: PathBuf,
    /// The feed format (default: detected from the content).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Skip bad records (listed at the end) instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad: bool,
}

/// Arguments of `shop build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    /// The feed.
    pub feed: FeedArgs,
    /// The exported model (its `.tower.bin` beside it is used unless --tower is given).
    #[arg(long, default_value = "models/default.onnx")]
    pub model: PathBuf,
    /// Tower file (default: beside the model).
    #[arg(long)]
    pub tower: Option<PathBuf>,
    /// The output folder.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// Product URL template, `{id}` → the percent-encoded item id (default: the feed's links; `#item-{id}`
    /// for items without one).
    #[arg(long)]
    pub url_template: Option<String>,
    /// Store int8 catalog vectors (one scale per item; ~4× smaller).
    #[arg(long)]
    pub int8: bool,
    /// The release wasm and its glue (`make wasm-release` writes www/pkg).
    #[arg(long, default_value = "www/pkg")]
    pub pkg: PathBuf,
    /// The SDK modules.
    #[arg(long, default_value = "packages/nextclick/sdk")]
    pub sdk: PathBuf,
    /// The URL path the folder is served at, with a trailing slash.
    #[arg(long, default_value = "/")]
    pub base_url: String,
    /// Embedding cache folder (default: <out>/.nextclick-cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// The shop's orders (`order_id,customer_id,timestamp,item_id`): learn the shop head new visitors
    /// start from; it ships only if it beats the source model on held-out purchases.
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Fewest customers with two purchases of catalog items to learn a shop head from.
    #[arg(long, default_value_t = 30)]
    pub min_customers: usize,
    /// With --orders: also try Δf, the item vectors shifted towards the contexts of their purchases
    /// (baked into the catalog if it beats the source catalog on held-out purchases; the shop head is then
    /// learned on the shifted catalog).
    #[arg(long)]
    pub item_shift: bool,
}

/// Arguments of `shop items`.
#[derive(Debug, Args)]
pub struct ItemsArgs {
    #[command(flatten)]
    /// The feed.
    pub feed: FeedArgs,
    /// The items.csv to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(a: ShopArgs) -> Result<()> {
    match a.command {
        ShopCommand::Build(b) => run_build(*b),
        ShopCommand::Items(i) => run_items(i),
    }
}

fn run_build(a: BuildArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let r = build(&BuildOptions {
        feed: a.feed.feed,
        format: a.feed.format,
        skip_bad: a.feed.skip_bad,
        model: a.model,
        tower: a.tower,
        out: a.out.clone(),
        pkg: a.pkg,
        sdk: a.sdk,
        url_template: a.url_template,
        int8: a.int8,
        cache: a.cache,
        text_model_dir: a.model_dir,
        base_url: a.base_url,
        orders: a.orders,
        min_customers: a.min_customers,
        item_shift: a.item_shift,
    })?;
    let m = &r.manifest;
    let total: u64 = m.files.iter().map(|f| f.size).sum();
    for f in &m.files {
        eprintln!("  {:<32} {:>10} bytes  {}", f.path, f.size, f.integrity);
    }
    eprintln!(
        "wrote {} ({} files, {} bytes): catalog {} ({} items, {}), model {}",
        a.out.display(),
        m.files.len() + 1,
        total,
        m.binding.catalog,
        m.binding.items,
        if m.binding.int8 { "int8" } else { "f32" },
        m.binding.model
    );
    if !m.retained.is_empty() {
        eprintln!("kept from the previous build: {}", m.retained.join(", "));
    }
    if !r.removed_files.is_empty() {
        eprintln!(
            "removed older builds' files: {}",
            r.removed_files.join(", ")
        );
    }
    // every record left out, counted and listed, last (also in manifest.json)
    for l in r.feed.report_lines() {
        eprintln!("{l}");
    }
    println!("items: {}", m.changes);
    println!(
        "embedding: {} embedded, {} cached, {:.2} s; build {:.2} s",
        m.embedding.embedded,
        m.embedding.cached,
        m.embedding.seconds,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "paste {} into your pages' <head>",
        a.out.join(nextclick_model::bundle::SNIPPET).display()
    );
    Ok(())
}

fn run_items(a: ItemsArgs) -> Result<()> {
    let f = feed::read(
        &a.feed.feed,
        ReadOptions {
            format: a.feed.format,
            skip_bad: a.feed.skip_bad,
        },
    )?;
    for l in f.report_lines() {
        eprintln!("{l}");
    }
    feed::write_items_csv(&a.out, &f.items)?;
    eprintln!("wrote {} ({} items)", a.out.display(), f.items.len());
    Ok(())
}
