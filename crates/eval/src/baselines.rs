//! Baselines trained on the **history window** only (their parameters are fixed during the test window):
//! popularity, item-to-item co-occurrence, and session-kNN. All rank the full catalog with the same
//! serving rule as the core (items bought in the current session left out) and break ties (and fill
//! empty neighbourhoods) by history popularity, then catalog order. Hyper-parameters are the usual
//! defaults from the literature and were not tuned on the test window.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use nextclick::contract::EventKind;

use crate::replay::Model;
use nextclick_data::replay::{Dataset, Ev, Split};

/// The history-window sessions of `data`: catalog items in time order (items not in the catalog left out).
pub fn history_sessions(data: &Dataset, split: &Split) -> Vec<Vec<u32>> {
    data.sessions
        .iter()
        .map(|s| {
            s.events
                .iter()
                .map(|&e| &data.events[e])
                .filter(|e| e.ts < split.split_ts)
                .filter_map(|e| e.item)
                .collect::<Vec<u32>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Per-user current session, as the baselines see it.
#[derive(Debug, Default, Clone)]
struct UserSession {
    session: Option<u32>,
    items: Vec<u32>,
    bought: HashSet<u32>,
}

/// Shared per-user bookkeeping of the baselines.
#[derive(Debug, Default)]
struct Users {
    states: HashMap<u32, UserSession>,
    active: u32,
}

impl Users {
    fn cur(&mut self) -> &mut UserSession {
        self.states.entry(self.active).or_default()
    }
    fn observe(&mut self, ev: &Ev) {
        let s = self.cur();
        if s.session != Some(ev.session) {
            *s = UserSession {
                session: Some(ev.session),
                ..Default::default()
            };
        }
        if let Some(i) = ev.item {
            s.items.push(i);
            if ev.kind == EventKind::Purchase {
                s.bought.insert(i);
            }
        }
    }
}

/// Item popularity (event counts) in the history window, and the catalog in that order.
#[derive(Debug, Clone)]
pub struct Popularity {
    /// Count per catalog item.
    pub count: Vec<f64>,
    /// Catalog indices by decreasing count (ties: lower index first).
    pub order: Vec<u32>,
}

impl Popularity {
    /// Counts over `sessions` for a catalog of `n_items`.
    pub fn new(sessions: &[Vec<u32>], n_items: usize) -> Popularity {
        let mut count = vec![0f64; n_items];
        for s in sessions {
            for &i in s {
                count[i as usize] += 1.0;
            }
        }
        let mut order: Vec<u32> = (0..n_items as u32).collect();
        order.sort_by(|&a, &b| {
            count[b as usize]
                .total_cmp(&count[a as usize])
                .then(a.cmp(&b))
        });
        Popularity { count, order }
    }

    /// Fills `out` up to `k` from the popularity order, skipping `skip` and what is already in `out`.
    fn fill(&self, out: &mut Vec<u32>, k: usize, skip: &HashSet<u32>) {
        let have: HashSet<u32> = out.iter().copied().collect();
        for &i in &self.order {
            if out.len() >= k {
                break;
            }
            if !skip.contains(&i) && !have.contains(&i) {
                out.push(i);
            }
        }
    }
}

/// Ranks `scores` (sparse), best first, ties by popularity then index; then fills from popularity.
fn rank_sparse(
    scores: HashMap<u32, f64>,
    pop: &Popularity,
    k: usize,
    skip: &HashSet<u32>,
) -> Vec<u32> {
    let mut v: Vec<(u32, f64)> = scores
        .into_iter()
        .filter(|(i, s)| *s > 0.0 && !skip.contains(i))
        .collect();
    v.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(pop.count[b.0 as usize].total_cmp(&pop.count[a.0 as usize]))
            .then(a.0.cmp(&b.0))
    });
    let mut out: Vec<u32> = v.into_iter().take(k).map(|(i, _)| i).collect();
    pop.fill(&mut out, k, skip);
    out
}

/// The popularity baseline: the same list for everyone.
#[derive(Debug)]
pub struct PopularityModel {
    pop: Popularity,
    users: Users,
}

impl PopularityModel {
    /// From the history window.
    pub fn new(pop: Popularity) -> Self {
        PopularityModel {
            pop,
            users: Users::default(),
        }
    }
}

impl Model for PopularityModel {
    fn switch_user(&mut self, user: u32) -> Result<()> {
        self.users.active = user;
        Ok(())
    }
    fn rank(&mut self, k: usize) -> Result<Vec<u32>> {
        let skip = self.users.cur().bought.clone();
        let mut out = Vec::with_capacity(k);
        self.pop.fill(&mut out, k, &skip);
        Ok(out)
    }
    fn observe(&mut self, ev: &Ev) -> Result<()> {
        self.users.observe(ev);
        Ok(())
    }
    fn users_independent(&self) -> bool {
        true
    }
}

/// Item-to-item co-occurrence: `w(a, b) = Σ 1/|i − j|` over pairs of positions within `window` of each
/// other in the history sessions (a ≠ b); a session is scored from its last `last_n` items with weights
/// `1, 1/2, 1/4, …` (most recent first).
#[derive(Debug)]
pub struct CooccurrenceModel {
    neighbours: HashMap<u32, Vec<(u32, f64)>>,
    pop: Popularity,
    users: Users,
    last_n: usize,
}

impl CooccurrenceModel {
    /// Trains on `sessions` (window 5, last 3 items).
    pub fn new(sessions: &[Vec<u32>], pop: Popularity) -> Self {
        Self::with_params(sessions, pop, 5, 3)
    }

    /// Trains with explicit parameters.
    pub fn with_params(
        sessions: &[Vec<u32>],
        pop: Popularity,
        window: usize,
        last_n: usize,
    ) -> Self {
        let mut w: HashMap<(u32, u32), f64> = HashMap::new();
        for s in sessions {
            for i in 0..s.len() {
                for j in i + 1..s.len().min(i + 1 + window) {
                    if s[i] != s[j] {
                        let x = 1.0 / (j - i) as f64;
                        *w.entry((s[i], s[j])).or_default() += x;
                        *w.entry((s[j], s[i])).or_default() += x;
                    }
                }
            }
        }
        let mut neighbours: HashMap<u32, Vec<(u32, f64)>> = HashMap::new();
        for ((a, b), x) in w {
            neighbours.entry(a).or_default().push((b, x));
        }
        for v in neighbours.values_mut() {
            v.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        }
        CooccurrenceModel {
            neighbours,
            pop,
            users: Users::default(),
            last_n,
        }
    }
}

impl Model for CooccurrenceModel {
    fn switch_user(&mut self, user: u32) -> Result<()> {
        self.users.active = user;
        Ok(())
    }
    fn rank(&mut self, k: usize) -> Result<Vec<u32>> {
        let s = self.users.cur().clone();
        let mut scores: HashMap<u32, f64> = HashMap::new();
        let mut weight = 1.0;
        for &a in s.items.iter().rev().take(self.last_n) {
            if let Some(nb) = self.neighbours.get(&a) {
                for &(b, x) in nb {
                    *scores.entry(b).or_default() += weight * x;
                }
            }
            weight *= 0.5;
        }
        Ok(rank_sparse(scores, &self.pop, k, &s.bought))
    }
    fn observe(&mut self, ev: &Ev) -> Result<()> {
        self.users.observe(ev);
        Ok(())
    }
    fn users_independent(&self) -> bool {
        true
    }
}

/// Session-kNN (V-SKNN style): the current session's last `max_items` items, weighted linearly by recency,
/// against history sessions as item sets; candidates are the `sample` most recent sessions sharing an item,
/// similarity `Σ_shared w_i / sqrt(|current| · |neighbour|)`, the `k_neighbours` most similar vote for
/// their items with their similarity.
#[derive(Debug)]
pub struct SknnModel {
    sets: Vec<Vec<u32>>,
    by_item: HashMap<u32, Vec<u32>>,
    pop: Popularity,
    users: Users,
    k_neighbours: usize,
    sample: usize,
    max_items: usize,
}

impl SknnModel {
    /// Trains on `sessions` (in time order; k = 100, sample = 500, last 10 items).
    pub fn new(sessions: &[Vec<u32>], pop: Popularity) -> Self {
        let mut sets = Vec::with_capacity(sessions.len());
        let mut by_item: HashMap<u32, Vec<u32>> = HashMap::new();
        for (si, s) in sessions.iter().enumerate() {
            let mut set: Vec<u32> = s.clone();
            set.sort_unstable();
            set.dedup();
            for &i in &set {
                by_item.entry(i).or_default().push(si as u32);
            }
            sets.push(set);
        }
        SknnModel {
            sets,
            by_item,
            pop,
            users: Users::default(),
            k_neighbours: 100,
            sample: 500,
            max_items: 10,
        }
    }
}

impl Model for SknnModel {
    fn switch_user(&mut self, user: u32) -> Result<()> {
        self.users.active = user;
        Ok(())
    }
    fn rank(&mut self, k: usize) -> Result<Vec<u32>> {
        let s = self.users.cur().clone();
        let recent: Vec<u32> = s.items.iter().rev().take(self.max_items).copied().collect();
        let mut w: HashMap<u32, f64> = HashMap::new();
        let m = recent.len() as f64;
        for (pos, &i) in recent.iter().enumerate() {
            let x = (m - pos as f64) / m;
            let e = w.entry(i).or_default();
            *e = e.max(x);
        }
        let mut cands: Vec<u32> = w
            .keys()
            .flat_map(|i| self.by_item.get(i).into_iter().flatten().copied())
            .collect();
        cands.sort_unstable_by(|a, b| b.cmp(a));
        cands.dedup();
        cands.truncate(self.sample);
        let norm_cur = (w.len() as f64).sqrt();
        let mut sims: Vec<(u32, f64)> = cands
            .into_iter()
            .map(|c| {
                let set = &self.sets[c as usize];
                let shared: f64 = set.iter().filter_map(|i| w.get(i)).sum();
                (c, shared / (norm_cur * (set.len() as f64).sqrt()))
            })
            .collect();
        sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        sims.truncate(self.k_neighbours);
        let mut scores: HashMap<u32, f64> = HashMap::new();
        for (c, sim) in sims {
            for &i in &self.sets[c as usize] {
                *scores.entry(i).or_default() += sim;
            }
        }
        Ok(rank_sparse(scores, &self.pop, k, &s.bought))
    }
    fn observe(&mut self, ev: &Ev) -> Result<()> {
        self.users.observe(ev);
        Ok(())
    }
    fn users_independent(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::tests::dataset;
    use crate::replay::tests::TimeOrder;
    use crate::replay::{replay, Labels};
    use nextclick_data::replay::Split;
    use EventKind::*;

    /// History: 1→2→3 a few times, 4 popular on its own. Test: sessions starting at 1 and 2.
    fn tiny() -> (Dataset, Split) {
        let mut rows = Vec::new();
        let mut s = 0;
        for r in 0..3 {
            let t = r as f64 * 10.0;
            rows.push((s, s, t, View, Some(1)));
            rows.push((s, s, t + 1.0, View, Some(2)));
            rows.push((s, s, t + 2.0, View, Some(3)));
            s += 1;
        }
        for r in 0..5 {
            rows.push((s, s, 40.0 + r as f64, View, Some(4)));
            s += 1;
        }
        rows.push((s, s, 100.0, View, Some(1)));
        rows.push((s, s, 101.0, View, Some(2)));
        rows.push((s, s, 102.0, Purchase, Some(2)));
        rows.push((s, s, 103.0, View, Some(3)));
        (
            dataset(&rows),
            Split {
                split_ts: 100.0,
                history_events: 14,
                test_events: 4,
            },
        )
    }

    #[test]
    fn baselines_on_a_tiny_generated_set() {
        let (data, split) = tiny();
        let hist = history_sessions(&data, &split);
        assert_eq!(hist.len(), 8);
        let pop = Popularity::new(&hist, 6);
        assert_eq!(&pop.order[..4], &[4, 1, 2, 3]);
        let labels = Labels::new(&data, &split);
        let mut p = PopularityModel::new(pop.clone());
        let o = replay(&mut p, &data, &split, &labels, 3).unwrap();
        // targets 2 (after 1), 2 (repeat, purchase), 3 (after the purchase of 2)
        assert_eq!(o.counts.targets, 3);
        let ranks: Vec<Option<u8>> = o.targets.iter().map(|t| t.rank_all).collect();
        assert_eq!(ranks, [Some(2), Some(2), Some(2)]); // last: 2 bought → left out: [4, 1, 3]
        let mut c = CooccurrenceModel::new(&hist, pop.clone());
        let o = replay(&mut c, &data, &split, &labels, 3).unwrap();
        assert_eq!(o.targets[0].rank_all, Some(0));
        assert_eq!(o.targets[2].rank_all, Some(0), "3 follows 2 (and 1)");
        let mut k = SknnModel::new(&hist, pop.clone());
        let o = replay(&mut k, &data, &split, &labels, 3).unwrap();
        let mut k2 = SknnModel::new(&hist, pop);
        let o2 = replay(&mut TimeOrder(&mut k2), &data, &split, &labels, 3).unwrap();
        assert_eq!(o.targets, o2.targets, "user-by-user and time order agree");
        assert_eq!(
            o.targets[0].rank_all,
            Some(1),
            "neighbours vote 1, 2, 3 equally; 1 leads on popularity"
        );
        assert_eq!(
            o.targets[0].rank_norep,
            Some(0),
            "without the current item, 2 leads"
        );
        assert!(o.targets[2].rank_all.is_some());
    }
}
