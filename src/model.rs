//! The session encoder: an ONNX file that follows model contract v1 ([`crate::contract`]), run with tract.
//!
//! Loading validates the graph's interface against the contract *before* tract sees it (names, dtypes,
//! ranks, static dimensions), then optimises the model once for batch size 1 and keeps the runnable plan.

use prost::Message;
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::catalog::{hex, sha256};
use crate::contract::{self, MAX_SUPPORTED_DIM, MAX_SUPPORTED_LEN};
use crate::error::{Error, Result};

/// Largest model file accepted, in bytes (a browser-sized model is well under 10 MB).
pub const MAX_MODEL_BYTES: usize = 64 << 20;

/// ONNX metadata key that carries the score temperature of a model (optional; default 1).
pub const META_TEMPERATURE: &str = "nextclick.temperature";

/// The shape facts a contract-v1 model declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderShape {
    /// Maximum session length `L`.
    pub max_len: usize,
    /// Item and session vector dimension `D`.
    pub dim: usize,
}

/// The inputs of one encoder call for one session, right-aligned: the most recent event sits at `L − 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderInput {
    /// `L × D` item vectors (zeros at padding).
    pub items: Vec<f32>,
    /// `L` event-type ids (0 at padding).
    pub event_types: Vec<i64>,
    /// `L` time-gap bucket ids (0 at padding).
    pub time_gaps: Vec<i64>,
    /// `L` mask values (1 real, 0 padding).
    pub mask: Vec<f32>,
}

impl EncoderInput {
    /// An all-padding input for `shape`.
    pub fn empty(shape: EncoderShape) -> Self {
        EncoderInput {
            items: vec![0.0; shape.max_len * shape.dim],
            event_types: vec![contract::PAD_ID; shape.max_len],
            time_gaps: vec![contract::PAD_ID; shape.max_len],
            mask: vec![0.0; shape.max_len],
        }
    }
}

type Plan = Arc<TypedSimplePlan>;

/// A loaded, optimised, contract-checked session encoder.
pub struct Encoder {
    plan: Plan,
    /// The plan's run state, kept between calls so that a run does not rebuild the per-node state tables
    /// (`plan.run` spawns a fresh one each time). A concurrent caller that finds it taken spawns its own.
    state: std::sync::Mutex<Option<TypedSimpleState>>,
    shape: EncoderShape,
    sha256: [u8; 32],
    temperature: f32,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("shape", &self.shape)
            .field("sha256", &hex(&self.sha256))
            .finish()
    }
}

fn tensor_sig(vi: &pb::ValueInfoProto) -> Result<(i32, Vec<Option<i64>>)> {
    let ty = vi
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .ok_or_else(|| Error::ModelContract(format!("{:?} has no type", vi.name)))?;
    let pb::type_proto::Value::TensorType(tt) = ty;
    let dims = tt
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(*v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((tt.elem_type, dims))
}

const ONNX_FLOAT: i32 = 1;
const ONNX_INT64: i32 = 7;

/// Checks the graph interface of ONNX bytes against contract v1 and returns the declared shape.
pub fn check_contract(bytes: &[u8]) -> Result<EncoderShape> {
    check_contract_meta(bytes).map(|(shape, _)| shape)
}

/// [`check_contract`], plus the score temperature from the ONNX metadata ([`META_TEMPERATURE`], default 1).
pub fn check_contract_meta(bytes: &[u8]) -> Result<(EncoderShape, f32)> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(Error::ModelLoad(format!(
            "{} bytes is larger than the {} byte limit",
            bytes.len(),
            MAX_MODEL_BYTES
        )));
    }
    let proto = pb::ModelProto::decode(bytes)
        .map_err(|e| Error::ModelLoad(format!("not an ONNX protobuf: {e}")))?;
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| Error::ModelLoad("ONNX file has no graph".into()))?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    if names != contract::INPUT_NAMES {
        return Err(Error::ModelContract(format!(
            "inputs are {names:?}, expected {:?} in that order",
            contract::INPUT_NAMES
        )));
    }
    let (items_ty, items_dims) = tensor_sig(inputs[0])?;
    if items_ty != ONNX_FLOAT || items_dims.len() != 3 {
        return Err(Error::ModelContract(
            "input `items` must be float32 [N, L, D]".into(),
        ));
    }
    let (Some(l), Some(d)) = (items_dims[1], items_dims[2]) else {
        return Err(Error::ModelContract(
            "input `items` must have static L and D".into(),
        ));
    };
    let (max_len, dim) = (l as usize, d as usize);
    if !(1..=MAX_SUPPORTED_LEN as i64).contains(&l) || !(1..=MAX_SUPPORTED_DIM as i64).contains(&d)
    {
        return Err(Error::ModelContract(format!(
            "L = {l} or D = {d} out of the supported range"
        )));
    }
    for (vi, ty, what) in [
        (inputs[1], ONNX_INT64, "int64 [N, L]"),
        (inputs[2], ONNX_INT64, "int64 [N, L]"),
        (inputs[3], ONNX_FLOAT, "float32 [N, L]"),
    ] {
        let (t, dims) = tensor_sig(vi)?;
        if t != ty || dims.len() != 2 || dims[1] != Some(l) {
            return Err(Error::ModelContract(format!(
                "input `{}` must be {what} with L = {l}",
                vi.name
            )));
        }
    }
    if graph.output.len() != 1 || graph.output[0].name != contract::OUTPUT_SESSION {
        let outs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
        return Err(Error::ModelContract(format!(
            "outputs are {outs:?}, expected [\"session\"]"
        )));
    }
    let (t, dims) = tensor_sig(&graph.output[0])?;
    if t != ONNX_FLOAT || dims.len() != 2 || dims[1] != Some(d) {
        return Err(Error::ModelContract(format!(
            "output `session` must be float32 [N, {d}]"
        )));
    }
    let mut temperature = 1.0f32;
    if let Some(m) = proto
        .metadata_props
        .iter()
        .find(|m| m.key == META_TEMPERATURE)
    {
        temperature = m
            .value
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| {
                Error::ModelContract(format!(
                    "{META_TEMPERATURE} = {:?} is not a positive number",
                    m.value
                ))
            })?;
    }
    Ok((EncoderShape { max_len, dim }, temperature))
}

fn load_err(e: impl std::fmt::Display) -> Error {
    Error::ModelLoad(format!("{e:#}"))
}

impl Encoder {
    /// Loads ONNX bytes: contract check, then tract parse, typing for batch 1, optimisation, planning.
    pub fn from_bytes(bytes: &[u8]) -> Result<Encoder> {
        let (shape, temperature) = check_contract_meta(bytes)?;
        let (l, d) = (shape.max_len, shape.dim);
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(load_err)?
            .with_input_fact(0, f32::fact([1, l, d]).into())
            .and_then(|m| m.with_input_fact(1, i64::fact([1, l]).into()))
            .and_then(|m| m.with_input_fact(2, i64::fact([1, l]).into()))
            .and_then(|m| m.with_input_fact(3, f32::fact([1, l]).into()))
            .map_err(load_err)?;
        let plan = model
            .into_optimized()
            .map_err(load_err)?
            .into_runnable()
            .map_err(load_err)?;
        let state = std::sync::Mutex::new(Some(plan.spawn().map_err(load_err)?));
        let enc = Encoder {
            plan,
            state,
            shape,
            sha256: sha256(bytes),
            temperature,
        };
        // A model that loads but cannot run on an all-padding-but-one input is refused now, not on the
        // shopper's first click.
        let mut probe = EncoderInput::empty(shape);
        probe.mask[l - 1] = 1.0;
        probe.event_types[l - 1] = 1;
        probe.time_gaps[l - 1] = contract::GAP_FIRST_OR_UNKNOWN;
        let out = enc.run(&probe)?;
        if out.iter().any(|x| !x.is_finite()) {
            return Err(Error::ModelContract(
                "the model outputs non-finite values on a one-event session".into(),
            ));
        }
        Ok(enc)
    }

    /// Runs the encoder on one session and returns the `D`-dim session vector.
    pub fn run(&self, input: &EncoderInput) -> Result<Vec<f32>> {
        let (l, d) = (self.shape.max_len, self.shape.dim);
        if input.items.len() != l * d
            || input.event_types.len() != l
            || input.time_gaps.len() != l
            || input.mask.len() != l
        {
            return Err(Error::ModelRun("encoder input has the wrong length".into()));
        }
        let run_err = |e: TractError| Error::ModelRun(format!("{e:#}"));
        let items = Tensor::from_shape(&[1, l, d], &input.items).map_err(run_err)?;
        let types = Tensor::from_shape(&[1, l], &input.event_types).map_err(run_err)?;
        let gaps = Tensor::from_shape(&[1, l], &input.time_gaps).map_err(run_err)?;
        let mask = Tensor::from_shape(&[1, l], &input.mask).map_err(run_err)?;
        let inputs = tvec![items.into(), types.into(), gaps.into(), mask.into()];
        let kept = self.state.try_lock().ok().and_then(|mut s| s.take());
        let out = match kept {
            Some(mut state) => {
                let out = state.run(inputs);
                // A failed run may leave values behind; keep only a state whose turn completed.
                if out.is_ok() {
                    if let Ok(mut slot) = self.state.try_lock() {
                        *slot = Some(state);
                    }
                }
                out
            }
            None => self.plan.run(inputs),
        }
        .map_err(run_err)?;
        let view = out[0].try_as_plain_ram().map_err(run_err)?;
        let v = view.as_slice::<f32>().map_err(run_err)?;
        if v.len() != d {
            return Err(Error::ModelRun(format!(
                "output has {} values, expected {d}",
                v.len()
            )));
        }
        Ok(v.to_vec())
    }

    /// Shape facts of the model.
    pub fn shape(&self) -> EncoderShape {
        self.shape
    }

    /// SHA-256 of the ONNX bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Score temperature the model was trained with (from its ONNX metadata; 1 if absent).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }
}
