//! Sessionization with bounded buffers: the current session (last `max_events` events) and short summaries
//! of the last `max_past` sessions. Memory is bounded whatever the event rate.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::contract::EventKind;

/// One event of the current session, resolved against the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// What happened.
    pub kind: EventKind,
    /// Catalog index of the item.
    pub item: u32,
    /// Milliseconds since the epoch (monotonic within the session).
    pub ts_ms: f64,
    /// Unit price (from the event or the catalog).
    pub price: Option<f32>,
}

/// What is kept of a finished session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// First event time.
    pub start_ms: f64,
    /// Last event time.
    pub end_ms: f64,
    /// Events seen (including those dropped from the bounded buffer).
    pub events: u32,
    /// Did it contain a purchase?
    pub purchased: bool,
}

/// Sessionization settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionConfig {
    /// Inactivity gap that starts a new session.
    pub timeout_ms: f64,
    /// Events kept of the current session.
    pub max_events: usize,
    /// Past-session summaries kept.
    pub max_past: usize,
    /// A repeat of the same (type, item) within this window is a double-fired duplicate.
    pub duplicate_window_ms: f64,
}

/// What [`Sessions::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Appended to the current session.
    Appended,
    /// Started a new session (the previous one, if any, is now a summary).
    NewSession,
    /// Dropped as a double-fired duplicate of the previous event.
    Duplicate,
}

/// The current session and the recent past.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sessions {
    current: VecDeque<SessionEvent>,
    current_start_ms: f64,
    current_count: u32,
    past: VecDeque<SessionSummary>,
    #[serde(skip, default = "default_config")]
    config: SessionConfig,
}

fn default_config() -> SessionConfig {
    SessionConfig {
        timeout_ms: 30.0 * 60_000.0,
        max_events: 200,
        max_past: 20,
        duplicate_window_ms: 1000.0,
    }
}

impl Sessions {
    /// Empty history.
    pub fn new(config: SessionConfig) -> Self {
        Sessions {
            current: VecDeque::with_capacity(config.max_events.min(1024)),
            current_start_ms: 0.0,
            current_count: 0,
            past: VecDeque::new(),
            config,
        }
    }

    /// Replaces the configuration (after deserialising), trimming buffers to the new bounds.
    pub fn set_config(&mut self, config: SessionConfig) {
        self.config = config;
        while self.current.len() > config.max_events {
            self.current.pop_front();
        }
        while self.past.len() > config.max_past {
            self.past.pop_front();
        }
    }

    /// The configuration.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// Would an event at `ts_ms` start a new session?
    pub fn is_new_session(&self, ts_ms: f64) -> bool {
        match self.current.back() {
            None => true,
            Some(last) => ts_ms - last.ts_ms > self.config.timeout_ms,
        }
    }

    /// Is `ev` a double-fired repeat of the previous event (same type and item within the window)?
    pub fn is_duplicate(&self, ev: &SessionEvent) -> bool {
        self.current.back().is_some_and(|last| {
            last.kind == ev.kind
                && last.item == ev.item
                && ev.ts_ms.max(last.ts_ms) - last.ts_ms <= self.config.duplicate_window_ms
        })
    }

    /// Adds an event. Timestamps earlier than the previous event (clock skew, out-of-order delivery) are
    /// clamped to it, so that time within a session never runs backwards.
    pub fn push(&mut self, mut ev: SessionEvent) -> Pushed {
        if let Some(last) = self.current.back() {
            if ev.ts_ms < last.ts_ms {
                ev.ts_ms = last.ts_ms;
            }
        }
        if self.is_duplicate(&ev) {
            return Pushed::Duplicate;
        }
        let new = self.is_new_session(ev.ts_ms);
        if new {
            self.close_current();
            self.current_start_ms = ev.ts_ms;
        }
        if self.current.len() == self.config.max_events {
            self.current.pop_front();
        }
        self.current.push_back(ev);
        self.current_count = self.current_count.saturating_add(1);
        if new {
            Pushed::NewSession
        } else {
            Pushed::Appended
        }
    }

    /// Ends the current session (e.g. on timeout detected at the next event, or explicitly).
    /// Returns its summary.
    pub fn close_current(&mut self) -> Option<SessionSummary> {
        let last = self.current.back()?;
        let s = SessionSummary {
            start_ms: self.current_start_ms,
            end_ms: last.ts_ms,
            events: self.current_count,
            purchased: self.current.iter().any(|e| e.kind == EventKind::Purchase),
        };
        if self.past.len() == self.config.max_past {
            self.past.pop_front();
        }
        if self.config.max_past > 0 {
            self.past.push_back(s);
        }
        self.current.clear();
        self.current_count = 0;
        Some(s)
    }

    /// Events of the current session, oldest first (at most `max_events`).
    pub fn current(&self) -> &VecDeque<SessionEvent> {
        &self.current
    }

    /// Total events of the current session, including those no longer buffered.
    pub fn current_count(&self) -> u32 {
        self.current_count
    }

    /// Start of the current session.
    pub fn current_start_ms(&self) -> f64 {
        self.current_start_ms
    }

    /// Summaries of past sessions, oldest first.
    pub fn past(&self) -> &VecDeque<SessionSummary> {
        &self.past
    }

    /// Checks what a decoded (stored, imported, cross-tab or fuzzed) history may not contain: catalog
    /// indices at or past `catalog_len`, non-finite or backwards times, non-finite or negative prices,
    /// counters smaller than the buffer. Returns the first problem found.
    pub fn check(&self, catalog_len: usize) -> Result<(), String> {
        let mut prev = f64::NEG_INFINITY;
        for (i, e) in self.current.iter().enumerate() {
            if e.item as usize >= catalog_len {
                return Err(format!(
                    "event {i} refers to catalog row {} of {catalog_len}",
                    e.item
                ));
            }
            if !e.ts_ms.is_finite() || e.ts_ms < prev {
                return Err(format!("event {i} has time {} after {prev}", e.ts_ms));
            }
            prev = e.ts_ms;
            if let Some(p) = e.price {
                if !(p.is_finite() && p >= 0.0) {
                    return Err(format!("event {i} has price {p}"));
                }
            }
        }
        if !self.current_start_ms.is_finite()
            || self
                .current
                .front()
                .is_some_and(|e| e.ts_ms < self.current_start_ms)
        {
            return Err(format!("session start {}", self.current_start_ms));
        }
        if (self.current_count as usize) < self.current.len() {
            return Err(format!(
                "{} events counted, {} buffered",
                self.current_count,
                self.current.len()
            ));
        }
        for (i, p) in self.past.iter().enumerate() {
            if !(p.start_ms.is_finite() && p.end_ms.is_finite() && p.start_ms <= p.end_ms) {
                return Err(format!(
                    "past session {i} spans {} to {}",
                    p.start_ms, p.end_ms
                ));
            }
        }
        Ok(())
    }

    /// Rewrites the catalog index of every buffered event with `f`, dropping the events it maps to
    /// `None` (items no longer in the catalog). Returns how many were dropped. The session's event count
    /// and the past summaries (which name no item) are kept.
    pub fn remap(&mut self, mut f: impl FnMut(u32) -> Option<u32>) -> usize {
        let before = self.current.len();
        self.current.retain_mut(|e| match f(e.item) {
            Some(i) => {
                e.item = i;
                true
            }
            None => false,
        });
        before - self.current.len()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.current.clear();
        self.current_count = 0;
        self.past.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(item: u32, ts: f64) -> SessionEvent {
        SessionEvent {
            kind: EventKind::View,
            item,
            ts_ms: ts,
            price: None,
        }
    }

    fn cfg() -> SessionConfig {
        SessionConfig {
            timeout_ms: 1000.0,
            max_events: 3,
            max_past: 2,
            duplicate_window_ms: 10.0,
        }
    }

    #[test]
    fn splits_on_inactivity_and_bounds_buffers() {
        let mut s = Sessions::new(cfg());
        assert_eq!(s.push(ev(1, 0.0)), Pushed::NewSession);
        assert_eq!(s.push(ev(2, 100.0)), Pushed::Appended);
        assert_eq!(s.push(ev(3, 200.0)), Pushed::Appended);
        assert_eq!(s.push(ev(4, 300.0)), Pushed::Appended);
        assert_eq!(s.current().len(), 3);
        assert_eq!(s.current_count(), 4);
        assert_eq!(s.push(ev(5, 5000.0)), Pushed::NewSession);
        assert_eq!(s.past().len(), 1);
        assert_eq!(s.past()[0].events, 4);
        for i in 0..10 {
            s.push(ev(i, 10_000.0 * (i as f64 + 1.0)));
        }
        assert_eq!(s.past().len(), 2);
    }

    #[test]
    fn drops_double_fired_duplicates_and_clamps_backwards_time() {
        let mut s = Sessions::new(cfg());
        s.push(ev(1, 100.0));
        assert_eq!(s.push(ev(1, 105.0)), Pushed::Duplicate);
        assert_eq!(s.push(ev(1, 50.0)), Pushed::Duplicate);
        assert_eq!(s.push(ev(2, 50.0)), Pushed::Appended);
        assert_eq!(s.current().back().unwrap().ts_ms, 100.0);
        assert_eq!(s.push(ev(2, 200.0)), Pushed::Appended);
    }
}
