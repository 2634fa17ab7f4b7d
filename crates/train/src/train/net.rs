//! The trained model: its config, parameters, checkpoints, the item tower and the export of its encoder weights.

use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use nextclick::contract::{NUM_EVENT_TYPES, NUM_GAP_BUCKETS};
use nextclick_model::encoder::{EncoderConfig, EncoderWeights, LayerWeights, SplitMix};

use super::ops::*;

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
    /// `> 0` (tower models only): multi-source pre-training ([`super::sources`]). The ID-only sources'
    /// items, this many rows over all of them (each source a contiguous range), get a learned table
    /// (`idemb`) that trains with the backbone and is never exported: the exported model is the encoder and
    /// the tower. 0 (the default, and every checkpoint written before the option): one source.
    #[serde(default)]
    pub aux_items: usize,
    /// The layout of those rows ([`super::sources::id_layout`]: every ID-only source's item IDs in row
    /// order), so a later stage (`train --init`) keeps the trained table only when each row is still the
    /// same item. 0 (no ID-only sources, or a checkpoint written before the field): unknown, never carried.
    #[serde(default)]
    pub aux_layout: u64,
    /// Positions count from the session start (`min(index, L − 1)`), so the encoder exports as a
    /// contract-v2 (incremental) model whose cached keys and values stay valid as the session grows.
    /// `false` (the default, and every checkpoint written before the option): right-aligned, contract v1.
    #[serde(default)]
    pub positions_from_start: bool,
}

impl NetConfig {
    /// Whether a net of this config may take `init`'s table of the ID-only sources (`train --init`, a second
    /// stage): both have one, of the same rows, and the same known layout ([`NetConfig::aux_layout`]), so
    /// every row is still the same item. A table of other items, or of unknown layout, starts fresh.
    pub fn same_id_sources(&self, init: &NetConfig) -> bool {
        self.aux_items > 0
            && self.aux_layout != 0
            && (init.aux_items, init.aux_layout) == (self.aux_items, self.aux_layout)
    }
}

/// A model: its config and parameters (one [`VarMap`]; names `enc.*`, `tower.*`, `idemb`: the ID table of
/// the ID preset, the item offsets of `--id-residual`, or the ID-only sources' items of a multi-source run).
pub struct Net {
    /// Hyper-parameters.
    pub cfg: NetConfig,
    /// Parameters.
    pub vars: VarMap,
    /// Device (CPU).
    pub device: Device,
}

pub(crate) fn randn(r: &mut SplitMix, n: usize, std: f32) -> Vec<f32> {
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
        if cfg.aux_items > 0 {
            anyhow::ensure!(
                cfg.id_items == 0 && cfg.id_residual == 0,
                "the ID-only sources' table is a tower model's (no --id-residual, not the ID preset)"
            );
            put(
                "idemb",
                randn(&mut r, cfg.aux_items * d, 0.1),
                &[cfg.aux_items, d],
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
    pub(crate) fn item_vectors_of(
        &self,
        content: Option<&Tensor>,
        subset: Option<&Tensor>,
    ) -> Result<Tensor> {
        self.item_vectors_with(content, subset, None)
    }

    /// [`Net::item_vectors_of`] with `id_rows`, when given, as the ID table's rows of `subset` (the
    /// trainer's leaf variable of [`super::optim::TableRows`], so the gradient is the subset's only).
    pub(crate) fn item_vectors_with(
        &self,
        content: Option<&Tensor>,
        subset: Option<&Tensor>,
        id_rows: Option<&Tensor>,
    ) -> Result<Tensor> {
        let rows = |t: Tensor| match subset {
            Some(u) => t.index_select(u, 0),
            None => Ok(t),
        };
        let id_table = || match id_rows {
            Some(r) => Ok(r.clone()),
            None => rows(self.p("idemb")),
        };
        if self.cfg.id_items > 0 {
            return self.finish_items(id_table()?);
        }
        let c = content.context("a tower model needs content embeddings")?;
        let v = tower_pre(self, &rows(c.clone())?)?;
        if self.cfg.id_residual == 0 {
            return self.finish_items(v);
        }
        let off = id_table()?;
        anyhow::ensure!(
            off.dims() == v.dims(),
            "item offsets {:?} vs tower output {:?}: the checkpoint's --id-residual table was built for another catalog",
            off.dims(),
            v.dims()
        );
        self.finish_items((v + off)?)
    }

    /// Item vectors of an ID-only source (multi-source pre-training): its rows `offset..offset + len` of the
    /// table, or of those the `subset` (indices local to the source), or `id_rows` when given (the
    /// trainer's leaf variable of exactly those rows); unit rows for a cosine model.
    pub(crate) fn source_id_vectors(
        &self,
        offset: usize,
        len: usize,
        subset: Option<&Tensor>,
        id_rows: Option<&Tensor>,
    ) -> Result<Tensor> {
        anyhow::ensure!(
            self.cfg.aux_items >= offset + len,
            "ID-only source rows {offset}..{} beyond the table's {}",
            offset + len,
            self.cfg.aux_items
        );
        let v = match id_rows {
            Some(r) => r.clone(),
            None => {
                let t = self.p("idemb").narrow(0, offset, len)?;
                match subset {
                    Some(u) => t.index_select(u, 0)?,
                    None => t,
                }
            }
        };
        self.finish_items(v)
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
            positions_from_start: self.cfg.positions_from_start,
        };
        w.validate()?;
        Ok(w)
    }
}

pub(crate) fn json_path(p: &Path) -> std::path::PathBuf {
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
pub(crate) fn tower_pre(net: &Net, content: &Tensor) -> Result<Tensor> {
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
