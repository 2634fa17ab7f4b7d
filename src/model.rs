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
    decode_checked(bytes).map(|(_, shape, t)| (shape, t))
}

/// Decodes the ONNX protobuf once and checks it against the contract.
fn decode_checked(bytes: &[u8]) -> Result<(pb::ModelProto, EncoderShape, f32)> {
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
    check_ops(graph)?;
    Ok((proto, EncoderShape { max_len, dim }, temperature))
}

fn load_err(e: impl std::fmt::Display) -> Error {
    Error::ModelLoad(format!("{e:#}"))
}

/// Runs the module's static constructors once, before tract is first used (wasm only).
///
/// tract registers its kernels, runtimes and model transforms through `inventory` constructors, which
/// wasm-ld gathers into `__wasm_call_ctors`. A module that never calls that function itself is linked
/// "command-style": wasm-ld then wraps *every* export in a call to it, so each `track` and `predict`
/// from JS re-ran ≈ 200 registrations (track→top-20 at 2k items: 0.89 ms with the wrapping, 0.57 ms
/// without, docs/bench.md round 4). One explicit, guarded call here turns the wrapping off for the
/// whole module. Every path to tract goes through [`Encoder::from_bytes`], so calling it there is
/// enough; the registrations are idempotent, so a second call would be harmless too.
#[cfg(target_family = "wasm")]
fn run_static_constructors_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    if !DONE.swap(true, Ordering::AcqRel) {
        // SAFETY: `__wasm_call_ctors` is synthesised by wasm-ld and only runs the constructors linked
        // into this module (tract's `inventory::submit!` registrations); the guard runs it once.
        unsafe { __wasm_call_ctors() }
    }
}

impl Encoder {
    /// Loads ONNX bytes: contract check, then tract parse, typing for batch 1, optimisation, planning.
    pub fn from_bytes(bytes: &[u8]) -> Result<Encoder> {
        #[cfg(target_family = "wasm")]
        run_static_constructors_once();
        let (proto, shape, temperature) = decode_checked(bytes)?;
        let (l, d) = (shape.max_len, shape.dim);
        let model = onnx()
            .model_for_proto_model(&proto)
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

/// The ONNX operators a contract-v1 encoder may use: the ones `nextclick export` writes (a pre-norm
/// transformer: MatMul, Add, Sub, Mul, Erf, LayerNormalization, Softmax, Gather, Reshape, Transpose,
/// Unsqueeze) plus Constant, Identity and a few element-wise functions. Registering only these instead of
/// tract-onnx's full table (`tract_onnx::onnx()`: FFT, convolutions, recurrent layers, NMS, resize, …)
/// lets the linker drop the code of every other operator, which is most of the wasm.
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Max",
    "Min",
    "Erf",
    "Exp",
    "Sqrt",
    "Tanh",
    "Sigmoid",
    "Neg",
    "Reciprocal",
    "MatMul",
    "LayerNormalization",
    "Softmax",
    "Gather",
    "Reshape",
    "Transpose",
    "Unsqueeze",
    "Constant",
    "Identity",
];

/// Refuses a graph that uses an operator outside [`SUPPORTED_OPS`] (or a custom domain), with its name.
fn check_ops(graph: &pb::GraphProto) -> Result<()> {
    for node in &graph.node {
        let std_domain = node.domain.is_empty() || node.domain == "ai.onnx";
        if !std_domain || !SUPPORTED_OPS.contains(&node.op_type.as_str()) {
            return Err(Error::ModelContract(format!(
                "operator {:?}{} (node {:?}) is not supported; contract-v1 encoders use {}",
                node.op_type,
                if std_domain {
                    String::new()
                } else {
                    format!(" of domain {:?}", node.domain)
                },
                node.name,
                SUPPORTED_OPS.join(", ")
            )));
        }
    }
    Ok(())
}

/// tract's ONNX front end with only the [`SUPPORTED_OPS`] registered.
fn onnx() -> tract_onnx::Onnx {
    let mut reg = tract_onnx::model::OnnxOpRegister::default();
    ops::register(&mut reg);
    tract_onnx::Onnx {
        op_register: reg,
        ..tract_onnx::Onnx::default()
    }
}

/// Builders of the [`SUPPORTED_OPS`], as tract-onnx 0.23 registers them (its builders are private, so
/// the few that are more than one line — LayerNormalization, opset-13 Unsqueeze — are restated here).
mod ops {
    use tract_hir::internal::*;
    use tract_hir::ops;
    use tract_hir::ops::binary::Nary;
    use tract_onnx::model::{optional_outputs, OnnxOpRegister, ParsingContext};
    use tract_onnx::pb::NodeProto;
    use tract_onnx::tract_hir;

    type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

    pub fn register(reg: &mut OnnxOpRegister) {
        reg.insert("Add", |_, _| Ok((ops::math::Add.into_hir(), vec![])));
        reg.insert("Sub", |_, _| Ok((ops::math::Sub.into_hir(), vec![])));
        reg.insert("Mul", |_, _| Ok((ops::math::Mul.into_hir(), vec![])));
        reg.insert("Div", |_, _| Ok((ops::math::Div.into_hir(), vec![])));
        reg.insert("Max", |_, _| {
            Ok((Box::new(Nary(Box::new(ops::math::Max), false)), vec![]))
        });
        reg.insert("Min", |_, _| {
            Ok((Box::new(Nary(Box::new(ops::math::Min), false)), vec![]))
        });
        reg.insert("Erf", |_, _| Ok((ops::math::erf().into_hir(), vec![])));
        reg.insert("Exp", |_, _| Ok((ops::math::exp().into_hir(), vec![])));
        reg.insert("Sqrt", |_, _| Ok((ops::math::sqrt().into_hir(), vec![])));
        reg.insert("Tanh", |_, _| Ok((ops::math::tanh().into_hir(), vec![])));
        reg.insert("Sigmoid", |_, _| {
            Ok((ops::nn::sigmoid().into_hir(), vec![]))
        });
        reg.insert("Neg", |_, _| Ok((ops::math::neg().into_hir(), vec![])));
        reg.insert("Reciprocal", |_, _| {
            Ok((ops::math::recip().into_hir(), vec![]))
        });
        reg.insert("MatMul", |_, _| {
            Ok((expand(ops::matmul::MatMulInference::default()), vec![]))
        });
        reg.insert("LayerNormalization", layer_norm);
        reg.insert("Softmax", softmax);
        reg.insert("Gather", |_, node| {
            let axis = node.get_attr_opt("axis")?.unwrap_or(0);
            Ok((expand(ops::array::Gather::new(axis)), vec![]))
        });
        reg.insert("Reshape", |_, node| {
            let allowzero = node.get_attr_opt::<i64>("allowzero")?.unwrap_or(0) != 0;
            Ok((expand(ops::array::Reshape::new(allowzero)), vec![]))
        });
        reg.insert("Transpose", |_, node| {
            let perm = node.get_attr_opt_vec("perm")?;
            Ok((
                expand(ops::array::PermuteAxes::new(perm.map(|t| t.into()))),
                vec![],
            ))
        });
        reg.insert("Unsqueeze", unsqueeze);
        reg.insert("Constant", constant);
        reg.insert("Identity", |_, _| {
            Ok((Box::<ops::identity::Identity>::default(), vec![]))
        });
    }

    fn softmax(ctx: &ParsingContext, node: &NodeProto) -> Built {
        let axis = node.get_attr_opt("axis")?;
        if ctx.onnx_operator_set_version < 13 {
            Ok((
                expand(ops::nn::LayerSoftmax::new(axis.unwrap_or(1), true)),
                vec![],
            ))
        } else {
            Ok((expand(ops::nn::Softmax::new(axis.unwrap_or(-1))), vec![]))
        }
    }

    fn constant(ctx: &ParsingContext, node: &NodeProto) -> Built {
        let value = if let Some(v) = node.get_attr_opt("value")? {
            ctx.load_tensor(v)?
        } else if let Some(i) = node.get_attr_opt::<i64>("value_int")? {
            tensor0(i)
        } else if let Some(v) = node.get_attr_opt::<f32>("value_float")? {
            tensor0(v)
        } else if let Some(ints) = node.get_attr_opt_slice::<i64>("value_ints")? {
            tensor1(ints)
        } else if let Some(floats) = node.get_attr_opt_slice::<f32>("value_floats")? {
            tensor1(floats)
        } else {
            bail!("Constant node without a numeric value")
        };
        Ok((
            Box::new(ops::konst::Const::new(value.into_arc_tensor())?),
            vec![],
        ))
    }

    fn unsqueeze(ctx: &ParsingContext, node: &NodeProto) -> Built {
        if ctx.onnx_operator_set_version < 13 {
            let axes = node
                .get_attr_vec::<i64>("axes")?
                .into_iter()
                .map(|x| x as isize)
                .collect();
            Ok((expand(ops::array::AddDims::new(axes)), vec![]))
        } else {
            Ok((expand(Unsqueeze13), vec![]))
        }
    }

    fn const_axes(t: &Tensor) -> TractResult<Vec<isize>> {
        Ok(t.cast_to::<i64>()?
            .try_as_plain_ram()?
            .as_slice::<i64>()?
            .iter()
            .map(|i| *i as isize)
            .collect())
    }

    /// Unsqueeze from opset 13 on: the axes are a second (constant) input.
    #[derive(Debug, Clone, Hash, PartialEq, Eq)]
    struct Unsqueeze13;

    impl Expansion for Unsqueeze13 {
        fn name(&self) -> StaticName {
            "Unsqueeze13".into()
        }

        fn rules<'r, 'p: 'r, 's: 'r>(
            &'s self,
            s: &mut Solver<'r>,
            inputs: &'p [TensorProxy],
            outputs: &'p [TensorProxy],
        ) -> InferenceResult {
            check_input_arity(inputs, 2)?;
            check_output_arity(outputs, 1)?;
            s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
            s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, axes| {
                let op = ops::array::AddDims::new(const_axes(&axes)?);
                s.equals(&outputs[0].shape, op.output_shape(&shape))
            })
        }

        fn wire(
            &self,
            prefix: &str,
            model: &mut TypedModel,
            inputs: &[OutletId],
        ) -> TractResult<TVec<OutletId>> {
            let Some(axes) = model.outlet_fact(inputs[1])?.konst.clone() else {
                bail!("Unsqueeze needs constant axes")
            };
            ops::array::AddDims::new(const_axes(&axes)?).wire(prefix, model, &inputs[0..1])
        }
    }

    fn layer_norm(_ctx: &ParsingContext, node: &NodeProto) -> Built {
        let axis = node.get_attr_opt("axis")?.unwrap_or(-1);
        let epsilon = node.get_attr_opt("epsilon")?.unwrap_or(1e-5);
        let datum_type = node.get_attr_opt("stash_type")?.unwrap_or(DatumType::F32);
        let have_bias = node.input.len() == 3;
        let mut optional = optional_outputs(node).skip(1);
        let mean_output = optional.next().flatten();
        let invstddev_output = optional.next().flatten();
        Ok((
            expand(LayerNorm {
                axis,
                epsilon,
                datum_type,
                have_bias,
                mean_output,
                invstddev_output,
            }),
            vec![],
        ))
    }

    /// ONNX LayerNormalization (opset 17), wired as tract-onnx does: mean and variance over the axes from
    /// `axis` on, in `stash_type`, then scale and optional bias.
    #[derive(Debug, Clone)]
    struct LayerNorm {
        axis: isize,
        epsilon: f32,
        datum_type: DatumType,
        have_bias: bool,
        mean_output: Option<usize>,
        invstddev_output: Option<usize>,
    }

    impl Expansion for LayerNorm {
        fn name(&self) -> StaticName {
            "LayerNorm".into()
        }

        fn nboutputs(&self) -> TractResult<usize> {
            Ok(1 + self.mean_output.is_some() as usize + self.invstddev_output.is_some() as usize)
        }

        fn rules<'r, 'p: 'r, 's: 'r>(
            &'s self,
            s: &mut Solver<'r>,
            inputs: &'p [TensorProxy],
            outputs: &'p [TensorProxy],
        ) -> InferenceResult {
            check_input_arity(inputs, 2 + self.have_bias as usize)?;
            check_output_arity(outputs, self.nboutputs()?)?;
            s.equals(&inputs[0].datum_type, &inputs[1].datum_type)?;
            if self.have_bias {
                s.equals(&inputs[0].datum_type, &inputs[2].datum_type)?;
            }
            s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
            s.equals(&inputs[0].shape, &outputs[0].shape)?;
            for ix in [self.mean_output, self.invstddev_output]
                .into_iter()
                .flatten()
            {
                s.equals(&outputs[ix].datum_type, self.datum_type)?;
                s.equals(&inputs[0].rank, &outputs[ix].rank)?;
            }
            s.given(&inputs[0].rank, move |s, rank| {
                let axis = if self.axis < 0 {
                    (self.axis + rank as isize) as usize
                } else {
                    self.axis as usize
                };
                for ix in [self.mean_output, self.invstddev_output]
                    .into_iter()
                    .flatten()
                {
                    for ax in 0..axis {
                        s.equals(&inputs[0].shape[ax], &outputs[ix].shape[ax])?;
                    }
                    for ax in axis..rank as usize {
                        s.equals(&outputs[ix].shape[ax], 1.to_dim())?;
                    }
                }
                Ok(())
            })
        }

        fn wire(
            &self,
            prefix: &str,
            model: &mut TypedModel,
            inputs: &[OutletId],
        ) -> TractResult<TVec<OutletId>> {
            use tract_hir::ops::logic::wire_with_rank_broadcast;
            use tract_hir::tract_core::ops::cast::cast;
            use tract_hir::tract_core::ops::math::{add, div, mul, rsqrt, square, sub};
            use tract_hir::tract_core::ops::nn::{Reduce, Reducer};
            let dt = self.datum_type;
            let fact = model.outlet_fact(inputs[0])?.clone();
            let axis = if self.axis < 0 {
                (self.axis + fact.rank() as isize) as usize
            } else {
                self.axis as usize
            };
            let x = model.wire_node(format!("{prefix}.cast_x"), cast(dt), &[inputs[0]])?;
            let scale = model.wire_node(format!("{prefix}.cast_scale"), cast(dt), &[inputs[1]])?;
            let bias = if self.have_bias {
                Some(model.wire_node(format!("{prefix}.cast_bias"), cast(dt), &[inputs[2]])?)
            } else {
                None
            };
            let axes: TVec<usize> = (axis..fact.rank()).collect();
            let sum_x = model.wire_node(
                format!("{prefix}.reduced_sum"),
                Reduce {
                    axes: axes.clone(),
                    reducer: Reducer::Sum,
                },
                &x,
            )?;
            let len = axes
                .iter()
                .map(|ax| fact.shape[*ax].clone())
                .product::<TDim>();
            let len = model.add_const(format!("{prefix}.len"), tensor0(len))?;
            let len = model.wire_node(format!("{prefix}.cast_len"), cast(dt), &[len])?;
            let mean = wire_with_rank_broadcast(
                format!("{prefix}.reduced_mean_x"),
                model,
                div(),
                &[sum_x[0], len[0]],
            )?;
            let d = model.wire_node(format!("{prefix}.d"), sub(), &[x[0], mean[0]])?;
            let dd = model.wire_node(format!("{prefix}.dd"), square(), &d)?;
            let sum_dd = model.wire_node(
                format!("{prefix}.reduced_sum_dd"),
                Reduce {
                    axes,
                    reducer: Reducer::Sum,
                },
                &dd,
            )?;
            let var = wire_with_rank_broadcast(
                format!("{prefix}.var"),
                model,
                div(),
                &[sum_dd[0], len[0]],
            )?;
            let eps = tensor0(self.epsilon).cast_to_dt(dt)?.into_owned();
            let eps = model.add_const(format!("{prefix}.epsilon"), eps)?;
            let var_eps = wire_with_rank_broadcast(
                format!("{prefix}.var_eps"),
                model,
                add(),
                &[var[0], eps],
            )?;
            let inv_std = model.wire_node(format!("{prefix}.inv_std_dev"), rsqrt(), &var_eps)?;
            let normalized =
                model.wire_node(format!("{prefix}.normalized"), mul(), &[d[0], inv_std[0]])?;
            let scaled = wire_with_rank_broadcast(
                format!("{prefix}.normalized_scaled"),
                model,
                mul(),
                &[normalized[0], scale[0]],
            )?;
            let y = match bias {
                Some(b) => wire_with_rank_broadcast(
                    format!("{prefix}.y_internal"),
                    model,
                    add(),
                    &[scaled[0], b[0]],
                )?,
                None => scaled,
            };
            let y = model.wire_node(format!("{prefix}.cast_y"), cast(fact.datum_type), &y)?;
            let mut outputs = tvec!(y[0]);
            if self.mean_output.is_some() {
                outputs.push(mean[0]);
            }
            if self.invstddev_output.is_some() {
                outputs.push(inv_std[0]);
            }
            Ok(outputs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_outside_the_supported_set_is_refused_by_name() {
        let bytes = include_bytes!("../models/reference.onnx");
        let mut proto = pb::ModelProto::decode(&bytes[..]).unwrap();
        let graph = proto.graph.as_mut().unwrap();
        assert!(graph
            .node
            .iter()
            .all(|n| SUPPORTED_OPS.contains(&n.op_type.as_str())));
        let original = graph.node[0].op_type.clone();
        graph.node[0].op_type = "Conv".into();
        let err = check_contract(&proto.encode_to_vec()).unwrap_err();
        assert!(
            matches!(&err, Error::ModelContract(m) if m.contains("\"Conv\"") && m.contains("MatMul")),
            "{err}"
        );
        // A known name in a custom domain is a different operator.
        let node = &mut proto.graph.as_mut().unwrap().node[0];
        node.op_type = original;
        node.domain = "com.microsoft".into();
        let err = check_contract(&proto.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains("com.microsoft"), "{err}");
    }
}
