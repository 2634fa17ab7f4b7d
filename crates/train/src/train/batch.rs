//! Batches of sessions: right-aligned, truncated to their longest session, cut by a token budget.

use nextclick_data::Event;

use nextclick_data::split::*;

/// A batch of right-aligned windows of `t` positions.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Sessions in the batch.
    pub b: usize,
    /// Window length (`≤ L`).
    pub t: usize,
    /// `b·t` item indices (0 at padding; masked).
    pub items: Vec<u32>,
    /// `b·t` event-type ids.
    pub types: Vec<u32>,
    /// `b·t` gap-bucket ids.
    pub gaps: Vec<u32>,
    /// `b·t` mask values.
    pub mask: Vec<f32>,
    /// `b·t` positions counted from the session start, `min(index, L − 1)` (0 at padding): what a model
    /// with `NetConfig::positions_from_start` reads; right-aligned models use the window row instead.
    pub pos: Vec<u32>,
    /// `b·t` next-item targets (`u32::MAX` where none).
    pub targets: Vec<u32>,
}

impl Batch {
    /// Builds a batch from `(inputs, targets)` pairs; inputs longer than `max_len` keep their last events.
    /// Each input starts its session ([`Batch::with_offsets`] for windows cut out of longer sessions).
    pub fn new(examples: &[(&[Event], &[u32])], max_len: usize) -> Batch {
        Batch::with_offsets(examples, &vec![0; examples.len()], max_len)
    }

    /// [`Batch::new`], where the first input of example `i` is event `offsets[i]` of its session.
    pub fn with_offsets(examples: &[(&[Event], &[u32])], offsets: &[u64], max_len: usize) -> Batch {
        assert_eq!(examples.len(), offsets.len(), "one offset per example");
        let t = examples
            .iter()
            .map(|(e, _)| e.len().min(max_len))
            .max()
            .unwrap_or(1)
            .max(1);
        let b = examples.len();
        let mut bt = Batch {
            b,
            t,
            items: vec![0; b * t],
            types: vec![0; b * t],
            gaps: vec![0; b * t],
            mask: vec![0.0; b * t],
            pos: vec![0; b * t],
            targets: vec![u32::MAX; b * t],
        };
        for (i, (ev, tg)) in examples.iter().enumerate() {
            let n = ev.len().min(max_len);
            let first = offsets[i] + (ev.len() - n) as u64;
            let ev = &ev[ev.len() - n..];
            let tg = if tg.is_empty() {
                &[][..]
            } else {
                &tg[tg.len() - n..]
            };
            for (k, e) in ev.iter().enumerate() {
                let pos = i * t + (t - n + k);
                bt.items[pos] = e.item;
                bt.types[pos] = e.kind as u32;
                bt.gaps[pos] = e.gap as u32;
                bt.mask[pos] = 1.0;
                bt.pos[pos] = nextclick::contract::step_position(first + k as u64, max_len) as u32;
                if !tg.is_empty() {
                    bt.targets[pos] = tg[k];
                }
            }
        }
        bt
    }
}

pub(crate) fn make_batches(
    train: &[Example],
    batch_tokens: usize,
    max_len: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.sort_by_key(|&i| (train[i].inputs.len().min(max_len), i));
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in order {
        let t = train[i].inputs.len().min(max_len);
        if !cur.is_empty() && (cur.len() + 1) * t > batch_tokens {
            batches.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

/// The items of a batch's inputs, sorted and unique.
pub fn input_items(batch: &Batch) -> Vec<u32> {
    let mut v: Vec<u32> = batch
        .items
        .iter()
        .zip(&batch.mask)
        .filter(|(_, m)| **m > 0.0)
        .map(|(i, _)| *i)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}
