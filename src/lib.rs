//! # nextclick
//!
//! Next-click and intent prediction that runs inside the shop's web page. This crate is the pure core
//! (event → session → features → model → head → prediction, all testable natively) plus a thin
//! `wasm-bindgen` layer (`wasm` module, compiled only for `wasm32`). See `ARCHITECTURE.md` for the code map.

#![warn(missing_docs)]

pub mod card;
pub mod catalog;
pub mod contract;
pub mod error;
pub mod event;
pub mod features;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod head;
pub mod ivfpq;
pub mod model;
pub mod predictor;
pub mod session;
pub mod shop_head;
pub mod split;
pub mod state;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use catalog::Catalog;
pub use contract::EventKind;
pub use error::{Error, EventError, Result};
pub use event::{Event, RawEvent};
pub use model::Encoder;
pub use predictor::{Intent, Options, Prediction, Predictor, TrackStatus};
pub use state::{RestoreReport, ShopperState};
