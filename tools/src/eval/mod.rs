//! The evaluation harness (`nextclick eval`): replays a target shop's sessions in time order through the
//! core predictor and through baselines trained on an earlier history window, and reports next-click,
//! intent and regression metrics with bootstrap intervals. See `docs/results.md`.

pub mod baselines;
pub mod data;
pub mod device;
pub mod metrics;
pub mod plot;
pub mod replay;
pub mod report;
pub mod run;
pub mod shop;
