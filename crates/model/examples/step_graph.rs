//! Writes a model's weights as a contract-v2 step graph, for `make bench-incremental`:
//! `step_graph IN.onnx OUT.onnx`. The input is any ONNX file nextclick's writer produced (v1 or v2).
//!
//! A v1 model's positions are right-aligned; the step graph reads them from the session start, so the
//! output is another model with the same arithmetic per event. It is there to measure what incremental
//! encoding costs; it is not a model to ship (train one with `nextclick train --positions-from-start`).

use nextclick_model::encoder::EncoderWeights;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        anyhow::bail!("usage: step_graph IN.onnx OUT.onnx");
    };
    let w = EncoderWeights::from_onnx(&std::fs::read(input)?)?;
    let bytes = w.to_onnx_incremental("nextclick bench (step graph of another model's weights)");
    nextclick::model::Encoder::from_bytes(&bytes)?;
    std::fs::write(output, &bytes)?;
    let c = w.config;
    println!(
        "step_graph: {input} (D = {}, L = {}, {} blocks) → {output}, {} bytes, contract v2",
        c.dim,
        c.max_len,
        c.layers,
        bytes.len()
    );
    Ok(())
}
