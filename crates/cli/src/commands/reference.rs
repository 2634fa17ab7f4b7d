//! `nextclick reference`: the deterministic reference models (contract v1 and v2), their cards, their
//! catalogs and the expected outputs of the scripted scenarios (the fixtures the native and browser tests
//! compare against).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// Arguments of `reference`.
#[derive(Debug, Args)]
pub struct ReferenceArgs {
    /// Where the model, card and catalog go.
    #[arg(long, default_value = "models")]
    pub out_dir: PathBuf,
    /// Where the expected outputs of the scripted scenario go.
    #[arg(long, default_value = "tests/fixtures/reference_expected.json")]
    pub expected: PathBuf,
}

/// Runs the command.
pub fn run(a: ReferenceArgs) -> anyhow::Result<()> {
    let ReferenceArgs { out_dir, expected } = a;
    let r = nextclick_model::reference::build();
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
    let steps = nextclick_model::fixture::run(&r.onnx, &catalog)?;
    if let Some(dir) = expected.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&expected, serde_json::to_string_pretty(&steps)? + "\n")?;
    println!("wrote {}", expected.display());

    // The contract-v2 (incremental) reference and its expected outputs on the long scenario.
    let v2 = nextclick_model::reference::build_incremental();
    let v2_catalog = v2.catalog.to_bytes();
    write("reference-v2.onnx", &v2.onnx)?;
    write(
        "reference-v2.card.json",
        (serde_json::to_string_pretty(&v2.card)? + "\n").as_bytes(),
    )?;
    write("reference-v2.catalog", &v2_catalog)?;
    let steps = nextclick_model::fixture::run_events(
        &v2.onnx,
        &v2_catalog,
        nextclick_model::fixture::long_scenario_events(),
    )?;
    let v2_expected = expected.with_file_name("reference_v2_expected.json");
    std::fs::write(&v2_expected, serde_json::to_string_pretty(&steps)? + "\n")?;
    println!("wrote {}", v2_expected.display());
    let vectors = expected.with_file_name("reference_v2_vectors.json");
    let sv = nextclick_model::reference::incremental_vectors(&v2);
    std::fs::write(&vectors, serde_json::to_string(&sv)? + "\n")?;
    println!("wrote {}", vectors.display());
    Ok(())
}
