//! The scripted scenario that native and in-browser tests replay against the reference model, and the
//! expected outputs of the native core (`tests/fixtures/reference_expected.json`).

use nextclick::predictor::{Options, Prediction, Predictor, TrackStatus};
use nextclick::RawEvent;
use serde::{Deserialize, Serialize};

/// One step of the scenario: an event, the status it got, and the top-10 after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The event tracked.
    pub event: RawEvent,
    /// What `track` returned.
    pub status: TrackStatus,
    /// `predict(10)` after the event.
    pub top: Vec<Prediction>,
}

/// The scenario's events: two sessions, a duplicate, an unknown item, a purchase.
pub fn scenario_events() -> Vec<RawEvent> {
    let t0 = 1_767_225_600_000.0; // 2026-01-01T00:00:00Z
    let e = |kind: &str, id: &str, dt_s: f64| RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(t0 + dt_s * 1000.0),
        price: None,
    };
    vec![
        e("view", "ref-0007", 0.0),
        e("view", "ref-0042", 12.0),
        e("view", "ref-0042", 12.2), // double-fired
        e("click", "ref-0100", 30.0),
        e("cart", "ref-0100", 45.0),
        e("view", "no-such-item", 50.0),
        e("view", "ref-0013", 400.0),
        e("purchase", "ref-0100", 900.0),
        e("view", "ref-0200", 900.0 + 3.0 * 3600.0), // a new session
        e("view", "ref-0201", 905.0 + 3.0 * 3600.0),
    ]
}

/// The scenario, then a second session that runs past `L` = 50 events (so an incremental model's
/// key/value ring wraps): the events the contract-v2 reference is replayed on.
pub fn long_scenario_events() -> Vec<RawEvent> {
    let mut events = scenario_events();
    let last = events.last().and_then(|e| e.timestamp).unwrap_or(0.0);
    let kinds = ["view", "view", "click", "view", "cart"];
    for i in 0..60u32 {
        events.push(RawEvent {
            kind: kinds[i as usize % kinds.len()].into(),
            item_id: format!("ref-{:04}", (i * 37 + 5) % 300),
            timestamp: Some(last + f64::from(i + 1) * (7_000.0 + f64::from(i % 9) * 4_000.0)),
            price: None,
        });
    }
    events
}

/// Replays the scenario through a fresh predictor.
pub fn run(model: &[u8], catalog: &[u8]) -> anyhow::Result<Vec<Step>> {
    run_events(model, catalog, scenario_events())
}

/// Replays `events` through a fresh predictor: the status and the top-10 after each.
pub fn run_events(
    model: &[u8],
    catalog: &[u8],
    events: Vec<RawEvent>,
) -> anyhow::Result<Vec<Step>> {
    let mut p = Predictor::new(model, catalog, Options::default())?;
    let mut steps = Vec::new();
    for event in events {
        let status = p.track_raw(&event, 0.0)?;
        let top = p.predict(10)?;
        steps.push(Step { event, status, top });
    }
    Ok(steps)
}
