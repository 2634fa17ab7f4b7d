//! The training pipeline without real data or weights: a training step lowers the loss on a tiny
//! generated set; the exported ONNX + tower score like the training framework (tract vs candle, 1e-4);
//! catalogs built through the tower round-trip, int8 agreeing with f32.

use nextclick::catalog::{sha256, Catalog};
use nextclick::model::Encoder;
use nextclick_data::{Event, Item};
use nextclick_model::catalog::{catalog_from, int8_agreement, session_vector};
use nextclick_model::encoder::{EncoderConfig, SplitMix};
use nextclick_model::tower::Tower;
use nextclick_train::embed::Embeddings;
use nextclick_train::export::tower_of;
use nextclick_train::train::{
    self, batch_loss, loo_split, Batch, Net, NetConfig, Teacher, TrainOptions,
};

const C: usize = 16;

fn cfg(tower_hidden: usize) -> NetConfig {
    NetConfig {
        encoder: EncoderConfig {
            max_len: 12,
            dim: 16,
            heads: 2,
            layers: 2,
            ffn: 32,
            ln_eps: 1e-5,
        },
        content_dim: C,
        tower_hidden,
        id_items: 0,
        temperature: 0.5,
        cosine: false,
        id_residual: 0,
        aux_items: 0,
        aux_layout: 0,
        positions_from_start: false,
    }
}

fn content(n: usize, r: &mut SplitMix) -> Vec<f32> {
    r.unit_vectors(n, C)
}

/// Sequences that follow a fixed cycle over the items (learnable), with mixed event types and gaps.
fn sequences(n_items: usize, users: usize, r: &mut SplitMix) -> Vec<Vec<Event>> {
    (0..users)
        .map(|_| {
            let start = r.below(n_items);
            let len = 3 + r.below(10);
            (0..len)
                .map(|k| Event {
                    item: ((start + 3 * k) % n_items) as u32,
                    kind: 1 + r.below(5) as i64,
                    gap: 1 + r.below(23) as i64,
                })
                .collect()
        })
        .collect()
}

#[test]
fn training_steps_lower_the_loss() {
    let mut r = SplitMix(11);
    let n_items = 40;
    let ct = train::content_tensor(&content(n_items, &mut r), C).unwrap();
    let split = loo_split(&sequences(n_items, 64, &mut r));
    let net = Net::new(cfg(24), 5).unwrap();
    let opts = TrainOptions {
        dropout: 0.0,
        lr: 3e-3,
        progress: false,
        ..Default::default()
    };
    let ex: Vec<(&[Event], &[u32])> = split
        .train
        .iter()
        .map(|e| (e.inputs.as_slice(), e.targets.as_slice()))
        .collect();
    let batch = Batch::new(&ex, 12);
    let vars = net.vars_with_prefix(&["enc.", "tower."]);
    let mut opt = candle_nn::AdamW::new(
        vars,
        candle_nn::ParamsAdamW {
            lr: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    use candle_nn::Optimizer;
    let mut rng = SplitMix(1);
    let (l0, n) = batch_loss(&net, Some(&ct), &batch, &opts, &[], &mut rng).unwrap();
    assert!(n > 0);
    let first = l0.to_scalar::<f32>().unwrap();
    let mut last = first;
    for _ in 0..30 {
        let (l, _) = batch_loss(&net, Some(&ct), &batch, &opts, &[], &mut rng).unwrap();
        last = l.to_scalar::<f32>().unwrap();
        opt.backward_step(&l).unwrap();
    }
    assert!(last < first * 0.8, "loss {first} → {last}");
    // the cosine model learns as well, its input scale included
    let cos = Net::new(
        NetConfig {
            cosine: true,
            temperature: 0.1,
            ..cfg(24)
        },
        5,
    )
    .unwrap();
    let mut copt = candle_nn::AdamW::new(
        cos.vars_with_prefix(&["enc.", "tower."]),
        candle_nn::ParamsAdamW {
            lr: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let scale0 = train::to_f32(&cos.p("enc.in_scale")).unwrap();
    let (c0, _) = batch_loss(&cos, Some(&ct), &batch, &opts, &[], &mut rng).unwrap();
    let (c_first, mut c_last) = (c0.to_scalar::<f32>().unwrap(), 0.0);
    for _ in 0..30 {
        let (l, _) = batch_loss(&cos, Some(&ct), &batch, &opts, &[], &mut rng).unwrap();
        c_last = l.to_scalar::<f32>().unwrap();
        copt.backward_step(&l).unwrap();
    }
    assert!(c_last < c_first * 0.8, "cosine loss {c_first} → {c_last}");
    assert_ne!(train::to_f32(&cos.p("enc.in_scale")).unwrap(), scale0);
    // from a dot-product source, the input scale starts at the source's mean item norm
    let norms = train::to_f32(&net.item_vectors(Some(&ct)).unwrap()).unwrap();
    let want = norms
        .chunks(16)
        .map(|v| v.iter().map(|x| x * x).sum::<f32>().sqrt())
        .sum::<f32>()
        / n_items as f32;
    let got = cos.match_input_scale(&net, Some(&ct)).unwrap();
    assert!((got - want).abs() < 1e-4 * want, "{got} vs {want}");
    // sampled softmax and distillation paths run and give finite losses
    let teacher = Net::new(cfg(0), 6).unwrap();
    let o2 = TrainOptions {
        negatives: 8,
        distill_alpha: 0.5,
        ..opts
    };
    let (l, _) = batch_loss(
        &net,
        Some(&ct),
        &batch,
        &o2,
        &[Teacher::new(&teacher, Some(&ct)).unwrap()],
        &mut rng,
    )
    .unwrap();
    assert!(l.to_scalar::<f32>().unwrap().is_finite());
}

#[test]
fn ensembles_of_teachers_average_their_distributions() {
    use candle_core::{Device, Tensor};
    let dev = Device::Cpu;
    // extreme logits: a member's probabilities underflow in f32, the log-space mean does not
    let a = Tensor::new(&[[0f32, 1., 2., -200.], [3., 0., 0., 0.]], &dev).unwrap();
    let b = Tensor::new(&[[2f32, 1., 0., 150.], [0., 0., 0., 3.]], &dev).unwrap();
    let one = train::log_mean_softmax(std::slice::from_ref(&a), 2.0).unwrap();
    let same = train::log_mean_softmax(&[a.clone(), a.clone()], 2.0).unwrap();
    let want = train::log_softmax(&(&a / 2.0).unwrap()).unwrap();
    for t in [&one, &same] {
        let d = (t - &want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-5);
    }
    let mixed = train::log_mean_softmax(&[a.clone(), b.clone()], 1.0).unwrap();
    let got = train::to_f32(&mixed).unwrap();
    assert!(got.iter().all(|x| x.is_finite()), "{got:?}");
    let pa = train::to_f32(&train::softmax(&a).unwrap()).unwrap();
    let pb = train::to_f32(&train::softmax(&b).unwrap()).unwrap();
    for (i, g) in got.iter().enumerate() {
        let want = ((pa[i] as f64 + pb[i] as f64) / 2.0).ln();
        if want.is_finite() && want > -80.0 {
            assert!((*g as f64 - want).abs() < 1e-4, "{i}: {g} vs {want}");
        }
    }
    for row in got.chunks(4) {
        let sum: f64 = row.iter().map(|x| (*x as f64).exp()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    }

    // an ensemble of one ranks as its member does; two members distil with a finite loss
    let mut r = SplitMix(21);
    let n_items = 30;
    let ct = train::content_tensor(&content(n_items, &mut r), C).unwrap();
    let split = loo_split(&sequences(n_items, 40, &mut r));
    let (t1, t2) = (Net::new(cfg(0), 7).unwrap(), Net::new(cfg(24), 8).unwrap());
    let members = [
        Teacher::new(&t1, Some(&ct)).unwrap(),
        Teacher::new(&t2, Some(&ct)).unwrap(),
    ];
    let alone = train::evaluate(&t1, &members[0].table, &split.test, 16).unwrap();
    let as_one = train::evaluate_ensemble(&members[..1], &split.test, 16).unwrap();
    assert_eq!((alone.r10, alone.n50), (as_one.r10, as_one.n50));
    let both = train::evaluate_ensemble(&members, &split.test, 16).unwrap();
    assert!(both.r50.is_finite() && both.n == alone.n);
    let mut student = Net::new(cfg(24), 9).unwrap();
    let opts = TrainOptions {
        epochs: 1,
        distill_alpha: 0.5,
        progress: false,
        ..Default::default()
    };
    let rep = train::train(&mut student, Some(&ct), &split, &opts, &members).unwrap();
    assert!(rep.losses.iter().all(|l| l.is_finite()), "{:?}", rep.losses);
    // a teacher of another catalog is refused, not silently mis-indexed
    let other = train::content_tensor(&content(n_items + 1, &mut r), C).unwrap();
    let wrong = [Teacher::new(&t1, Some(&other)).unwrap()];
    let e = train::train(&mut student, Some(&ct), &split, &opts, &wrong).unwrap_err();
    assert!(e.to_string().contains("not the same catalog"), "{e}");
}

#[test]
fn frozen_backbone_only_moves_the_tower() {
    let mut r = SplitMix(12);
    let n_items = 30;
    let ct = train::content_tensor(&content(n_items, &mut r), C).unwrap();
    let split = loo_split(&sequences(n_items, 40, &mut r));
    let mut net = Net::new(cfg(0), 5).unwrap();
    let before_enc = train::to_f32(&net.p("enc.l0.wq")).unwrap();
    let before_tower = train::to_f32(&net.p("tower.w1")).unwrap();
    let opts = TrainOptions {
        epochs: 1,
        progress: false,
        trainable: vec!["tower.".into()],
        valid_cases: 10,
        ..Default::default()
    };
    train::train(&mut net, Some(&ct), &split, &opts, &[]).unwrap();
    assert_eq!(train::to_f32(&net.p("enc.l0.wq")).unwrap(), before_enc);
    assert_ne!(train::to_f32(&net.p("tower.w1")).unwrap(), before_tower);
    // unseen type/gap ids stay exactly zero under full training too
    let opts = TrainOptions {
        epochs: 1,
        progress: false,
        valid_cases: 10,
        ..Default::default()
    };
    let seqs: Vec<Vec<Event>> = sequences(n_items, 40, &mut r)
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|e| Event {
                    kind: 5,
                    gap: 1,
                    ..e
                })
                .collect()
        })
        .collect();
    let mut net = Net::new(cfg(0), 5).unwrap();
    train::train(&mut net, Some(&ct), &loo_split(&seqs), &opts, &[]).unwrap();
    let te = train::to_f32(&net.p("enc.type_emb")).unwrap();
    let d = 16;
    assert!(
        te[d..5 * d].iter().all(|&v| v == 0.0),
        "unseen event types moved"
    );
    assert!(
        te[5 * d..].iter().any(|&v| v != 0.0),
        "seen event type did not learn"
    );
}

#[test]
fn export_scores_match_the_framework() {
    check_export(false, false);
}

#[test]
fn cosine_export_scores_match_the_framework() {
    check_export(true, false);
}

/// Positions from the session start (`train --positions-from-start`): the export is a contract-v2 step
/// graph, and stepping a session through it gives the trainer's session vector (sessions of at most `L`
/// events, where the trainer's window and the step graph's band are the same attention).
#[test]
fn a_positions_from_start_net_exports_the_step_graph_it_trained() {
    check_export(false, true);
    check_export(true, true);
}

fn check_export(cosine: bool, positions_from_start: bool) {
    let mut r = SplitMix(13);
    let n_items = 50;
    let cvec = content(n_items, &mut r);
    let ct = train::content_tensor(&cvec, C).unwrap();
    let net = Net::new(
        NetConfig {
            cosine,
            positions_from_start,
            ..cfg(24)
        },
        9,
    )
    .unwrap();
    // perturb every parameter so that zero-initialised embeddings and unit LN gains are exercised too
    {
        let data = net.vars.data().lock().unwrap();
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for n in names {
            let v = &data[n];
            let noise = candle_core::Tensor::from_vec(
                r.normals(v.elem_count(), 0.1),
                v.shape(),
                v.device(),
            )
            .unwrap();
            v.set(&(v.as_tensor() + noise).unwrap()).unwrap();
        }
    }
    let onnx = net.encoder_weights().unwrap().to_onnx("test");
    let enc = Encoder::from_bytes(&onnx).unwrap();
    assert_eq!(enc.cache_shape().is_some(), positions_from_start);
    // the score temperature travels in the ONNX metadata, where the in-page head reads it
    assert_eq!(enc.temperature(), 0.5);
    let tower = Tower::from_bytes(&tower_of(&net, sha256(&onnx)).unwrap().to_bytes()).unwrap();
    let vecs = tower.apply_all(&cvec);
    let table = net.item_vectors(Some(&ct)).unwrap();
    let fw_vecs = train::to_f32(&table).unwrap();
    let worst_item = vecs
        .iter()
        .zip(&fw_vecs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst_item < 1e-4,
        "tower: max |plain − candle| = {worst_item}"
    );
    let sessions = sequences(n_items, 100, &mut r);
    let ex: Vec<(&[Event], &[u32])> = sessions.iter().map(|s| (s.as_slice(), &[][..])).collect();
    // a window longer than max_len exercises truncation to the last L events
    let long: Vec<Event> = (0..20)
        .map(|k| Event {
            item: k % 50,
            kind: 2,
            gap: 3,
        })
        .collect();
    let mut ex = ex;
    if positions_from_start {
        // past L the step graph's band and the trainer's window differ (docs/model-contract.md)
        ex.retain(|(e, _)| e.len() <= 12);
        assert!(ex.len() > 50);
    } else {
        ex.push((long.as_slice(), &[][..]));
    }
    let mut worst = 0f32;
    for (chunk_i, chunk) in ex.chunks(16).enumerate() {
        let batch = Batch::new(chunk, 12);
        let sv = train::session_vectors(&net, &table, &batch).unwrap();
        let fw = sv
            .matmul(&table.t().unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (k, (ev, _)) in chunk.iter().enumerate() {
            let s = session_vector(&enc, ev, &vecs).unwrap();
            if cosine {
                let n: f32 = s.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((n - 1.0).abs() < 1e-5, "session vector norm {n}");
            }
            for (i, f) in fw[k].iter().enumerate() {
                let t = nextclick::catalog::dot(&s, &vecs[i * 16..(i + 1) * 16]);
                worst = worst.max((t - f).abs());
            }
            let _ = chunk_i;
        }
    }
    assert!(worst < 1e-4, "scores: max |tract − candle| = {worst}");
    if cosine {
        assert!(tower.normalize);
        for v in vecs.chunks(16) {
            let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-5, "item vector norm {n}");
        }
    }
}

#[test]
fn catalogs_round_trip_and_int8_agrees() {
    let mut r = SplitMix(14);
    let n = 200;
    let cvec = content(n, &mut r);
    let net = Net::new(cfg(24), 3).unwrap();
    let onnx = net.encoder_weights().unwrap().to_onnx("test");
    let tower = tower_of(&net, sha256(&onnx)).unwrap();
    let items: Vec<Item> = (0..n)
        .map(|i| Item {
            id: format!("it{i}"),
            title: if i % 3 == 0 {
                String::new()
            } else {
                format!("Thing {i}")
            },
            category: "home.kitchen".into(),
            brand: "acme".into(),
            price: if i % 5 == 0 { None } else { Some(i as f64) },
        })
        .collect();
    let emb = Embeddings {
        ids: items.iter().map(|i| i.id.clone()).collect(),
        dim: C,
        vecs: cvec,
    };
    let cat = catalog_from(&items, &emb, &tower, "/p/{id}").unwrap();
    let back = Catalog::from_bytes(&cat.to_bytes()).unwrap();
    assert_eq!(back.len(), n);
    assert_eq!(back.model_sha256(), &sha256(&onnx));
    assert_eq!(back.meta(1).unwrap().url, "/p/it1");
    assert_eq!(
        back.meta(0).unwrap().title,
        "category: home kitchen. brand: acme"
    );
    assert_eq!(back.meta(2).unwrap().price, Some(2.0));
    let q8 = Catalog::from_bytes(&cat.quantize_int8().to_bytes()).unwrap();
    assert!(q8.is_int8());
    let queries: Vec<Vec<f32>> = (0..50).map(|_| r.normals(16, 1.0)).collect();
    let (overlap, _same) = int8_agreement(&back, &q8, &queries);
    assert!(overlap > 0.9, "int8 top-10 overlap {overlap}");
}

#[test]
fn a_wider_tower_takes_only_the_backbone() {
    // `train --init … --tower-hidden N` with another tower shape copies the backbone alone
    let src = Net::new(cfg(24), 3).unwrap();
    let mut dst = Net::new(cfg(8), 4).unwrap();
    assert!(dst.copy_from(&src, &["enc.", "tower."]).is_err());
    dst.copy_from(&src, &["enc."]).unwrap();
    assert_eq!(
        train::to_f32(&dst.p("enc.l1.w2")).unwrap(),
        train::to_f32(&src.p("enc.l1.w2")).unwrap()
    );
    assert_eq!(dst.p("tower.w1").dims(), &[C, 8]);
}

#[test]
fn id_offsets_start_neutral_and_learn_with_the_backbone_frozen() {
    let mut r = SplitMix(13);
    let n_items = 30;
    let ct = train::content_tensor(&content(n_items, &mut r), C).unwrap();
    let split = loo_split(&sequences(n_items, 40, &mut r));
    let base = Net::new(cfg(24), 5).unwrap();
    let mut net = Net::new(
        NetConfig {
            id_residual: n_items,
            aux_items: 0,
            aux_layout: 0,
            ..cfg(24)
        },
        6,
    )
    .unwrap();
    net.copy_from(&base, &["enc.", "tower."]).unwrap();
    // zero-initialised offsets: exactly the content-only item vectors to start with
    let v0 = train::to_f32(&base.item_vectors(Some(&ct)).unwrap()).unwrap();
    assert_eq!(
        train::to_f32(&net.item_vectors(Some(&ct)).unwrap()).unwrap(),
        v0
    );
    let before_enc = train::to_f32(&net.p("enc.l0.wq")).unwrap();
    // full softmax, then sampled negatives (the subset path), with the backbone frozen
    for negatives in [0, 8] {
        let opts = TrainOptions {
            epochs: 2,
            progress: false,
            negatives,
            trainable: vec!["tower.".into(), "idemb".into()],
            valid_cases: 10,
            ..Default::default()
        };
        let rep = train::train(&mut net, Some(&ct), &split, &opts, &[]).unwrap();
        assert!(rep.losses.iter().all(|l| l.is_finite()));
    }
    assert_eq!(train::to_f32(&net.p("enc.l0.wq")).unwrap(), before_enc);
    let off = train::to_f32(&net.p("idemb")).unwrap();
    assert!(off.iter().any(|&x| x != 0.0), "offsets did not learn");
    // item vectors = tower + offset, and they survive a save/load round trip
    let tower_only = train::to_f32(&train::tower_forward(&net, &ct).unwrap()).unwrap();
    let v = train::to_f32(&net.item_vectors(Some(&ct)).unwrap()).unwrap();
    for ((a, b), o) in v.iter().zip(&tower_only).zip(&off) {
        assert!((a - (b + o)).abs() < 1e-6);
    }
    let dir = std::env::temp_dir().join(format!("nextclick-idres-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("m.safetensors");
    net.save(&p).unwrap();
    let back = Net::load(&p).unwrap();
    assert_eq!(back.cfg.id_residual, n_items);
    assert_eq!(
        train::to_f32(&back.item_vectors(Some(&ct)).unwrap()).unwrap(),
        v
    );
    // a catalog of another size is refused with a clear error, not a shape panic
    let other = train::content_tensor(&content(n_items + 1, &mut r), C).unwrap();
    let e = back.item_vectors(Some(&other)).unwrap_err().to_string();
    assert!(e.contains("another catalog"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plateaus_decay_the_learning_rate_before_early_stopping() {
    let mut r = SplitMix(14);
    let n_items = 20;
    let ct = train::content_tensor(&content(n_items, &mut r), C).unwrap();
    let split = loo_split(&sequences(n_items, 24, &mut r));
    let dir = std::env::temp_dir().join(format!("nextclick-decay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // learning rate 0: validation never improves after epoch 1, so every epoch after it is a plateau
    // (patience 1): two decays, then the early stop at epoch 4, with epoch 1's weights kept
    let mut net = Net::new(cfg(0), 5).unwrap();
    let before = train::to_f32(&net.p("tower.w1")).unwrap();
    let opts = TrainOptions {
        epochs: 10,
        lr: 0.0,
        patience: 1,
        lr_decays: 2,
        progress: false,
        valid_cases: 10,
        checkpoint: Some(dir.join("m.safetensors")),
        ..Default::default()
    };
    let rep = train::train(&mut net, Some(&ct), &split, &opts, &[]).unwrap();
    assert_eq!(
        (rep.epochs, rep.best_epoch, rep.lr_decays),
        (4, 1, 2),
        "{rep:?}"
    );
    assert_eq!(train::to_f32(&net.p("tower.w1")).unwrap(), before);
    // without decays the same run stops at the first plateau
    let rep = train::train(
        &mut net,
        Some(&ct),
        &split,
        &TrainOptions {
            lr_decays: 0,
            ..opts.clone()
        },
        &[],
    )
    .unwrap();
    assert_eq!((rep.epochs, rep.lr_decays), (2, 0));
    // a factor outside (0, 1) is refused when decays are asked for
    let e = train::train(
        &mut net,
        Some(&ct),
        &split,
        &TrainOptions {
            lr_decay: 1.5,
            ..opts
        },
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("(0, 1)"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_id_model_with_sampled_negatives_moves_only_the_rows_it_reads() {
    // sessions over items 0..40 of a 400-item ID table: with 8 sampled negatives a step reads its
    // targets, inputs and negatives only, so most rows 40..400 are never read and must not move — weight
    // decay included (the row-sparse AdamW of `train::optim`; a dense AdamW would decay every row)
    let mut r = SplitMix(15);
    let n_items = 400;
    let split = loo_split(&sequences(40, 64, &mut r));
    let mut net = Net::new(
        NetConfig {
            id_items: n_items,
            tower_hidden: 0,
            ..cfg(0)
        },
        7,
    )
    .unwrap();
    let before = train::to_f32(&net.p("idemb")).unwrap();
    let opts = TrainOptions {
        epochs: 4,
        lr: 3e-3,
        weight_decay: 0.1,
        negatives: 8,
        dropout: 0.0,
        progress: false,
        valid_cases: 10,
        ..Default::default()
    };
    let rep = train::train(&mut net, None, &split, &opts, &[]).unwrap();
    assert!(
        rep.losses.last().unwrap() < &rep.losses[0],
        "{:?}",
        rep.losses
    );
    let after = train::to_f32(&net.p("idemb")).unwrap();
    let d = after.len() / n_items;
    let moved = |i: usize| after[i * d..(i + 1) * d] != before[i * d..(i + 1) * d];
    assert!((0..40).all(moved), "every item of the sessions learns");
    let unseen_moved = (40..n_items).filter(|&i| moved(i)).count();
    assert!(
        unseen_moved > 0 && unseen_moved < (n_items - 40) / 2,
        "{unseen_moved} of {} rows never in a session moved (negatives only)",
        n_items - 40
    );
}
