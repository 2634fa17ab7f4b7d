//! `nextclick shop build`: a product feed → a static folder any CDN can serve from the shop's origin (the
//! SDK, the release wasm, the model, the catalog, `manifest.json`, `snippet.html`; layout in
//! [`nextclick_model::bundle`]).
//!
//! **Incremental.** Item texts are embedded with all-MiniLM-L6-v2 through a cache kept in the folder
//! (`.nextclick-cache/embeddings.emb`, or `--cache DIR`), one entry per distinct text, keyed by
//! SHA-256 of (the text model's weights SHA-256, the item text): a rebuild after a feed change embeds only
//! the items whose text (title, category, brand, price bucket) is new. The nextclick model is not part of
//! that key: the text embedding does not depend on it, and the item tower (the model's part) is applied
//! to every item on every build in milliseconds. A new model therefore re-embeds nothing; new text-model
//! weights re-embed everything. The changes printed (`added N, removed N, changed N, unchanged N`) compare
//! each item's fingerprint — every field the catalog or the embedding sees: id, title, category, brand,
//! price, sale price, currency, URL, image, availability, group — with the previous manifest's item list,
//! so "changed" can exceed "embedded" (a new image re-embeds nothing).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use nextclick::catalog::{Catalog, ItemMeta};
use nextclick::model::Encoder;
use nextclick_data::feed::{self, Feed, Format, ReadOptions};
use nextclick_data::item_text;
use nextclick_model::bundle::{
    self, changes, fingerprint, hashed_name, init_module, is_hashed_name, snippet, Binding,
    EmbeddingSummary, FeedSummary, FileEntry, Manifest, MANIFEST, MANIFEST_FORMAT, SNIPPET,
};
use nextclick_model::content::Embeddings;
use nextclick_model::tower::{tower_path_for, Tower};
use sha2::{Digest, Sha256};

use crate::embed::{find_model_dir, Embedder, CONTENT_DIM};

/// The cache folder's name inside the output folder (a dot-folder: `nextclick serve` never serves it;
/// leave it out of the upload, or pass `--cache` elsewhere).
pub const CACHE_DIR: &str = ".nextclick-cache";
/// The cache file in the cache folder.
pub const CACHE_FILE: &str = "embeddings.emb";
/// The default URL template for feeds without links (`{id}`: the percent-encoded id).
pub const DEFAULT_URL: &str = "#item-{id}";
/// The SDK files copied from `--sdk` (besides every `*.js` there).
pub const SDK_TYPES: &str = "nextclick.d.ts";
/// The glue and wasm files `--pkg` must hold (`make wasm-release`).
pub const PKG_FILES: [&str; 2] = ["nextclick.js", "nextclick_bg.wasm"];

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The product feed.
    pub feed: PathBuf,
    /// Feed format (`None`: detected).
    pub format: Option<Format>,
    /// Skip bad feed records (listed) instead of failing.
    pub skip_bad: bool,
    /// The exported ONNX.
    pub model: PathBuf,
    /// Its item tower (default: beside the model).
    pub tower: Option<PathBuf>,
    /// The output folder.
    pub out: PathBuf,
    /// The wasm-pack output (`www/pkg` after `make wasm-release`).
    pub pkg: PathBuf,
    /// The SDK modules (`packages/nextclick/sdk`).
    pub sdk: PathBuf,
    /// Product URL template (`{id}` → the percent-encoded id); overrides the feed's links when given.
    pub url_template: Option<String>,
    /// int8 catalog vectors.
    pub int8: bool,
    /// Embedding cache folder (default `<out>/.nextclick-cache`).
    pub cache: Option<PathBuf>,
    /// all-MiniLM-L6-v2 folder (default: found as [`find_model_dir`] says).
    pub text_model_dir: Option<PathBuf>,
    /// The URL path the folder will be served at, ending in `/` (the snippet's `src`s).
    pub base_url: String,
    /// The shop's order history (`orders.csv`): learn the shop head every new visitor starts from (and,
    /// with [`BuildOptions::item_shift`], `Δf`), each kept only if it helps.
    pub orders: Option<PathBuf>,
    /// Fewest customers with two purchases of catalog items to learn `Δf` or a shop head from.
    pub min_customers: usize,
    /// With `orders`: also try `Δf` (opt-in; the shop head is then learned on the shifted catalog, and a
    /// shift that already serves the held-out purchases leaves the head nothing to add).
    pub item_shift: bool,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The manifest written.
    pub manifest: Manifest,
    /// The feed as read (items, skips, exclusions).
    pub feed: Feed,
    /// Hashed files of builds before the previous one that were removed.
    pub removed_files: Vec<String>,
}

/// Percent-encodes `s` for a URL path segment (RFC 3986 unreserved characters stay).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The cache key of one item text.
fn text_key(weights_sha256: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"nextclick-shop-emb-v1\0");
    h.update(weights_sha256.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    nextclick::catalog::hex(&d)
}

/// Writes `bytes` at `out/rel` and records its entry.
fn put(
    out: &Path,
    files: &mut Vec<FileEntry>,
    rel: &str,
    role: &str,
    bytes: &[u8],
) -> Result<FileEntry> {
    let p = out.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_atomic(&p, bytes)?;
    let e = FileEntry::of(rel, role, bytes);
    files.push(e.clone());
    Ok(e)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp-nextclick");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn read_file(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
}

/// Embeds `texts`, taking what it can from the cache at `cache_file`, and rewrites the cache with exactly
/// the texts of this build. Returns the row-major vectors and the summary.
pub fn embed_incremental(
    texts: &[String],
    cache_file: &Path,
    text_model_dir: Option<&Path>,
) -> Result<(Vec<f32>, EmbeddingSummary)> {
    let t0 = Instant::now();
    let dir = find_model_dir(text_model_dir)?;
    let weights = read_file(&dir.join("model.safetensors"))?;
    let wsha = bundle::sha256_hex(&weights);
    drop(weights);
    let keys: Vec<String> = texts.iter().map(|t| text_key(&wsha, t)).collect();
    let mut cached: std::collections::HashMap<String, Vec<f32>> = Default::default();
    if let Ok(e) = Embeddings::load(cache_file) {
        if e.dim == CONTENT_DIM {
            for (i, id) in e.ids.iter().enumerate() {
                cached.insert(id.clone(), e.row(i).to_vec());
            }
        }
    }
    // distinct texts not in the cache
    let mut todo: Vec<usize> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        if !cached.contains_key(k) && queued.insert(k.clone()) {
            todo.push(i);
        }
    }
    let embedded_items = keys.iter().filter(|k| queued.contains(*k)).count();
    if !todo.is_empty() {
        let emb = Embedder::load(&dir)?;
        let batch: Vec<String> = todo.iter().map(|&i| texts[i].clone()).collect();
        let vecs = emb.embed_all(&batch, 64)?;
        for (j, &i) in todo.iter().enumerate() {
            cached.insert(
                keys[i].clone(),
                vecs[j * CONTENT_DIM..(j + 1) * CONTENT_DIM].to_vec(),
            );
        }
    }
    // milliseconds: a short decimal reads back from manifest.json as the same f64
    let seconds = (t0.elapsed().as_secs_f64() * 1e3).round() / 1e3;
    let mut vecs = Vec::with_capacity(texts.len() * CONTENT_DIM);
    for k in &keys {
        vecs.extend_from_slice(&cached[k]);
    }
    // the cache keeps exactly this build's texts (distinct keys, first occurrence order)
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    let mut cvecs = Vec::new();
    for k in &keys {
        if seen.insert(k.clone()) {
            ids.push(k.clone());
            cvecs.extend_from_slice(&cached[k]);
        }
    }
    let e = Embeddings {
        ids,
        dim: CONTENT_DIM,
        vecs: cvecs,
    };
    if let Some(parent) = cache_file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_atomic(cache_file, &e.to_bytes())?;
    Ok((
        vecs,
        EmbeddingSummary {
            model: "all-MiniLM-L6-v2".into(),
            weights_sha256: wsha,
            embedded: embedded_items,
            cached: texts.len() - embedded_items,
            seconds,
        },
    ))
}

/// Builds the folder (see the module docs); prints progress to stderr.
pub fn build(o: &BuildOptions) -> Result<BuildReport> {
    if !o.base_url.starts_with('/') || !o.base_url.ends_with('/') {
        bail!(
            "--base-url {:?} must be a path starting and ending with / (e.g. / or /nextclick/)",
            o.base_url
        );
    }
    // 1. everything that does not need the feed, first: a missing wasm fails before any embedding
    let mut pkg = Vec::new();
    for f in PKG_FILES {
        let p = o.pkg.join(f);
        if !p.is_file() {
            bail!(
                "{} not found: build the release wasm first with `make wasm-release` (it writes www/pkg), \
                 or pass --pkg DIR",
                p.display()
            );
        }
        pkg.push((f, read_file(&p)?));
    }
    let mut sdk: Vec<(String, Vec<u8>)> = Vec::new();
    let rd = std::fs::read_dir(&o.sdk)
        .with_context(|| format!("cannot read the SDK folder {}", o.sdk.display()))?;
    for e in rd {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".js") || name == SDK_TYPES) && e.path().is_file() {
            sdk.push((name, read_file(&e.path())?));
        }
    }
    sdk.sort();
    if !sdk.iter().any(|(n, _)| n == "loader.js") {
        bail!(
            "{}: no loader.js (pass --sdk packages/nextclick/sdk)",
            o.sdk.display()
        );
    }
    let onnx = read_file(&o.model)?;
    Encoder::from_bytes(&onnx).map_err(|e| anyhow::anyhow!("{}: {e}", o.model.display()))?;
    let tower_path = o.tower.clone().unwrap_or_else(|| tower_path_for(&o.model));
    let tower = Tower::load(&tower_path, Some(&onnx))?;
    if tower.content_dim != CONTENT_DIM {
        bail!(
            "{}: the tower takes {}-d content, all-MiniLM-L6-v2 gives {CONTENT_DIM}",
            tower_path.display(),
            tower.content_dim
        );
    }

    // 2. the feed
    let feed_bytes = read_file(&o.feed)?;
    let feed = feed::read_bytes(
        &o.feed,
        &feed_bytes,
        ReadOptions {
            format: o.format,
            skip_bad: o.skip_bad,
        },
    )?;
    // the skip list itself is the caller's to print, at the end (BuildReport::feed)
    eprintln!("{}", feed.report_lines()[0]);

    // 3. metadata and fingerprints
    let mut meta = Vec::with_capacity(feed.items.len());
    let mut fps = Vec::with_capacity(feed.items.len());
    let mut texts = Vec::with_capacity(feed.items.len());
    for it in &feed.items {
        let url = match (&o.url_template, it.link.is_empty()) {
            (Some(t), _) => t.replace("{id}", &encode_segment(&it.item.id)),
            (None, false) => it.link.clone(),
            (None, true) => DEFAULT_URL.replace("{id}", &encode_segment(&it.item.id)),
        };
        if url.len() > feed::MAX_TEXT_LEN {
            bail!(
                "item {:?}: its URL is {} bytes long (the catalog stores at most {})",
                it.item.id,
                url.len(),
                feed::MAX_TEXT_LEN
            );
        }
        let text = item_text(&it.item);
        let title = if it.item.title.is_empty() {
            text.clone()
        } else {
            it.item.title.clone()
        };
        let num = |p: Option<f64>| p.map(|x| format!("{x}")).unwrap_or_default();
        fps.push((
            it.item.id.clone(),
            fingerprint(&[
                &it.item.id,
                &it.item.title,
                &it.item.category,
                &it.item.brand,
                &num(it.item.price),
                &num(it.sale_price),
                &it.currency,
                &url,
                &it.image,
                &it.availability,
                &it.group_id,
            ]),
        ));
        meta.push(ItemMeta {
            title,
            url,
            image: it.image.clone(),
            price: it.display_price(),
        });
        texts.push(text);
    }

    // 4. embeddings (incremental) → tower → catalog
    let cache_file = o
        .cache
        .clone()
        .unwrap_or_else(|| o.out.join(CACHE_DIR))
        .join(CACHE_FILE);
    let (content, emb_summary) =
        embed_incremental(&texts, &cache_file, o.text_model_dir.as_deref())?;
    eprintln!(
        "embedding: {} items embedded, {} from the cache, in {:.2} s{}",
        emb_summary.embedded,
        emb_summary.cached,
        emb_summary.seconds,
        if emb_summary.embedded > 0 {
            format!(
                " ({:.1} ms/item, text model load included)",
                emb_summary.seconds * 1e3 / emb_summary.embedded as f64
            )
        } else {
            String::new()
        }
    );
    let vecs = tower.apply_all(&content);
    let cat = Catalog::from_f32(
        feed.items.iter().map(|i| i.item.id.clone()).collect(),
        tower.dim,
        vecs,
        Some(meta),
        tower.model_sha256,
    )?;
    // the shop's orders: Δf (item vectors shifted towards their purchase contexts, baked into the catalog) and the shop
    // head, each shipped only if it beats the source on held-out purchases
    let customers = match &o.orders {
        Some(orders) => {
            let policy = if o.skip_bad {
                nextclick_data::csv::Policy::Tolerant
            } else {
                nextclick_data::csv::Policy::Strict
            };
            let (customers, rep) = nextclick_data::orders::load_orders(orders, policy)?;
            for (line, why) in &rep.skipped {
                eprintln!("{}: line {line}: skipped: {why}", orders.display());
            }
            Some(customers)
        }
        None => None,
    };
    let cat = if o.int8 { cat.quantize_int8() } else { cat };
    let mut item_shift_note = None;
    let cat = match customers.as_ref().filter(|_| o.item_shift) {
        Some(customers) => {
            let so = nextclick_model::item_shift::ShiftOptions {
                min_customers: o.min_customers,
                ..Default::default()
            };
            match nextclick_model::item_shift::fit(&onnx, &cat, customers, &so) {
                Ok((shifted, fit)) => {
                    item_shift_note = Some(format!(
                        "{} items shifted by the purchases of {} customers (β = {}); held-out Recall@20 {:.4} → {:.4} over {} purchases",
                        fit.items_shifted, fit.customers, fit.beta, fit.holdout_source, fit.holdout_shifted, fit.holdout_cases
                    ));
                    shifted
                }
                Err(e) => {
                    eprintln!("shop build: no Δf: {e}");
                    item_shift_note = Some(format!("no Δf: {e}"));
                    cat
                }
            }
        }
        None => cat,
    };
    let cat_bytes = cat.to_bytes();

    // 5. the previous build, then the files
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let prev: Option<Manifest> = std::fs::read(o.out.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut files: Vec<FileEntry> = Vec::new();
    let mut loader = None;
    for (name, bytes) in &sdk {
        let role = if name == SDK_TYPES { "types" } else { "sdk" };
        let e = put(&o.out, &mut files, &format!("sdk/{name}"), role, bytes)?;
        if name == "loader.js" {
            loader = Some(e);
        }
    }
    let loader = loader.expect("checked above");
    let mut wasm = None;
    for (name, bytes) in &pkg {
        let role = if name.ends_with(".wasm") {
            "wasm"
        } else {
            "glue"
        };
        let e = put(&o.out, &mut files, &format!("pkg/{name}"), role, bytes)?;
        if role == "wasm" {
            wasm = Some(e);
        }
    }
    let wasm = wasm.expect("PKG_FILES has the wasm");
    let stem = o
        .model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && !s.contains('.'))
        .unwrap_or_else(|| "model".into());
    let model_name = hashed_name(&stem, "onnx", &onnx);
    let model_entry = put(&o.out, &mut files, &model_name, "model", &onnx)?;
    let catalog_name = hashed_name("catalog", "bin", &cat_bytes);
    let catalog_entry = put(&o.out, &mut files, &catalog_name, "catalog", &cat_bytes)?;
    let mut binding = Binding {
        model: model_name.clone(),
        model_sha256: model_entry.sha256.clone(),
        catalog: catalog_name.clone(),
        catalog_model_sha256: nextclick::catalog::hex(cat.model_sha256()),
        items: cat.len(),
        dim: cat.dim(),
        int8: cat.is_int8(),
        shop_head: None,
        shop_head_note: None,
        item_shift_note,
    };
    if binding.model_sha256 != binding.catalog_model_sha256 {
        bail!(
            "the catalog names model {} but the model is {} (tower {} belongs to another model)",
            binding.catalog_model_sha256,
            binding.model_sha256,
            tower_path.display()
        );
    }
    // the shop head from the orders: shipped only if it beats the source model on held-out purchases
    let mut head_entry = None;
    if let Some(customers) = &customers {
        let mut p = nextclick::Predictor::new(&onnx, &cat_bytes, nextclick::Options::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let fo = nextclick_model::shop_head::FitOptions {
            min_customers: o.min_customers,
            ..Default::default()
        };
        match nextclick_model::shop_head::fit(&mut p, customers, &fo) {
            Ok((head, fit)) => {
                let bytes = head.to_bytes();
                let name = hashed_name("shop-head", "bin", &bytes);
                head_entry = Some(put(&o.out, &mut files, &name, "shop-head", &bytes)?);
                binding.shop_head = Some(name);
                binding.shop_head_note = Some(format!(
                    "{} customers, {} purchases; held-out Recall@20 {:.4} → {:.4} over {} purchases (scale {})",
                    fit.customers, fit.purchases, fit.holdout_source, fit.holdout_head, fit.holdout_cases, fit.scale
                ));
            }
            Err(e) => {
                eprintln!("shop build: no shop head: {e}");
                binding.shop_head_note = Some(format!("no shop head: {e}"));
            }
        }
    }
    let init = init_module(
        &binding,
        &wasm,
        &model_entry,
        &catalog_entry,
        head_entry.as_ref(),
    );
    let init_name = hashed_name("nextclick-init", "js", init.as_bytes());
    let init_entry = put(&o.out, &mut files, &init_name, "init", init.as_bytes())?;
    let html = snippet(&o.base_url, &loader, &init_entry, &files);
    put(&o.out, &mut files, SNIPPET, "snippet", html.as_bytes())?;

    // 6. keep the previous build's hashed files, remove older ones we wrote
    let current: Vec<String> = [&model_name, &catalog_name, &init_name]
        .iter()
        .map(|s| s.to_string())
        .chain(binding.shop_head.clone())
        .collect();
    // the previous *different* build: a rebuild that changes nothing keeps what the previous one kept
    let retained: Vec<String> = match &prev {
        None => Vec::new(),
        Some(m) => {
            let mut theirs: Vec<String> = m
                .files
                .iter()
                .filter(|f| matches!(f.role.as_str(), "model" | "catalog" | "init" | "shop-head"))
                .map(|f| f.path.clone())
                .collect();
            theirs.sort();
            let mut ours = current.clone();
            ours.sort();
            let keep = if theirs == ours {
                m.retained.clone()
            } else {
                theirs
            };
            keep.into_iter()
                .filter(|p| !current.contains(p) && o.out.join(p).is_file())
                .collect()
        }
    };
    let mut removed_files = Vec::new();
    for e in std::fs::read_dir(&o.out)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        let ours = is_hashed_name(&name, "catalog", "bin")
            || is_hashed_name(&name, "shop-head", "bin")
            || is_hashed_name(&name, "nextclick-init", "js")
            || is_hashed_name(&name, &stem, "onnx");
        if ours && !current.contains(&name) && !retained.contains(&name) {
            std::fs::remove_file(o.out.join(&name))?;
            removed_files.push(name);
        }
    }
    removed_files.sort();

    // 7. the manifest, last
    let ch = changes(
        prev.as_ref().map(|m| m.items.as_slice()).unwrap_or(&[]),
        &fps,
    );
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        nextclick_version: env!("CARGO_PKG_VERSION").into(),
        created: bundle::rfc3339(SystemTime::now()),
        base_url: o.base_url.clone(),
        binding,
        feed: FeedSummary {
            // the file name only: the manifest is served with the folder, local paths stay local
            path: o
                .feed
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: bundle::sha256_hex(&feed_bytes),
            format: feed.format.name().into(),
            records: feed.records,
            items: feed.items.len(),
            skipped: feed
                .skipped
                .iter()
                .map(|s| format!("{}: {}", s.at, s.reason))
                .collect(),
            excluded: feed
                .excluded
                .iter()
                .map(|s| format!("{}: {}", s.at, s.reason))
                .collect(),
            currencies: feed.currencies(),
        },
        embedding: emb_summary,
        changes: ch,
        files,
        retained,
        items: fps,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    write_atomic(&o.out.join(MANIFEST), &json)?;
    Ok(BuildReport {
        manifest,
        feed,
        removed_files,
    })
}
