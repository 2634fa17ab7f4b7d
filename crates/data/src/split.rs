//! The leave-one-out split per user (the paper protocol): the last event is the test target, the one before
//! it the validation target, the rest trains (next item at every position).

use crate::Event;

/// One next-item example set: a user's training inputs and the targets (the next item at each position).
#[derive(Debug, Clone)]
pub struct Example {
    /// Input events.
    pub inputs: Vec<Event>,
    /// Next item after each input.
    pub targets: Vec<u32>,
    /// Index in its session of the first input event (0 unless a long session was cut into windows):
    /// where a model whose positions count from the session start places it.
    pub offset: u64,
}

/// Leave-one-out split of one user sequence: training example (all but the last two events), validation
/// (history, target) and test (history, target). Sequences shorter than 3 are all training.
#[derive(Debug, Clone, Default)]
pub struct LooSplit {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation cases: history and target item.
    pub valid: Vec<(Vec<Event>, u32)>,
    /// Test cases: history and target item.
    pub test: Vec<(Vec<Event>, u32)>,
}

/// Builds the leave-one-out split of every sequence.
pub fn loo_split(seqs: &[Vec<Event>]) -> LooSplit {
    let mut s = LooSplit::default();
    for seq in seqs {
        let n = seq.len();
        let train_end = if n >= 3 { n - 2 } else { n };
        if train_end >= 2 {
            s.train.push(Example {
                inputs: seq[..train_end - 1].to_vec(),
                targets: seq[1..train_end].iter().map(|e| e.item).collect(),
                offset: 0,
            });
        }
        if n >= 3 {
            s.valid.push((seq[..n - 2].to_vec(), seq[n - 2].item));
            s.test.push((seq[..n - 1].to_vec(), seq[n - 1].item));
        }
    }
    s
}
