//! Streaming training on `nextclick prepare`'s Parquet shards (docs/prepare.md, "Output contract"): the
//! memory the trainer holds is bounded by the shuffle buffer and the batching pool, whatever the number of
//! events in the shards.
//!
//! - A first pass over the shards ([`eval_cases`]) draws the validation and test cases as seeded
//!   reservoir samples of at most `valid_cases` / `test_cases` each, and counts what one epoch holds.
//! - One epoch ([`train_stream`]) reads the shards in a seeded random order (each verified before its first
//!   row, [`ShardSet::sessions`]), cuts every session's training events into windows of at most `L + 1`
//!   events ([`session_windows`]), passes them through a bounded [`ShuffleBuffer`], and collects what comes
//!   out in a pool of at most `pool` windows; a full pool is sorted by length and cut into batches by the
//!   token budget (as the in-memory trainer does for the whole data set), in a shuffled batch order.
//! - At most `shuffle_buffer + pool` windows are held at any time ([`StreamReport::peak_held`] counts them),
//!   each at most `L + 1` events: that is the memory bound, checked by the tests with a counter.
//!
//! The optimiser, loss, early stopping and plateau decays are those of [`super::fit`].

use std::collections::HashMap;

use anyhow::{ensure, Result};
use candle_core::Tensor;

use nextclick_data::shards::{ShardSession, ShardSet, Split};
use nextclick_data::split::Example;
use nextclick_data::Event;
use nextclick_model::encoder::SplitMix;

use super::optim::Optimiser;
use super::sources::Domain;
use super::{batch::*, evaluate::*, fit::*, loss::*, net::*};

/// A bounded shuffle buffer: it holds at most `capacity` elements; once full, each [`push`] returns an
/// element drawn uniformly from the buffer and the pushed one (so an element leaves the buffer after a
/// geometric number of pushes). [`drain`] empties it in a random order. Deterministic for a seed.
///
/// [`push`]: ShuffleBuffer::push
/// [`drain`]: ShuffleBuffer::drain
#[derive(Debug, Clone)]
pub struct ShuffleBuffer<T> {
    buf: Vec<T>,
    cap: usize,
    rng: SplitMix,
    peak: usize,
}

impl<T> ShuffleBuffer<T> {
    /// An empty buffer of `capacity` elements (at least 1).
    pub fn new(capacity: usize, seed: u64) -> ShuffleBuffer<T> {
        let cap = capacity.max(1);
        ShuffleBuffer {
            buf: Vec::new(),
            cap,
            rng: SplitMix(seed),
            peak: 0,
        }
    }

    /// Adds `x`. While the buffer has room, nothing comes out; once it is full, one element comes out,
    /// drawn uniformly from the `capacity` held and `x`.
    pub fn push(&mut self, x: T) -> Option<T> {
        if self.buf.len() < self.cap {
            self.buf.push(x);
            self.peak = self.peak.max(self.buf.len());
            return None;
        }
        let j = self.rng.below(self.cap + 1);
        if j == self.cap {
            Some(x)
        } else {
            Some(std::mem::replace(&mut self.buf[j], x))
        }
    }

    /// Empties the buffer, returning what it held in a random order.
    pub fn drain(&mut self) -> Vec<T> {
        let mut v = std::mem::take(&mut self.buf);
        for i in (1..v.len()).rev() {
            let j = self.rng.below(i + 1);
            v.swap(i, j);
        }
        v
    }

    /// Elements held now.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Its capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The most elements it has held at once.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

/// A seeded uniform sample of at most `capacity` of the elements offered (reservoir sampling, Algorithm R).
#[derive(Debug, Clone)]
pub struct Reservoir<T> {
    items: Vec<T>,
    cap: usize,
    seen: u64,
    rng: SplitMix,
}

impl<T> Reservoir<T> {
    /// An empty sample of at most `capacity` elements (0 keeps none).
    pub fn new(capacity: usize, seed: u64) -> Reservoir<T> {
        Reservoir {
            items: Vec::new(),
            cap: capacity,
            seen: 0,
            rng: SplitMix(seed),
        }
    }

    /// Offers `x`: kept with probability `capacity / seen`, replacing a uniformly drawn element.
    pub fn offer(&mut self, x: T) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(x);
        } else if self.cap > 0 {
            let j = (self.rng.next_u64() % self.seen) as usize;
            if j < self.cap {
                self.items[j] = x;
            }
        }
    }

    /// Elements offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

/// The training windows of one session: the leading run of its `train` events (validation and test events
/// are a suffix of a session under both of `prepare`'s splits), cut into windows of at most `max_len + 1`
/// events that overlap by one event. A window's inputs are all its events but the last, its targets all but
/// the first, so every next-event pair of the run is trained exactly once and no window is longer than the
/// model reads. A run of fewer than 2 events has no window.
pub fn session_windows(s: &ShardSession, max_len: usize) -> Vec<Example> {
    let n = s
        .splits
        .iter()
        .take_while(|sp| **sp == Split::Train)
        .count()
        .min(s.events.len());
    let ev = &s.events[..n];
    let step = max_len.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start + 1 < n {
        let end = (start + step + 1).min(n);
        out.push(Example {
            inputs: ev[start..end - 1].to_vec(),
            targets: ev[start + 1..end].iter().map(|e| e.item).collect(),
            offset: start as u64,
        });
        start = end - 1;
    }
    out
}

/// The evaluation cases of one session for split `which`: for every event of that split that has an
/// earlier event in the session, (the events before it — at most the last `max_len` —, its item).
/// Returns the cases and how many events of the split had no earlier event (not scorable).
pub fn session_cases(
    s: &ShardSession,
    which: Split,
    max_len: usize,
) -> (Vec<(Vec<Event>, u32)>, u64) {
    let mut cases = Vec::new();
    let mut lone = 0;
    for (j, sp) in s.splits.iter().enumerate() {
        if *sp != which {
            continue;
        }
        if j == 0 {
            lone += 1;
            continue;
        }
        let from = j.saturating_sub(max_len.max(1));
        cases.push((s.events[from..j].to_vec(), s.events[j].item));
    }
    (cases, lone)
}

/// Cases scored at once in evaluation: at most 2^26 scores (256 MB of f32) per chunk whatever the catalog
/// size, at most 256 cases.
pub fn eval_batch(n_items: usize) -> usize {
    ((1usize << 26) / n_items.max(1)).clamp(1, 256)
}

/// Options of the streaming trainer (the rest is [`TrainOptions`]).
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Windows in the shuffle buffer.
    pub shuffle_buffer: usize,
    /// Windows collected from the buffer before they are sorted by length and cut into batches.
    pub pool: usize,
    /// Stop after this many optimiser steps (0 = no limit: epochs, early stopping and the time limit).
    pub steps: usize,
    /// Test cases kept (a reservoir sample) for the final report.
    pub test_cases: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            shuffle_buffer: 65_536,
            pool: 8_192,
            steps: 0,
            test_cases: 20_000,
        }
    }
}

/// What the first pass over the shards found: the evaluation samples and one epoch's counts.
#[derive(Debug, Clone, Default)]
pub struct StreamData {
    /// Validation cases (a sample of at most `valid_cases`).
    pub valid: Vec<(Vec<Event>, u32)>,
    /// Test cases (a sample of at most `test_cases`).
    pub test: Vec<(Vec<Event>, u32)>,
    /// Validation cases in the shards.
    pub valid_seen: u64,
    /// Test cases in the shards.
    pub test_seen: u64,
    /// Validation and test events that are the first of their session (no history: not scored).
    pub without_history: u64,
    /// Sessions.
    pub sessions: u64,
    /// Events.
    pub events: u64,
    /// Training windows per epoch.
    pub windows: u64,
    /// Training targets (scored positions) per epoch.
    pub targets: u64,
}

/// The first pass: reads every shard once (verified), draws the validation and test samples (seeded
/// reservoirs) and counts sessions, events, windows and targets.
pub fn eval_cases(
    set: &ShardSet,
    items: &HashMap<String, u32>,
    max_len: usize,
    valid_cases: usize,
    test_cases: usize,
    seed: u64,
) -> Result<StreamData> {
    let mut valid = Reservoir::new(valid_cases, seed ^ 0x7a11d);
    let mut test = Reservoir::new(test_cases, seed ^ 0x7e57);
    let mut d = StreamData::default();
    let order: Vec<usize> = (0..set.manifest.shards.len()).collect();
    for s in set.sessions(order, items) {
        let s = s?;
        d.sessions += 1;
        d.events += s.events.len() as u64;
        for w in session_windows(&s, max_len) {
            d.windows += 1;
            d.targets += w.targets.len() as u64;
        }
        for (which, r) in [(Split::Valid, &mut valid), (Split::Test, &mut test)] {
            let (cases, lone) = session_cases(&s, which, max_len);
            d.without_history += lone;
            for c in cases {
                r.offer(c);
            }
        }
    }
    d.valid_seen = valid.seen();
    d.test_seen = test.seen();
    d.valid = valid.into_vec();
    d.test = test.into_vec();
    Ok(d)
}

/// What a streaming run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamReport {
    /// Epochs, losses, best validation score, wall time, throughput (as the in-memory trainer reports).
    pub train: TrainReport,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Whether the run stopped at `--steps`.
    pub step_limited: bool,
    /// The most training windows held at once (shuffle buffer + pool).
    pub peak_held: usize,
    /// The bound on it: `shuffle_buffer + pool`.
    pub held_bound: usize,
    /// Longest window held, in events (at most `L + 1`).
    pub max_window_events: usize,
}

struct Run<'a> {
    net: &'a mut Net,
    content: Option<&'a Tensor>,
    opts: &'a TrainOptions,
    steps_limit: usize,
    opt: Optimiser,
    rng: SplitMix,
    steps: usize,
    tokens: usize,
    sum: f64,
    cnt: usize,
    t0: std::time::Instant,
    max_window: usize,
    pb: indicatif::ProgressBar,
}

impl Run<'_> {
    /// Trains on the pool (sorted by length, cut by the token budget, batches in random order) and empties
    /// it. Returns whether the step limit was reached.
    fn train_pool(&mut self, pool: &mut Vec<Example>) -> Result<bool> {
        let max_len = self.net.cfg.encoder.max_len;
        let batches = make_batches(pool.as_slice(), self.opts.batch_tokens, max_len);
        let mut order: Vec<usize> = (0..batches.len()).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.below(i + 1);
            order.swap(i, j);
        }
        for &bi in &order {
            if self.steps_limit > 0 && self.steps >= self.steps_limit {
                pool.clear();
                return Ok(true);
            }
            let ex: Vec<(&[Event], &[u32])> = batches[bi]
                .iter()
                .map(|&i| (pool[i].inputs.as_slice(), pool[i].targets.as_slice()))
                .collect();
            for (e, _) in &ex {
                self.max_window = self.max_window.max(e.len() + 1);
            }
            let offsets: Vec<u64> = batches[bi].iter().map(|&i| pool[i].offset).collect();
            let batch = Batch::with_offsets(&ex, &offsets, max_len);
            let (loss, n, rows) = batch_loss_rows(
                &*self.net,
                self.content,
                None,
                Domain::whole(&*self.net, self.content)?,
                &batch,
                self.opts,
                &[],
                &mut self.rng,
                self.opt.sparse_table(),
            )?;
            let lv = loss.to_scalar::<f32>()? as f64;
            ensure!(
                lv.is_finite(),
                "loss became {lv} at step {}",
                self.steps + 1
            );
            let grads = loss.backward()?;
            self.opt.step(&grads, rows.as_ref())?;
            self.steps += 1;
            self.sum += lv * n as f64;
            self.cnt += n;
            self.tokens += n;
            self.pb.inc(ex.len() as u64);
            self.pb.set_message(format!(
                "loss {:.4} {:.0} tok/s",
                self.sum / self.cnt.max(1) as f64,
                self.tokens as f64 / self.t0.elapsed().as_secs_f64()
            ));
        }
        pool.clear();
        Ok(self.steps_limit > 0 && self.steps >= self.steps_limit)
    }
}

/// Trains `net` on the shards of `set` (`items`: item id → index of `content`'s rows, or of the ID
/// table), streaming: see the module documentation. `data` is [`eval_cases`]' result (its validation
/// sample drives early stopping). Teachers and text-encoder fine-tuning are the in-memory trainer's only.
pub fn train_stream(
    net: &mut Net,
    content: Option<&Tensor>,
    set: &ShardSet,
    items: &HashMap<String, u32>,
    data: &StreamData,
    opts: &TrainOptions,
    sopts: &StreamOptions,
) -> Result<StreamReport> {
    let t0 = std::time::Instant::now();
    let (prefixes, adamw) = optimiser(net, opts)?;
    ensure!(
        sopts.pool > 0,
        "the batching pool must hold at least one window"
    );
    let mut lr = opts.lr;
    let max_len = net.cfg.encoder.max_len;
    let mut run = Run {
        opt: adamw(lr)?,
        net,
        content,
        opts,
        steps_limit: sopts.steps,
        rng: SplitMix(opts.seed ^ 0x5eed),
        steps: 0,
        tokens: 0,
        sum: 0.0,
        cnt: 0,
        t0,
        max_window: 0,
        pb: indicatif::ProgressBar::hidden(),
    };
    let mut best = f64::NEG_INFINITY;
    let mut best_epoch = 0;
    let mut bad = 0;
    let mut decays = 0;
    let mut losses = Vec::new();
    let mut epochs = 0;
    let mut peak_held = 0;
    let mut step_limited = false;
    for epoch in 1..=opts.epochs {
        epochs = epoch;
        let mut order: Vec<usize> = (0..set.manifest.shards.len()).collect();
        for i in (1..order.len()).rev() {
            let j = run.rng.below(i + 1);
            order.swap(i, j);
        }
        run.pb = if opts.progress {
            indicatif::ProgressBar::new(data.windows)
        } else {
            indicatif::ProgressBar::hidden()
        };
        run.pb.set_style(
            indicatif::ProgressStyle::with_template(
                "epoch {prefix} {bar:30} {pos}/{len} windows [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .expect("valid template"),
        );
        run.pb.set_prefix(format!("{epoch}/{}", opts.epochs));
        run.sum = 0.0;
        run.cnt = 0;
        let mut buf: ShuffleBuffer<Example> =
            ShuffleBuffer::new(sopts.shuffle_buffer, run.rng.next_u64());
        let mut pool: Vec<Example> = Vec::new();
        let mut out_of_time = false;
        'read: for s in set.sessions(order, items) {
            let s = s?;
            for w in session_windows(&s, max_len) {
                if let Some(x) = buf.push(w) {
                    pool.push(x);
                }
                peak_held = peak_held.max(buf.len() + pool.len());
                if pool.len() >= sopts.pool {
                    if run.train_pool(&mut pool)? {
                        step_limited = true;
                        break 'read;
                    }
                    if t0.elapsed().as_secs_f64() > opts.max_minutes * 60.0 {
                        out_of_time = true;
                        break 'read;
                    }
                }
            }
        }
        if !step_limited && !out_of_time {
            pool.extend(buf.drain());
            peak_held = peak_held.max(pool.len());
            step_limited = run.train_pool(&mut pool)?;
        }
        drop(buf);
        let mean = run.sum / run.cnt.max(1) as f64;
        losses.push(mean);
        let table = run.net.item_vectors(content)?;
        let m = evaluate(&*run.net, &table, &data.valid, eval_batch(items.len()))?;
        run.pb.finish_with_message(format!(
            "loss {mean:.4} valid N@10 {:.4} R@10 {:.4}",
            m.n10, m.r10
        ));
        if !opts.progress || run.pb.is_hidden() {
            eprintln!(
                "epoch {epoch}: loss {mean:.4} valid N@10 {:.4} R@10 {:.4} ({} steps, {:.0} s, {:.0} tokens/s)",
                m.n10,
                m.r10,
                run.steps,
                t0.elapsed().as_secs_f64(),
                run.tokens as f64 / t0.elapsed().as_secs_f64()
            );
        }
        // without validation cases every epoch is the latest best (nothing to stop early on)
        if data.valid.is_empty() || best_epoch == 0 || m.n10 > best {
            best = m.n10;
            best_epoch = epoch;
            bad = 0;
            if let Some(p) = &opts.checkpoint {
                run.net.save(p)?;
            }
        } else {
            bad += 1;
            if bad >= opts.patience {
                if decays == opts.lr_decays {
                    eprintln!("early stop: no validation gain for {bad} epochs (best N@10 {best:.4} at epoch {best_epoch})");
                    break;
                }
                if let Some(p) = &opts.checkpoint {
                    run.net.copy_from(&Net::load(p)?, &prefixes)?;
                }
                decays += 1;
                lr *= opts.lr_decay;
                run.opt = adamw(lr)?;
                bad = 0;
                eprintln!(
                    "plateau: no validation gain for {} epochs; back to epoch {best_epoch}'s weights, learning rate {lr:.3e} (decay {decays}/{})",
                    opts.patience, opts.lr_decays
                );
            }
        }
        if step_limited {
            eprintln!("step limit of {} reached in epoch {epoch}", sopts.steps);
            break;
        }
        if out_of_time || t0.elapsed().as_secs_f64() > opts.max_minutes * 60.0 {
            eprintln!(
                "time limit of {} min reached in epoch {epoch}",
                opts.max_minutes
            );
            break;
        }
    }
    let steps = run.steps;
    let tokens = run.tokens;
    let max_window_events = run.max_window;
    if let Some(p) = &opts.checkpoint {
        if best_epoch > 0 {
            *run.net = Net::load(p)?;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(StreamReport {
        train: TrainReport {
            epochs,
            best_valid_n10: best,
            best_epoch,
            losses,
            seconds: secs,
            tokens_per_sec: tokens as f64 / secs,
            lr_decays: decays,
            sources: Vec::new(),
        },
        steps,
        step_limited,
        peak_held,
        held_bound: sopts.shuffle_buffer.max(1) + sopts.pool,
        max_window_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(item: u32) -> Event {
        Event {
            item,
            kind: 0,
            gap: 0,
        }
    }

    fn session(n: usize, tail: &[Split]) -> ShardSession {
        let mut splits = vec![Split::Train; n - tail.len()];
        splits.extend_from_slice(tail);
        ShardSession {
            user_id: "u".into(),
            session_id: "s".into(),
            events: (0..n as u32).map(ev).collect(),
            splits,
        }
    }

    #[test]
    fn shuffle_buffer_is_a_bounded_permutation() {
        let mut b = ShuffleBuffer::new(16, 7);
        let mut out = Vec::new();
        for i in 0..1000u32 {
            if let Some(x) = b.push(i) {
                out.push(x);
            }
            assert!(b.len() <= 16);
        }
        assert_eq!(b.peak(), 16);
        out.extend(b.drain());
        assert!(b.is_empty());
        let mut sorted = out.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>(), "every element once");
        assert_ne!(out, sorted, "shuffled");
        // the same seed, the same order
        let mut b2 = ShuffleBuffer::new(16, 7);
        let mut out2: Vec<u32> = (0..1000).filter_map(|i| b2.push(i)).collect();
        out2.extend(b2.drain());
        assert_eq!(out, out2);
        // elements move: the first 16 out are not simply the first 16 in
        assert_ne!(&out[..16], &(0..16).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn reservoir_keeps_at_most_capacity() {
        let mut r = Reservoir::new(10, 3);
        for i in 0..10_000u32 {
            r.offer(i);
        }
        assert_eq!(r.seen(), 10_000);
        let v = r.into_vec();
        assert_eq!(v.len(), 10);
        assert!(v.iter().any(|&x| x >= 10), "later elements are sampled");
        let mut none = Reservoir::new(0, 3);
        none.offer(1u32);
        assert!(none.into_vec().is_empty());
    }

    #[test]
    fn windows_cover_every_training_pair_once() {
        for n in [1usize, 2, 3, 5, 11, 12, 13, 40] {
            let s = session(n, &[]);
            let w = session_windows(&s, 5);
            let mut pairs = Vec::new();
            for x in &w {
                assert!(x.inputs.len() <= 5 && x.inputs.len() == x.targets.len());
                for (e, t) in x.inputs.iter().zip(&x.targets) {
                    pairs.push((e.item, *t));
                }
            }
            let want: Vec<(u32, u32)> = (1..n as u32).map(|i| (i - 1, i)).collect();
            assert_eq!(pairs, want, "n = {n}");
        }
        // validation and test events are not trained on
        let s = session(6, &[Split::Valid, Split::Test]);
        let w = session_windows(&s, 50);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].targets, vec![1, 2, 3]);
    }

    #[test]
    fn cases_have_their_history() {
        let s = session(6, &[Split::Valid, Split::Test]);
        let (v, lone) = session_cases(&s, Split::Valid, 50);
        assert_eq!(lone, 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0.len(), 4);
        assert_eq!(v[0].1, 4);
        let (t, _) = session_cases(&s, Split::Test, 3);
        assert_eq!(
            t[0].0.iter().map(|e| e.item).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(t[0].1, 5);
        // a session that starts with its validation event has nothing to score it on
        let s = session(1, &[Split::Valid]);
        let (v, lone) = session_cases(&s, Split::Valid, 50);
        assert!(v.is_empty());
        assert_eq!(lone, 1);
    }
}
