//! Cold-start stages of the encoder, timed natively (`cargo bench -p nextclick --bench load`): where
//! `Encoder::from_bytes` spends its time on models/default.onnx. Prints the median of a few runs of each
//! stage; not a criterion bench (each stage consumes the previous one's output).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use nextclick::model::{check_contract, Encoder};
    use tract_onnx::prelude::*;

    fn model_bytes() -> (String, Vec<u8>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/");
        let name = std::env::args()
            .skip(1)
            .find(|a| a.ends_with(".onnx"))
            .unwrap_or_else(|| format!("{dir}default.onnx"));
        let bytes = std::fs::read(&name).expect("model file");
        (name, bytes)
    }

    fn median(mut v: Vec<Duration>) -> f64 {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    }

    pub fn main() {
        let (name, bytes) = model_bytes();
        let shape = check_contract(&bytes).expect("contract-v1 model");
        let (l, d) = (shape.max_len, shape.dim);
        let runs = 5;
        let stages = [
            "contract check (proto decode)",
            "tract proto decode + ONNX parse",
            "input facts (batch 1)",
            "into_typed (analyse)",
            "declutter",
            "optimize (codegen)",
            "into_runnable + spawn",
        ];
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); stages.len()];
        let mut total = Vec::new();
        for _ in 0..runs {
            let t0 = Instant::now();
            let mut lap = t0;
            let mut tick = |k: usize| {
                let now = Instant::now();
                times[k].push(now - lap);
                lap = now;
            };
            check_contract(&bytes).unwrap();
            tick(0);
            let m = tract_onnx::onnx().model_for_read(&mut &bytes[..]).unwrap();
            tick(1);
            let m = m
                .with_input_fact(0, f32::fact([1, l, d]).into())
                .unwrap()
                .with_input_fact(1, i64::fact([1, l]).into())
                .unwrap()
                .with_input_fact(2, i64::fact([1, l]).into())
                .unwrap()
                .with_input_fact(3, f32::fact([1, l]).into())
                .unwrap();
            tick(2);
            let mut m = m.into_typed().unwrap();
            tick(3);
            m.declutter().unwrap();
            tick(4);
            m.optimize().unwrap();
            tick(5);
            let plan = m.into_runnable().unwrap();
            let _state = plan.spawn().unwrap();
            tick(6);
            total.push(t0.elapsed());
        }
        println!("{name}: L = {l}, D = {d}, median of {runs} runs (ms)");
        for (s, t) in stages.iter().zip(times) {
            println!("  {s:<34} {:>8.2}", median(t));
        }
        println!("  {:<34} {:>8.2}", "sum", median(total));
        let mut enc = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            Encoder::from_bytes(&bytes).unwrap();
            enc.push(t.elapsed());
        }
        println!("  {:<34} {:>8.2}", "Encoder::from_bytes", median(enc));
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
