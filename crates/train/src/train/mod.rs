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

pub mod batch;
pub mod encode;
pub mod net;
pub mod ops;

pub mod evaluate;
pub mod fit;
pub mod loss;
pub mod optim;
pub mod sources;
pub mod stream;

/// The tensor type of the trainer's API (candle's).
pub use candle_core::Tensor;

pub use batch::*;
pub use encode::*;
pub use evaluate::*;
pub use fit::*;
pub use loss::*;
pub use net::*;
pub use nextclick_data::split::*;
pub use nextclick_model::rank::{rank_of, Metrics};
pub use ops::*;
pub use sources::{
    id_layout, source_vectors, source_weights, Domain, Selection, Source, SourceStats,
};
pub use stream::{
    eval_batch, eval_cases, session_cases, session_windows, train_stream, Reservoir, ShuffleBuffer,
    StreamData, StreamOptions, StreamReport,
};
