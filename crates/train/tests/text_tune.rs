//! Fine-tuning the text encoder (`train --text-layers`): the tuner's differentiable BERT matches
//! candle-transformers' BERT (a random tiny one here, the real all-MiniLM-L6-v2 weights when installed),
//! gradients reach its layers, training with it lowers the loss, and the saved model folder embeds like
//! the tuner through the ordinary embedder.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use nextclick_data::Event;
use nextclick_model::encoder::{EncoderConfig, SplitMix};
use nextclick_train::embed::{find_model_dir, mean_pool_normalize, Embedder};
use nextclick_train::textft::{with_fresh_rows, BertShape, TextTuner};
use nextclick_train::train::{self, loo_split, Net, NetConfig, TextTuning, TrainOptions};

const H: usize = 16;
const VOCAB: usize = 60;

fn tiny_config() -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": H,
        "intermediate_size": 32, "layer_norm_eps": 1e-12, "max_position_embeddings": 64,
        "model_type": "bert", "num_attention_heads": 2, "num_hidden_layers": 3,
        "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": VOCAB, "initializer_range": 0.02,
        "position_embedding_type": "absolute", "use_cache": true,
        "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0
    })
}

fn tiny_tensors(seed: u64) -> HashMap<String, Tensor> {
    let dev = Device::Cpu;
    let mut r = SplitMix(seed);
    let mut m = HashMap::new();
    let mut put = |name: String, shape: &[usize], std: f32, mean: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = r.normals(n, std).into_iter().map(|x| x + mean).collect();
        m.insert(name, Tensor::from_vec(v, shape, &dev).unwrap());
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        &[VOCAB, H],
        0.5,
        0.0,
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        &[64, H],
        0.5,
        0.0,
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        &[2, H],
        0.5,
        0.0,
    );
    put("embeddings.LayerNorm.weight".into(), &[H], 0.1, 1.0);
    put("embeddings.LayerNorm.bias".into(), &[H], 0.1, 0.0);
    for l in 0..3 {
        let p = |s: &str| format!("encoder.layer.{l}.{s}");
        for w in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
        ] {
            put(p(&format!("{w}.weight")), &[H, H], 0.3, 0.0);
            put(p(&format!("{w}.bias")), &[H], 0.1, 0.0);
        }
        put(p("attention.output.dense.weight"), &[H, H], 0.3, 0.0);
        put(p("attention.output.dense.bias"), &[H], 0.1, 0.0);
        put(p("attention.output.LayerNorm.weight"), &[H], 0.1, 1.0);
        put(p("attention.output.LayerNorm.bias"), &[H], 0.1, 0.0);
        put(p("intermediate.dense.weight"), &[32, H], 0.3, 0.0);
        put(p("intermediate.dense.bias"), &[32], 0.1, 0.0);
        put(p("output.dense.weight"), &[H, 32], 0.3, 0.0);
        put(p("output.dense.bias"), &[H], 0.1, 0.0);
        put(p("output.LayerNorm.weight"), &[H], 0.1, 1.0);
        put(p("output.LayerNorm.bias"), &[H], 0.1, 0.0);
    }
    m
}

/// Token ids of `n` items, lengths 2..=9, starting with 1 ([CLS]-like) as a tokenizer would.
fn token_ids(n: usize, r: &mut SplitMix) -> Vec<Vec<u32>> {
    (0..n)
        .map(|_| {
            let len = 2 + r.below(8);
            std::iter::once(1)
                .chain((1..len).map(|_| 2 + r.below(VOCAB - 2) as u32))
                .collect()
        })
        .collect()
}

/// candle-transformers' BERT on one item at a time (no padding), mean-pooled and normalised.
fn reference(tensors: &HashMap<String, Tensor>, ids: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let cfg: Config = serde_json::from_value(tiny_config()).unwrap();
    let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
    let model = BertModel::load(vb, &cfg).unwrap();
    ids.iter()
        .map(|t| {
            let x = Tensor::from_vec(t.clone(), (1, t.len()), &Device::Cpu).unwrap();
            let mask = x.ones_like().unwrap();
            let h = model
                .forward(&x, &x.zeros_like().unwrap(), Some(&mask))
                .unwrap();
            mean_pool_normalize(&h, &mask)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap()[0]
                .clone()
        })
        .collect()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// Largest absolute difference between two tensors of the same shape.
fn tensor_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn shape() -> BertShape {
    BertShape::from_config(&tiny_config().to_string()).unwrap()
}

#[test]
fn tuner_matches_candle_bert_and_gradients_reach_its_layers() {
    let mut r = SplitMix(3);
    let tensors = tiny_tensors(7);
    let ids = token_ids(23, &mut r);
    let want = reference(&tensors, &ids);
    for top in 1..=3 {
        let t = TextTuner::new(shape(), tensors.clone(), &ids, top).unwrap();
        // batched with padding, in any order, and all at once: the same vectors
        let all = t.encode_all().unwrap().to_vec2::<f32>().unwrap();
        assert!(
            max_diff(&all, &want) < 1e-5,
            "top {top}: {}",
            max_diff(&all, &want)
        );
        let some = t.encode(&[5, 0, 17]).unwrap().to_vec2::<f32>().unwrap();
        let w: Vec<Vec<f32>> = [5, 0, 17].iter().map(|&i| want[i].clone()).collect();
        assert!(max_diff(&some, &w) < 1e-5);
        // more items than one chunk (sorted by length, run in chunks, put back in order), with repeats
        let many: Vec<u32> = (0..70).map(|i| (i * 7) % 23).collect();
        let got = t.encode(&many).unwrap().to_vec2::<f32>().unwrap();
        let w: Vec<Vec<f32>> = many.iter().map(|&i| want[i as usize].clone()).collect();
        assert!(max_diff(&got, &w) < 1e-5);
        // every trainable tensor gets a gradient from a loss on the vectors
        let loss = t
            .encode(&[1, 2, 3])
            .unwrap()
            .sum_all()
            .unwrap()
            .sqr()
            .unwrap();
        let g = loss.backward().unwrap();
        for v in t.vars() {
            let gv = g
                .get(v.as_tensor())
                .expect("a gradient for every trainable tensor");
            let n = gv
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(n > 0.0 && n.is_finite(), "zero or bad gradient");
        }
        assert_eq!(t.vars().len(), 16 * top);
    }
    // wrong settings are refused with the reason
    let e = TextTuner::new(shape(), tensors.clone(), &ids, 4)
        .err()
        .unwrap();
    assert!(e.to_string().contains("3 layers"), "{e}");
    let mut broken = tensors.clone();
    broken.remove("encoder.layer.1.output.dense.bias");
    let e = TextTuner::new(shape(), broken, &ids, 1).err().unwrap();
    assert!(
        e.to_string().contains("encoder.layer.1.output.dense.bias"),
        "{e}"
    );
    let t = TextTuner::new(shape(), tensors, &ids, 1).unwrap();
    assert!(t.encode(&[23]).is_err());
}

#[test]
fn fresh_rows_replace_only_the_touched_rows() {
    let dev = Device::Cpu;
    let stale =
        Tensor::from_vec((0..12).map(|x| x as f32).collect::<Vec<_>>(), (4, 3), &dev).unwrap();
    let fresh = Tensor::from_vec(vec![-1f32, -2., -3., -4., -5., -6.], (2, 3), &dev).unwrap();
    let c = with_fresh_rows(&stale, &[1, 3], &fresh)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(
        c,
        vec![
            vec![0., 1., 2.],
            vec![-1., -2., -3.],
            vec![6., 7., 8.],
            vec![-4., -5., -6.]
        ]
    );
}

#[test]
fn training_with_the_text_encoder_lowers_the_loss_and_saves_a_model_folder() {
    let mut r = SplitMix(5);
    let n_items = 30;
    let tensors = tiny_tensors(9);
    let ids = token_ids(n_items, &mut r);
    let tuner = TextTuner::new(shape(), tensors, &ids, 1).unwrap();
    let before = tuner.encode_all().unwrap();
    let seqs: Vec<Vec<Event>> = (0..40)
        .map(|_| {
            let s = r.below(n_items);
            (0..3 + r.below(8))
                .map(|k| Event {
                    item: ((s + 7 * k) % n_items) as u32,
                    kind: 1,
                    gap: 1,
                })
                .collect()
        })
        .collect();
    let split = loo_split(&seqs);
    let cfg = NetConfig {
        encoder: EncoderConfig {
            max_len: 12,
            dim: 8,
            heads: 2,
            layers: 1,
            ffn: 16,
            ln_eps: 1e-5,
        },
        content_dim: H,
        tower_hidden: 0,
        id_items: 0,
        temperature: 0.5,
        cosine: false,
        id_residual: 0,
        aux_items: 0,
        aux_layout: 0,
        positions_from_start: false,
    };
    let mut net = Net::new(cfg, 2).unwrap();
    let dir = std::env::temp_dir().join(format!("nextclick-text-tune-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("config.json"), tiny_config().to_string()).unwrap();
    std::fs::write(src.join("tokenizer.json"), "{}").unwrap();
    let opts = TrainOptions {
        epochs: 6,
        lr: 3e-3,
        dropout: 0.0,
        progress: false,
        valid_cases: 20,
        patience: 100,
        trainable: vec!["tower.".into()],
        checkpoint: Some(dir.join("net.safetensors")),
        ..Default::default()
    };
    let rep = train::train_with_text(
        &mut net,
        None,
        &split,
        &opts,
        &[],
        Some(TextTuning {
            tuner: &tuner,
            lr: 3e-3,
            save: Some((src.clone(), dir.join("text"))),
            rows: 5,
        }),
    )
    .unwrap();
    assert!(
        rep.losses.last().unwrap() < &rep.losses[0],
        "loss did not fall: {:?}",
        rep.losses
    );
    let after = tuner.encode_all().unwrap();
    let moved = tensor_diff(&after, &before);
    assert!(moved > 1e-4, "the text encoder did not train");
    // the folder written at the best epoch holds the trained layer, the rest as before, and the small files
    let saved =
        candle_core::safetensors::load(dir.join("text/model.safetensors"), &Device::Cpu).unwrap();
    let reload = TextTuner::new(shape(), saved, &ids, 1).unwrap();
    let d = tensor_diff(&reload.encode_all().unwrap(), &after);
    assert!(
        d < 1e-6,
        "saved encoder differs from the best epoch's by {d}"
    );
    assert!(dir.join("text/config.json").is_file() && dir.join("text/tokenizer.json").is_file());
    assert!(tuner.save(&src, &src).is_err(), "overwrote its source");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn real_minilm_tuner_matches_the_embedder() {
    let dir = match find_model_dir(None) {
        Ok(d) => d,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "all-MiniLM-L6-v2 missing under CI=true: {e}"
            );
            eprintln!("SKIPPED real_minilm_tuner_matches_the_embedder: {e}");
            return;
        }
    };
    let texts: Vec<String> = [
        "Fire Emblem: The Sacred Stones. category: Video Games",
        "a",
        "PORTER-CABLE 4 1/2-Inch x 10yd 80 Grit Adhesive-Backed Sanding Roll. Industrial & Scientific",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let emb = Embedder::load(&dir).unwrap();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let want = emb.embed_batch(&refs).unwrap();
    for top in [1, 6] {
        let t = TextTuner::load(&dir, &texts, top).unwrap();
        let got = t.encode_all().unwrap().to_vec2::<f32>().unwrap();
        assert!(
            max_diff(&got, &want) < 1e-5,
            "top {top}: {}",
            max_diff(&got, &want)
        );
    }
}
