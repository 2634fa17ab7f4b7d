//! Multi-source pre-training (`train::sources`, issue #22) on generated data: every source is sampled, an
//! ID-only source's clickstream trains the event-type and time-gap embeddings that a purchases-only,
//! ordinal titled source leaves at zero, each source's ID rows move only on its own batches, the ID table
//! never reaches the export, and a one-source run through `train_sources` is the one-source trainer.

use nextclick::catalog::sha256;
use nextclick::contract::{gap_bucket, EventKind, GAP_FIRST_OR_UNKNOWN};
use nextclick_data::Event;
use nextclick_model::encoder::{EncoderConfig, SplitMix};
use nextclick_train::export::tower_of;
use nextclick_train::train::{
    self, loo_split, Domain, LooSplit, Net, NetConfig, Selection, Source, TrainOptions,
};

const C: usize = 16;
const D: usize = 16;

fn cfg(aux_items: usize) -> NetConfig {
    NetConfig {
        encoder: EncoderConfig {
            max_len: 12,
            dim: D,
            heads: 2,
            layers: 2,
            ffn: 32,
            ln_eps: 1e-5,
        },
        content_dim: C,
        tower_hidden: 24,
        id_items: 0,
        temperature: 0.5,
        cosine: false,
        id_residual: 0,
        aux_items,
        aux_layout: 0,
        positions_from_start: false,
    }
}

fn content(n: usize, r: &mut SplitMix) -> Vec<f32> {
    r.unit_vectors(n, C)
}

/// The titled source as amazon-games is: purchases only, order only (every gap unknown).
fn purchases(n_items: usize, users: usize, r: &mut SplitMix) -> LooSplit {
    let seqs: Vec<Vec<Event>> = (0..users)
        .map(|_| {
            let start = r.below(n_items);
            (0..3 + r.below(8))
                .map(|k| Event {
                    item: ((start + 3 * k) % n_items) as u32,
                    kind: EventKind::Purchase.id(),
                    gap: GAP_FIRST_OR_UNKNOWN,
                })
                .collect()
        })
        .collect();
    loo_split(&seqs)
}

/// An ID-only clickstream: views and carts, re-views of the last item, real gaps (seconds to hours).
fn clicks(n_items: usize, users: usize, r: &mut SplitMix) -> LooSplit {
    let seqs: Vec<Vec<Event>> = (0..users)
        .map(|_| {
            let mut item = r.below(n_items);
            let mut out = Vec::new();
            for k in 0..3 + r.below(10) {
                if r.below(3) > 0 {
                    item = (item + 1 + r.below(2)) % n_items;
                }
                let kind = if r.below(4) == 0 {
                    EventKind::Cart
                } else {
                    EventKind::View
                };
                let gap = if k == 0 {
                    gap_bucket(None)
                } else {
                    gap_bucket(Some((1u64 << r.below(14)) as f64))
                };
                out.push(Event {
                    item: item as u32,
                    kind: kind.id(),
                    gap,
                });
            }
            out
        })
        .collect();
    loo_split(&seqs)
}

fn opts(epochs: usize) -> TrainOptions {
    TrainOptions {
        epochs,
        lr: 3e-3,
        dropout: 0.0,
        progress: false,
        valid_cases: 20,
        batch_tokens: 128,
        ..Default::default()
    }
}

/// A source whose items are content rows `0..len` (through the tower).
fn titled_source<'a>(name: &'a str, len: usize, split: &'a LooSplit) -> Source<'a> {
    Source {
        name,
        domain: Domain::Content { offset: 0, len },
        split,
    }
}

/// An ID-only source: rows `offset..offset + len` of the ID table.
fn id_source<'a>(name: &'a str, offset: usize, len: usize, split: &'a LooSplit) -> Source<'a> {
    Source {
        name,
        domain: Domain::Ids { offset, len },
        split,
    }
}

/// A titled source of 20 items (`titled_users` purchase sequences) and an ID-only clickstream of 30 items
/// (`click_users` sessions), from one seed: the content tensor and the two splits.
fn two_source_data(
    seed: u64,
    titled_users: usize,
    click_users: usize,
) -> (train::Tensor, LooSplit, LooSplit) {
    let mut r = SplitMix(seed);
    let ct = train::content_tensor(&content(20, &mut r), C).unwrap();
    let titled = purchases(20, titled_users, &mut r);
    let a = clicks(30, click_users, &mut r);
    (ct, titled, a)
}

/// The sources of [`two_source_data`]: the titled one first (the exported source), then "a".
fn two_sources<'a>(titled: &'a LooSplit, a: &'a LooSplit) -> [Source<'a>; 2] {
    [
        titled_source("titled", 20, titled),
        id_source("a", 0, 30, a),
    ]
}

fn rows(t: &[f32], r: std::ops::Range<usize>) -> &[f32] {
    &t[r.start * D..r.end * D]
}

#[test]
fn every_source_trains_and_clickstreams_teach_types_and_gaps() {
    let mut r = SplitMix(21);
    let titled_items = 30;
    let ct = train::content_tensor(&content(titled_items, &mut r), C).unwrap();
    let titled = purchases(titled_items, 60, &mut r);
    let (a_items, b_items) = (25, 40);
    let a = clicks(a_items, 50, &mut r);
    let b = clicks(b_items, 30, &mut r);
    let sources = [
        titled_source("titled", titled_items, &titled),
        id_source("a", 0, a_items, &a),
        id_source("b", a_items, b_items, &b),
    ];
    let mut net = Net::new(cfg(a_items + b_items), 3).unwrap();
    let rep = train::train_sources(
        &mut net,
        Some(&ct),
        &sources,
        0.5,
        Selection::First,
        &opts(4),
    )
    .unwrap();
    assert_eq!(rep.sources.len(), 3);
    for s in &rep.sources {
        assert!(
            s.steps > 0 && s.tokens > 0,
            "{} never trained: {s:?}",
            s.name
        );
        assert!(s.best_valid_n10.is_finite(), "{s:?}");
    }
    let total: usize = rep.sources.iter().map(|s| s.steps).sum();
    let per_epoch: usize = rep.sources.iter().map(|s| s.batches_per_epoch).sum();
    assert_eq!(
        total,
        per_epoch * rep.epochs,
        "an epoch is every source's batches"
    );
    assert!(
        rep.losses.last().unwrap() < &rep.losses[0],
        "{:?}",
        rep.losses
    );

    let types = train::to_f32(&net.p("enc.type_emb")).unwrap();
    let gaps = train::to_f32(&net.p("enc.gap_emb")).unwrap();
    let moved = |t: &[f32], i: i64| {
        rows(t, i as usize..i as usize + 1)
            .iter()
            .any(|&x| x != 0.0)
    };
    assert!(moved(&types, EventKind::View.id()) && moved(&types, EventKind::Cart.id()));
    let real_gaps = (2..14).filter(|&g| moved(&gaps, g)).count();
    assert!(real_gaps >= 8, "{real_gaps} real time-gap buckets learned");

    // the control: the titled source alone leaves them exactly where they started, at zero
    let mut alone = Net::new(cfg(0), 3).unwrap();
    train::train(&mut alone, Some(&ct), &titled, &opts(2), &[]).unwrap();
    let types = train::to_f32(&alone.p("enc.type_emb")).unwrap();
    let gaps = train::to_f32(&alone.p("enc.gap_emb")).unwrap();
    assert!(!moved(&types, EventKind::View.id()) && !moved(&types, EventKind::Cart.id()));
    assert!((2..24).all(|g| !moved(&gaps, g)));
}

#[test]
fn a_sources_id_rows_move_only_on_its_own_batches() {
    // source "b" has no training sequences (sessions of one event): with sampled negatives drawn inside
    // each source, nothing may read — or decay — its rows; the titled source's batches read no ID row
    let mut r = SplitMix(5);
    let ct = train::content_tensor(&content(20, &mut r), C).unwrap();
    let titled = purchases(20, 30, &mut r);
    let a = clicks(15, 30, &mut r);
    let b = LooSplit::default();
    let sources = [
        titled_source("titled", 20, &titled),
        id_source("a", 0, 15, &a),
        id_source("b", 15, 10, &b),
    ];
    let mut net = Net::new(cfg(25), 4).unwrap();
    let before = train::to_f32(&net.p("idemb")).unwrap();
    let o = TrainOptions {
        negatives: 4,
        weight_decay: 0.1,
        ..opts(2)
    };
    let rep =
        train::train_sources(&mut net, Some(&ct), &sources, 1.0, Selection::First, &o).unwrap();
    assert_eq!(
        rep.sources[2].steps, 0,
        "a source without batches is never drawn"
    );
    let after = train::to_f32(&net.p("idemb")).unwrap();
    assert_ne!(rows(&after, 0..15), rows(&before, 0..15), "source a learns");
    assert_eq!(
        rows(&after, 15..25),
        rows(&before, 15..25),
        "source b's rows never move"
    );
}

#[test]
fn the_id_table_never_reaches_the_export() {
    let (ct, titled, a) = two_source_data(8, 30, 40);
    let sources = two_sources(&titled, &a);
    let mut net = Net::new(cfg(30), 6).unwrap();
    train::train_sources(
        &mut net,
        Some(&ct),
        &sources,
        0.5,
        Selection::Mean,
        &opts(2),
    )
    .unwrap();
    // the same encoder and tower in a one-source net: the export is the same, byte for byte
    let mut plain = Net::new(cfg(0), 0).unwrap();
    plain.copy_from(&net, &["enc.", "tower."]).unwrap();
    let onnx = net.encoder_weights().unwrap().to_onnx("test");
    assert_eq!(onnx, plain.encoder_weights().unwrap().to_onnx("test"));
    let sha = sha256(&onnx);
    assert_eq!(
        tower_of(&net, sha).unwrap().to_bytes(),
        tower_of(&plain, sha).unwrap().to_bytes()
    );
    // and no tensor of the ID table's values is in it
    let table = train::to_f32(&net.p("idemb")).unwrap();
    let needle: Vec<u8> = table[..4].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert!(!onnx.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn one_source_through_train_sources_is_the_one_source_trainer() {
    let mut r = SplitMix(9);
    let ct = train::content_tensor(&content(25, &mut r), C).unwrap();
    let split = purchases(25, 40, &mut r);
    let mut x = Net::new(cfg(0), 2).unwrap();
    let mut y = Net::new(cfg(0), 2).unwrap();
    let rx = train::train(&mut x, Some(&ct), &split, &opts(2), &[]).unwrap();
    let source = titled_source("only", 25, &split);
    let ry = train::train_sources(
        &mut y,
        Some(&ct),
        &[source],
        0.5,
        Selection::First,
        &opts(2),
    )
    .unwrap();
    assert_eq!(rx.losses, ry.losses);
    assert_eq!(
        train::to_f32(&x.p("enc.l0.wq")).unwrap(),
        train::to_f32(&y.p("enc.l0.wq")).unwrap()
    );
}

#[test]
fn the_epoch_is_chosen_on_the_first_source_or_on_the_mean() {
    let (ct, titled, a) = two_source_data(13, 40, 60);
    let sources = two_sources(&titled, &a);
    let run = |select| {
        let mut net = Net::new(cfg(30), 7).unwrap();
        train::train_sources(&mut net, Some(&ct), &sources, 0.5, select, &opts(3)).unwrap()
    };
    // First: the reported best is the exported source's own best validation score
    let first = run(Selection::First);
    assert_eq!(first.best_valid_n10, first.sources[0].best_valid_n10);
    // Mean: the best is the mean of the sources' scores at the chosen epoch
    let mean = run(Selection::Mean);
    let m = (mean.sources[0].best_valid_n10 + mean.sources[1].best_valid_n10) / 2.0;
    assert!(
        (mean.best_valid_n10 - m).abs() < 1e-12,
        "{} vs {m}",
        mean.best_valid_n10
    );
    assert_ne!(
        mean.sources[0].best_valid_n10,
        mean.sources[1].best_valid_n10
    );
    assert_eq!("first".parse::<Selection>().unwrap(), Selection::First);
    assert!("median".parse::<Selection>().is_err());
}

#[test]
fn a_second_stage_keeps_the_id_table_only_for_the_same_items() {
    let item = |id: &str| nextclick_data::Item {
        id: id.to_string(),
        ..Default::default()
    };
    let a: Vec<_> = ["a1", "a2", "a3"].iter().map(|s| item(s)).collect();
    let b: Vec<_> = ["b1", "b2"].iter().map(|s| item(s)).collect();
    let layout = train::id_layout([a.as_slice(), b.as_slice()]);
    assert_ne!(layout, 0);
    assert_eq!(layout, train::id_layout([a.as_slice(), b.as_slice()]));
    // another order of the sources, a moved boundary, an item renamed: other rows, another layout
    let moved: Vec<_> = ["a1", "a2"].iter().map(|s| item(s)).collect();
    let rest: Vec<_> = ["a3", "b1", "b2"].iter().map(|s| item(s)).collect();
    let mut renamed = b.clone();
    renamed[1].id = "b9".into();
    for other in [
        train::id_layout([b.as_slice(), a.as_slice()]),
        train::id_layout([moved.as_slice(), rest.as_slice()]),
        train::id_layout([a.as_slice(), renamed.as_slice()]),
    ] {
        assert_ne!(other, layout);
    }
    assert_eq!(
        train::id_layout(std::iter::empty::<&[nextclick_data::Item]>()),
        0
    );

    // a stage-1 checkpoint of that layout: a stage 2 on the same sources may take its table; one of
    // other items, or a checkpoint of unknown layout (written before the field), may not
    let stage1 = NetConfig {
        aux_layout: layout,
        ..cfg(5)
    };
    let dir = std::env::temp_dir().join(format!("nextclick-ms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stage1.safetensors");
    let net = Net::new(stage1, 3).unwrap();
    net.save(&path).unwrap();
    let loaded = Net::load(&path).unwrap();
    assert_eq!(
        loaded.cfg.aux_layout, layout,
        "the layout is in the checkpoint"
    );
    assert!(stage1.same_id_sources(&loaded.cfg));
    let other = NetConfig {
        aux_layout: train::id_layout([a.as_slice(), renamed.as_slice()]),
        ..stage1
    };
    assert!(!other.same_id_sources(&loaded.cfg));
    let unknown = NetConfig {
        aux_layout: 0,
        ..stage1
    };
    assert!(!stage1.same_id_sources(&unknown));
    assert!(!unknown.same_id_sources(&unknown));
    assert!(
        !cfg(0).same_id_sources(&cfg(0)),
        "no table, nothing to keep"
    );
    let mut stage2 = Net::new(stage1, 9).unwrap();
    assert_ne!(
        train::to_f32(&stage2.p("idemb")).unwrap(),
        train::to_f32(&loaded.p("idemb")).unwrap()
    );
    stage2
        .copy_from(&loaded, &["enc.", "tower.", "idemb"])
        .unwrap();
    assert_eq!(
        train::to_f32(&stage2.p("idemb")).unwrap(),
        train::to_f32(&loaded.p("idemb")).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}
