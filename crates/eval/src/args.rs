//! The arguments of `nextclick eval`.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `nextclick eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Target shop folder in the canonical layout (items.csv, events.csv).
    #[arg(long)]
    pub target: PathBuf,
    /// The source model (contract-v1 ONNX).
    #[arg(long)]
    pub model: PathBuf,
    /// The target's catalog for that model; default: built with `nextclick catalog` (item tower beside
    /// the model) into the `--work` folder.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Markdown file whose section `--title` is (re)written; nothing is written without it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Section title in `--out`.
    #[arg(long, default_value = "REES46 target shop (replay)")]
    pub title: String,
    /// Folder for the plots and the JSON of every figure (default: `<out dir>/eval`).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Scratch folder (built catalog).
    #[arg(long, default_value = "target/eval")]
    pub work: PathBuf,
    /// Fraction of the events (by time) in the history window.
    #[arg(long, default_value_t = 0.5)]
    pub history_frac: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Bootstrap and noise seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fixed α values of the sweep.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,0.75,1")]
    pub alphas: Vec<f32>,
    /// Noise multipliers of the federated rows (one row each).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub fed_noise: Vec<f64>,
    /// Federated rounds.
    #[arg(long, default_value_t = 3)]
    pub fed_rounds: usize,
    /// Federated clip norm.
    #[arg(long, default_value_t = 1.0)]
    pub fed_clip: f32,
    /// A centrally trained reference model, `NAME=MODEL.onnx,CATALOG` (repeatable); replayed like the
    /// zero-shot row (no on-device learning).
    #[arg(long)]
    pub reference: Vec<String>,
    /// Only these rows (comma-separated names); default all.
    #[arg(long, value_delimiter = ',')]
    pub rows: Vec<String>,
    /// Rows replayed in parallel.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Write the history window as a canonical-layout folder here (for training a central model on it)
    /// and exit.
    #[arg(long)]
    pub write_history: Option<PathBuf>,
    /// The command line to print in the report (default: this one).
    #[arg(long)]
    pub command: Option<String>,
    /// A paragraph to print at the top of the report section (e.g. what is missing).
    #[arg(long)]
    pub note: Option<String>,
}
