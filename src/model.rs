//! The session encoder: an ONNX file that follows model contract v1 (the window encoder: the last `L`
//! events in, the session vector out) or v2 (the incremental encoder: one event in, with the keys and
//! values of the earlier events kept in a [`KvCache`]) of [`crate::contract`], run with tract.
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

/// The key/value cache layout of a contract-v2 (incremental) encoder: `slots = L − 1` earlier events, each
/// with `layers × heads` key and value vectors of `head_dim` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheShape {
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Earlier events kept (`L − 1`).
    pub slots: usize,
    /// Values per key or value vector.
    pub head_dim: usize,
}

impl CacheShape {
    /// Values of one event's keys (or values): `layers × heads × head_dim`.
    pub fn per_event(&self) -> usize {
        self.layers * self.heads * self.head_dim
    }
    /// Values of the whole key (or value) cache.
    pub fn len(&self) -> usize {
        self.per_event() * self.slots
    }
    /// Is the cache empty by construction (no slots)? Never for a loaded model (`L ≥ 2`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// How far back (in events) the session vector of an event reaches through the cache: each block
    /// attends to the `slots` events before, so `layers × slots`. Replaying the last `reach() + 1` events
    /// into an empty cache gives exactly the cache (and vector) of the whole session.
    pub fn reach(&self) -> usize {
        self.layers * self.slots
    }
}

/// The keys and values of the last `L − 1` events of one session, for a contract-v2 encoder. Slots are a
/// ring: attention does not depend on the order of its keys, so an event's slot never moves. The predictor
/// owns one per shopper, [`Encoder::step`] reads and extends it.
///
/// The ring is kept in the tensors the step graph takes (`past_keys`, `past_values`, `past_mask`), so a step
/// hands them to tract by reference and writes the new event's slot in place: nothing of the cache is
/// copied per event.
#[derive(Debug, Clone, PartialEq)]
pub struct KvCache {
    shape: CacheShape,
    /// `[1, layers, heads, L − 1, head_dim]`
    keys: Arc<Tensor>,
    /// `[1, layers, heads, L − 1, head_dim]`
    values: Arc<Tensor>,
    /// `[1, L − 1]`: 1 for a filled slot
    mask: Arc<Tensor>,
    stepped: u64,
}

/// A zero f32 tensor of `shape` (a cache's tensors are small: the default shape is 6,272 floats each).
fn zeros(shape: &[usize]) -> Arc<Tensor> {
    Arc::new(Tensor::zero::<f32>(shape).expect("a small f32 shape"))
}

/// The f32 values of a cache tensor, for writing. The tensor is shared with tract only while a step runs
/// (tract's state drops its inputs at the end of each run), so this is normally in place; were a reference
/// still held, the tensor is copied first (`Arc::make_mut`) and the held one is left untouched.
fn with_f32s<R>(t: &mut Arc<Tensor>, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut view = Arc::make_mut(t)
        .try_as_plain_ram_mut()
        .expect("cache tensors are plain");
    f(view.as_slice_mut::<f32>().expect("cache tensors are f32"))
}

impl KvCache {
    /// An empty cache of `shape`.
    pub fn new(shape: CacheShape) -> KvCache {
        let kv = [1, shape.layers, shape.heads, shape.slots, shape.head_dim];
        KvCache {
            shape,
            keys: zeros(&kv),
            values: zeros(&kv),
            mask: zeros(&[1, shape.slots]),
            stepped: 0,
        }
    }

    /// Empties the cache (a new session).
    pub fn clear(&mut self) {
        for t in [&mut self.keys, &mut self.values, &mut self.mask] {
            with_f32s(t, |s| s.fill(0.0));
        }
        self.stepped = 0;
    }

    /// Events stepped into the cache since it was created or cleared.
    pub fn stepped(&self) -> u64 {
        self.stepped
    }

    /// Its layout.
    pub fn shape(&self) -> CacheShape {
        self.shape
    }

    /// Writes one event's keys and values (`[layers, heads, head_dim]` each) into the next slot, dropping
    /// the oldest event once all slots are full.
    fn push(&mut self, keys: &[f32], values: &[f32]) {
        let c = self.shape;
        let slot = (self.stepped % c.slots as u64) as usize;
        for (ring, new) in [(&mut self.keys, keys), (&mut self.values, values)] {
            with_f32s(ring, |ring| {
                for lh in 0..c.layers * c.heads {
                    let dst = (lh * c.slots + slot) * c.head_dim;
                    ring[dst..dst + c.head_dim]
                        .copy_from_slice(&new[lh * c.head_dim..(lh + 1) * c.head_dim]);
                }
            });
        }
        with_f32s(&mut self.mask, |m| m[slot] = 1.0);
        self.stepped += 1;
    }
}

/// One event as a contract-v2 encoder takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInput<'a> {
    /// The item's vector (`D` values, the catalog row).
    pub item: &'a [f32],
    /// Event-type id ([`crate::contract::EventKind::id`]).
    pub event_type: i64,
    /// Time-gap bucket ([`crate::contract::gap_bucket`]).
    pub time_gap: i64,
    /// Index of the event from the session start (0 = first); the model sees
    /// [`crate::contract::step_position`] of it.
    pub index: u64,
}

type Plan = Arc<TypedSimplePlan>;

/// A loaded, optimised, contract-checked session encoder.
pub struct Encoder {
    plan: Plan,
    /// The plan's run state, kept between calls so that a run does not rebuild the per-node state tables
    /// (`plan.run` spawns a fresh one each time). A concurrent caller that finds it taken spawns its own.
    state: std::sync::Mutex<Option<TypedSimpleState>>,
    shape: EncoderShape,
    /// `Some` for a contract-v2 (incremental) model.
    cache: Option<CacheShape>,
    sha256: [u8; 32],
    temperature: f32,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("shape", &self.shape)
            .field("cache", &self.cache)
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

/// Checks the graph interface of ONNX bytes against the contract (v1 or v2) and returns the declared
/// shape.
pub fn check_contract(bytes: &[u8]) -> Result<EncoderShape> {
    check_contract_meta(bytes).map(|(shape, _)| shape)
}

/// [`check_contract`], plus the score temperature from the ONNX metadata ([`META_TEMPERATURE`], default 1).
pub fn check_contract_meta(bytes: &[u8]) -> Result<(EncoderShape, f32)> {
    decode_checked(bytes).map(|c| (c.shape, c.temperature))
}

/// The contract version ONNX bytes follow (1: window encoder, 2: incremental), after checking them.
pub fn contract_version(bytes: &[u8]) -> Result<u32> {
    decode_checked(bytes).map(|c| c.version())
}

/// What [`decode_checked`] found.
struct Checked {
    proto: pb::ModelProto,
    shape: EncoderShape,
    cache: Option<CacheShape>,
    temperature: f32,
}

impl Checked {
    fn version(&self) -> u32 {
        if self.cache.is_some() {
            contract::CONTRACT_VERSION_INCREMENTAL
        } else {
            contract::CONTRACT_VERSION
        }
    }
}

/// A declared static dimension, or the contract error `what`.
fn static_dim(d: Option<i64>, what: &str) -> Result<usize> {
    match d {
        Some(v) if v >= 1 => Ok(v as usize),
        _ => Err(Error::ModelContract(format!(
            "{what} must be a static dimension of at least 1"
        ))),
    }
}

fn check_range(l: usize, d: usize) -> Result<()> {
    if !(1..=MAX_SUPPORTED_LEN).contains(&l) || !(1..=MAX_SUPPORTED_DIM).contains(&d) {
        return Err(Error::ModelContract(format!(
            "L = {l} or D = {d} out of the supported range"
        )));
    }
    Ok(())
}

/// Decodes the ONNX protobuf once and checks it against the contract.
fn decode_checked(bytes: &[u8]) -> Result<Checked> {
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
    let (shape, cache) = if names == contract::INPUT_NAMES {
        (check_window(graph, &inputs)?, None)
    } else if names == contract::STEP_INPUT_NAMES {
        let (shape, cache) = check_step(graph, &inputs)?;
        (shape, Some(cache))
    } else {
        return Err(Error::ModelContract(format!(
            "inputs are {names:?}, expected {:?} (v1) or {:?} (v2) in that order",
            contract::INPUT_NAMES,
            contract::STEP_INPUT_NAMES
        )));
    };
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
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(1);
    check_ranks(graph, opset)?;
    Ok(Checked {
        proto,
        shape,
        cache,
        temperature,
    })
}

/// Contract v1: `items [N, L, D]`, `event_types` / `time_gaps [N, L]` int64, `mask [N, L]` → `session [N, D]`.
fn check_window(graph: &pb::GraphProto, inputs: &[&pb::ValueInfoProto]) -> Result<EncoderShape> {
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
    if !(1..=MAX_SUPPORTED_LEN as i64).contains(&l) || !(1..=MAX_SUPPORTED_DIM as i64).contains(&d)
    {
        return Err(Error::ModelContract(format!(
            "L = {l} or D = {d} out of the supported range"
        )));
    }
    let (max_len, dim) = (l as usize, d as usize);
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
    Ok(EncoderShape { max_len, dim })
}

/// Contract v2: `item [N, D]`, `event_type` / `time_gap` / `position [N]` int64, `past_keys` /
/// `past_values [N, layers, heads, L − 1, head_dim]`, `past_mask [N, L − 1]` → `session [N, D]`, `keys` /
/// `values [N, layers, heads, head_dim]`.
fn check_step(
    graph: &pb::GraphProto,
    inputs: &[&pb::ValueInfoProto],
) -> Result<(EncoderShape, CacheShape)> {
    let (t, dims) = tensor_sig(inputs[0])?;
    if t != ONNX_FLOAT || dims.len() != 2 {
        return Err(Error::ModelContract(
            "input `item` must be float32 [N, D]".into(),
        ));
    }
    let dim = static_dim(dims[1], "D of input `item`")?;
    for vi in &inputs[1..4] {
        let (t, dims) = tensor_sig(vi)?;
        if t != ONNX_INT64 || dims.len() != 1 {
            return Err(Error::ModelContract(format!(
                "input `{}` must be int64 [N]",
                vi.name
            )));
        }
    }
    let (t, kd) = tensor_sig(inputs[4])?;
    if t != ONNX_FLOAT || kd.len() != 5 {
        return Err(Error::ModelContract(
            "input `past_keys` must be float32 [N, layers, heads, L − 1, head_dim]".into(),
        ));
    }
    let cache = CacheShape {
        layers: static_dim(kd[1], "layers of `past_keys`")?,
        heads: static_dim(kd[2], "heads of `past_keys`")?,
        slots: static_dim(kd[3], "L − 1 of `past_keys`")?,
        head_dim: static_dim(kd[4], "head_dim of `past_keys`")?,
    };
    let max_len = cache.slots + 1;
    check_range(max_len, dim)?;
    if cache.len() > 64 << 20 {
        return Err(Error::ModelContract(format!(
            "a key cache of {} values is larger than supported",
            cache.len()
        )));
    }
    let (t, vd) = tensor_sig(inputs[5])?;
    if t != ONNX_FLOAT || vd.len() != 5 || vd[1..] != kd[1..] {
        return Err(Error::ModelContract(
            "input `past_values` must be shaped like `past_keys`".into(),
        ));
    }
    let (t, md) = tensor_sig(inputs[6])?;
    if t != ONNX_FLOAT || md.len() != 2 || md[1] != kd[3] {
        return Err(Error::ModelContract(format!(
            "input `past_mask` must be float32 [N, {}]",
            cache.slots
        )));
    }
    let outs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    if outs != contract::STEP_OUTPUT_NAMES {
        return Err(Error::ModelContract(format!(
            "outputs are {outs:?}, expected {:?}",
            contract::STEP_OUTPUT_NAMES
        )));
    }
    let (t, dims) = tensor_sig(&graph.output[0])?;
    if t != ONNX_FLOAT || dims.len() != 2 || dims[1] != Some(dim as i64) {
        return Err(Error::ModelContract(format!(
            "output `session` must be float32 [N, {dim}]"
        )));
    }
    let want = [kd[1], kd[2], kd[4]];
    for o in &graph.output[1..] {
        let (t, dims) = tensor_sig(o)?;
        if t != ONNX_FLOAT || dims.len() != 4 || dims[1..] != want {
            return Err(Error::ModelContract(format!(
                "output `{}` must be float32 [N, {}, {}, {}]",
                o.name, cache.layers, cache.heads, cache.head_dim
            )));
        }
    }
    Ok((EncoderShape { max_len, dim }, cache))
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

/// The `f32` values of an output, which must number `n`.
fn out_slice(v: &TValue, n: usize) -> Result<Vec<f32>> {
    out_f32s(v, n).map(<[f32]>::to_vec)
}

/// The `n` f32 values of an output, borrowed.
fn out_f32s(v: &TValue, n: usize) -> Result<&[f32]> {
    let run_err = |e: TractError| Error::ModelRun(format!("{e:#}"));
    let view = v.try_as_plain_ram().map_err(run_err)?;
    let s = view.as_slice::<f32>().map_err(run_err)?;
    if s.len() != n {
        return Err(Error::ModelRun(format!(
            "output has {} values, expected {n}",
            s.len()
        )));
    }
    Ok(s)
}

impl Encoder {
    /// Loads ONNX bytes: contract check, then tract parse, typing for batch 1, optimisation, planning.
    pub fn from_bytes(bytes: &[u8]) -> Result<Encoder> {
        #[cfg(target_family = "wasm")]
        run_static_constructors_once();
        let checked = decode_checked(bytes)?;
        let (shape, cache, temperature) = (checked.shape, checked.cache, checked.temperature);
        let (l, d) = (shape.max_len, shape.dim);
        let facts: Vec<InferenceFact> = match cache {
            None => vec![
                f32::fact([1, l, d]).into(),
                i64::fact([1, l]).into(),
                i64::fact([1, l]).into(),
                f32::fact([1, l]).into(),
            ],
            Some(c) => {
                let kv = [1, c.layers, c.heads, c.slots, c.head_dim];
                vec![
                    f32::fact([1, d]).into(),
                    i64::fact([1]).into(),
                    i64::fact([1]).into(),
                    i64::fact([1]).into(),
                    f32::fact(kv).into(),
                    f32::fact(kv).into(),
                    f32::fact([1, c.slots]).into(),
                ]
            }
        };
        let mut model = onnx()
            .model_for_proto_model(&checked.proto)
            .map_err(load_err)?;
        for (i, fact) in facts.into_iter().enumerate() {
            model = model.with_input_fact(i, fact).map_err(load_err)?;
        }
        let typed = model.into_typed().map_err(load_err)?;
        check_gathers(&typed, shape.max_len)?;
        let plan = typed
            .into_optimized()
            .map_err(load_err)?
            .into_runnable()
            .map_err(load_err)?;
        let state = std::sync::Mutex::new(Some(plan.spawn().map_err(load_err)?));
        let enc = Encoder {
            plan,
            state,
            shape,
            cache,
            sha256: sha256(bytes),
            temperature,
        };
        // A model that loads but cannot run on a one-event session is refused now, not on the shopper's
        // first click.
        let out = match cache {
            None => {
                let mut probe = EncoderInput::empty(shape);
                probe.mask[l - 1] = 1.0;
                probe.event_types[l - 1] = 1;
                probe.time_gaps[l - 1] = contract::GAP_FIRST_OR_UNKNOWN;
                enc.run(&probe)?
            }
            Some(c) => {
                let mut kv = KvCache::new(c);
                let item = vec![0.0; d];
                let first = StepInput {
                    item: &item,
                    event_type: 1,
                    time_gap: contract::GAP_FIRST_OR_UNKNOWN,
                    index: 0,
                };
                enc.step(&mut kv, &first)?
            }
        };
        if out.iter().any(|x| !x.is_finite()) {
            return Err(Error::ModelContract(
                "the model outputs non-finite values on a one-event session".into(),
            ));
        }
        Ok(enc)
    }

    /// Runs the plan on `inputs`, reusing the kept run state when it is free.
    fn run_plan(&self, inputs: TVec<TValue>) -> Result<TVec<TValue>> {
        let run_err = |e: TractError| Error::ModelRun(format!("{e:#}"));
        let kept = self.state.try_lock().ok().and_then(|mut s| s.take());
        match kept {
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
        .map_err(run_err)
    }

    /// Runs a contract-v1 encoder on one session and returns the `D`-dim session vector.
    pub fn run(&self, input: &EncoderInput) -> Result<Vec<f32>> {
        if self.cache.is_some() {
            return Err(Error::ModelRun(
                "an incremental (contract v2) encoder takes one event at a time: Encoder::step"
                    .into(),
            ));
        }
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
        let out = self.run_plan(tvec![items.into(), types.into(), gaps.into(), mask.into()])?;
        out_slice(&out[0], d)
    }

    /// Runs a contract-v2 encoder on the session's next event: its session vector, computed from the
    /// keys and values `cache` holds for the events before it. The event's own keys and values are then
    /// added to `cache`. `cache` is left as it was when the call fails.
    pub fn step(&self, cache: &mut KvCache, ev: &StepInput<'_>) -> Result<Vec<f32>> {
        let Some(c) = self.cache else {
            return Err(Error::ModelRun(
                "a window (contract v1) encoder takes the whole session: Encoder::run".into(),
            ));
        };
        let d = self.shape.dim;
        if cache.shape != c || ev.item.len() != d {
            return Err(Error::ModelRun(
                "step input or key/value cache has the wrong shape".into(),
            ));
        }
        let run_err = |e: TractError| Error::ModelRun(format!("{e:#}"));
        let position = contract::step_position(ev.index, self.shape.max_len);
        let inputs = tvec![
            Tensor::from_shape(&[1, d], ev.item)
                .map_err(run_err)?
                .into(),
            tensor1(&[ev.event_type]).into(),
            tensor1(&[ev.time_gap]).into(),
            tensor1(&[position]).into(),
            TValue::from_const(cache.keys.clone()),
            TValue::from_const(cache.values.clone()),
            TValue::from_const(cache.mask.clone()),
        ];
        let out = self.run_plan(inputs)?;
        let session = out_f32s(&out[0], d)?.to_vec();
        let keys = out_f32s(&out[1], c.per_event())?;
        let values = out_f32s(&out[2], c.per_event())?;
        cache.push(keys, values);
        Ok(session)
    }

    /// The key/value cache layout of a contract-v2 model; `None` for a contract-v1 (window) model.
    pub fn cache_shape(&self) -> Option<CacheShape> {
        self.cache
    }

    /// The contract version the model follows (1: window, 2: incremental).
    pub fn contract_version(&self) -> u32 {
        if self.cache.is_some() {
            contract::CONTRACT_VERSION_INCREMENTAL
        } else {
            contract::CONTRACT_VERSION
        }
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
    "Concat",
    "Constant",
    "Identity",
];

/// Checks every Gather of the typed model (shapes known) before tract folds or runs it: tract's Gather
/// does not bound its indices, so a corrupted model (a constant index past its axis, or an embedding table
/// with fewer rows than the contract's ids) would read out of bounds (a panic, a crashed page in wasm).
/// A constant index must be inside its axis; an index that is a model input must have a table of at least
/// the contract's vocabulary on that axis (event types, gap buckets, positions); any other index is refused.
fn check_gathers(model: &TypedModel, max_len: usize) -> Result<()> {
    use tract_onnx::tract_core::ops::array::Gather;
    use tract_onnx::tract_hir::internal::DimLike;
    let inputs = model.input_outlets().map_err(load_err)?;
    for node in model.nodes() {
        let Some(g) = node.op_as::<Gather>() else {
            continue;
        };
        let bad =
            |why: String| Error::ModelContract(format!("node {:?} (Gather): {why}", node.name));
        let data = model.outlet_fact(node.inputs[0]).map_err(load_err)?;
        let dim = data
            .shape
            .get(g.axis)
            .and_then(|d| d.to_usize().ok())
            .ok_or_else(|| bad("its data has no static axis to gather from".into()))?
            as i64;
        // tract casts the indices to i64: look through the cast(s) to what they come from
        let mut idx_outlet = node.inputs[1];
        while let Some(prev) = model
            .node(idx_outlet.node)
            .op_as::<tract_onnx::tract_core::ops::cast::Cast>()
            .and(model.node(idx_outlet.node).inputs.first())
        {
            idx_outlet = *prev;
        }
        let idx = model.outlet_fact(idx_outlet).map_err(load_err)?;
        if let Some(k) = &idx.konst {
            let k = k.cast_to::<i64>().map_err(load_err)?;
            let view = k.try_as_plain_ram().map_err(load_err)?;
            let vals = view.as_slice::<i64>().map_err(load_err)?;
            if let Some(v) = vals.iter().find(|v| **v < -dim || **v >= dim) {
                return Err(bad(format!(
                    "index {v} is out of range for an axis of {dim}"
                )));
            }
        } else if inputs.contains(&idx_outlet) {
            let name = model.node(idx_outlet.node).name.as_str();
            let need = match name {
                contract::INPUT_EVENT_TYPES | contract::STEP_INPUT_EVENT_TYPE => {
                    contract::NUM_EVENT_TYPES
                }
                contract::INPUT_TIME_GAPS | contract::STEP_INPUT_TIME_GAP => {
                    contract::NUM_GAP_BUCKETS
                }
                contract::STEP_INPUT_POSITION => max_len,
                _ => return Err(bad(format!("gathers by input {name:?}"))),
            } as i64;
            if dim < need {
                return Err(bad(format!(
                    "a table of {dim} rows for input {name:?}, whose ids go up to {}",
                    need - 1
                )));
            }
        } else {
            return Err(bad(format!(
                "gathers by a computed index ({})",
                model.node(idx_outlet.node).op.name()
            )));
        }
    }
    Ok(())
}

/// The int64 values of a constant tensor (raw little-endian bytes or `int64_data`).
fn int64_values(t: &pb::TensorProto) -> Option<Vec<i64>> {
    if t.data_type != ONNX_INT64 {
        return None;
    }
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(8) {
            return None;
        }
        return Some(
            t.raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        );
    }
    Some(t.int64_data.clone())
}

/// Checks every node's axes and permutations against the ranks of its inputs, before tract sees the graph:
/// tract's shape rules index by them and would panic on a corrupted model (a crashed page in wasm, where
/// panics abort). Ranks are propagated from the declared inputs, the initializers and `Constant` nodes
/// through the contract's operators in graph order.
fn check_ranks(graph: &pb::GraphProto, opset: i64) -> Result<()> {
    use std::collections::HashMap;
    let mut rank: HashMap<&str, usize> = HashMap::new();
    let mut konst: HashMap<&str, &pb::TensorProto> = HashMap::new();
    for t in &graph.initializer {
        rank.insert(t.name.as_str(), t.dims.len());
        konst.insert(t.name.as_str(), t);
    }
    for i in &graph.input {
        if !rank.contains_key(i.name.as_str()) {
            let (_, dims) = tensor_sig(i)?;
            rank.insert(i.name.as_str(), dims.len());
        }
    }
    let bad = |node: &pb::NodeProto, why: String| {
        Error::ModelContract(format!("node {:?} ({}): {why}", node.name, node.op_type))
    };
    let axis_in = |node: &pb::NodeProto, a: i64, r: usize| -> Result<()> {
        let r = r as i64;
        if a < -r || a >= r {
            return Err(bad(node, format!("axis {a} is out of range for rank {r}")));
        }
        Ok(())
    };
    let attr_i = |node: &pb::NodeProto, name: &str| {
        node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
    };
    for node in &graph.node {
        let mut r_in = Vec::with_capacity(node.input.len());
        for name in &node.input {
            if name.is_empty() {
                continue;
            }
            match rank.get(name.as_str()) {
                Some(r) => r_in.push(*r),
                None => {
                    return Err(bad(
                        node,
                        format!("input {name:?} is not defined before it is used"),
                    ))
                }
            }
        }
        let two = |r_in: &[usize]| match r_in {
            [a, b, ..] => Ok((*a, *b)),
            _ => Err(bad(node, "expects two inputs".into())),
        };
        let first = |r_in: &[usize]| {
            r_in.first()
                .copied()
                .ok_or_else(|| bad(node, "no input".into()))
        };
        let out = match node.op_type.as_str() {
            "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" => r_in
                .iter()
                .copied()
                .max()
                .ok_or_else(|| bad(node, "no input".into()))?,
            "Erf" | "Exp" | "Sqrt" | "Tanh" | "Sigmoid" | "Neg" | "Reciprocal" | "Identity" => {
                first(&r_in)?
            }
            "MatMul" => {
                let (a, b) = two(&r_in)?;
                if a == 0 || b == 0 {
                    return Err(bad(node, "MatMul of a scalar".into()));
                }
                match (a, b) {
                    (1, 1) => 0,
                    (1, b) => b - 1,
                    (a, 1) => a - 1,
                    (a, b) => a.max(b),
                }
            }
            "LayerNormalization" | "Softmax" => {
                let r = first(&r_in)?;
                let default = if node.op_type == "Softmax" && opset < 13 {
                    1
                } else {
                    -1
                };
                axis_in(node, attr_i(node, "axis").unwrap_or(default), r)?;
                r
            }
            "Gather" => {
                let (r, q) = two(&r_in)?;
                axis_in(node, attr_i(node, "axis").unwrap_or(0), r)?;
                r + q - 1
            }
            "Concat" => {
                let r = first(&r_in)?;
                if r_in.iter().any(|x| *x != r) {
                    return Err(bad(node, format!("inputs of ranks {r_in:?}")));
                }
                axis_in(
                    node,
                    attr_i(node, "axis").ok_or_else(|| bad(node, "no axis".into()))?,
                    r,
                )?;
                r
            }
            "Reshape" => {
                let shape = node
                    .input
                    .get(1)
                    .and_then(|n| konst.get(n.as_str()))
                    .ok_or_else(|| bad(node, "the shape must be a constant".into()))?;
                if shape.dims.len() != 1 {
                    return Err(bad(node, "the shape must be a vector".into()));
                }
                shape.dims[0].max(0) as usize
            }
            "Transpose" => {
                let r = first(&r_in)?;
                if let Some(a) = node.attribute.iter().find(|a| a.name == "perm") {
                    let mut seen = vec![false; r];
                    let ok = a.ints.len() == r
                        && a.ints.iter().all(|&p| {
                            (0..r as i64).contains(&p)
                                && !std::mem::replace(&mut seen[p as usize], true)
                        });
                    if !ok {
                        return Err(bad(
                            node,
                            format!("perm {:?} is not a permutation of rank {r}", a.ints),
                        ));
                    }
                }
                r
            }
            "Unsqueeze" => {
                let r = first(&r_in)?;
                let axes = if opset < 13 {
                    node.attribute
                        .iter()
                        .find(|a| a.name == "axes")
                        .map(|a| a.ints.clone())
                } else {
                    node.input
                        .get(1)
                        .and_then(|n| konst.get(n.as_str()))
                        .and_then(|t| int64_values(t))
                }
                .ok_or_else(|| bad(node, "the axes must be constant".into()))?;
                let out = r + axes.len();
                let mut seen = vec![false; out];
                for &a in &axes {
                    axis_in(node, a, out)?;
                    let n = if a < 0 { a + out as i64 } else { a } as usize;
                    if std::mem::replace(&mut seen[n], true) {
                        return Err(bad(node, format!("axes {axes:?} repeat an axis")));
                    }
                }
                out
            }
            "Constant" => {
                let t = node
                    .attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref());
                match t {
                    Some(t) => t.dims.len(),
                    None if node.attribute.iter().any(|a| a.name.ends_with('s')) => 1,
                    None => 0,
                }
            }
            _ => first(&r_in)?,
        };
        if out > 8 {
            return Err(bad(node, format!("an output of rank {out}")));
        }
        for o in &node.output {
            rank.insert(o.as_str(), out);
            if node.op_type == "Constant" {
                if let Some(t) = node
                    .attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref())
                {
                    konst.insert(o.as_str(), t);
                }
            }
        }
    }
    Ok(())
}

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
        reg.insert("Concat", |_, node| {
            let axis = node.get_attr("axis")?;
            Ok((expand(ops::array::Concat::new(axis)), vec![]))
        });
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
    fn a_step_writes_the_cache_in_place_and_equals_a_copied_cache() {
        let enc = Encoder::from_bytes(include_bytes!("../models/reference-v2.onnx")).unwrap();
        let shape = enc.cache_shape().expect("a v2 model");
        let (mut a, mut b) = (KvCache::new(shape), KvCache::new(shape));
        let d = enc.shape().dim;
        for i in 0..(shape.slots as u64 + 5) {
            let item: Vec<f32> = (0..d)
                .map(|j| ((i as usize * 7 + j) % 13) as f32 / 13.0 - 0.5)
                .collect();
            let ev = StepInput {
                item: &item,
                event_type: 1 + (i % 5) as i64,
                time_gap: 2,
                index: i,
            };
            let keys_before = Arc::as_ptr(&a.keys);
            let va = enc.step(&mut a, &ev).unwrap();
            // tract dropped its references when the run ended: the ring was written where it was
            assert_eq!(Arc::as_ptr(&a.keys), keys_before);
            assert_eq!(Arc::strong_count(&a.keys), 1);
            assert_eq!(Arc::strong_count(&a.values), 1);
            // a cache whose tensors are shared elsewhere (a clone) is copied on write, the clone untouched
            let held = b.clone();
            let vb = enc.step(&mut b, &ev).unwrap();
            assert_eq!(va, vb);
            assert_eq!(held.stepped(), i);
            assert_ne!(held.keys, b.keys);
        }
        assert_eq!(a, b);
        a.clear();
        assert_eq!(a, KvCache::new(shape));
    }

    #[test]
    fn a_table_smaller_than_the_vocabulary_and_a_bad_constant_index_are_refused() {
        let bytes = include_bytes!("../models/reference.onnx");
        let proto = pb::ModelProto::decode(&bytes[..]).unwrap();
        // an event-type table of 3 rows: a purchase (id 5) would read past it
        let mut p = proto.clone();
        let t = p
            .graph
            .as_mut()
            .unwrap()
            .initializer
            .iter_mut()
            .find(|t| t.name == "type_emb")
            .unwrap();
        t.dims[0] = 3;
        t.raw_data.truncate(3 * t.dims[1] as usize * 4);
        let err = Encoder::from_bytes(&p.encode_to_vec()).unwrap_err();
        assert!(
            matches!(&err, Error::ModelContract(m) if m.contains("3 rows") && m.contains("event_types")),
            "{err}"
        );
        // the last-position index past the window
        let mut p = proto;
        let t = p
            .graph
            .as_mut()
            .unwrap()
            .initializer
            .iter_mut()
            .find(|t| t.name == "last_index_keep")
            .unwrap();
        t.raw_data = 50i64.to_le_bytes().to_vec();
        let err = Encoder::from_bytes(&p.encode_to_vec()).unwrap_err();
        assert!(
            matches!(&err, Error::ModelContract(m) if m.contains("index 50")),
            "{err}"
        );
    }

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
