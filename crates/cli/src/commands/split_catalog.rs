//! `nextclick split-catalog`: any catalog → a split catalog (format version 3) that pages fetch on demand:
//! a head downloaded first and a body of chunks fetched by HTTP Range requests (docs/model-contract.md,
//! "Split catalogs"; docs/js-sdk.md, "Big catalogs"). A flat catalog's vectors are indexed first (IVF-PQ,
//! seeded, as `catalog --ivfpq`); an IVF-PQ catalog is split as it is. No text model is needed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick::catalog::Catalog;
use nextclick_model::ivfpq::{self, IvfPqConfig};

/// Arguments of `split-catalog`.
#[derive(Debug, Args)]
pub struct SplitCatalogArgs {
    /// The catalog to split (any format version).
    pub input: PathBuf,
    /// The head to write (what the page's `catalog` option names).
    #[arg(long)]
    pub out: PathBuf,
    /// The body to write (the page's `catalogBody`; default: `--out` with `.body.bin` for its extension).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Flat catalogs: inverted lists (default √items).
    #[arg(long)]
    pub lists: Option<usize>,
    /// Flat catalogs: PQ sub-spaces (default dimension / 4).
    #[arg(long)]
    pub subspaces: Option<usize>,
    /// Lists probed per query (default: the IVF-PQ catalog's, else the builder's).
    #[arg(long)]
    pub nprobe: Option<usize>,
    /// Flat catalogs: candidates re-scored on int8 vectors.
    #[arg(long, default_value_t = 200)]
    pub rerank: usize,
    /// Flat catalogs: no int8 vectors (PQ scores only).
    #[arg(long)]
    pub no_rescore: bool,
    /// Directory buckets, item id → row (default: one per 1,024 items).
    #[arg(long, default_value_t = 0)]
    pub buckets: usize,
    /// Rows per item block (ids and metadata fetched together).
    #[arg(long, default_value_t = 32)]
    pub block_rows: usize,
}

/// Runs the command.
pub fn run(a: SplitCatalogArgs) -> Result<()> {
    let bytes =
        std::fs::read(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    let cat =
        Catalog::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    anyhow::ensure!(
        cat.split().is_none(),
        "{} is already a split catalog (its head)",
        a.input.display()
    );
    let mut ivf = if cat.ivfpq().is_some() {
        cat
    } else {
        let d = cat.dim();
        let mut vecs = vec![0f32; cat.len() * d];
        for (i, row) in vecs.chunks_exact_mut(d).enumerate() {
            cat.copy_row(i, row);
        }
        let cfg = IvfPqConfig {
            lists: a.lists,
            subspaces: a.subspaces,
            nprobe: a.nprobe,
            rescore: !a.no_rescore,
            rerank: a.rerank,
            ..Default::default()
        };
        build_with_progress(&cat, &vecs, &cfg)?
    };
    if let (Some(np), Some(ix)) = (a.nprobe, ivf.ivfpq()) {
        let rerank = ix.rerank;
        ivf.set_search(np, rerank);
    }
    let (head, body) = nextclick::split::write_catalog(&ivf, a.buckets, a.block_rows)?;
    let body_path = a.body.clone().unwrap_or_else(|| body_path_for(&a.out));
    std::fs::write(&a.out, &head).with_context(|| format!("cannot write {}", a.out.display()))?;
    std::fs::write(&body_path, &body)
        .with_context(|| format!("cannot write {}", body_path.display()))?;
    let ix = ivf.ivfpq().expect("IVF-PQ");
    eprintln!(
        "wrote {} (head, {} bytes) and {} (body, {} bytes): {} items, {} lists, nprobe {}",
        a.out.display(),
        head.len(),
        body_path.display(),
        body.len(),
        ivf.len(),
        ix.nlist(),
        ix.nprobe
    );
    Ok(())
}

/// The default body file of a split catalog whose head is `head`: `catalog.bin` → `catalog.body.bin`.
pub fn body_path_for(head: &std::path::Path) -> PathBuf {
    let stem = head
        .file_stem()
        .map_or_else(|| "catalog".into(), |s| s.to_string_lossy().into_owned());
    head.with_file_name(format!("{stem}.body.bin"))
}

/// The IVF-PQ catalog of `cat`'s items (ids and metadata in its order) over `vecs`, with a progress bar.
pub fn build_with_progress(cat: &Catalog, vecs: &[f32], cfg: &IvfPqConfig) -> Result<Catalog> {
    let pb = indicatif::ProgressBar::new(4);
    pb.set_style(
        indicatif::ProgressStyle::with_template("IVF-PQ {bar:30} {pos}/{len} {msg} [{elapsed}]")
            .expect("template"),
    );
    let meta = (0..cat.len()).map(|i| cat.meta(i).cloned()).collect();
    let out = ivfpq::build(
        cat.ids().to_vec(),
        cat.dim(),
        vecs,
        meta,
        *cat.model_sha256(),
        cfg,
        &|stage, done, _| {
            pb.set_position(done as u64);
            pb.set_message(stage.to_string());
        },
    )?;
    pb.finish_and_clear();
    Ok(out)
}
