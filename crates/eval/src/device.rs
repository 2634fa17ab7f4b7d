//! The core [`Predictor`] as a replay [`Model`]: one predictor (model and catalog loaded once) and one
//! [`ShopperState`] per user, swapped in and out with `take_state`/`put_state` exactly as one browser
//! keeps its own.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use nextclick::event::normalize_timestamp;
use nextclick::predictor::{Options, Predictor};
use nextclick::state::ShopperState;
use nextclick::Event;

use crate::replay::Model;
use nextclick_data::replay::Ev;

/// The on-device predictor under replay.
pub struct DeviceModel {
    /// The predictor (its active state is the active user's).
    pub predictor: Predictor,
    states: HashMap<u32, ShopperState>,
    active: Option<u32>,
    /// State every new user starts from (`None`: the predictor's fresh state, i.e. the source model).
    pub init: Option<ShopperState>,
    /// Events the core refused (counted, the replay goes on).
    pub rejected: u64,
    /// Maps the predictor's catalog indices to the replay's (for a model with its own catalog);
    /// `u32::MAX` = not in the replay's catalog (dropped from the list).
    pub remap: Option<Vec<u32>>,
    /// Report the intent heads (off for reference rows, whose heads are only the priors).
    pub intents: bool,
}

impl DeviceModel {
    /// A predictor over `encoder`/`catalog` bytes with `options` (`excludeCurrent` is turned off: the
    /// replay applies the repeat policies itself). `learning` switches on-device learning.
    pub fn new(predictor: Predictor, learning: bool) -> DeviceModel {
        let mut predictor = predictor;
        predictor.set_learning(learning);
        DeviceModel {
            predictor,
            states: HashMap::new(),
            active: None,
            init: None,
            rejected: 0,
            remap: None,
            intents: true,
        }
    }

    /// The options the harness runs the predictor with: the given head options, the serving rules
    /// except `excludeCurrent`.
    pub fn options(head: nextclick::head::HeadOptions) -> Options {
        Options {
            exclude_current: false,
            head,
            ..Options::default()
        }
    }

    /// The states of every user seen so far (the active one included), consuming the model.
    pub fn into_states(mut self) -> HashMap<u32, ShopperState> {
        if let Some(a) = self.active.take() {
            self.states.insert(a, self.predictor.take_state());
        }
        self.states
    }

    /// A user's state as it stands (the active one's is read from the predictor).
    pub fn state_of(&self, user: u32) -> Option<&ShopperState> {
        if self.active == Some(user) {
            Some(self.predictor.state())
        } else {
            self.states.get(&user)
        }
    }
}

/// Converts a replay event to the core's event (timestamps through the core's own normalisation).
pub fn core_event(ev: &Ev) -> Result<Event> {
    let timestamp_ms =
        normalize_timestamp(ev.ts).map_err(|e| anyhow!("events.csv line {}: {e}", ev.line))?;
    Ok(Event {
        kind: ev.kind,
        item_id: ev.item_id.clone(),
        timestamp_ms,
        price: None,
    })
}

impl Model for DeviceModel {
    fn switch_user(&mut self, user: u32) -> Result<()> {
        if self.active == Some(user) {
            return Ok(());
        }
        if let Some(a) = self.active.take() {
            self.states.insert(a, self.predictor.take_state());
        }
        let st = match self.states.remove(&user) {
            Some(s) => s,
            None => match &self.init {
                Some(s) => s.clone(),
                None => self.predictor.new_state(),
            },
        };
        self.predictor.put_state(st)?;
        self.active = Some(user);
        Ok(())
    }

    fn rank(&mut self, k: usize) -> Result<Vec<u32>> {
        let top = self.predictor.predict_indices(k)?;
        Ok(match &self.remap {
            None => top.into_iter().map(|(i, _)| i as u32).collect(),
            Some(m) => top
                .into_iter()
                .map(|(i, _)| m[i])
                .filter(|&i| i != u32::MAX)
                .collect(),
        })
    }

    fn observe(&mut self, ev: &Ev) -> Result<()> {
        match core_event(ev) {
            Ok(e) => {
                if self.predictor.track(&e).is_err() {
                    self.rejected += 1;
                }
            }
            Err(_) => {
                self.predictor.note_rejected();
                self.rejected += 1;
            }
        }
        Ok(())
    }

    fn intent(&mut self) -> Result<Option<(f64, f64)>> {
        if !self.intents {
            return Ok(None);
        }
        Ok(self
            .predictor
            .intent()?
            .map(|i| (i.purchase as f64, i.exit as f64)))
    }

    fn end_session(&mut self) -> Result<()> {
        self.predictor.end_session();
        Ok(())
    }

    fn users_independent(&self) -> bool {
        true
    }
}

/// A state that carries only the learned heads of `s` (sessions, counters and pending labels cleared):
/// the start state of a new browser after shop-level adaptation.
pub fn heads_only(s: &ShopperState) -> ShopperState {
    let mut s = s.clone();
    s.sessions.clear();
    s.stats = Default::default();
    s.pending_exit = None;
    s.pending_purchase.clear();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::tests::dataset;
    use crate::replay::{replay, Labels};
    use nextclick::contract::EventKind::*;
    use nextclick_data::replay::Split;

    fn predictor(opts: Options) -> Predictor {
        let r = nextclick_model::reference::build();
        Predictor::from_loaded(
            nextclick::Encoder::from_bytes(&r.onnx).unwrap(),
            r.catalog,
            opts,
        )
        .unwrap()
    }

    fn rows() -> Vec<(u32, u32, f64, nextclick::EventKind, Option<u32>)> {
        let mut rows = Vec::new();
        for u in 0..3u32 {
            for j in 0..6u32 {
                rows.push((
                    u,
                    u,
                    1_700_000_000.0 + (u + j * 5) as f64,
                    View,
                    Some((u * 7 + j * 3) % 300),
                ));
            }
        }
        rows
    }

    #[test]
    fn state_swapping_matches_one_predictor_per_user() {
        let mut data = dataset(&rows());
        for e in &mut data.events {
            e.item_id = format!("ref-{:04}", e.item.unwrap());
        }
        let split = Split {
            split_ts: 0.0,
            history_events: 0,
            test_events: data.events.len(),
        };
        let labels = Labels::new(&data, &split);
        let opts = DeviceModel::options(Default::default());
        let mut shared = DeviceModel::new(predictor(opts.clone()), true);
        let out = replay(&mut shared, &data, &split, &labels, 10).unwrap();
        assert_eq!(out.counts.targets, 15);
        assert_eq!(out.intents.len(), 18);
        // the same users one predictor each (what separate browsers would do)
        let mut solo_targets = Vec::new();
        for u in 0..3u32 {
            let mut one = dataset(
                &rows()
                    .into_iter()
                    .filter(|r| r.0 == u)
                    .map(|r| (0, 0, r.2, r.3, r.4))
                    .collect::<Vec<_>>(),
            );
            for e in &mut one.events {
                e.item_id = format!("ref-{:04}", e.item.unwrap());
            }
            let l1 = Labels::new(&one, &split);
            let mut m = DeviceModel::new(predictor(opts.clone()), true);
            solo_targets.extend(
                replay(&mut m, &one, &split, &l1, 10)
                    .unwrap()
                    .targets
                    .into_iter()
                    .map(|t| t.rank_all),
            );
        }
        // user by user: the targets come in user order, each user's in time order
        let shared_ranks: Vec<_> = out.targets.iter().map(|t| t.rank_all).collect();
        assert_eq!(shared_ranks, solo_targets);
        // time order (states swapped at every event) gives the same figures as user by user
        let mut timed = DeviceModel::new(predictor(opts.clone()), true);
        let out_t = replay(
            &mut crate::replay::tests::TimeOrder(&mut timed),
            &data,
            &split,
            &labels,
            10,
        )
        .unwrap();
        let key = |t: &crate::replay::Target| (t.unit, t.seen, t.rank_all, t.rank_norep);
        let mut a: Vec<_> = out.targets.iter().map(key).collect();
        let mut b: Vec<_> = out_t.targets.iter().map(key).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let states = shared.into_states();
        assert_eq!(states.len(), 3);
        assert!(states.values().all(|s| s.adapter.steps() == 5));
        let h = heads_only(&states[&0]);
        assert!(h.sessions.current().is_empty() && h.adapter.steps() == 5);
    }
}
