//! `nextclick`: the command-line tool of nextclick (reference model, training, export, catalogs,
//! evaluation, demo server). `nextclick --help` lists the commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod demo;
mod serve;

#[derive(Parser)]
#[command(
    name = "nextclick",
    version,
    about = "nextclick: on-device next-click prediction — tooling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the deterministic reference model, its card, its catalog and the expected test outputs.
    Reference {
        /// Where the model, card and catalog go.
        #[arg(long, default_value = "models")]
        out_dir: PathBuf,
        /// Where the expected outputs of the scripted scenario go.
        #[arg(long, default_value = "tests/fixtures/reference_expected.json")]
        expected: PathBuf,
    },
    /// Serves a folder (the demo shop) on 127.0.0.1 with strict CSP and correct MIME types.
    Serve(serve::ServeArgs),
    /// Generates the demo shop's products (items.csv; optionally a hashed stand-in catalog).
    DemoCatalog(demo::DemoCatalogArgs),
    /// Training pipeline: embed-items, train, export, catalog, eval-loo.
    #[command(flatten)]
    Pipeline(nextclick_tools::commands::PipelineCommand),
    /// Replays a target shop through the core predictor and the baselines; writes the results section.
    Eval(Box<nextclick_tools::eval::run::EvalArgs>),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Reference { out_dir, expected } => {
            let r = nextclick_tools::reference::build();
            std::fs::create_dir_all(&out_dir)?;
            let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
                let p = out_dir.join(name);
                std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
                println!("wrote {} ({} bytes)", p.display(), bytes.len());
                Ok(())
            };
            let catalog = r.catalog.to_bytes();
            write("reference.onnx", &r.onnx)?;
            write(
                "reference.card.json",
                (serde_json::to_string_pretty(&r.card)? + "\n").as_bytes(),
            )?;
            write("reference.catalog", &catalog)?;
            let steps = nextclick_tools::fixture::run(&r.onnx, &catalog)?;
            if let Some(dir) = expected.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&expected, serde_json::to_string_pretty(&steps)? + "\n")?;
            println!("wrote {}", expected.display());
        }
        Command::Serve(a) => serve::run(a)?,
        Command::DemoCatalog(a) => demo::run(a)?,
        Command::Pipeline(c) => c.run()?,
        Command::Eval(a) => nextclick_tools::eval::run::run(*a)?,
    }
    Ok(())
}
