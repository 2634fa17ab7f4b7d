//! Fine-tuning the text encoder offline: the top layers of all-MiniLM-L6-v2, trained together with the
//! item tower on a target shop's sequences (`nextclick train --text-layers K`).
//!
//! The text encoder runs only offline (the catalog tool turns a shop's items into vectors), so a
//! fine-tuned copy costs the page nothing: it is saved as a model folder in the original layout
//! (`model.safetensors` with the same tensor names, plus `config.json` and `tokenizer.json`), which every
//! command takes as `--model-dir`. Its weights hash differs, so the embedding cache keeps its vectors apart.
//!
//! Cost model. The `6 − K` frozen lower layers run once per item at start-up; their token states are kept
//! (`cached`, about `tokens × 384` floats per item). A training step runs the `K` trainable layers forward
//! and backward only for the items its batch touches (inputs and targets); the other rows of the softmax
//! table come from the content vectors of the last refresh (once per epoch), as RecFormer refreshes its
//! item table. The forward pass is candle-transformers' BERT written from differentiable primitives
//! (candle's fused LayerNorm has no backward pass): [`TextTuner::encode`] matches
//! [`crate::embed::Embedder`] to float precision (test `text_tuner_matches_candle_bert`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var, D};

use crate::train::ops::{ln, softmax};

/// The BERT shapes the tuner needs (from `config.json`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BertShape {
    /// Hidden width (384).
    pub hidden: usize,
    /// Attention heads (12).
    pub heads: usize,
    /// Transformer layers (6).
    pub layers: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
}

impl BertShape {
    /// Reads the shapes from a BERT `config.json`.
    pub fn from_config(json: &str) -> Result<BertShape> {
        let v: serde_json::Value = serde_json::from_str(json).context("config.json")?;
        let get = |k: &str| -> Result<usize> {
            v[k].as_u64()
                .map(|x| x as usize)
                .with_context(|| format!("config.json: no integer {k}"))
        };
        let act = v["hidden_act"].as_str().unwrap_or("gelu");
        anyhow::ensure!(
            act == "gelu",
            "config.json: hidden_act {act:?} (the tuner implements BERT's erf GELU)"
        );
        let s = BertShape {
            hidden: get("hidden_size")?,
            heads: get("num_attention_heads")?,
            layers: get("num_hidden_layers")?,
            eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
        };
        anyhow::ensure!(
            s.heads > 0 && s.hidden.is_multiple_of(s.heads),
            "config.json: hidden_size {} not divisible by num_attention_heads {}",
            s.hidden,
            s.heads
        );
        Ok(s)
    }
}

/// Names of one BERT layer's parameters (suffixes after `encoder.layer.{l}.`).
const LAYER_PARAMS: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

/// A text encoder whose top layers train, over per-item token states cached below them.
pub struct TextTuner {
    shape: BertShape,
    /// Every tensor of the original file (frozen values; saved with the trained ones replacing theirs).
    tensors: HashMap<String, Tensor>,
    /// The trainable parameters (the top `K` layers), by full tensor name.
    vars: Vec<(String, Var)>,
    /// First trainable layer (`layers − K`).
    first: usize,
    /// Per item: its token states after the frozen layers, `[tokens, hidden]`.
    cached: Vec<Tensor>,
    device: Device,
}

/// Batch size of the frozen pass and of [`TextTuner::encode_all`].
const CHUNK: usize = 64;

impl TextTuner {
    /// Builds a tuner from BERT tensors (`tensors`, names as in the HF BERT layout without a `bert.`
    /// prefix) and each item's token ids; the top `top_layers` layers train.
    pub fn new(
        shape: BertShape,
        tensors: HashMap<String, Tensor>,
        token_ids: &[Vec<u32>],
        top_layers: usize,
    ) -> Result<TextTuner> {
        anyhow::ensure!(
            (1..=shape.layers).contains(&top_layers),
            "--text-layers {top_layers}: the text encoder has {} layers",
            shape.layers
        );
        anyhow::ensure!(!token_ids.is_empty(), "no items to encode");
        let device = Device::Cpu;
        for name in [
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight",
            "embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias",
        ] {
            anyhow::ensure!(tensors.contains_key(name), "text encoder: no tensor {name}");
        }
        for l in 0..shape.layers {
            for p in LAYER_PARAMS {
                let n = format!("encoder.layer.{l}.{p}");
                let t = tensors
                    .get(&n)
                    .with_context(|| format!("text encoder: no tensor {n}"))?;
                anyhow::ensure!(t.dtype() == DType::F32, "text encoder: {n} is not f32");
            }
        }
        let first = shape.layers - top_layers;
        let mut vars = Vec::new();
        for l in first..shape.layers {
            for p in LAYER_PARAMS {
                let n = format!("encoder.layer.{l}.{p}");
                vars.push((n.clone(), Var::from_tensor(&tensors[&n])?));
            }
        }
        let mut t = TextTuner {
            shape,
            tensors,
            vars,
            first,
            cached: Vec::new(),
            device,
        };
        t.cached = t.frozen_states(token_ids)?;
        Ok(t)
    }

    /// Loads `model.safetensors` + `config.json` from `dir` and tokenizes `texts` with its
    /// `tokenizer.json` (no padding, truncation at [`crate::embed::MAX_TOKENS`], as the embedder).
    pub fn load(dir: &Path, texts: &[String], top_layers: usize) -> Result<TextTuner> {
        let shape = BertShape::from_config(
            &std::fs::read_to_string(dir.join("config.json"))
                .with_context(|| format!("cannot read {}/config.json", dir.display()))?,
        )?;
        let tensors: HashMap<String, Tensor> =
            candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
                .with_context(|| format!("cannot read {}/model.safetensors", dir.display()))?;
        let mut tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(anyhow::Error::msg)?;
        tok.with_padding(None);
        tok.with_truncation(Some(tokenizers::TruncationParams {
            max_length: crate::embed::MAX_TOKENS,
            ..Default::default()
        }))
        .map_err(anyhow::Error::msg)?;
        let enc = tok
            .encode_batch(texts.to_vec(), true)
            .map_err(anyhow::Error::msg)?;
        let ids: Vec<Vec<u32>> = enc.iter().map(|e| e.get_ids().to_vec()).collect();
        TextTuner::new(shape, tensors, &ids, top_layers)
    }

    /// Items the tuner encodes.
    pub fn len(&self) -> usize {
        self.cached.len()
    }

    /// Whether the tuner has no items (never: [`TextTuner::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.cached.is_empty()
    }

    /// Token states stored for all items (floats), the tuner's memory.
    pub fn cached_floats(&self) -> usize {
        self.cached.iter().map(|t| t.elem_count()).sum()
    }

    /// The trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    /// A copy of the trainable values (to go back to the best epoch).
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        Ok(self
            .vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?)
    }

    /// Sets the trainable values back to `snap` (from [`TextTuner::snapshot`]).
    pub fn restore(&self, snap: &[Tensor]) -> Result<()> {
        anyhow::ensure!(snap.len() == self.vars.len(), "snapshot of another tuner");
        for ((_, v), t) in self.vars.iter().zip(snap) {
            v.set(t)?;
        }
        Ok(())
    }

    fn param(&self, l: usize, p: &str) -> Tensor {
        if l < self.first {
            return self.tensors[&format!("encoder.layer.{l}.{p}")].clone();
        }
        let k = LAYER_PARAMS
            .iter()
            .position(|q| *q == p)
            .expect("known name");
        self.vars[(l - self.first) * LAYER_PARAMS.len() + k]
            .1
            .as_tensor()
            .clone()
    }

    /// Embeddings and the frozen layers for every item, in chunks sorted by length.
    fn frozen_states(&self, ids: &[Vec<u32>]) -> Result<Vec<Tensor>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out: Vec<Option<Tensor>> = vec![None; ids.len()];
        for chunk in order.chunks(CHUNK) {
            let t = chunk
                .iter()
                .map(|&i| ids[i].len())
                .max()
                .unwrap_or(1)
                .max(1);
            let n = chunk.len();
            let mut flat = vec![0u32; n * t];
            let mut mask = vec![0f32; n * t];
            for (r, &i) in chunk.iter().enumerate() {
                anyhow::ensure!(!ids[i].is_empty(), "item {i} has no tokens");
                for (k, &id) in ids[i].iter().enumerate() {
                    flat[r * t + k] = id;
                    mask[r * t + k] = 1.0;
                }
            }
            let mut x = self.embed(&Tensor::from_vec(flat, (n, t), &self.device)?)?;
            let bias = key_bias(&mask, n, t, &self.device)?;
            for l in 0..self.first {
                x = self.layer(l, &x, &bias)?;
            }
            let x = x.detach();
            for (r, &i) in chunk.iter().enumerate() {
                out[i] = Some(x.get(r)?.narrow(0, 0, ids[i].len())?.contiguous()?);
            }
        }
        Ok(out.into_iter().map(|t| t.expect("every item")).collect())
    }

    fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let (n, t) = ids.dims2()?;
        let h = self.shape.hidden;
        let pe = &self.tensors["embeddings.position_embeddings.weight"];
        anyhow::ensure!(t <= pe.dim(0)?, "{t} tokens, {} positions", pe.dim(0)?);
        let w = self.tensors["embeddings.word_embeddings.weight"]
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((n, t, h))?;
        let ty = self.tensors["embeddings.token_type_embeddings.weight"].get(0)?;
        let x = w.broadcast_add(&ty)?.broadcast_add(&pe.narrow(0, 0, t)?)?;
        Ok(ln(
            &x,
            &self.tensors["embeddings.LayerNorm.weight"],
            &self.tensors["embeddings.LayerNorm.bias"],
            self.shape.eps,
        )?)
    }

    /// One post-LN BERT layer on `x` `[n, t, H]` with the additive key bias `[n, 1, 1, t]`.
    fn layer(&self, l: usize, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (n, t, h) = x.dims3()?;
        let heads = self.shape.heads;
        let dh = h / heads;
        let lin = |x: &Tensor, w: &str, b: &str| -> Result<Tensor> {
            let wt = self.param(l, w);
            let out = wt.dim(0)?;
            Ok(x.reshape((n * t, x.dim(D::Minus1)?))?
                .matmul(&wt.t()?)?
                .broadcast_add(&self.param(l, b))?
                .reshape((n, t, out))?)
        };
        let split = |y: Tensor| -> Result<Tensor> {
            Ok(y.reshape((n, t, heads, dh))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(lin(
            x,
            "attention.self.query.weight",
            "attention.self.query.bias",
        )?)?;
        let k = split(lin(
            x,
            "attention.self.key.weight",
            "attention.self.key.bias",
        )?)?;
        let v = split(lin(
            x,
            "attention.self.value.weight",
            "attention.self.value.bias",
        )?)?;
        let sc = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? / (dh as f64).sqrt())?
            .broadcast_add(bias)?;
        let ctx = softmax(&sc)?
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n, t, h))?;
        let a = lin(
            &ctx,
            "attention.output.dense.weight",
            "attention.output.dense.bias",
        )?;
        let x = ln(
            &(a + x)?,
            &self.param(l, "attention.output.LayerNorm.weight"),
            &self.param(l, "attention.output.LayerNorm.bias"),
            self.shape.eps,
        )?;
        let f = lin(&x, "intermediate.dense.weight", "intermediate.dense.bias")?.gelu_erf()?;
        let f = lin(&f, "output.dense.weight", "output.dense.bias")?;
        Ok(ln(
            &(f + x)?,
            &self.param(l, "output.LayerNorm.weight"),
            &self.param(l, "output.LayerNorm.bias"),
            self.shape.eps,
        )?)
    }

    /// Content vectors `[n, H]` of the items `idx` (mean pooling over their tokens, L2-normalised),
    /// differentiable in the trainable layers. Items are run in chunks of similar token counts (padding
    /// costs as much as tokens), then put back in the order of `idx`.
    pub fn encode(&self, idx: &[u32]) -> Result<Tensor> {
        anyhow::ensure!(!idx.is_empty(), "no items to encode");
        if let Some(&i) = idx.iter().find(|&&i| i as usize >= self.cached.len()) {
            bail!("item {i} out of range ({} items)", self.cached.len());
        }
        let mut order: Vec<usize> = (0..idx.len()).collect();
        order.sort_by_key(|&r| self.cached[idx[r] as usize].dim(0).unwrap_or(0));
        if order.len() <= CHUNK / 2 {
            return self.encode_padded(idx);
        }
        let mut parts = Vec::new();
        for chunk in order.chunks(CHUNK / 2) {
            let ids: Vec<u32> = chunk.iter().map(|&r| idx[r]).collect();
            parts.push(self.encode_padded(&ids)?);
        }
        let sorted = Tensor::cat(&parts, 0)?;
        let mut inv = vec![0u32; order.len()];
        for (pos, &r) in order.iter().enumerate() {
            inv[r] = pos as u32;
        }
        Ok(sorted.index_select(&Tensor::from_vec(inv, order.len(), &self.device)?, 0)?)
    }

    /// [`TextTuner::encode`] as one padded batch (`idx` non-empty and in range: `encode` checks).
    fn encode_padded(&self, idx: &[u32]) -> Result<Tensor> {
        let h = self.shape.hidden;
        let lens: Vec<usize> = idx
            .iter()
            .map(|&i| self.cached[i as usize].dim(0))
            .collect::<candle_core::Result<_>>()?;
        let n = idx.len();
        let t = lens.iter().copied().max().unwrap_or(1);
        let mut rows = Vec::with_capacity(n);
        let mut mask = vec![0f32; n * t];
        for (r, (&i, &len)) in idx.iter().zip(&lens).enumerate() {
            let c = &self.cached[i as usize];
            rows.push(if len < t {
                Tensor::cat(
                    &[c, &Tensor::zeros((t - len, h), DType::F32, &self.device)?],
                    0,
                )?
            } else {
                c.clone()
            });
            mask[r * t..r * t + len].iter_mut().for_each(|m| *m = 1.0);
        }
        let mut x = Tensor::stack(&rows, 0)?;
        let bias = key_bias(&mask, n, t, &self.device)?;
        for l in self.first..self.shape.layers {
            x = self.layer(l, &x, &bias)?;
        }
        let m = Tensor::from_vec(mask, (n, t), &self.device)?;
        Ok(crate::embed::mean_pool_normalize(&x, &m)?)
    }

    /// Content vectors of every item `[V, H]`, detached (the refresh of the softmax table).
    pub fn encode_all(&self) -> Result<Tensor> {
        let all: Vec<u32> = (0..self.cached.len() as u32).collect();
        let mut parts = Vec::new();
        for chunk in all.chunks(1024) {
            parts.push(self.encode(chunk)?.detach());
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Writes the fine-tuned encoder as a model folder in the original layout: `model.safetensors` (every
    /// tensor of the source file, the trained layers replaced), and `config.json`, `tokenizer.json` and
    /// the other small files copied from `source_dir`.
    pub fn save(&self, source_dir: &Path, out_dir: &Path) -> Result<()> {
        if source_dir.canonicalize().ok() == out_dir.canonicalize().ok() {
            bail!(
                "{}: refusing to overwrite the source text encoder",
                out_dir.display()
            );
        }
        std::fs::create_dir_all(out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        let mut all = self.tensors.clone();
        for (n, v) in &self.vars {
            all.insert(n.clone(), v.as_tensor().copy()?);
        }
        let tmp = out_dir.join("model.safetensors.tmp");
        candle_core::safetensors::save(&all, &tmp)?;
        std::fs::rename(&tmp, out_dir.join("model.safetensors"))?;
        for f in std::fs::read_dir(source_dir)? {
            let f = f?;
            let name = f.file_name();
            if name == "model.safetensors" || !f.file_type()?.is_file() {
                continue;
            }
            std::fs::copy(f.path(), out_dir.join(&name))?;
        }
        Ok(())
    }
}

/// Additive attention bias `[n, 1, 1, t]` that masks padded keys (BERT's `(1 − mask) · min`).
fn key_bias(mask: &[f32], n: usize, t: usize, dev: &Device) -> Result<Tensor> {
    let b: Vec<f32> = mask.iter().map(|m| (1.0 - m) * f32::MIN).collect();
    Ok(Tensor::from_vec(b, (n, 1, 1, t), dev)?)
}

/// Per-batch content rows: `stale` `[V, H]` (constant) with the rows `touched` replaced by `fresh`
/// (differentiable), via `index_add` of the difference.
pub fn with_fresh_rows(stale: &Tensor, touched: &[u32], fresh: &Tensor) -> Result<Tensor> {
    let idx = Tensor::from_vec(touched.to_vec(), touched.len(), stale.device())?;
    let delta = (fresh - stale.index_select(&idx, 0)?)?;
    Ok(stale.index_add(&idx, &delta, 0)?)
}
