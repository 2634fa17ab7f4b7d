//! The trainer: a SASRec-style causal transformer that is exactly [`EncoderWeights`]' architecture, plus a
//! learned item tower (content embedding → `D`) or, for the ID baseline, a learned item-id table, trained in
//! candle with softmax over catalog items (full or sampled) on next-item prediction at every position.
//!
//! candle's fused `layer_norm` and `softmax_last_dim` have no backward pass, so this module writes both
//! from differentiable primitives ([`ln`], [`softmax`]).
//!
//! Sessions are right-aligned as in the contract. A batch only materialises its last `T ≤ L` positions
//! (with position embeddings `L−T..L`): with causal attention and masked padding keys this is exactly the
//! full-length computation, and much cheaper on short sessions.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Optimizer, VarMap};

use nextclick::contract::{NUM_EVENT_TYPES, NUM_GAP_BUCKETS};

use crate::data::Event;
use crate::encoder::{EncoderConfig, EncoderWeights, LayerWeights, SplitMix, MASK_BIAS};

/// Model hyper-parameters (the encoder plus the item representation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetConfig {
    /// The contract-v1 encoder.
    pub encoder: EncoderConfig,
    /// Content-embedding dimension the tower takes (384).
    pub content_dim: usize,
    /// Hidden width of the 2-layer tower; 0 = a single linear layer.
    pub tower_hidden: usize,
    /// `> 0`: ID baseline with a learned table of this many items instead of a tower.
    pub id_items: usize,
    /// Softmax temperature (`p ∝ exp(score / temperature)`).
    pub temperature: f32,
    /// Cosine scoring: item vectors and session vectors are L2-normalised, so scores are cosines (divided
    /// by `temperature`, e.g. 0.07), and the encoder takes the unit item vectors times a learned scalar
    /// `enc.in_scale`. `false` (the default, and every checkpoint written before the option): dot products.
    #[serde(default)]
    pub cosine: bool,
    /// `> 0` (tower models only): content *plus* ID. A learned per-item offset table (`idemb`, this many
    /// rows, zero-initialised, so training starts from the content-only model) is added to the tower's item
    /// vectors. For in-domain fine-tuning on a fixed catalog: the offsets are baked into the catalog that
    /// `export --data` writes; items without a row (a new catalog) fall back to the tower alone. 0 (the
    /// default, and every checkpoint written before the option): content only.
    #[serde(default)]
    pub id_residual: usize,
}

/// A model: its config and parameters (one [`VarMap`]; names `enc.*`, `tower.*`, `idemb`).
pub struct Net {
    /// Hyper-parameters.
    pub cfg: NetConfig,
    /// Parameters.
    pub vars: VarMap,
    /// Device (CPU).
    pub device: Device,
}

fn randn(r: &mut SplitMix, n: usize, std: f32) -> Vec<f32> {
    r.normals(n, std)
}

impl Net {
    /// A freshly initialised model (deterministic in `seed`). Event-type and time-gap embeddings start at
    /// zero, so ids never seen in training stay neutral.
    pub fn new(cfg: NetConfig, seed: u64) -> Result<Net> {
        let e = cfg.encoder;
        anyhow::ensure!(
            e.heads > 0 && e.dim.is_multiple_of(e.heads),
            "dim {} not divisible by heads {}",
            e.dim,
            e.heads
        );
        let device = Device::Cpu;
        let mut r = SplitMix(seed);
        let (d, f) = (e.dim, e.ffn);
        let mut vals: Vec<(String, Vec<f32>, Vec<usize>)> = Vec::new();
        let mut put = |name: &str, v: Vec<f32>, shape: &[usize]| {
            vals.push((name.to_string(), v, shape.to_vec()))
        };
        put(
            "enc.type_emb",
            vec![0.0; NUM_EVENT_TYPES * d],
            &[NUM_EVENT_TYPES, d],
        );
        put(
            "enc.gap_emb",
            vec![0.0; NUM_GAP_BUCKETS * d],
            &[NUM_GAP_BUCKETS, d],
        );
        put(
            "enc.pos_emb",
            randn(&mut r, e.max_len * d, 0.02),
            &[e.max_len, d],
        );
        let s = (1.0 / d as f32).sqrt();
        let out_s = s / (2.0 * e.layers as f32).sqrt();
        for l in 0..e.layers {
            let p = |n: &str| format!("enc.l{l}.{n}");
            put(&p("ln1_g"), vec![1.0; d], &[d]);
            put(&p("ln1_b"), vec![0.0; d], &[d]);
            for w in ["wq", "wk", "wv"] {
                put(&p(w), randn(&mut r, d * d, s), &[d, d]);
            }
            put(&p("wo"), randn(&mut r, d * d, out_s), &[d, d]);
            for b in ["bq", "bk", "bv", "bo"] {
                put(&p(b), vec![0.0; d], &[d]);
            }
            put(&p("ln2_g"), vec![1.0; d], &[d]);
            put(&p("ln2_b"), vec![0.0; d], &[d]);
            put(&p("w1"), randn(&mut r, d * f, s), &[d, f]);
            put(&p("b1"), vec![0.0; f], &[f]);
            put(
                &p("w2"),
                randn(
                    &mut r,
                    f * d,
                    (1.0 / f as f32).sqrt() / (2.0 * e.layers as f32).sqrt(),
                ),
                &[f, d],
            );
            put(&p("b2"), vec![0.0; d], &[d]);
        }
        put("enc.lnf_g", vec![1.0; d], &[d]);
        put("enc.lnf_b", vec![0.0; d], &[d]);
        if cfg.id_items > 0 {
            put(
                "idemb",
                randn(&mut r, cfg.id_items * d, 0.1),
                &[cfg.id_items, d],
            );
        } else if cfg.tower_hidden == 0 {
            put(
                "tower.w1",
                randn(
                    &mut r,
                    cfg.content_dim * d,
                    (1.0 / cfg.content_dim as f32).sqrt(),
                ),
                &[cfg.content_dim, d],
            );
            put("tower.b1", vec![0.0; d], &[d]);
        } else {
            let h = cfg.tower_hidden;
            put(
                "tower.w1",
                randn(
                    &mut r,
                    cfg.content_dim * h,
                    (2.0 / cfg.content_dim as f32).sqrt(),
                ),
                &[cfg.content_dim, h],
            );
            put("tower.b1", vec![0.0; h], &[h]);
            put(
                "tower.w2",
                randn(&mut r, h * d, (1.0 / h as f32).sqrt()),
                &[h, d],
            );
            put("tower.b2", vec![0.0; d], &[d]);
        }
        if cfg.id_residual > 0 {
            anyhow::ensure!(
                cfg.id_items == 0,
                "an ID model has no tower to add an item offset to"
            );
            put(
                "idemb",
                vec![0.0; cfg.id_residual * d],
                &[cfg.id_residual, d],
            );
        }
        if cfg.cosine {
            put("enc.in_scale", vec![1.0], &[1]);
        }
        let vars = VarMap::new();
        {
            let mut data = vars.data().lock().expect("fresh lock");
            for (name, v, shape) in vals {
                let t = Tensor::from_vec(v, shape, &device)?;
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        Ok(Net { cfg, vars, device })
    }

    /// The tensor of parameter `name`.
    pub fn p(&self, name: &str) -> Tensor {
        let data = self.vars.data().lock().expect("var lock");
        match data.get(name) {
            Some(v) => v.as_tensor().clone(),
            None => panic!("parameter {name} missing"),
        }
    }

    /// Parameters whose name starts with one of `prefixes`.
    pub fn vars_with_prefix(&self, prefixes: &[&str]) -> Vec<Var> {
        let data = self.vars.data().lock().expect("var lock");
        let mut names: Vec<&String> = data
            .keys()
            .filter(|k| prefixes.iter().any(|p| k.starts_with(p)))
            .collect();
        names.sort();
        names.into_iter().map(|n| data[n].clone()).collect()
    }

    /// Saves `<path>` (safetensors) and `<path>.json` (config).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.vars.save(path)?;
        std::fs::write(json_path(path), serde_json::to_string_pretty(&self.cfg)?)?;
        Ok(())
    }

    /// Loads a checkpoint written by [`Net::save`].
    pub fn load(path: &Path) -> Result<Net> {
        let cfg: NetConfig = serde_json::from_str(
            &std::fs::read_to_string(json_path(path))
                .with_context(|| format!("cannot read {}", json_path(path).display()))?,
        )?;
        let mut net = Net::new(cfg, 0)?;
        net.vars
            .load(path)
            .with_context(|| format!("cannot load {}", path.display()))?;
        Ok(net)
    }

    /// Copies the tower and/or backbone parameters from `other` (shapes must agree).
    pub fn copy_from(&mut self, other: &Net, prefixes: &[&str]) -> Result<()> {
        let src = other.vars.data().lock().expect("var lock");
        let dst = self.vars.data().lock().expect("var lock");
        for (name, v) in dst.iter() {
            if prefixes.iter().any(|p| name.starts_with(p)) {
                if name == "enc.in_scale" && !src.contains_key(name) {
                    continue; // a dot-product source: see `match_input_scale`
                }
                let s = src
                    .get(name)
                    .with_context(|| format!("init checkpoint has no {name}"))?;
                anyhow::ensure!(
                    s.shape() == v.shape(),
                    "{name}: shape {:?} vs {:?}",
                    s.shape(),
                    v.shape()
                );
                v.set(s.as_tensor())?;
            }
        }
        Ok(())
    }

    /// Item vectors of every item: the tower applied to `content` `[V, C]` (plus the learned offsets of a
    /// content+ID model), or the ID table; unit rows for a cosine model.
    pub fn item_vectors(&self, content: Option<&Tensor>) -> Result<Tensor> {
        self.item_vectors_of(content, None)
    }

    /// [`Net::item_vectors`] of the items `subset` (row indices into `content` and `idemb`), or of all.
    fn item_vectors_of(&self, content: Option<&Tensor>, subset: Option<&Tensor>) -> Result<Tensor> {
        let rows = |t: Tensor| match subset {
            Some(u) => t.index_select(u, 0),
            None => Ok(t),
        };
        if self.cfg.id_items > 0 {
            return self.finish_items(rows(self.p("idemb"))?);
        }
        let c = content.context("a tower model needs content embeddings")?;
        let v = tower_pre(self, &rows(c.clone())?)?;
        if self.cfg.id_residual == 0 {
            return self.finish_items(v);
        }
        let off = rows(self.p("idemb"))?;
        anyhow::ensure!(
            off.dims() == v.dims(),
            "item offsets {:?} vs tower output {:?}: the checkpoint's --id-residual table was built for another catalog",
            off.dims(),
            v.dims()
        );
        self.finish_items((v + off)?)
    }

    /// The last step of every item vector: L2 normalisation of the rows for a cosine model.
    pub fn finish_items(&self, v: Tensor) -> Result<Tensor> {
        if self.cfg.cosine {
            Ok(l2_rows(&v)?)
        } else {
            Ok(v)
        }
    }

    /// Fine-tuning a cosine model from a dot-product checkpoint `src`: sets `enc.in_scale` to the mean norm
    /// of `src`'s item vectors on `content`, so the copied backbone sees inputs at the scale it was trained
    /// on (only the directions change). Returns the scale.
    pub fn match_input_scale(&self, src: &Net, content: Option<&Tensor>) -> Result<f32> {
        let v = src.item_vectors(content)?;
        let mean = v.sqr()?.sum(1)?.sqrt()?.mean_all()?.to_scalar::<f32>()?;
        let data = self.vars.data().lock().expect("var lock");
        let var = data.get("enc.in_scale").context("not a cosine model")?;
        var.set(&Tensor::from_vec(vec![mean], 1, &self.device)?)?;
        Ok(mean)
    }

    /// Exports the encoder part as [`EncoderWeights`].
    pub fn encoder_weights(&self) -> Result<EncoderWeights> {
        let v = |n: &str| -> Result<Vec<f32>> { Ok(self.p(n).flatten_all()?.to_vec1::<f32>()?) };
        let e = self.cfg.encoder;
        let mut layers = Vec::new();
        for l in 0..e.layers {
            let p = |n: &str| format!("enc.l{l}.{n}");
            layers.push(LayerWeights {
                ln1_g: v(&p("ln1_g"))?,
                ln1_b: v(&p("ln1_b"))?,
                wq: v(&p("wq"))?,
                bq: v(&p("bq"))?,
                wk: v(&p("wk"))?,
                bk: v(&p("bk"))?,
                wv: v(&p("wv"))?,
                bv: v(&p("bv"))?,
                wo: v(&p("wo"))?,
                bo: v(&p("bo"))?,
                ln2_g: v(&p("ln2_g"))?,
                ln2_b: v(&p("ln2_b"))?,
                w1: v(&p("w1"))?,
                b1: v(&p("b1"))?,
                w2: v(&p("w2"))?,
                b2: v(&p("b2"))?,
            });
        }
        let w = EncoderWeights {
            config: e,
            type_emb: v("enc.type_emb")?,
            gap_emb: v("enc.gap_emb")?,
            pos_emb: v("enc.pos_emb")?,
            layers,
            lnf_g: v("enc.lnf_g")?,
            lnf_b: v("enc.lnf_b")?,
            input_scale: if self.cfg.cosine {
                v("enc.in_scale")?[0]
            } else {
                1.0
            },
            normalize_output: self.cfg.cosine,
            temperature: self.cfg.temperature,
        };
        w.validate()?;
        Ok(w)
    }
}

fn json_path(p: &Path) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".json");
    s.into()
}

/// The item tower: `GELU(c·W1 + b1)·W2 + b2`, or `c·W1 + b1` when `tower_hidden == 0` (then L2-normalised
/// rows for a cosine model). Content only: the `--id-residual` offsets are added by [`Net::item_vectors`].
pub fn tower_forward(net: &Net, content: &Tensor) -> Result<Tensor> {
    net.finish_items(tower_pre(net, content)?)
}

/// The tower before [`Net::finish_items`].
fn tower_pre(net: &Net, content: &Tensor) -> Result<Tensor> {
    let h = content
        .matmul(&net.p("tower.w1"))?
        .broadcast_add(&net.p("tower.b1"))?;
    if net.cfg.tower_hidden == 0 {
        return Ok(h);
    }
    Ok(h.gelu_erf()?
        .matmul(&net.p("tower.w2"))?
        .broadcast_add(&net.p("tower.b2"))?)
}

/// `x / √(Σx² + ε)` over the last axis (differentiable; ε = [`crate::encoder::L2_EPS`]).
pub fn l2_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    let n = (x.sqr()?.sum_keepdim(D::Minus1)? + crate::encoder::L2_EPS as f64)?.sqrt()?;
    x.broadcast_div(&n)
}

/// Differentiable LayerNorm over the last axis (biased variance).
pub fn ln(x: &Tensor, g: &Tensor, b: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps as f64)?.sqrt()?)?;
    xn.broadcast_mul(g)?.broadcast_add(b)
}

/// Differentiable softmax over the last axis.
pub fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Log-softmax over the last axis (differentiable).
pub fn log_softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let s = x.broadcast_sub(&m)?;
    s.broadcast_sub(&s.exp()?.sum_keepdim(D::Minus1)?.log()?)
}

/// A batch of right-aligned windows of `t` positions.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Sessions in the batch.
    pub b: usize,
    /// Window length (`≤ L`).
    pub t: usize,
    /// `b·t` item indices (0 at padding; masked).
    pub items: Vec<u32>,
    /// `b·t` event-type ids.
    pub types: Vec<u32>,
    /// `b·t` gap-bucket ids.
    pub gaps: Vec<u32>,
    /// `b·t` mask values.
    pub mask: Vec<f32>,
    /// `b·t` next-item targets (`u32::MAX` where none).
    pub targets: Vec<u32>,
}

impl Batch {
    /// Builds a batch from `(inputs, targets)` pairs; inputs longer than `max_len` keep their last events.
    pub fn new(examples: &[(&[Event], &[u32])], max_len: usize) -> Batch {
        let t = examples
            .iter()
            .map(|(e, _)| e.len().min(max_len))
            .max()
            .unwrap_or(1)
            .max(1);
        let b = examples.len();
        let mut bt = Batch {
            b,
            t,
            items: vec![0; b * t],
            types: vec![0; b * t],
            gaps: vec![0; b * t],
            mask: vec![0.0; b * t],
            targets: vec![u32::MAX; b * t],
        };
        for (i, (ev, tg)) in examples.iter().enumerate() {
            let n = ev.len().min(max_len);
            let ev = &ev[ev.len() - n..];
            let tg = if tg.is_empty() {
                &[][..]
            } else {
                &tg[tg.len() - n..]
            };
            for (k, e) in ev.iter().enumerate() {
                let pos = i * t + (t - n + k);
                bt.items[pos] = e.item;
                bt.types[pos] = e.kind as u32;
                bt.gaps[pos] = e.gap as u32;
                bt.mask[pos] = 1.0;
                if !tg.is_empty() {
                    bt.targets[pos] = tg[k];
                }
            }
        }
        bt
    }
}

/// Deterministic dropout (inverted scaling) driven by `rng`; identity when `p == 0`.
fn dropout(x: &Tensor, p: f32, rng: &mut Option<&mut SplitMix>) -> Result<Tensor> {
    let Some(r) = rng.as_mut() else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let n = x.elem_count();
    let keep = 1.0 / (1.0 - p);
    let m: Vec<f32> = (0..n)
        .map(|_| if r.uniform() < p { 0.0 } else { keep })
        .collect();
    Ok(x.mul(&Tensor::from_vec(m, x.shape(), x.device())?)?)
}

/// Encoder forward on a batch: `[b, t, D]` hidden states after the final LayerNorm, every position.
/// `rng = Some(..)` turns on dropout with probability `drop`.
pub fn encode(
    net: &Net,
    item_table: &Tensor,
    batch: &Batch,
    drop: f32,
    mut rng: Option<&mut SplitMix>,
) -> Result<Tensor> {
    let e = net.cfg.encoder;
    let (b, t, d, h) = (batch.b, batch.t, e.dim, e.heads);
    let dh = d / h;
    let dev = &net.device;
    let idx = Tensor::from_vec(batch.items.clone(), b * t, dev)?;
    let mask = Tensor::from_vec(batch.mask.clone(), (b, t, 1), dev)?;
    let mut items = item_table.index_select(&idx, 0)?.reshape((b, t, d))?;
    if net.cfg.cosine {
        items = items.broadcast_mul(&net.p("enc.in_scale"))?;
    }
    let types = net
        .p("enc.type_emb")
        .index_select(&Tensor::from_vec(batch.types.clone(), b * t, dev)?, 0)?
        .reshape((b, t, d))?;
    let gaps = net
        .p("enc.gap_emb")
        .index_select(&Tensor::from_vec(batch.gaps.clone(), b * t, dev)?, 0)?
        .reshape((b, t, d))?;
    let pos = net.p("enc.pos_emb").narrow(0, e.max_len - t, t)?;
    let x = (items + types)?
        .add(&gaps)?
        .broadcast_add(&pos)?
        .broadcast_mul(&mask)?;
    let mut x = dropout(&x, drop, &mut rng)?;
    // (b, 1, t, t) additive bias: key padding + causal
    let mut bias = vec![0f32; b * t * t];
    for bi in 0..b {
        for i in 0..t {
            for j in 0..t {
                let mut v = (batch.mask[bi * t + j] - 1.0) * -MASK_BIAS;
                if j > i {
                    v += MASK_BIAS;
                }
                bias[(bi * t + i) * t + j] = v;
            }
        }
    }
    let bias = Tensor::from_vec(bias, (b, 1, t, t), dev)?;
    let scale = 1.0 / (dh as f64).sqrt();
    let lin = |x: &Tensor, w: &str, bb: &str, dout: usize| -> Result<Tensor> {
        let din = x.dim(D::Minus1)?;
        Ok(x.reshape((b * t, din))?
            .matmul(&net.p(w))?
            .broadcast_add(&net.p(bb))?
            .reshape((b, t, dout))?)
    };
    for l in 0..e.layers {
        let p = |n: &str| format!("enc.l{l}.{n}");
        let hn = ln(&x, &net.p(&p("ln1_g")), &net.p(&p("ln1_b")), e.ln_eps)?;
        let split = |y: Tensor| -> Result<Tensor> {
            Ok(y.reshape((b, t, h, dh))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(lin(&hn, &p("wq"), &p("bq"), d)?)?;
        let k = split(lin(&hn, &p("wk"), &p("bk"), d)?)?;
        let v = split(lin(&hn, &p("wv"), &p("bv"), d)?)?;
        let sc = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? * scale)?.broadcast_add(&bias)?;
        let pr = softmax(&sc)?;
        let ctx = pr
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, d))?;
        let o = dropout(&lin(&ctx, &p("wo"), &p("bo"), d)?, drop, &mut rng)?;
        x = (x + o)?;
        let hn = ln(&x, &net.p(&p("ln2_g")), &net.p(&p("ln2_b")), e.ln_eps)?;
        let f = lin(&hn, &p("w1"), &p("b1"), e.ffn)?.gelu_erf()?;
        let f2 = dropout(&lin(&f, &p("w2"), &p("b2"), d)?, drop, &mut rng)?;
        x = (x + f2)?;
    }
    let out = ln(&x, &net.p("enc.lnf_g"), &net.p("enc.lnf_b"), e.ln_eps)?;
    if net.cfg.cosine {
        Ok(l2_rows(&out)?)
    } else {
        Ok(out)
    }
}

/// Session vectors at the last position of every window: `[b, D]`.
pub fn session_vectors(net: &Net, item_table: &Tensor, batch: &Batch) -> Result<Tensor> {
    let hs = encode(net, item_table, batch, 0.0, None)?;
    Ok(hs.narrow(1, batch.t - 1, 1)?.squeeze(1)?)
}

/// One next-item example set: a user's training inputs and the targets (the next item at each position).
#[derive(Debug, Clone)]
pub struct Example {
    /// Input events.
    pub inputs: Vec<Event>,
    /// Next item after each input.
    pub targets: Vec<u32>,
}

/// Leave-one-out split of one user sequence: training example (all but the last two events), validation
/// (history, target) and test (history, target). Sequences shorter than 3 are all training.
#[derive(Debug, Clone, Default)]
pub struct LooSplit {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation cases: history and target item.
    pub valid: Vec<(Vec<Event>, u32)>,
    /// Test cases: history and target item.
    pub test: Vec<(Vec<Event>, u32)>,
}

/// Builds the leave-one-out split of every sequence.
pub fn loo_split(seqs: &[Vec<Event>]) -> LooSplit {
    let mut s = LooSplit::default();
    for seq in seqs {
        let n = seq.len();
        let train_end = if n >= 3 { n - 2 } else { n };
        if train_end >= 2 {
            s.train.push(Example {
                inputs: seq[..train_end - 1].to_vec(),
                targets: seq[1..train_end].iter().map(|e| e.item).collect(),
            });
        }
        if n >= 3 {
            s.valid.push((seq[..n - 2].to_vec(), seq[n - 2].item));
            s.test.push((seq[..n - 1].to_vec(), seq[n - 1].item));
        }
    }
    s
}

/// Ranking metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Recall@10.
    pub r10: f64,
    /// NDCG@10.
    pub n10: f64,
    /// Recall@50.
    pub r50: f64,
    /// NDCG@50.
    pub n50: f64,
    /// Cases evaluated.
    pub n: usize,
}

impl Metrics {
    /// Accumulates one case whose target has `rank` (0 = best).
    pub fn add(&mut self, rank: usize) {
        self.n += 1;
        let g = 1.0 / ((rank as f64) + 2.0).log2();
        if rank < 10 {
            self.r10 += 1.0;
            self.n10 += g;
        }
        if rank < 50 {
            self.r50 += 1.0;
            self.n50 += g;
        }
    }
    /// Means over the accumulated cases.
    pub fn finish(mut self) -> Metrics {
        let n = self.n.max(1) as f64;
        self.r10 /= n;
        self.n10 /= n;
        self.r50 /= n;
        self.n50 /= n;
        self
    }
}

/// Rank of `target` among `scores` (number of items scoring strictly higher), with the `excluded` items
/// (the user's history, as in RecBole's full-sort evaluation) removed from the ranking.
pub fn rank_of(scores: &[f32], target: usize, excluded: &[u32]) -> usize {
    let st = scores[target];
    let mut rank = scores.iter().filter(|&&s| s > st).count();
    let mut seen = std::collections::HashSet::new();
    for &e in excluded {
        let e = e as usize;
        if e != target && seen.insert(e) && scores[e] > st {
            rank -= 1;
        }
    }
    rank
}

/// Full-ranking evaluation of `cases` in candle (the framework side).
pub fn evaluate(
    net: &Net,
    item_table: &Tensor,
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Metrics> {
    let member = Teacher {
        net,
        table: item_table.clone(),
    };
    let mut m = evaluate_members(std::slice::from_ref(&member), cases, batch)?;
    Ok(m.remove(0))
}

/// A frozen model whose next-item distribution is a distillation target ([`batch_loss`]) or a member of
/// a scored ensemble ([`evaluate_ensemble`]): the net and its item vectors of the whole catalog, computed
/// once.
pub struct Teacher<'a> {
    /// The teacher.
    pub net: &'a Net,
    /// Its item vectors `[V, D]` (detached).
    pub table: Tensor,
}

impl<'a> Teacher<'a> {
    /// `net` as a teacher over the catalog `content` (ignored by an ID model).
    pub fn new(net: &'a Net, content: Option<&Tensor>) -> Result<Self> {
        Ok(Self {
            net,
            table: net.item_vectors(content)?.detach(),
        })
    }
}

/// Log of the mean of the distributions `softmax(logits_i / tau)` (`[n, C]` each): the soft targets of an
/// ensemble, computed in log space (a member's tiny probabilities do not underflow to `log 0`).
pub fn log_mean_softmax(logits: &[Tensor], tau: f64) -> Result<Tensor> {
    let ls = logits
        .iter()
        .map(|l| Ok(log_softmax(&(l / tau)?)?))
        .collect::<Result<Vec<_>>>()?;
    match ls.len() {
        0 => bail!("no members"),
        1 => Ok(ls[0].clone()),
        m => {
            let st = Tensor::stack(&ls, 0)?;
            let mx = st.max_keepdim(0)?;
            let lse = (st.broadcast_sub(&mx)?.exp()?.sum_keepdim(0)?.log()? + mx)?.squeeze(0)?;
            Ok((lse - (m as f64).ln())?)
        }
    }
}

/// [`evaluate`] for an ensemble: items ranked by the mean of the members' next-item distributions
/// (each member's scores divided by its temperature). One member ranks as [`evaluate`] does.
pub fn evaluate_ensemble(
    members: &[Teacher],
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Metrics> {
    let mut m = evaluate_members(members, cases, batch)?;
    Ok(m.pop().expect("one metrics per member at least"))
}

/// [`evaluate`] of each member and, for more than one, of their ensemble (as [`evaluate_ensemble`]) in
/// one pass: each member encodes every batch once. Returns the members' metrics in order, then the
/// ensemble's.
pub fn evaluate_members(
    members: &[Teacher],
    cases: &[(Vec<Event>, u32)],
    batch: usize,
) -> Result<Vec<Metrics>> {
    anyhow::ensure!(!members.is_empty(), "no members");
    let ensemble = members.len() > 1;
    let mut ms = vec![Metrics::default(); members.len() + usize::from(ensemble)];
    let tables = members
        .iter()
        .map(|t| Ok(t.table.t()?.contiguous()?))
        .collect::<Result<Vec<_>>>()?;
    let mut logits = Vec::with_capacity(members.len());
    for chunk in cases.chunks(batch.max(1)) {
        let ex: Vec<(&[Event], &[u32])> =
            chunk.iter().map(|(h, _)| (h.as_slice(), &[][..])).collect();
        let hists: Vec<Vec<u32>> = chunk
            .iter()
            .map(|(h, _)| h.iter().map(|e| e.item).collect())
            .collect();
        let rank_all = |m: &mut Metrics, scores: Vec<Vec<f32>>| {
            for (((_, tgt), hist), sc) in chunk.iter().zip(&hists).zip(scores) {
                m.add(rank_of(&sc, *tgt as usize, hist));
            }
        };
        logits.clear();
        for ((t, tt), m) in members.iter().zip(&tables).zip(ms.iter_mut()) {
            let bt = Batch::new(&ex, t.net.cfg.encoder.max_len);
            let raw = session_vectors(t.net, &t.table, &bt)?.matmul(tt)?;
            rank_all(m, raw.to_vec2::<f32>()?);
            if ensemble {
                logits.push((raw / t.net.cfg.temperature as f64)?);
            }
        }
        if ensemble {
            let scores = log_mean_softmax(&logits, 1.0)?.to_vec2::<f32>()?;
            rank_all(ms.last_mut().expect("ensemble slot"), scores);
        }
    }
    Ok(ms.into_iter().map(|m| m.finish()).collect())
}

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
}

fn make_batches(train: &[Example], batch_tokens: usize, max_len: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.sort_by_key(|&i| (train[i].inputs.len().min(max_len), i));
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in order {
        let t = train[i].inputs.len().min(max_len);
        if !cur.is_empty() && (cur.len() + 1) * t > batch_tokens {
            batches.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

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
    batch_loss_with_inputs(net, content, None, batch, opts, teachers, rng)
}

/// [`batch_loss`] with other content rows for the session's inputs than for the scored candidates:
/// `input_content` (same shape as `content`) feeds the encoder, `content` the softmax. Text-encoder
/// fine-tuning gives fresh rows to the inputs only, so the candidates never tell a batch's items (fresh)
/// from the rest (stale) — which would leak the targets.
pub fn batch_loss_with_inputs(
    net: &Net,
    content: Option<&Tensor>,
    input_content: Option<&Tensor>,
    batch: &Batch,
    opts: &TrainOptions,
    teachers: &[Teacher],
    rng: &mut SplitMix,
) -> Result<(Tensor, usize)> {
    let dev = &net.device;
    let n_items = match content {
        Some(c) if net.cfg.id_items == 0 => c.dim(0)?,
        _ => net.cfg.id_items,
    };
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
    let vectors = |n: &Net, c: Option<&Tensor>| n.item_vectors_of(c, subset_t.as_ref());
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
    Ok((loss, targets.len()))
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

/// The items of a batch's inputs, sorted and unique.
pub fn input_items(batch: &Batch) -> Vec<u32> {
    let mut v: Vec<u32> = batch
        .items
        .iter()
        .zip(&batch.mask)
        .filter(|(_, m)| **m > 0.0)
        .map(|(i, _)| *i)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
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
    let t0 = std::time::Instant::now();
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
    let adamw = |lr: f64| {
        candle_nn::AdamW::new(
            vars.clone(),
            candle_nn::ParamsAdamW {
                lr,
                weight_decay: opts.weight_decay,
                ..Default::default()
            },
        )
    };
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
    let batches = make_batches(&split.train, opts.batch_tokens, max_len);
    let mut rng = SplitMix(opts.seed ^ 0x5eed);
    let mut vr = SplitMix(opts.seed ^ 0x7a11d);
    let mut valid: Vec<(Vec<Event>, u32)> = split.valid.clone();
    for i in (1..valid.len()).rev() {
        let j = vr.below(i + 1);
        valid.swap(i, j);
    }
    valid.truncate(opts.valid_cases);
    let mut best = f64::NEG_INFINITY;
    let mut best_epoch = 0;
    let mut bad = 0;
    let mut losses = Vec::new();
    let mut tokens = 0usize;
    let mut epochs = 0;
    for epoch in 1..=opts.epochs {
        epochs = epoch;
        let mut order: Vec<usize> = (0..batches.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let pb = if opts.progress {
            indicatif::ProgressBar::new(order.len() as u64)
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
        for &bi in &order {
            let ex: Vec<(&[Event], &[u32])> = batches[bi]
                .iter()
                .map(|&i| {
                    (
                        split.train[i].inputs.as_slice(),
                        split.train[i].targets.as_slice(),
                    )
                })
                .collect();
            let batch = Batch::new(&ex, max_len);
            let (loss, n) = match &text {
                None => batch_loss(net, content_now.as_ref(), &batch, opts, teachers, &mut rng)?,
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
                    batch_loss_with_inputs(
                        net,
                        Some(stale),
                        Some(&c),
                        &batch,
                        opts,
                        teachers,
                        &mut rng,
                    )?
                }
            };
            let lv = loss.to_scalar::<f32>()? as f64;
            anyhow::ensure!(lv.is_finite(), "loss became {lv} at epoch {epoch}");
            let grads = loss.backward()?;
            opt.step(&grads)?;
            if let Some(o) = topt.as_mut() {
                o.step(&grads)?;
            }
            sum += lv * n as f64;
            cnt += n;
            tokens += n;
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
        let table = net.item_vectors(content_now.as_ref())?;
        let m = evaluate(net, &table, &valid, 256)?;
        pb.finish_with_message(format!(
            "loss {mean:.4} valid N@10 {:.4} R@10 {:.4}",
            m.n10, m.r10
        ));
        if !opts.progress || pb.is_hidden() {
            // no terminal (logs, make): the bars are hidden, so print the epoch summary
            eprintln!(
                "epoch {epoch}: loss {mean:.4} valid N@10 {:.4} R@10 {:.4} ({:.0} s, {:.0} tokens/s)",
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
    })
}

/// Content embeddings as a `[V, C]` tensor.
pub fn content_tensor(vecs: &[f32], dim: usize) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        vecs.to_vec(),
        (vecs.len() / dim, dim),
        &Device::Cpu,
    )?)
}

/// A tensor's values as f32 (helper for export and tests).
pub fn to_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_softmax_match_candle_forward() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..24)
                .map(|i| (i as f32 * 0.37).sin() * 3.0)
                .collect::<Vec<_>>(),
            (2, 3, 4),
            &dev,
        )
        .unwrap();
        let g = Tensor::from_vec(vec![1.0f32, 0.5, 2.0, -1.0], 4, &dev).unwrap();
        let b = Tensor::from_vec(vec![0.1f32, 0.0, -0.2, 0.3], 4, &dev).unwrap();
        let a = to_f32(&ln(&x, &g, &b, 1e-5).unwrap()).unwrap();
        let r = to_f32(&candle_nn::ops::layer_norm(&x, &g, &b, 1e-5).unwrap()).unwrap();
        assert!(a.iter().zip(&r).all(|(p, q)| (p - q).abs() < 1e-5));
        let a = to_f32(&softmax(&x).unwrap()).unwrap();
        let r = to_f32(&candle_nn::ops::softmax_last_dim(&x).unwrap()).unwrap();
        assert!(a.iter().zip(&r).all(|(p, q)| (p - q).abs() < 1e-6));
    }

    #[test]
    fn rank_excludes_history() {
        let s = [0.9f32, 0.5, 0.7, 0.1];
        assert_eq!(rank_of(&s, 1, &[]), 2);
        assert_eq!(rank_of(&s, 1, &[0, 0, 1]), 1);
        assert_eq!(rank_of(&s, 0, &[2]), 0);
    }
}
