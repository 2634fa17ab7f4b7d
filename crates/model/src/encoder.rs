//! The session encoder: its weights, plain-Rust forward passes (the references every other implementation
//! is checked against) and the ONNX writers of contract v1 (the window encoder) and v2 (the incremental
//! encoder, one event per call with a key/value cache).
//!
//! Architecture (SASRec-style, pre-LayerNorm causal transformer; `docs/model-contract.md`):
//!
//! ```text
//! x   = items + type_emb[event_types] + gap_emb[time_gaps] + pos_emb          (N, L, D)
//! x   = x · mask                                                              padding rows are zero
//! per layer:
//!   h = LN(x);  x += Wo · MHA(h Wq, h Wk, h Wv; causal + key-padding bias)
//!   h = LN(x);  x += W2 · GELU(h W1)
//! out = LN_f(x[:, L-1, :])                                                    (N, D)
//! ```
//!
//! Matrices are stored row-major as `[in, out]`, so a layer is `y = x · W + b`.

use prost::Message;
use tract_onnx::pb;

use nextclick::contract::{self, NUM_EVENT_TYPES, NUM_GAP_BUCKETS};
use nextclick::model::EncoderInput;

/// Additive bias that masks an attention score (finite, so fully masked rows stay finite).
pub const MASK_BIAS: f32 = -1.0e4;

/// Hyper-parameters of a session encoder.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderConfig {
    /// Maximum session length `L`.
    pub max_len: usize,
    /// Model dimension `D` (= item and session vector dimension).
    pub dim: usize,
    /// Attention heads (`D` must be divisible by it).
    pub heads: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Hidden width of the feed-forward block.
    pub ffn: usize,
    /// LayerNorm epsilon.
    pub ln_eps: f32,
}

/// Weights of one transformer block.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub struct LayerWeights {
    pub ln1_g: Vec<f32>,
    pub ln1_b: Vec<f32>,
    pub wq: Vec<f32>,
    pub bq: Vec<f32>,
    pub wk: Vec<f32>,
    pub bk: Vec<f32>,
    pub wv: Vec<f32>,
    pub bv: Vec<f32>,
    pub wo: Vec<f32>,
    pub bo: Vec<f32>,
    pub ln2_g: Vec<f32>,
    pub ln2_b: Vec<f32>,
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

/// All weights of a session encoder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderWeights {
    /// Hyper-parameters.
    pub config: EncoderConfig,
    /// `[NUM_EVENT_TYPES, D]` event-type embeddings (row 0 = padding).
    pub type_emb: Vec<f32>,
    /// `[NUM_GAP_BUCKETS, D]` time-gap embeddings (row 0 = padding).
    pub gap_emb: Vec<f32>,
    /// `[L, D]` position embeddings (position `L − 1` is the most recent event).
    pub pos_emb: Vec<f32>,
    /// Transformer blocks.
    pub layers: Vec<LayerWeights>,
    /// Final LayerNorm gain.
    pub lnf_g: Vec<f32>,
    /// Final LayerNorm bias.
    pub lnf_b: Vec<f32>,
    /// Scale applied to the input item vectors: 1 for dot-product models; cosine models
    /// (`nextclick_train::train::NetConfig::cosine`) take unit item vectors and learn this scale.
    #[serde(default = "one")]
    pub input_scale: f32,
    /// L2-normalise the session vector (cosine models: scores are cosines).
    #[serde(default)]
    pub normalize_output: bool,
    /// Score temperature, written to the ONNX metadata (`nextclick.temperature`) when it is not 1.
    #[serde(default = "one")]
    pub temperature: f32,
    /// Positions count from the session start (`pos_emb[min(index, L − 1)]`), as contract v2 needs,
    /// instead of from the most recent event (v1's right-aligned `pos_emb[L − 1]` = the last event).
    /// [`EncoderWeights::to_onnx`] writes such weights as a contract-v2 model.
    #[serde(default)]
    pub positions_from_start: bool,
}

fn one() -> f32 {
    1.0
}

/// Epsilon of the L2 normalisations (`x / √(Σx² + ε)`), the same in training, export and the plain-Rust
/// forward pass.
pub const L2_EPS: f32 = 1e-12;

/// `x / √(Σx² + ε)` in place.
pub fn l2_normalize(x: &mut [f32]) {
    let n = (x.iter().map(|v| v * v).sum::<f32>() + L2_EPS).sqrt();
    x.iter_mut().for_each(|v| *v /= n);
}

/// SplitMix64: a tiny deterministic generator for reproducible reference weights and synthetic data.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Approximately standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// A vector of normals scaled by `std`.
    pub fn normals(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * std).collect()
    }
    /// `n` random directions of `dim` components, each of length 1, row after row (test and fixture
    /// content vectors).
    pub fn unit_vectors(&mut self, n: usize, dim: usize) -> Vec<f32> {
        (0..n)
            .flat_map(|_| {
                let v = self.normals(dim, 1.0);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.into_iter().map(move |x| x / norm)
            })
            .collect()
    }
}

impl EncoderWeights {
    /// Random weights (deterministic in `seed`), scaled so that activations stay in a sane range.
    pub fn random(config: EncoderConfig, seed: u64) -> EncoderWeights {
        let mut r = SplitMix(seed);
        let (d, f) = (config.dim, config.ffn);
        let s = 1.0 / (d as f32).sqrt();
        let near_one =
            |n: usize, r: &mut SplitMix| (0..n).map(|_| 1.0 + 0.1 * r.normal()).collect::<Vec<_>>();
        let layers = (0..config.layers)
            .map(|_| LayerWeights {
                ln1_g: near_one(d, &mut r),
                ln1_b: r.normals(d, 0.05),
                wq: r.normals(d * d, s),
                bq: r.normals(d, 0.02),
                wk: r.normals(d * d, s),
                bk: r.normals(d, 0.02),
                wv: r.normals(d * d, s),
                bv: r.normals(d, 0.02),
                wo: r.normals(d * d, s),
                bo: r.normals(d, 0.02),
                ln2_g: near_one(d, &mut r),
                ln2_b: r.normals(d, 0.05),
                w1: r.normals(d * f, s),
                b1: r.normals(f, 0.02),
                w2: r.normals(f * d, 1.0 / (f as f32).sqrt()),
                b2: r.normals(d, 0.02),
            })
            .collect();
        EncoderWeights {
            config,
            type_emb: r.normals(NUM_EVENT_TYPES * d, 0.3),
            gap_emb: r.normals(NUM_GAP_BUCKETS * d, 0.3),
            pos_emb: r.normals(config.max_len * d, 0.3),
            layers,
            lnf_g: near_one(d, &mut r),
            lnf_b: r.normals(d, 0.05),
            input_scale: 1.0,
            normalize_output: false,
            temperature: 1.0,
            positions_from_start: false,
        }
    }

    /// Checks every tensor's length against the config.
    pub fn validate(&self) -> anyhow::Result<()> {
        let c = self.config;
        let (d, f, l) = (c.dim, c.ffn, c.max_len);
        anyhow::ensure!(
            c.heads > 0 && d.is_multiple_of(c.heads),
            "dim {d} not divisible by heads {}",
            c.heads
        );
        let check = |name: &str, v: &[f32], n: usize| {
            anyhow::ensure!(v.len() == n, "{name}: {} values, expected {n}", v.len());
            anyhow::ensure!(v.iter().all(|x| x.is_finite()), "{name}: non-finite value");
            Ok(())
        };
        check("type_emb", &self.type_emb, NUM_EVENT_TYPES * d)?;
        check("gap_emb", &self.gap_emb, NUM_GAP_BUCKETS * d)?;
        check("pos_emb", &self.pos_emb, l * d)?;
        check("lnf_g", &self.lnf_g, d)?;
        check("lnf_b", &self.lnf_b, d)?;
        anyhow::ensure!(
            self.input_scale.is_finite() && self.input_scale > 0.0,
            "input_scale {} must be a positive number",
            self.input_scale
        );
        anyhow::ensure!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "temperature {} must be a positive number",
            self.temperature
        );
        anyhow::ensure!(
            self.layers.len() == c.layers,
            "{} layers, expected {}",
            self.layers.len(),
            c.layers
        );
        for w in &self.layers {
            for (n, v, len) in [
                ("ln1_g", &w.ln1_g, d),
                ("ln1_b", &w.ln1_b, d),
                ("wq", &w.wq, d * d),
                ("bq", &w.bq, d),
                ("wk", &w.wk, d * d),
                ("bk", &w.bk, d),
                ("wv", &w.wv, d * d),
                ("bv", &w.bv, d),
                ("wo", &w.wo, d * d),
                ("bo", &w.bo, d),
                ("ln2_g", &w.ln2_g, d),
                ("ln2_b", &w.ln2_b, d),
                ("w1", &w.w1, d * f),
                ("b1", &w.b1, f),
                ("w2", &w.w2, f * d),
                ("b2", &w.b2, d),
            ] {
                check(n, v, len)?;
            }
        }
        Ok(())
    }

    /// Plain-Rust forward pass for one session: the reference for tract and for the trainer.
    pub fn forward(&self, input: &EncoderInput) -> Vec<f32> {
        let c = self.config;
        let (l, d, h) = (c.max_len, c.dim, c.heads);
        let dh = d / h;
        let mut x = vec![0f32; l * d];
        for p in 0..l {
            let t = input.event_types[p] as usize;
            let g = input.time_gaps[p] as usize;
            for j in 0..d {
                x[p * d + j] = (input.items[p * d + j] * self.input_scale
                    + self.type_emb[t * d + j]
                    + self.gap_emb[g * d + j]
                    + self.pos_emb[p * d + j])
                    * input.mask[p];
            }
        }
        for w in &self.layers {
            let hn = layer_norm(&x, d, &w.ln1_g, &w.ln1_b, c.ln_eps);
            let q = linear(&hn, d, &w.wq, &w.bq, d);
            let k = linear(&hn, d, &w.wk, &w.bk, d);
            let v = linear(&hn, d, &w.wv, &w.bv, d);
            let mut att = vec![0f32; l * d];
            let scale = 1.0 / (dh as f32).sqrt();
            let mut scores = vec![0f32; l];
            for head in 0..h {
                let o = head * dh;
                for i in 0..l {
                    for (j, s) in scores.iter_mut().enumerate() {
                        let mut acc = 0f32;
                        for e in 0..dh {
                            acc += q[i * d + o + e] * k[j * d + o + e];
                        }
                        let causal = if j > i { MASK_BIAS } else { 0.0 };
                        *s = acc * scale + (input.mask[j] - 1.0) * -MASK_BIAS + causal;
                    }
                    let m = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let mut z = 0f32;
                    for s in scores.iter_mut() {
                        *s = (*s - m).exp();
                        z += *s;
                    }
                    for e in 0..dh {
                        let mut acc = 0f32;
                        for (j, s) in scores.iter().enumerate() {
                            acc += s / z * v[j * d + o + e];
                        }
                        att[i * d + o + e] = acc;
                    }
                }
            }
            let proj = linear(&att, d, &w.wo, &w.bo, d);
            x.iter_mut().zip(&proj).for_each(|(a, b)| *a += b);
            let hn = layer_norm(&x, d, &w.ln2_g, &w.ln2_b, c.ln_eps);
            let mut f1 = linear(&hn, d, &w.w1, &w.b1, c.ffn);
            f1.iter_mut().for_each(|u| *u = gelu(*u));
            let f2 = linear(&f1, c.ffn, &w.w2, &w.b2, d);
            x.iter_mut().zip(&f2).for_each(|(a, b)| *a += b);
        }
        let mut out = layer_norm(&x[(l - 1) * d..], d, &self.lnf_g, &self.lnf_b, c.ln_eps);
        if self.normalize_output {
            l2_normalize(&mut out);
        }
        out
    }

    /// Reads the weights back from an ONNX file this module wrote (v1 or v2; by initializer name), e.g. to
    /// write a v1 model's weights as a v2 step graph for a benchmark
    /// ([`EncoderWeights::to_onnx_incremental`]). Another producer's graph is refused.
    pub fn from_onnx(bytes: &[u8]) -> anyhow::Result<EncoderWeights> {
        use anyhow::Context;
        let proto = pb::ModelProto::decode(bytes).context("not an ONNX protobuf")?;
        let graph = proto.graph.context("no graph")?;
        let inits: std::collections::HashMap<&str, &pb::TensorProto> = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let get = |name: &str| -> anyhow::Result<(Vec<i64>, Vec<f32>)> {
            let t = inits
                .get(name)
                .with_context(|| format!("no initializer {name:?}: not a nextclick encoder"))?;
            anyhow::ensure!(t.data_type == F32, "{name}: not float32");
            let v = t
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok((t.dims.clone(), v))
        };
        let ints = |name: &str| -> anyhow::Result<Vec<i64>> {
            let t = inits.get(name).with_context(|| format!("no {name:?}"))?;
            Ok(t.raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect())
        };
        let (td, type_emb) = get("type_emb")?;
        let (pd, pos_emb) = get("pos_emb")?;
        let (_, gap_emb) = get("gap_emb")?;
        let (dim, max_len) = (td[1] as usize, pd[0] as usize);
        let layers_n = (0..)
            .take_while(|i| inits.contains_key(format!("l{i}_wq").as_str()))
            .count();
        let heads = ints("split_heads_shape")?
            .get(2)
            .copied()
            .context("split_heads_shape")? as usize;
        let ffn = get("l0_w1").map(|(d, _)| d[1] as usize).unwrap_or(0);
        let ln_eps = graph
            .node
            .iter()
            .find(|n| n.op_type == "LayerNormalization")
            .and_then(|n| n.attribute.iter().find(|a| a.name == "epsilon"))
            .map(|a| a.f)
            .unwrap_or(1e-5);
        let mut layers = Vec::with_capacity(layers_n);
        for i in 0..layers_n {
            let w = |n: &str| get(&format!("l{i}_{n}")).map(|(_, v)| v);
            layers.push(LayerWeights {
                ln1_g: w("ln1_g")?,
                ln1_b: w("ln1_b")?,
                wq: w("wq")?,
                bq: w("bq")?,
                wk: w("wk")?,
                bk: w("bk")?,
                wv: w("wv")?,
                bv: w("bv")?,
                wo: w("wo")?,
                bo: w("bo")?,
                ln2_g: w("ln2_g")?,
                ln2_b: w("ln2_b")?,
                w1: w("w1")?,
                b1: w("b1")?,
                w2: w("w2")?,
                b2: w("b2")?,
            });
        }
        let temperature = proto
            .metadata_props
            .iter()
            .find(|m| m.key == nextclick::model::META_TEMPERATURE)
            .and_then(|m| m.value.trim().parse().ok())
            .unwrap_or(1.0);
        let w = EncoderWeights {
            config: EncoderConfig {
                max_len,
                dim,
                heads,
                layers: layers_n,
                ffn,
                ln_eps,
            },
            type_emb,
            gap_emb,
            pos_emb,
            layers,
            lnf_g: get("lnf_g")?.1,
            lnf_b: get("lnf_b")?.1,
            input_scale: get("input_scale").map(|(_, v)| v[0]).unwrap_or(1.0),
            normalize_output: inits.contains_key("ones_column"),
            temperature,
            positions_from_start: graph
                .input
                .iter()
                .any(|i| i.name == contract::STEP_INPUT_POSITION),
        };
        w.validate()?;
        Ok(w)
    }

    /// Plain-Rust forward pass of the incremental (contract v2) encoder over a whole session, without a
    /// cache: the session vector after each event. Event `i` is at position
    /// `min(first_index + i, L − 1)` and each block's attention covers it and the `L − 1` events before
    /// it (a causal band of `L`), so for a session of at most `L` events this is the causal window
    /// encoder with positions counted from the session start. `items` holds `n × D` values.
    pub fn forward_from_start(
        &self,
        items: &[f32],
        event_types: &[i64],
        time_gaps: &[i64],
        first_index: u64,
    ) -> Vec<Vec<f32>> {
        let c = self.config;
        let (l, d, h) = (c.max_len, c.dim, c.heads);
        let n = event_types.len();
        assert!(items.len() == n * d && time_gaps.len() == n);
        let dh = d / h;
        let mut x = vec![0f32; n * d];
        for p in 0..n {
            let t = event_types[p] as usize;
            let g = time_gaps[p] as usize;
            let pos = contract::step_position(first_index + p as u64, l) as usize;
            for j in 0..d {
                x[p * d + j] = items[p * d + j] * self.input_scale
                    + self.type_emb[t * d + j]
                    + self.gap_emb[g * d + j]
                    + self.pos_emb[pos * d + j];
            }
        }
        let scale = 1.0 / (dh as f32).sqrt();
        for w in &self.layers {
            let hn = layer_norm(&x, d, &w.ln1_g, &w.ln1_b, c.ln_eps);
            let q = linear(&hn, d, &w.wq, &w.bq, d);
            let k = linear(&hn, d, &w.wk, &w.bk, d);
            let v = linear(&hn, d, &w.wv, &w.bv, d);
            let mut att = vec![0f32; n * d];
            for head in 0..h {
                let o = head * dh;
                for i in 0..n {
                    let from = (i + 1).saturating_sub(l);
                    let scores: Vec<f32> = (from..=i)
                        .map(|j| {
                            (0..dh)
                                .map(|e| q[i * d + o + e] * k[j * d + o + e])
                                .sum::<f32>()
                                * scale
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let ex: Vec<f32> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f32 = ex.iter().sum();
                    for e in 0..dh {
                        att[i * d + o + e] = ex
                            .iter()
                            .zip(from..=i)
                            .map(|(p, j)| p / z * v[j * d + o + e])
                            .sum();
                    }
                }
            }
            let proj = linear(&att, d, &w.wo, &w.bo, d);
            x.iter_mut().zip(&proj).for_each(|(a, b)| *a += b);
            let hn = layer_norm(&x, d, &w.ln2_g, &w.ln2_b, c.ln_eps);
            let mut f1 = linear(&hn, d, &w.w1, &w.b1, c.ffn);
            f1.iter_mut().for_each(|u| *u = gelu(*u));
            let f2 = linear(&f1, c.ffn, &w.w2, &w.b2, d);
            x.iter_mut().zip(&f2).for_each(|(a, b)| *a += b);
        }
        x.chunks_exact(d)
            .map(|row| {
                let mut out = layer_norm(row, d, &self.lnf_g, &self.lnf_b, c.ln_eps);
                if self.normalize_output {
                    l2_normalize(&mut out);
                }
                out
            })
            .collect()
    }

    /// Serialises the encoder as an ONNX model (opset 17), batch dimension symbolic (`N`): contract v2
    /// (incremental) when its positions count from the session start, else contract v1.
    pub fn to_onnx(&self, producer: &str) -> Vec<u8> {
        if self.positions_from_start {
            self.to_onnx_incremental(producer)
        } else {
            OnnxBuilder::new(self).build(producer).encode_to_vec()
        }
    }

    /// Serialises the encoder as a contract-v2 (incremental) ONNX model, whatever its position scheme:
    /// the step graph reads `pos_emb[min(index, L − 1)]`. Weights trained with right-aligned positions
    /// give another model that way (their `pos_emb[L − 1]` means "the most recent event"), but the same
    /// arithmetic per event, which is what a latency benchmark or a parity test needs.
    pub fn to_onnx_incremental(&self, producer: &str) -> Vec<u8> {
        OnnxBuilder::new(self).build_step(producer).encode_to_vec()
    }
}

/// Exact GELU: `0.5·x·(1 + erf(x/√2))`.
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

/// `erf`, to f32 precision (Abramowitz–Stegun 7.1.26 is too coarse for 1e-5 parity; this uses the
/// complementary-error-function expansion of Numerical Recipes, relative error < 1.2e-7).
pub fn erf(x: f32) -> f32 {
    let z = (x as f64).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    (if x >= 0.0 { 1.0 - r } else { r - 1.0 }) as f32
}

/// Row-wise LayerNorm over rows of width `d` (biased variance, as ONNX LayerNormalization).
pub fn layer_norm(x: &[f32], d: usize, g: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean = row.iter().sum::<f32>() / d as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for j in 0..d {
            o[j] = (row[j] - mean) * inv * g[j] + b[j];
        }
    }
    out
}

/// `y = x · W + b` for rows of width `din`, `W` row-major `[din, dout]`.
pub fn linear(x: &[f32], din: usize, w: &[f32], b: &[f32], dout: usize) -> Vec<f32> {
    let rows = x.len() / din;
    let mut out = vec![0f32; rows * dout];
    for r in 0..rows {
        let o = &mut out[r * dout..(r + 1) * dout];
        o.copy_from_slice(b);
        for i in 0..din {
            let xi = x[r * din + i];
            if xi != 0.0 {
                for (oj, wj) in o.iter_mut().zip(&w[i * dout..(i + 1) * dout]) {
                    *oj += xi * wj;
                }
            }
        }
    }
    out
}

struct OnnxBuilder<'a> {
    w: &'a EncoderWeights,
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
    counter: usize,
}

/// Initializer names of one block's weights.
struct LayerNames {
    g1: String,
    b1n: String,
    wq: String,
    bq: String,
    wk: String,
    bk: String,
    wv: String,
    bv: String,
    wo: String,
    bo: String,
    g2: String,
    b2n: String,
    w1: String,
    b1: String,
    w2: String,
    b2: String,
}

const F32: i32 = pb::tensor_proto::DataType::Float as i32;
const I64: i32 = pb::tensor_proto::DataType::Int64 as i32;

fn value_info(name: &str, elem_type: i32, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            denotation: String::new(),
                            value: Some(match d {
                                Some(v) => Value::DimValue(*v),
                                None => Value::DimParam("N".into()),
                            }),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

impl<'a> OnnxBuilder<'a> {
    fn new(w: &'a EncoderWeights) -> Self {
        OnnxBuilder {
            w,
            nodes: Vec::new(),
            inits: Vec::new(),
            counter: 0,
        }
    }

    fn f32_init(&mut self, name: &str, dims: &[i64], data: &[f32]) -> String {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: F32,
            raw_data: raw,
            ..Default::default()
        });
        name.into()
    }

    fn i64_init(&mut self, name: &str, dims: &[i64], data: &[i64]) -> String {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: I64,
            raw_data: raw,
            ..Default::default()
        });
        name.into()
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        self.counter += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.counter);
        self.node_named(op, inputs, attrs, &out);
        out
    }

    fn node_named(&mut self, op: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>, out: &str) {
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("n{}_{}", self.nodes.len(), op),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn layer_norm(&mut self, x: &str, g: &str, b: &str) -> String {
        let eps = self.w.config.ln_eps;
        self.node(
            "LayerNormalization",
            &[x, g, b],
            vec![attr_int("axis", -1), attr_float("epsilon", eps)],
        )
    }

    fn linear(&mut self, x: &str, w: &str, b: &str) -> String {
        let m = self.node("MatMul", &[x, w], vec![]);
        self.node("Add", &[&m, b], vec![])
    }

    /// The layer weights of block `i` as initializers.
    fn layer_inits(&mut self, i: usize) -> LayerNames {
        let w = self.w;
        let c = w.config;
        let (d, f) = (c.dim as i64, c.ffn as i64);
        let lw = &w.layers[i];
        let p = |n: &str| format!("l{i}_{n}");
        LayerNames {
            g1: self.f32_init(&p("ln1_g"), &[d], &lw.ln1_g),
            b1n: self.f32_init(&p("ln1_b"), &[d], &lw.ln1_b),
            wq: self.f32_init(&p("wq"), &[d, d], &lw.wq),
            bq: self.f32_init(&p("bq"), &[d], &lw.bq),
            wk: self.f32_init(&p("wk"), &[d, d], &lw.wk),
            bk: self.f32_init(&p("bk"), &[d], &lw.bk),
            wv: self.f32_init(&p("wv"), &[d, d], &lw.wv),
            bv: self.f32_init(&p("bv"), &[d], &lw.bv),
            wo: self.f32_init(&p("wo"), &[d, d], &lw.wo),
            bo: self.f32_init(&p("bo"), &[d], &lw.bo),
            g2: self.f32_init(&p("ln2_g"), &[d], &lw.ln2_g),
            b2n: self.f32_init(&p("ln2_b"), &[d], &lw.ln2_b),
            w1: self.f32_init(&p("w1"), &[d, f], &lw.w1),
            b1: self.f32_init(&p("b1"), &[f], &lw.b1),
            w2: self.f32_init(&p("w2"), &[f, d], &lw.w2),
            b2: self.f32_init(&p("b2"), &[d], &lw.b2),
        }
    }

    /// `items · input_scale + types + gaps + positions` (the scale only when it is not 1).
    fn input_sum(&mut self, items: &str, types: &str, gaps: &str, positions: &str) -> String {
        let items_in = if self.w.input_scale == 1.0 {
            items.to_string()
        } else {
            let sc = self.f32_init("input_scale", &[], &[self.w.input_scale]);
            self.node("Mul", &[items, &sc], vec![])
        };
        let s1 = self.node("Add", &[&items_in, types], vec![]);
        let s2 = self.node("Add", &[&s1, gaps], vec![]);
        self.node("Add", &[&s2, positions], vec![])
    }

    /// `x + W₂·GELU(W₁·LN(x))` (the feed-forward half of a block).
    fn ffn(&mut self, x: &str, n: &LayerNames, one: &str, half: &str, inv_sqrt2: &str) -> String {
        let hn = self.layer_norm(x, &n.g2, &n.b2n);
        let f = self.linear(&hn, &n.w1, &n.b1);
        let fs = self.node("Mul", &[&f, inv_sqrt2], vec![]);
        let fe = self.node("Erf", &[&fs], vec![]);
        let fe1 = self.node("Add", &[&fe, one], vec![]);
        let fh = self.node("Mul", &[&f, half], vec![]);
        let fg = self.node("Mul", &[&fh, &fe1], vec![]);
        let f2 = self.linear(&fg, &n.w2, &n.b2);
        self.node("Add", &[x, &f2], vec![])
    }

    /// The session vector `LN_f(x)` (L2-normalised for cosine models) as the output `session`.
    fn session_output(&mut self, x: &str) {
        let w = self.w;
        let d = w.config.dim as i64;
        let lg = self.f32_init("lnf_g", &[d], &w.lnf_g);
        let lb = self.f32_init("lnf_b", &[d], &w.lnf_b);
        if w.normalize_output {
            // session = y / √(Σy² + ε) over the last axis; the sum is a MatMul with a ones column, which
            // keeps the graph inside the contract's operator set (no ReduceSum)
            let y = self.layer_norm(x, &lg, &lb);
            let ones = self.f32_init("ones_column", &[d, 1], &vec![1.0; d as usize]);
            let l2_eps = self.f32_init("l2_eps", &[], &[L2_EPS]);
            let sq = self.node("Mul", &[&y, &y], vec![]);
            let ss = self.node("MatMul", &[&sq, &ones], vec![]);
            let sse = self.node("Add", &[&ss, &l2_eps], vec![]);
            let norm = self.node("Sqrt", &[&sse], vec![]);
            self.node_named("Div", &[&y, &norm], vec![], contract::OUTPUT_SESSION);
        } else {
            let eps = w.config.ln_eps;
            self.node_named(
                "LayerNormalization",
                &[x, &lg, &lb],
                vec![attr_int("axis", -1), attr_float("epsilon", eps)],
                contract::OUTPUT_SESSION,
            );
        }
    }

    /// The contract-v2 step graph: one event in, its session vector and its keys and values out, the
    /// earlier events' keys and values read from `past_keys` / `past_values` (slots flagged by
    /// `past_mask`). Per block: `h = LN(x)`; the scores of `q = h·Wq` against the cached keys (masked
    /// slots get −10⁴) and against the event's own key are one softmax; the context is that softmax over
    /// the cached values and its own value; then the output projection and the FFN as in v1.
    fn build_step(mut self, producer: &str) -> pb::ModelProto {
        let w = self.w;
        let c = w.config;
        assert!(
            c.layers >= 1 && c.max_len >= 2,
            "an incremental encoder needs a block and L ≥ 2"
        );
        let (l, d, h) = (c.max_len as i64, c.dim as i64, c.heads as i64);
        let (dh, slots, nl) = (d / h, l - 1, c.layers as i64);
        let type_emb = self.f32_init("type_emb", &[NUM_EVENT_TYPES as i64, d], &w.type_emb);
        let gap_emb = self.f32_init("gap_emb", &[NUM_GAP_BUCKETS as i64, d], &w.gap_emb);
        let pos_emb = self.f32_init("pos_emb", &[l, d], &w.pos_emb);
        let ax1 = self.i64_init("axes_1", &[1], &[1]);
        let ax12 = self.i64_init("axes_1_2", &[2], &[1, 2]);
        let one = self.f32_init("one", &[], &[1.0]);
        let big = self.f32_init("mask_scale", &[], &[-MASK_BIAS]);
        let split_shape = self.i64_init("split_heads_shape", &[4], &[-1, 1, h, dh]);
        let merge_shape = self.i64_init("merge_heads_shape", &[3], &[-1, 1, d]);
        let out_shape = self.i64_init("session_shape", &[2], &[-1, d]);
        let att_scale = self.f32_init("att_scale", &[], &[1.0 / (dh as f32).sqrt()]);
        let half = self.f32_init("half", &[], &[0.5]);
        let inv_sqrt2 = self.f32_init("inv_sqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);

        let g = |op: &str| attr_int("axis", if op == "emb" { 0 } else { 1 });
        let te = self.node(
            "Gather",
            &[&type_emb, contract::STEP_INPUT_EVENT_TYPE],
            vec![g("emb")],
        );
        let ge = self.node(
            "Gather",
            &[&gap_emb, contract::STEP_INPUT_TIME_GAP],
            vec![g("emb")],
        );
        let pe = self.node(
            "Gather",
            &[&pos_emb, contract::STEP_INPUT_POSITION],
            vec![g("emb")],
        );
        let s3 = self.input_sum(contract::STEP_INPUT_ITEM, &te, &ge, &pe);
        // (N, D) → (N, 1, D): one position, so the block below is v1's with L = 1 plus the cache
        let mut x = self.node("Unsqueeze", &[&s3, &ax1], vec![]);
        // cache-slot bias (N, 1, 1, L − 1) = (past_mask − 1) · 1e4
        let mk = self.node(
            "Unsqueeze",
            &[contract::STEP_INPUT_PAST_MASK, &ax12],
            vec![],
        );
        let mk1 = self.node("Sub", &[&mk, &one], vec![]);
        let past_bias = self.node("Mul", &[&mk1, &big], vec![]);

        let mut new_keys = Vec::new();
        let mut new_values = Vec::new();
        for i in 0..c.layers {
            let n = self.layer_inits(i);
            let li = self.i64_init(&format!("layer_{i}"), &[], &[i as i64]);
            let hn = self.layer_norm(&x, &n.g1, &n.b1n);
            let q = self.linear(&hn, &n.wq, &n.bq);
            let k = self.linear(&hn, &n.wk, &n.bk);
            let v = self.linear(&hn, &n.wv, &n.bv);
            let q4 = self.node("Reshape", &[&q, &split_shape], vec![]); // (N, 1, H, dh)
            let k4 = self.node("Reshape", &[&k, &split_shape], vec![]);
            let v4 = self.node("Reshape", &[&v, &split_shape], vec![]);
            new_keys.push(k4.clone());
            new_values.push(v4.clone());
            let perm = |p: &[i64]| vec![attr_ints("perm", p)];
            let qt = self.node("Transpose", &[&q4], perm(&[0, 2, 1, 3])); // (N, H, 1, dh)
            let kt = self.node("Transpose", &[&k4], perm(&[0, 2, 3, 1])); // (N, H, dh, 1)
            let vt = self.node("Transpose", &[&v4], perm(&[0, 2, 1, 3])); // (N, H, 1, dh)
            let pk = self.node(
                "Gather",
                &[contract::STEP_INPUT_PAST_KEYS, &li],
                vec![g("layer")],
            ); // (N, H, L − 1, dh)
            let pv = self.node(
                "Gather",
                &[contract::STEP_INPUT_PAST_VALUES, &li],
                vec![g("layer")],
            );
            let pkt = self.node("Transpose", &[&pk], perm(&[0, 1, 3, 2])); // (N, H, dh, L − 1)
            let sp = self.node("MatMul", &[&qt, &pkt], vec![]); // (N, H, 1, L − 1)
            let sp = self.node("Mul", &[&sp, &att_scale], vec![]);
            let sp = self.node("Add", &[&sp, &past_bias], vec![]);
            let ss = self.node("MatMul", &[&qt, &kt], vec![]); // (N, H, 1, 1)
            let ss = self.node("Mul", &[&ss, &att_scale], vec![]);
            let sc = self.node("Concat", &[&sp, &ss], vec![attr_int("axis", 3)]);
            let pr = self.node("Softmax", &[&sc], vec![attr_int("axis", -1)]);
            let vall = self.node("Concat", &[&pv, &vt], vec![attr_int("axis", 2)]); // (N, H, L, dh)
            let ctx = self.node("MatMul", &[&pr, &vall], vec![]); // (N, H, 1, dh)
            let ctx = self.node("Transpose", &[&ctx], perm(&[0, 2, 1, 3]));
            let ctx = self.node("Reshape", &[&ctx, &merge_shape], vec![]);
            let o = self.linear(&ctx, &n.wo, &n.bo);
            x = self.node("Add", &[&x, &o], vec![]);
            x = self.ffn(&x, &n, &one, &half, &inv_sqrt2);
        }
        let x2 = self.node("Reshape", &[&x, &out_shape], vec![]);
        self.session_output(&x2);
        // (N, 1, H, dh) per block → (N, layers, H, dh)
        let keys: Vec<&str> = new_keys.iter().map(String::as_str).collect();
        let values: Vec<&str> = new_values.iter().map(String::as_str).collect();
        self.node_named(
            "Concat",
            &keys,
            vec![attr_int("axis", 1)],
            contract::STEP_OUTPUT_KEYS,
        );
        self.node_named(
            "Concat",
            &values,
            vec![attr_int("axis", 1)],
            contract::STEP_OUTPUT_VALUES,
        );

        let kv = [None, Some(nl), Some(h), Some(slots), Some(dh)];
        let graph = pb::GraphProto {
            name: "nextclick_session_encoder_step".into(),
            node: self.nodes,
            initializer: self.inits,
            input: vec![
                value_info(contract::STEP_INPUT_ITEM, F32, &[None, Some(d)]),
                value_info(contract::STEP_INPUT_EVENT_TYPE, I64, &[None]),
                value_info(contract::STEP_INPUT_TIME_GAP, I64, &[None]),
                value_info(contract::STEP_INPUT_POSITION, I64, &[None]),
                value_info(contract::STEP_INPUT_PAST_KEYS, F32, &kv),
                value_info(contract::STEP_INPUT_PAST_VALUES, F32, &kv),
                value_info(contract::STEP_INPUT_PAST_MASK, F32, &[None, Some(slots)]),
            ],
            output: vec![
                value_info(contract::OUTPUT_SESSION, F32, &[None, Some(d)]),
                value_info(
                    contract::STEP_OUTPUT_KEYS,
                    F32,
                    &[None, Some(nl), Some(h), Some(dh)],
                ),
                value_info(
                    contract::STEP_OUTPUT_VALUES,
                    F32,
                    &[None, Some(nl), Some(h), Some(dh)],
                ),
            ],
            ..Default::default()
        };
        model_proto(w, producer, graph)
    }

    fn build(mut self, producer: &str) -> pb::ModelProto {
        let w = self.w;
        let c = w.config;
        let (l, d, h) = (c.max_len as i64, c.dim as i64, c.heads as i64);
        let dh = d / h;
        let type_emb = self.f32_init("type_emb", &[NUM_EVENT_TYPES as i64, d], &w.type_emb);
        let gap_emb = self.f32_init("gap_emb", &[NUM_GAP_BUCKETS as i64, d], &w.gap_emb);
        let pos_emb = self.f32_init("pos_emb", &[l, d], &w.pos_emb);
        let ax2 = self.i64_init("axes_2", &[1], &[2]);
        let ax12 = self.i64_init("axes_1_2", &[2], &[1, 2]);
        let one = self.f32_init("one", &[], &[1.0]);
        let big = self.f32_init("mask_scale", &[], &[-MASK_BIAS]);
        let causal: Vec<f32> = (0..l * l)
            .map(|k| if k % l > k / l { MASK_BIAS } else { 0.0 })
            .collect();
        let causal = self.f32_init("causal_bias", &[l, l], &causal);
        let split_shape = self.i64_init("split_heads_shape", &[4], &[-1, l, h, dh]);
        let merge_shape = self.i64_init("merge_heads_shape", &[3], &[-1, l, d]);
        let att_scale = self.f32_init("att_scale", &[], &[1.0 / (dh as f32).sqrt()]);
        let half = self.f32_init("half", &[], &[0.5]);
        let inv_sqrt2 = self.f32_init("inv_sqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
        let last_keep = self.i64_init("last_index_keep", &[1], &[l - 1]);
        let split_last = self.i64_init("split_heads_last_shape", &[4], &[-1, 1, h, dh]);
        let merge_last = self.i64_init("merge_heads_last_shape", &[3], &[-1, 1, d]);

        let te = self.node(
            "Gather",
            &[&type_emb, contract::INPUT_EVENT_TYPES],
            vec![attr_int("axis", 0)],
        );
        let ge = self.node(
            "Gather",
            &[&gap_emb, contract::INPUT_TIME_GAPS],
            vec![attr_int("axis", 0)],
        );
        let s3 = self.input_sum(contract::INPUT_ITEMS, &te, &ge, &pos_emb);
        let m3 = self.node("Unsqueeze", &[contract::INPUT_MASK, &ax2], vec![]);
        let mut x = self.node("Mul", &[&s3, &m3], vec![]);
        // key-padding bias (N,1,1,L) = (mask − 1) · 1e4, plus the causal bias (L,L) → (N,1,L,L)
        let mk = self.node("Unsqueeze", &[contract::INPUT_MASK, &ax12], vec![]);
        let mk1 = self.node("Sub", &[&mk, &one], vec![]);
        let pad_bias = self.node("Mul", &[&mk1, &big], vec![]);
        let bias = self.node("Add", &[&pad_bias, &causal], vec![]);

        for i in 0..w.layers.len() {
            let n = self.layer_inits(i);

            // The final layer only needs its output at the last position (the session vector): its keys
            // and values still cover the whole window, but the query, the attention row, the output
            // projection and the FFN run on position L − 1 alone (≈ 40 % of the encoder's multiply-adds at
            // L = 50, D = 64). The causal row of the last position is all zeros, so only the padding bias
            // applies there.
            let last_layer = i + 1 == w.layers.len();
            let hn = self.layer_norm(&x, &n.g1, &n.b1n);
            let k = self.linear(&hn, &n.wk, &n.bk);
            let v = self.linear(&hn, &n.wv, &n.bv);
            let (q_in, q_shape, ctx_shape, att_bias) = if last_layer {
                x = self.node("Gather", &[&x, &last_keep], vec![attr_int("axis", 1)]);
                let hl = self.node("Gather", &[&hn, &last_keep], vec![attr_int("axis", 1)]);
                (hl, split_last.clone(), merge_last.clone(), pad_bias.clone())
            } else {
                (
                    hn.clone(),
                    split_shape.clone(),
                    merge_shape.clone(),
                    bias.clone(),
                )
            };
            let q = self.linear(&q_in, &n.wq, &n.bq);
            let q4 = self.node("Reshape", &[&q, &q_shape], vec![]);
            let k4 = self.node("Reshape", &[&k, &split_shape], vec![]);
            let v4 = self.node("Reshape", &[&v, &split_shape], vec![]);
            let qt = self.node("Transpose", &[&q4], vec![attr_ints("perm", &[0, 2, 1, 3])]);
            let kt = self.node("Transpose", &[&k4], vec![attr_ints("perm", &[0, 2, 3, 1])]);
            let vt = self.node("Transpose", &[&v4], vec![attr_ints("perm", &[0, 2, 1, 3])]);
            let sc = self.node("MatMul", &[&qt, &kt], vec![]);
            let sc = self.node("Mul", &[&sc, &att_scale], vec![]);
            let sc = self.node("Add", &[&sc, &att_bias], vec![]);
            let pr = self.node("Softmax", &[&sc], vec![attr_int("axis", -1)]);
            let ctx = self.node("MatMul", &[&pr, &vt], vec![]);
            let ctx = self.node("Transpose", &[&ctx], vec![attr_ints("perm", &[0, 2, 1, 3])]);
            let ctx = self.node("Reshape", &[&ctx, &ctx_shape], vec![]);
            let o = self.linear(&ctx, &n.wo, &n.bo);
            x = self.node("Add", &[&x, &o], vec![]);

            x = self.ffn(&x, &n, &one, &half, &inv_sqrt2);
        }
        let lg = self.f32_init("lnf_g", &[d], &w.lnf_g);
        let lb = self.f32_init("lnf_b", &[d], &w.lnf_b);
        let last_x = if w.layers.is_empty() {
            let last = self.i64_init("last_index", &[], &[l - 1]);
            self.node("Gather", &[&x, &last], vec![attr_int("axis", 1)])
        } else {
            let zero = self.i64_init("first_index", &[], &[0]);
            self.node("Gather", &[&x, &zero], vec![attr_int("axis", 1)])
        };
        let eps = c.ln_eps;
        if w.normalize_output {
            // session = y / √(Σy² + ε) over the last axis; the sum is a MatMul with a ones column, which
            // keeps the graph inside the contract's operator set (no ReduceSum)
            let y = self.layer_norm(&last_x, &lg, &lb);
            let ones = self.f32_init("ones_column", &[d, 1], &vec![1.0; d as usize]);
            let l2_eps = self.f32_init("l2_eps", &[], &[L2_EPS]);
            let sq = self.node("Mul", &[&y, &y], vec![]);
            let ss = self.node("MatMul", &[&sq, &ones], vec![]);
            let sse = self.node("Add", &[&ss, &l2_eps], vec![]);
            let norm = self.node("Sqrt", &[&sse], vec![]);
            self.node_named("Div", &[&y, &norm], vec![], contract::OUTPUT_SESSION);
        } else {
            self.node_named(
                "LayerNormalization",
                &[&last_x, &lg, &lb],
                vec![attr_int("axis", -1), attr_float("epsilon", eps)],
                contract::OUTPUT_SESSION,
            );
        }

        let graph = pb::GraphProto {
            name: "nextclick_session_encoder".into(),
            node: self.nodes,
            initializer: self.inits,
            input: vec![
                value_info(contract::INPUT_ITEMS, F32, &[None, Some(l), Some(d)]),
                value_info(contract::INPUT_EVENT_TYPES, I64, &[None, Some(l)]),
                value_info(contract::INPUT_TIME_GAPS, I64, &[None, Some(l)]),
                value_info(contract::INPUT_MASK, F32, &[None, Some(l)]),
            ],
            output: vec![value_info(contract::OUTPUT_SESSION, F32, &[None, Some(d)])],
            ..Default::default()
        };
        model_proto(w, producer, graph)
    }
}

/// The model around `graph`: opset 17, the producer, the temperature metadata.
fn model_proto(w: &EncoderWeights, producer: &str, graph: pb::GraphProto) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        producer_name: producer.into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        metadata_props: if w.temperature == 1.0 {
            vec![]
        } else {
            vec![pb::StringStringEntryProto {
                key: nextclick::model::META_TEMPERATURE.into(),
                value: format!("{}", w.temperature),
            }]
        },
        ..Default::default()
    }
}
