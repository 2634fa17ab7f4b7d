//! Native tooling of nextclick: the ONNX writer for contract-v1 session encoders, the deterministic
//! reference model, and (in later modules) training, export, catalogs and evaluation.

#![warn(missing_docs)]

pub mod commands;
pub mod data;
pub mod embed;
pub mod encoder;
pub mod eval;
pub mod export;
pub mod fixture;
pub mod reference;
pub mod textft;
pub mod train;
