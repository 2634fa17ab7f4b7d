//! The evaluation loader: a tolerant reader of the canonical layout (`items.csv`, `events.csv`) that keeps
//! what the replay needs (user, session, raw timestamp, event kind, item) and **counts** every bad input
//! instead of failing or dropping it silently. The policies (also printed in the report):
//!
//! | bad input | policy |
//! |---|---|
//! | malformed CSV row (wrong field count, bad UTF-8) | counted, row skipped |
//! | empty session id or item id | counted, row skipped |
//! | unknown event type (after the core's aliases, [`nextclick::event::parse_kind`]) | counted per name, row skipped |
//! | timestamp not a finite number | counted, row skipped |
//! | timestamp earlier than the previous event of its session (file order) | counted, clamped to it (the core's rule) |
//! | empty user id | counted, the session id stands for the user |
//! | item not in the catalog | counted; replayed (the core counts and skips it), never a ranking target |
//! | session of length 1 | counted; replayed, no next-click target, still an intent/exit case |
//!
//! Only a wrong header or an unreadable file is an error.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;
use nextclick::contract::EventKind;

use crate::csv::{open, Policy};
use crate::{EVENTS_HEADER, ITEMS_HEADER};

/// One event, resolved, in replay order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    /// Index into [`Dataset::users`].
    pub user: u32,
    /// Index into [`Dataset::sessions`].
    pub session: u32,
    /// Position within its session (0 = first).
    pub pos: u32,
    /// Is this the session's last event?
    pub last: bool,
    /// Timestamp in seconds (after the out-of-order clamp).
    pub ts: f64,
    /// Event kind.
    pub kind: EventKind,
    /// Item id as written.
    pub item_id: String,
    /// Catalog index of the item, if the catalog has it.
    pub item: Option<u32>,
    /// 1-based line of the row in events.csv.
    pub line: u64,
}

/// One session: its user and its events (indices into [`Dataset::events`], in time order).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The session id as written.
    pub id: String,
    /// Index into [`Dataset::users`].
    pub user: u32,
    /// Event indices, in time order.
    pub events: Vec<usize>,
}

/// Counts of tolerated bad input (see the module docs for the policy of each).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BadInput {
    /// Malformed CSV rows skipped.
    pub malformed_rows: u64,
    /// Rows with an empty session or item id, skipped.
    pub empty_ids: u64,
    /// Rows of an unknown event type, skipped, per type name.
    pub unknown_types: BTreeMap<String, u64>,
    /// Rows whose timestamp is not a finite number, skipped.
    pub bad_timestamps: u64,
    /// Events earlier than their session's previous event, clamped.
    pub out_of_order: u64,
    /// Rows with an empty user id (session id used).
    pub empty_users: u64,
    /// Events whose item is not in the catalog (replayed, never a target).
    pub unknown_item_events: u64,
    /// Events whose item is not in items.csv.
    pub not_in_items_csv: u64,
    /// Sessions of a single event.
    pub single_event_sessions: u64,
    /// Malformed rows of items.csv skipped.
    pub malformed_item_rows: u64,
}

impl BadInput {
    /// One line per non-zero count, with its policy.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |n: u64, what: &str| {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        };
        add(self.malformed_rows, "malformed events.csv rows → skipped");
        add(
            self.malformed_item_rows,
            "malformed items.csv rows → skipped",
        );
        add(
            self.empty_ids,
            "events with an empty session or item id → skipped",
        );
        for (k, n) in &self.unknown_types {
            add(*n, &format!("events of unknown type {k:?} → skipped"));
        }
        add(
            self.bad_timestamps,
            "events with a non-numeric timestamp → skipped",
        );
        add(
            self.out_of_order,
            "events earlier than their session's previous event → clamped to it",
        );
        add(
            self.empty_users,
            "events with an empty user id → the session id stands for the user",
        );
        add(
            self.unknown_item_events,
            "events for items not in the catalog → replayed (core skips them), not targets",
        );
        add(self.not_in_items_csv, "events for items not in items.csv");
        add(
            self.single_event_sessions,
            "sessions of one event → replayed, no next-click target",
        );
        out
    }
}

/// A loaded target shop, ready to replay.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// User ids.
    pub users: Vec<String>,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// Events in replay order: time, then file line.
    pub events: Vec<Ev>,
    /// Items of items.csv (ids).
    pub n_items_csv: usize,
    /// Are timestamps ordinal (every session's are 0, 1, 2, …)?
    pub ordinal: bool,
    /// Tolerated bad input.
    pub bad: BadInput,
}

/// Reads the item ids of `items.csv` (malformed rows are counted).
pub fn load_item_ids(path: &Path, bad: &mut BadInput) -> Result<Vec<String>> {
    let mut r = open(path, &ITEMS_HEADER, Policy::Tolerant)?;
    let mut ids = Vec::new();
    for rec in r.records() {
        match rec {
            Ok(rec) if rec.len() == 5 && !rec[0].trim().is_empty() => {
                ids.push(rec[0].trim().to_string())
            }
            _ => bad.malformed_item_rows += 1,
        }
    }
    Ok(ids)
}

/// Loads `<dir>/items.csv` and `<dir>/events.csv`, resolving items with `resolve` (the catalog's index).
pub fn load(dir: &Path, resolve: &dyn Fn(&str) -> Option<u32>) -> Result<Dataset> {
    let mut bad = BadInput::default();
    let item_ids = load_item_ids(&dir.join("items.csv"), &mut bad)?;
    let in_items: std::collections::HashSet<&str> = item_ids.iter().map(|s| s.as_str()).collect();
    let path = dir.join("events.csv");
    let mut r = open(&path, &EVENTS_HEADER, Policy::Tolerant)?;
    let mut users: Vec<String> = Vec::new();
    let mut user_ix: HashMap<String, u32> = HashMap::new();
    let mut sessions: Vec<Session> = Vec::new();
    let mut session_ix: HashMap<String, u32> = HashMap::new();
    let mut events: Vec<Ev> = Vec::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(rec) if rec.len() == 5 => rec,
            _ => {
                bad.malformed_rows += 1;
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let (sid, uid, ts_s, kind_s, item_id) = (
            rec[0].trim(),
            rec[1].trim(),
            rec[2].trim(),
            &rec[3],
            rec[4].trim(),
        );
        if sid.is_empty() || item_id.is_empty() {
            bad.empty_ids += 1;
            continue;
        }
        let kind = match nextclick::event::parse_kind(kind_s) {
            Ok(k) => k,
            Err(_) => {
                *bad.unknown_types
                    .entry(kind_s.trim().to_string())
                    .or_default() += 1;
                continue;
            }
        };
        let ts = match ts_s.parse::<f64>() {
            Ok(t) if t.is_finite() => t,
            _ => {
                bad.bad_timestamps += 1;
                continue;
            }
        };
        let uid = if uid.is_empty() {
            bad.empty_users += 1;
            sid
        } else {
            uid
        };
        let s = match session_ix.get(sid) {
            Some(&s) => s,
            None => {
                let u = match user_ix.get(uid) {
                    Some(&u) => u,
                    None => {
                        users.push(uid.to_string());
                        user_ix.insert(uid.to_string(), users.len() as u32 - 1);
                        users.len() as u32 - 1
                    }
                };
                sessions.push(Session {
                    id: sid.to_string(),
                    user: u,
                    events: Vec::new(),
                });
                session_ix.insert(sid.to_string(), sessions.len() as u32 - 1);
                sessions.len() as u32 - 1
            }
        };
        let sess = &mut sessions[s as usize];
        let mut ts = ts;
        if let Some(&prev) = sess.events.last() {
            let p: &Ev = &events[prev];
            if ts < p.ts {
                bad.out_of_order += 1;
                ts = p.ts;
            }
        }
        let item = resolve(item_id);
        if item.is_none() {
            bad.unknown_item_events += 1;
        }
        if !in_items.contains(item_id) {
            bad.not_in_items_csv += 1;
        }
        sess.events.push(events.len());
        events.push(Ev {
            user: sess.user,
            session: s,
            pos: sess.events.len() as u32 - 1,
            last: false,
            ts,
            kind,
            item_id: item_id.to_string(),
            item,
            line,
        });
    }
    for s in &sessions {
        if let Some(&l) = s.events.last() {
            events[l].last = true;
        }
        if s.events.len() == 1 {
            bad.single_event_sessions += 1;
        }
    }
    let ordinal = !sessions.is_empty()
        && sessions.iter().all(|s| {
            s.events
                .iter()
                .enumerate()
                .all(|(i, &e)| events[e].ts == i as f64)
        });
    // replay order: time, then file order
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| {
        events[a]
            .ts
            .total_cmp(&events[b].ts)
            .then(events[a].line.cmp(&events[b].line))
    });
    let mut new_of_old = vec![0usize; events.len()];
    for (new, &old) in order.iter().enumerate() {
        new_of_old[old] = new;
    }
    let events: Vec<Ev> = order.iter().map(|&o| events[o].clone()).collect();
    for s in &mut sessions {
        for e in &mut s.events {
            *e = new_of_old[*e];
        }
    }
    Ok(Dataset {
        users,
        sessions,
        events,
        n_items_csv: item_ids.len(),
        ordinal,
        bad,
    })
}

/// The chronological split: events with `ts < split_ts` are the history window, the rest the test window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// First timestamp of the test window (seconds).
    pub split_ts: f64,
    /// Events in the history window.
    pub history_events: usize,
    /// Events in the test window.
    pub test_events: usize,
}

impl Split {
    /// Splits at the `frac` quantile of event time (so that about `frac` of the events are history).
    pub fn at_fraction(data: &Dataset, frac: f64) -> Split {
        let n = data.events.len();
        if n == 0 {
            return Split {
                split_ts: 0.0,
                history_events: 0,
                test_events: 0,
            };
        }
        let k = ((n as f64 * frac.clamp(0.0, 1.0)) as usize).min(n - 1);
        let split_ts = data.events[k].ts;
        let history_events = data.events.iter().filter(|e| e.ts < split_ts).count();
        Split {
            split_ts,
            history_events,
            test_events: n - history_events,
        }
    }

    /// Is this event in the test window?
    pub fn is_test(&self, e: &Ev) -> bool {
        e.ts >= self.split_ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, items: &str, events: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("items.csv"), items).unwrap();
        std::fs::write(dir.join("events.csv"), events).unwrap();
    }

    #[test]
    fn bad_input_is_counted_never_fatal() {
        let d = std::env::temp_dir().join(format!("nextclick-eval-data-{}", std::process::id()));
        write(
            &d,
            "item_id,title,category,brand,price\na,,,,\nb,,,,\nc,,,,\n",
            "session_id,user_id,timestamp,event_type,item_id\n\
             s1,u1,100,view,a\n\
             s1,u1,90,add_to_cart,b\n\
             s1,u1,120,hover,a\n\
             s1,u1,x,view,a\n\
             s1,u1,130,view,zzz\n\
             s1,u1,140,view\n\
             s2,,50,purchase,c\n\
             s3,u1,200,view,c\n",
        );
        let resolve = |id: &str| {
            ["a", "b", "c"]
                .iter()
                .position(|x| *x == id)
                .map(|i| i as u32)
        };
        let ds = load(&d, &resolve).unwrap();
        let b = &ds.bad;
        assert_eq!(b.unknown_types.get("hover"), Some(&1));
        assert_eq!(
            (
                b.bad_timestamps,
                b.out_of_order,
                b.malformed_rows,
                b.empty_users
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(
            (
                b.unknown_item_events,
                b.not_in_items_csv,
                b.single_event_sessions
            ),
            (1, 1, 2)
        );
        assert_eq!(ds.events.len(), 5);
        // replay order is by time: s2 (50), s1 a (100), s1 b (clamped to 100, later line), zzz, s3
        let ids: Vec<&str> = ds.events.iter().map(|e| e.item_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b", "zzz", "c"]);
        assert_eq!(ds.events[2].ts, 100.0);
        assert!(ds.events[3].last && ds.events[0].last && !ds.events[1].last);
        assert_eq!(ds.users.len(), 2);
        assert!(!b.lines().is_empty());
        let sp = Split::at_fraction(&ds, 0.5);
        assert_eq!(sp.split_ts, 100.0);
        assert_eq!(sp.history_events, 1);
        std::fs::remove_dir_all(&d).ok();
    }
}
