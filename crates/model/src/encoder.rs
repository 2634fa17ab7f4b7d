//! Contract-v1 session encoder: its weights, a plain-Rust forward pass (the reference every other
//! implementation is checked against) and the ONNX writer.
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

    /// Serialises the encoder as a contract-v1 ONNX model (opset 17), batch dimension symbolic (`N`).
    pub fn to_onnx(&self, producer: &str) -> Vec<u8> {
        OnnxBuilder::new(self).build(producer).encode_to_vec()
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
        let items_in = if w.input_scale == 1.0 {
            contract::INPUT_ITEMS.to_string()
        } else {
            let sc = self.f32_init("input_scale", &[], &[w.input_scale]);
            self.node("Mul", &[contract::INPUT_ITEMS, &sc], vec![])
        };
        let s1 = self.node("Add", &[&items_in, &te], vec![]);
        let s2 = self.node("Add", &[&s1, &ge], vec![]);
        let s3 = self.node("Add", &[&s2, &pos_emb], vec![]);
        let m3 = self.node("Unsqueeze", &[contract::INPUT_MASK, &ax2], vec![]);
        let mut x = self.node("Mul", &[&s3, &m3], vec![]);
        // key-padding bias (N,1,1,L) = (mask − 1) · 1e4, plus the causal bias (L,L) → (N,1,L,L)
        let mk = self.node("Unsqueeze", &[contract::INPUT_MASK, &ax12], vec![]);
        let mk1 = self.node("Sub", &[&mk, &one], vec![]);
        let pad_bias = self.node("Mul", &[&mk1, &big], vec![]);
        let bias = self.node("Add", &[&pad_bias, &causal], vec![]);

        for (i, lw) in w.layers.iter().enumerate() {
            let p = |n: &str| format!("l{i}_{n}");
            let g1 = self.f32_init(&p("ln1_g"), &[d], &lw.ln1_g);
            let b1n = self.f32_init(&p("ln1_b"), &[d], &lw.ln1_b);
            let wq = self.f32_init(&p("wq"), &[d, d], &lw.wq);
            let bq = self.f32_init(&p("bq"), &[d], &lw.bq);
            let wk = self.f32_init(&p("wk"), &[d, d], &lw.wk);
            let bk = self.f32_init(&p("bk"), &[d], &lw.bk);
            let wv = self.f32_init(&p("wv"), &[d, d], &lw.wv);
            let bv = self.f32_init(&p("bv"), &[d], &lw.bv);
            let wo = self.f32_init(&p("wo"), &[d, d], &lw.wo);
            let bo = self.f32_init(&p("bo"), &[d], &lw.bo);
            let g2 = self.f32_init(&p("ln2_g"), &[d], &lw.ln2_g);
            let b2n = self.f32_init(&p("ln2_b"), &[d], &lw.ln2_b);
            let w1 = self.f32_init(&p("w1"), &[d, c.ffn as i64], &lw.w1);
            let b1 = self.f32_init(&p("b1"), &[c.ffn as i64], &lw.b1);
            let w2 = self.f32_init(&p("w2"), &[c.ffn as i64, d], &lw.w2);
            let b2 = self.f32_init(&p("b2"), &[d], &lw.b2);

            // The final layer only needs its output at the last position (the session vector): its keys
            // and values still cover the whole window, but the query, the attention row, the output
            // projection and the FFN run on position L − 1 alone (≈ 40 % of the encoder's multiply-adds at
            // L = 50, D = 64). The causal row of the last position is all zeros, so only the padding bias
            // applies there.
            let last_layer = i + 1 == w.layers.len();
            let hn = self.layer_norm(&x, &g1, &b1n);
            let k = self.linear(&hn, &wk, &bk);
            let v = self.linear(&hn, &wv, &bv);
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
            let q = self.linear(&q_in, &wq, &bq);
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
            let o = self.linear(&ctx, &wo, &bo);
            x = self.node("Add", &[&x, &o], vec![]);

            let hn = self.layer_norm(&x, &g2, &b2n);
            let f = self.linear(&hn, &w1, &b1);
            let fs = self.node("Mul", &[&f, &inv_sqrt2], vec![]);
            let fe = self.node("Erf", &[&fs], vec![]);
            let fe1 = self.node("Add", &[&fe, &one], vec![]);
            let fh = self.node("Mul", &[&f, &half], vec![]);
            let fg = self.node("Mul", &[&fh, &fe1], vec![]);
            let f2 = self.linear(&fg, &w2, &b2);
            x = self.node("Add", &[&x, &f2], vec![]);
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
}
