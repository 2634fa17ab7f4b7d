//! tract's output on the ONNX file the writer emits equals the plain-Rust forward pass of the same weights.

use nextclick::model::{Encoder, EncoderInput};
use nextclick_model::encoder::{EncoderConfig, EncoderWeights, SplitMix};

fn random_input(w: &EncoderWeights, len: usize, r: &mut SplitMix) -> EncoderInput {
    let c = w.config;
    let mut inp = EncoderInput::empty(nextclick::model::EncoderShape {
        max_len: c.max_len,
        dim: c.dim,
    });
    for p in c.max_len - len..c.max_len {
        for j in 0..c.dim {
            inp.items[p * c.dim + j] = r.normal() * 0.5;
        }
        inp.event_types[p] = 1 + r.below(5) as i64;
        inp.time_gaps[p] = 1 + r.below(23) as i64;
        inp.mask[p] = 1.0;
    }
    inp
}

fn check(config: EncoderConfig, seed: u64) {
    let w = EncoderWeights::random(config, seed);
    w.validate().unwrap();
    let enc = Encoder::from_bytes(&w.to_onnx("test")).expect("tract loads the written model");
    assert_eq!(enc.shape().dim, config.dim);
    assert_eq!(enc.shape().max_len, config.max_len);
    let mut r = SplitMix(seed ^ 0xabc);
    let mut worst = 0f32;
    for len in [
        1,
        2,
        3,
        config.max_len / 2,
        config.max_len - 1,
        config.max_len,
    ] {
        let inp = random_input(&w, len, &mut r);
        let a = enc.run(&inp).unwrap();
        let b = w.forward(&inp);
        for (x, y) in a.iter().zip(&b) {
            worst = worst.max((x - y).abs());
        }
    }
    assert!(worst < 1e-5, "max |tract − reference| = {worst}");
}

#[test]
fn reference_config_matches_plain_rust() {
    check(nextclick_model::reference::REFERENCE_CONFIG, 1);
}

#[test]
fn other_shapes_match_plain_rust() {
    check(
        EncoderConfig {
            max_len: 7,
            dim: 8,
            heads: 1,
            layers: 1,
            ffn: 16,
            ln_eps: 1e-5,
        },
        2,
    );
    check(
        EncoderConfig {
            max_len: 20,
            dim: 64,
            heads: 4,
            layers: 3,
            ffn: 128,
            ln_eps: 1e-6,
        },
        3,
    );
}
