//! The replay: every event of the target shop, in time order, through one [`Model`] — predict first, then
//! show the model the event. Per-user state carries across that user's sessions (the model keeps one state
//! per user and [`Model::switch_user`] swaps it in, as one browser would keep it).
//!
//! Scored next-click targets are the events of the **test window** that are not the first of their
//! session (the prefix may lie in the history window) and whose item is in the catalog. For each, the
//! model ranks the whole catalog (items bought in the session left out, the serving rule) and two
//! policies for a **consecutive repeat** (target item = the item of the session's previous event) are
//! reported:
//!
//! * `all`: every target counts; the current item may be recommended (it competes like any other);
//! * `no-repeat`: repeat targets are dropped and the current item is removed from the list (what the page
//!   shows: `excludeCurrent`).
//!
//! Intent cases are every event after the model has seen it (test-window cases are scored, history-window
//! ones only choose decision thresholds): purchase label = a purchase follows later in the same session;
//! exit label = it is the session's last event.

use std::collections::HashMap;

use anyhow::Result;
use nextclick::contract::EventKind;

use crate::metrics::rank_in;
use nextclick_data::replay::{Dataset, Ev, Split};

/// A recommender being evaluated. Implementations keep one state per user.
pub trait Model {
    /// Makes `user` the active user (creating a fresh state on first sight).
    fn switch_user(&mut self, user: u32) -> Result<()>;
    /// Top-`k` catalog indices for the active user, best first (items bought in the current session left
    /// out; the current item allowed).
    fn rank(&mut self, k: usize) -> Result<Vec<u32>>;
    /// Shows the model the active user's next event.
    fn observe(&mut self, ev: &Ev) -> Result<()>;
    /// Purchase propensity and exit risk after the last observed event, if the model has intent heads.
    fn intent(&mut self) -> Result<Option<(f64, f64)>> {
        Ok(None)
    }
    /// The active user's session has ended (called before the user's next session, and at the end).
    fn end_session(&mut self) -> Result<()> {
        Ok(())
    }
    /// Does every prediction for a user depend only on that user's own events (and on what the model
    /// learned before the replay)? Then the replay runs user by user — each user's events still in time
    /// order, the results identical — which keeps the core predictor's session-vector cache warm
    /// between a user's events. Models that learn across users during the replay must say `false`.
    fn users_independent(&self) -> bool {
        false
    }
}

/// The order in which `replay` visits the events: time order, or (for [`Model::users_independent`]
/// models) user by user, each user's events in time order.
pub fn visit_order(data: &Dataset, by_user: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..data.events.len()).collect();
    if by_user {
        order.sort_by_key(|&i| (data.events[i].user, i));
    }
    order
}

/// One scored next-click target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Bootstrap unit (test-session index).
    pub unit: u32,
    /// Rank under the `all` policy (`None`: not in the top K).
    pub rank_all: Option<u8>,
    /// Rank under the `no-repeat` policy (`None`: not in the top K, or a repeat — see `repeat`).
    pub rank_norep: Option<u8>,
    /// Is the target a consecutive repeat?
    pub repeat: bool,
    /// Events of this user the model had seen before (the learning-curve axis).
    pub seen: u32,
    /// Is the target in its user's first session (no earlier session of the user in the data)?
    pub first_session: bool,
}

/// One intent case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntentCase {
    /// Bootstrap unit (test-session index; `u32::MAX` for history-window cases).
    pub unit: u32,
    /// In the test window? (History-window cases only choose decision thresholds.)
    pub test: bool,
    /// Predicted purchase propensity.
    pub p_purchase: f64,
    /// A purchase follows in the session.
    pub y_purchase: bool,
    /// Predicted exit risk.
    pub p_exit: f64,
    /// It is the session's last event.
    pub y_exit: bool,
}

/// Counts of what the replay did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplayCounts {
    /// Events replayed.
    pub events: u64,
    /// Test-window events that are the first of their session (no next-click target).
    pub session_starts: u64,
    /// Test-window targets whose item is not in the catalog (not scored).
    pub unknown_targets: u64,
    /// Scored targets.
    pub targets: u64,
    /// Of which consecutive repeats.
    pub repeats: u64,
}

/// Everything one replay produced.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutput {
    /// Next-click targets.
    pub targets: Vec<Target>,
    /// Intent cases (empty for models without intent heads).
    pub intents: Vec<IntentCase>,
    /// Counts.
    pub counts: ReplayCounts,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Per-event facts derived once from the data.
#[derive(Debug, Clone)]
pub struct Labels {
    /// Catalog item of the previous event of the same session.
    pub prev_item: Vec<Option<u32>>,
    /// A purchase follows later in the same session.
    pub purchase_after: Vec<bool>,
    /// Bootstrap unit of each session (`None` = no test-window event).
    pub unit_of_session: Vec<Option<u32>>,
    /// Number of units.
    pub n_units: usize,
}

impl Labels {
    /// Derives the labels of `data` under `split`.
    pub fn new(data: &Dataset, split: &Split) -> Labels {
        let n = data.events.len();
        let mut prev_item = vec![None; n];
        let mut purchase_after = vec![false; n];
        let mut unit_of_session = vec![None; data.sessions.len()];
        let mut n_units = 0u32;
        for (si, s) in data.sessions.iter().enumerate() {
            for w in s.events.windows(2) {
                prev_item[w[1]] = data.events[w[0]].item;
            }
            let mut after = false;
            for &e in s.events.iter().rev() {
                purchase_after[e] = after;
                after |= data.events[e].kind == EventKind::Purchase;
            }
            if s.events.iter().any(|&e| split.is_test(&data.events[e])) {
                unit_of_session[si] = Some(n_units);
                n_units += 1;
            }
        }
        Labels {
            prev_item,
            purchase_after,
            unit_of_session,
            n_units: n_units as usize,
        }
    }
}

/// Replays `data` through `model`, scoring the top `k`.
pub fn replay(
    model: &mut dyn Model,
    data: &Dataset,
    split: &Split,
    labels: &Labels,
    k: usize,
) -> Result<ReplayOutput> {
    let t0 = std::time::Instant::now();
    let mut out = ReplayOutput::default();
    let mut open: HashMap<u32, u32> = HashMap::new();
    let mut seen: HashMap<u32, u32> = HashMap::new();
    let mut first: HashMap<u32, u32> = HashMap::new();
    let mut active: Option<u32> = None;
    for i in visit_order(data, model.users_independent()) {
        let ev = &data.events[i];
        if active != Some(ev.user) {
            model.switch_user(ev.user)?;
            active = Some(ev.user);
        }
        if let Some(prev) = open.insert(ev.user, ev.session) {
            if prev != ev.session {
                model.end_session()?;
            }
        }
        let test = split.is_test(ev);
        let unit = labels.unit_of_session[ev.session as usize];
        let n_seen = *seen.get(&ev.user).unwrap_or(&0);
        let first_session = *first.entry(ev.user).or_insert(ev.session) == ev.session;
        if test && ev.pos == 0 {
            out.counts.session_starts += 1;
        }
        if let (true, true, Some(unit)) = (test, ev.pos > 0, unit) {
            match ev.item {
                None => out.counts.unknown_targets += 1,
                Some(t) => {
                    let list = model.rank(k + 1)?;
                    let prev = labels.prev_item[i];
                    let repeat = prev == Some(t);
                    let rank_all = rank_in(&list[..list.len().min(k)], t).map(|r| r as u8);
                    let rank_norep = if repeat {
                        None
                    } else {
                        let shown: Vec<u32> = list
                            .iter()
                            .copied()
                            .filter(|&x| Some(x) != prev)
                            .take(k)
                            .collect();
                        rank_in(&shown, t).map(|r| r as u8)
                    };
                    out.counts.targets += 1;
                    out.counts.repeats += u64::from(repeat);
                    out.targets.push(Target {
                        unit,
                        rank_all,
                        rank_norep,
                        repeat,
                        seen: n_seen,
                        first_session,
                    });
                }
            }
        }
        model.observe(ev)?;
        out.counts.events += 1;
        *seen.entry(ev.user).or_default() += 1;
        let unit = if test { unit } else { Some(u32::MAX) };
        if let Some(unit) = unit {
            if let Some((pp, pe)) = model.intent()? {
                out.intents.push(IntentCase {
                    unit,
                    test,
                    p_purchase: pp,
                    y_purchase: labels.purchase_after[i],
                    p_exit: pe,
                    y_exit: ev.last,
                });
            }
        }
    }
    let mut users: Vec<u32> = open.keys().copied().collect();
    users.sort_unstable();
    for u in users {
        model.switch_user(u)?;
        model.end_session()?;
    }
    out.seconds = t0.elapsed().as_secs_f64();
    Ok(out)
}

/// The regression target: `log(1 + seconds to the next event of the session)`, for test-window events
/// that have a next event. Returns (truth, prediction of the history-window mean, prediction "same as the
/// previous gap of the session, else the history mean"), plus the bootstrap unit of each case.
pub fn gap_regression(
    data: &Dataset,
    split: &Split,
    labels: &Labels,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<u32>) {
    let mut hist = Vec::new();
    let mut cases = Vec::new(); // (truth, prev gap, unit)
    for (si, s) in data.sessions.iter().enumerate() {
        for (j, w) in s.events.windows(2).enumerate() {
            let (a, b) = (&data.events[w[0]], &data.events[w[1]]);
            let y = (b.ts - a.ts).max(0.0).ln_1p();
            if b.ts < split.split_ts {
                hist.push(y);
            } else if split.is_test(a) {
                let prev =
                    (j > 0).then(|| (a.ts - data.events[s.events[j - 1]].ts).max(0.0).ln_1p());
                cases.push((y, prev, labels.unit_of_session[si].unwrap_or(0)));
            }
        }
    }
    let mean = if hist.is_empty() {
        0.0
    } else {
        hist.iter().sum::<f64>() / hist.len() as f64
    };
    let truth = cases.iter().map(|c| c.0).collect();
    let constant = vec![mean; cases.len()];
    let last = cases.iter().map(|c| c.1.unwrap_or(mean)).collect();
    let units = cases.iter().map(|c| c.2).collect();
    (truth, constant, last, units)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nextclick_data::replay::Session;

    /// A tiny dataset from `(user, session, ts, kind, item)` rows (items are catalog indices; `None` =
    /// not in the catalog).
    pub(crate) fn dataset(rows: &[(u32, u32, f64, EventKind, Option<u32>)]) -> Dataset {
        let n_users = rows.iter().map(|r| r.0).max().map_or(0, |m| m + 1);
        let n_sessions = rows.iter().map(|r| r.1).max().map_or(0, |m| m + 1);
        let mut sessions: Vec<Session> = (0..n_sessions)
            .map(|s| Session {
                id: format!("s{s}"),
                user: 0,
                events: Vec::new(),
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| rows[a].2.total_cmp(&rows[b].2).then(a.cmp(&b)));
        let mut events = Vec::new();
        for (line, &r) in order.iter().enumerate() {
            let (u, s, ts, kind, item) = rows[r];
            let sess = &mut sessions[s as usize];
            sess.user = u;
            sess.events.push(events.len());
            events.push(Ev {
                user: u,
                session: s,
                pos: sess.events.len() as u32 - 1,
                last: false,
                ts,
                kind,
                item_id: item.map_or("unknown".into(), |i| format!("i{i}")),
                item,
                line: line as u64 + 2,
            });
        }
        for s in &sessions {
            if let Some(&l) = s.events.last() {
                events[l].last = true;
            }
        }
        Dataset {
            users: (0..n_users).map(|u| format!("u{u}")).collect(),
            sessions,
            events,
            n_items_csv: 0,
            ordinal: false,
            bad: Default::default(),
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Call {
        Switch(u32),
        Rank,
        Observe(u64),
        End,
    }

    /// Records every call; ranks by nothing it should not know.
    struct Spy {
        log: Vec<Call>,
    }

    impl Model for Spy {
        fn switch_user(&mut self, user: u32) -> Result<()> {
            self.log.push(Call::Switch(user));
            Ok(())
        }
        fn rank(&mut self, _k: usize) -> Result<Vec<u32>> {
            self.log.push(Call::Rank);
            Ok(vec![0, 1, 2])
        }
        fn observe(&mut self, ev: &Ev) -> Result<()> {
            self.log.push(Call::Observe(ev.line));
            Ok(())
        }
        fn end_session(&mut self) -> Result<()> {
            self.log.push(Call::End);
            Ok(())
        }
    }

    /// Forces the time-order replay of a model that would run user by user.
    pub(crate) struct TimeOrder<'a>(pub(crate) &'a mut dyn Model);

    impl Model for TimeOrder<'_> {
        fn switch_user(&mut self, user: u32) -> Result<()> {
            self.0.switch_user(user)
        }
        fn rank(&mut self, k: usize) -> Result<Vec<u32>> {
            self.0.rank(k)
        }
        fn observe(&mut self, ev: &Ev) -> Result<()> {
            self.0.observe(ev)
        }
        fn intent(&mut self) -> Result<Option<(f64, f64)>> {
            self.0.intent()
        }
        fn end_session(&mut self) -> Result<()> {
            self.0.end_session()
        }
    }

    #[test]
    fn replay_never_shows_the_future_before_a_prediction() {
        use EventKind::*;
        let data = dataset(&[
            (0, 0, 10.0, View, Some(1)),
            (1, 1, 11.0, View, Some(2)),
            (0, 0, 12.0, View, Some(1)),
            (0, 0, 13.0, Cart, Some(3)),
            (1, 1, 14.0, View, None),
            (1, 1, 15.0, Purchase, Some(2)),
            (0, 2, 100.0, View, Some(0)),
            (0, 2, 101.0, View, Some(2)),
        ]);
        let split = Split {
            split_ts: 12.0,
            history_events: 2,
            test_events: 6,
        };
        let labels = Labels::new(&data, &split);
        let mut spy = Spy { log: Vec::new() };
        let out = replay(&mut spy, &data, &split, &labels, 2).unwrap();
        // Walk the log: before every Rank, the active user's observed events are exactly that user's events
        // strictly before the target, in time order; the target is the very next observation.
        let mut active = None;
        let mut observed: Vec<u64> = Vec::new();
        let mut ranks = 0;
        for (j, c) in spy.log.iter().enumerate() {
            match c {
                Call::Switch(u) => active = Some(*u),
                Call::Observe(l) => observed.push(*l),
                Call::Rank => {
                    ranks += 1;
                    let Some(Call::Observe(target_line)) = spy.log[j + 1..]
                        .iter()
                        .find(|c| matches!(c, Call::Observe(_)))
                    else {
                        panic!("rank without a target")
                    };
                    let target = data.events.iter().find(|e| e.line == *target_line).unwrap();
                    assert_eq!(Some(target.user), active);
                    let before: Vec<u64> = data
                        .events
                        .iter()
                        .filter(|e| e.line < *target_line)
                        .map(|e| e.line)
                        .collect();
                    assert_eq!(
                        observed, before,
                        "everything seen precedes the target, nothing after it"
                    );
                    assert!(data
                        .events
                        .iter()
                        .filter(|e| observed.contains(&e.line))
                        .all(|e| e.ts <= target.ts));
                }
                Call::End => {}
            }
        }
        // targets: (0,0,12) and (0,0,13), (1,1,15) [the None at 14 is counted], (0,2,101)
        assert_eq!(ranks, 4);
        assert_eq!(out.counts.targets, 4);
        assert_eq!(out.counts.unknown_targets, 1);
        assert_eq!(out.counts.repeats, 1);
        assert_eq!(out.counts.session_starts, 1);
        let rep = out.targets.iter().find(|t| t.repeat).unwrap();
        assert_eq!((rep.rank_all, rep.rank_norep), (Some(1), None));
        // (0,0,13) target 3 not in [0,1]; (1,1,15) target 2: prev item unknown → list [0,1]: miss
        // (0,2,101) target 2, prev 0 → no-repeat list [1,2]: rank 1; all list [0,1]: miss
        let last = out.targets.last().unwrap();
        assert_eq!(
            (last.rank_all, last.rank_norep, last.seen),
            (None, Some(1), 4)
        );
        // end_session: user 0 before session 2, then once per user at the end
        assert_eq!(spy.log.iter().filter(|c| **c == Call::End).count(), 3);
        assert_eq!(labels.n_units, 3);
        assert!(labels.purchase_after[data.events.iter().position(|e| e.ts == 14.0).unwrap()]);
    }
}
