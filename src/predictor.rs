//! The predictor: event → session → encoder → (head) → top-K over the whole catalog.
//!
//! This is the exact code that runs in the page (through [`crate::wasm`]) and in the evaluation harness.

use serde::{Deserialize, Serialize};

use crate::catalog::{hex, parse_sha256_hex, sha256, Catalog};
use crate::contract::{self, EventKind};
use crate::error::{Error, EventError, Result};
use crate::event::{Event, RawEvent};
use crate::features::{SessionFeatures, NUM_FEATURES};
use crate::head::HeadOptions;
use crate::head::{Adapter, Logistic};
use crate::model::{Encoder, EncoderInput, KvCache, StepInput};
use crate::session::{Pushed, SessionConfig, SessionEvent, Sessions};
use crate::shop_head::ShopHead;
use crate::split::{ChunkRequest, Lookup};
use crate::state::{RestoreReport, Restored, ShopperState};

/// What to do with an event whose item is not in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum UnknownItemPolicy {
    /// Count it (see [`Stats::unknown_items`]) and ignore it.
    #[default]
    Skip,
    /// Reject it with [`EventError::UnknownItem`].
    Reject,
}

/// Predictor options (a plain JS object in the binding; unknown keys are an error so typos are caught).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(rename = "PredictorOptions", missing_as_null)
)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Options {
    /// Inactivity that ends a session, in minutes.
    pub session_timeout_minutes: f64,
    /// Events kept of the current session (the model sees the last `L` of them).
    pub max_session_events: usize,
    /// Past-session summaries kept.
    pub max_past_sessions: usize,
    /// Window in which a repeat of the same (type, item) is dropped as double-fired, in ms.
    pub duplicate_window_ms: f64,
    /// Unknown-item policy.
    pub unknown_items: UnknownItemPolicy,
    /// Leave out items bought in the current session.
    pub exclude_purchased: bool,
    /// Leave out the item of the most recent event (the page the shopper is on).
    pub exclude_current: bool,
    /// If set, the model bytes must have this SHA-256 (hex).
    pub model_sha256: Option<String>,
    /// If set, the catalog bytes must have this SHA-256 (hex).
    pub catalog_sha256: Option<String>,
    /// On-device heads.
    pub head: HeadOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            session_timeout_minutes: 30.0,
            max_session_events: 200,
            max_past_sessions: 50,
            duplicate_window_ms: 1000.0,
            unknown_items: UnknownItemPolicy::Skip,
            exclude_purchased: true,
            exclude_current: true,
            model_sha256: None,
            catalog_sha256: None,
            head: HeadOptions::default(),
        }
    }
}

impl Options {
    fn validate(&self) -> Result<SessionConfig> {
        let bad = |name, detail: String| Err(Error::InvalidOption { name, detail });
        if !(self.session_timeout_minutes.is_finite() && self.session_timeout_minutes > 0.0) {
            return bad(
                "sessionTimeoutMinutes",
                format!("{} must be a positive number", self.session_timeout_minutes),
            );
        }
        if !(1..=10_000).contains(&self.max_session_events) {
            return bad(
                "maxSessionEvents",
                format!("{} must be in 1..=10000", self.max_session_events),
            );
        }
        if self.max_past_sessions > 10_000 {
            return bad(
                "maxPastSessions",
                format!("{} must be at most 10000", self.max_past_sessions),
            );
        }
        if !(self.duplicate_window_ms.is_finite() && self.duplicate_window_ms >= 0.0) {
            return bad(
                "duplicateWindowMs",
                format!("{} must be a non-negative number", self.duplicate_window_ms),
            );
        }
        if let Err((name, detail)) = self.head.validate() {
            return bad(name, detail);
        }
        Ok(SessionConfig {
            timeout_ms: self.session_timeout_minutes * 60_000.0,
            max_events: self.max_session_events,
            max_past: self.max_past_sessions,
            duplicate_window_ms: self.duplicate_window_ms,
        })
    }
}

/// One predicted item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// Catalog item id.
    pub item_id: String,
    /// Model score (dot product of session and item vectors); higher is more likely.
    pub score: f32,
    /// Title from the catalog metadata, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// URL from the catalog metadata, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Price from the catalog metadata, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

/// What `track` did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    /// Added to the current session.
    Accepted,
    /// Added, and it started a new session.
    NewSession,
    /// Dropped: a double-fired duplicate.
    Duplicate,
    /// Dropped: item not in the catalog (policy `skip`).
    UnknownItem,
}

pub use crate::state::Stats;

/// How far ahead of the page's clock an event timestamp may be before it is clamped (5 minutes).
pub const MAX_FUTURE_SKEW_MS: f64 = 5.0 * 60_000.0;

/// Events of the current session whose items' lists a partitioned (IVF-PQ) catalog probes besides the
/// lists nearest the session vector (see [`Catalog::search_near`]): the last 8, so at most 8 lists more a
/// query. A third of a clickstream's next events re-view an item of the session.
pub const PROBE_SESSION_EVENTS: usize = 8;

/// Intent scores of the current session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// Probability that this session ends with a purchase.
    pub purchase: f32,
    /// Probability that the most recent event is the session's last (the shopper is about to leave).
    pub exit: f32,
}

/// The on-device predictor: a model and catalog (shared by every shopper) plus one shopper's state.
#[derive(Debug)]
pub struct Predictor {
    encoder: Encoder,
    catalog: Catalog,
    options: Options,
    state: ShopperState,
    learning: bool,
    temperature: f32,
    input: EncoderInput,
    scratch: crate::ivfpq::Scratch,
    /// Raw (source-model) session vector of the current session state, until the next accepted event.
    cached_session_vec: Option<Vec<f32>>,
    /// The last [`Predictor::predict_indices`] answer and its `k`, until anything it depends on changes
    /// (the session, the heads, the resident chunks of a split catalog): a split catalog's page asks
    /// for the chunks of a prediction and then for the prediction, one search for both.
    cached_top: Option<(usize, Vec<(usize, f32)>)>,
    /// The shop head `θ₀` new shoppers start from (`None`: the source model).
    shop_head: Option<Adapter>,
    /// The shop's intent priors (purchase, exit) from its shop head file, where it has them.
    shop_intent: (Option<Logistic>, Option<Logistic>),
    /// A contract-v2 encoder's keys and values of the current session (`None` for a v1 encoder).
    kv: Option<KvState>,
}

/// The key/value cache of the current session for an incremental (contract v2) encoder, and which of the
/// session's events it holds: the session that started at `start_ms`, its events up to the `count`-th.
/// Checked against the session before every use, so a session that changed in any other way than by new
/// events (a new session, a restored or replaced state) is replayed into an empty cache instead.
#[derive(Debug)]
struct KvState {
    cache: KvCache,
    start_ms: f64,
    count: u64,
    /// The session vector after the `count`-th event.
    last: Option<Vec<f32>>,
}

fn check_pin(what: &'static str, bytes: &[u8], pin: &Option<String>) -> Result<()> {
    if let Some(expected) = pin {
        let want = parse_sha256_hex(expected).ok_or_else(|| Error::InvalidOption {
            name: if what == "model" {
                "modelSha256"
            } else {
                "catalogSha256"
            },
            detail: format!("{expected:?} is not a 64-character hex SHA-256"),
        })?;
        let got = sha256(bytes);
        if want != got {
            return Err(Error::Integrity {
                what,
                expected: expected.to_lowercase(),
                actual: hex(&got),
            });
        }
    }
    Ok(())
}

impl Predictor {
    /// Loads a model and a catalog from bytes and checks that they belong together.
    pub fn new(model_bytes: &[u8], catalog_bytes: &[u8], options: Options) -> Result<Predictor> {
        Predictor::new_with_catalog_digest(model_bytes, catalog_bytes, options, None)
    }

    /// [`Predictor::new`], with the SHA-256 of the catalog's checksummed part computed by the caller
    /// (see [`Catalog::from_bytes_with_body_digest`]: the page's WebCrypto digest, so the integrity check
    /// costs no wasm time at load).
    pub fn new_with_catalog_digest(
        model_bytes: &[u8],
        catalog_bytes: &[u8],
        options: Options,
        catalog_body_digest: Option<&[u8; 32]>,
    ) -> Result<Predictor> {
        let session_config = options.validate()?;
        check_pin("model", model_bytes, &options.model_sha256)?;
        check_pin("catalog", catalog_bytes, &options.catalog_sha256)?;
        let catalog = Catalog::from_bytes_with_body_digest(catalog_bytes, catalog_body_digest)?;
        let encoder = Encoder::from_bytes(model_bytes)?;
        Predictor::from_parts(encoder, catalog, options, session_config)
    }

    /// Builds a predictor from an already loaded encoder and catalog.
    pub fn from_loaded(encoder: Encoder, catalog: Catalog, options: Options) -> Result<Predictor> {
        let session_config = options.validate()?;
        Predictor::from_parts(encoder, catalog, options, session_config)
    }

    fn from_parts(
        encoder: Encoder,
        catalog: Catalog,
        options: Options,
        sc: SessionConfig,
    ) -> Result<Predictor> {
        let shape = encoder.shape();
        if catalog.dim() != shape.dim {
            return Err(Error::DimensionMismatch {
                model: shape.dim,
                catalog: catalog.dim(),
            });
        }
        if catalog.model_sha256() != encoder.sha256() {
            return Err(Error::ModelHashMismatch {
                model: hex(encoder.sha256()),
                catalog: hex(catalog.model_sha256()),
            });
        }
        let temperature = options.head.temperature.unwrap_or(encoder.temperature());
        let kv = encoder.cache_shape().map(|c| KvState {
            cache: KvCache::new(c),
            start_ms: f64::NAN,
            count: 0,
            last: None,
        });
        Ok(Predictor {
            kv,
            input: EncoderInput::empty(shape),
            scratch: Default::default(),
            state: ShopperState::new(sc, shape.dim),
            learning: options.head.enabled,
            temperature,
            encoder,
            catalog,
            options,
            cached_session_vec: None,
            cached_top: None,
            shop_head: None,
            shop_intent: (None, None),
        })
    }

    /// A fresh shopper state for this predictor's model and options (for replaying many shoppers): the
    /// source heads, its adapter at the shop head when one is set, its intent heads at the shop's intent
    /// priors when the shop head has them.
    pub fn new_state(&self) -> ShopperState {
        let mut st = ShopperState::new(self.state.sessions.config(), self.encoder.shape().dim);
        if let Some(h) = &self.shop_head {
            st.adapter = Adapter::starting_at(h);
        }
        if let Some(h) = &self.shop_intent.0 {
            st.purchase_head = h.as_prior();
        }
        if let Some(h) = &self.shop_intent.1 {
            st.exit_head = h.as_prior();
        }
        st
    }

    /// Sets the shop head `θ₀` (a [`ShopHead`] file's bytes, checked against this model), or removes it
    /// with `None`. A shopper who has not learned anything yet (no adapter steps) starts over from it;
    /// a shopper with learned state keeps it, now blended with the new `θ₀`.
    pub fn set_shop_head(&mut self, bytes: Option<&[u8]>) -> Result<Option<ShopHead>> {
        let head = match bytes {
            None => None,
            Some(b) => {
                let h = ShopHead::from_bytes(b)?;
                h.check_model(self.encoder.sha256(), self.encoder.shape().dim)?;
                Some(h)
            }
        };
        self.shop_head = head.as_ref().map(|h| h.adapter.clone());
        self.shop_intent = head
            .as_ref()
            .map_or((None, None), |h| (h.purchase.clone(), h.exit.clone()));
        let fresh = self.new_state();
        if self.state.adapter.steps() == 0 {
            self.state.adapter = fresh.adapter;
        }
        // likewise an intent head that has learned nothing yet takes the new starting point
        if self.state.purchase_head.updates() == 0 {
            self.state.purchase_head = fresh.purchase_head;
        }
        if self.state.exit_head.updates() == 0 {
            self.state.exit_head = fresh.exit_head;
        }
        self.invalidate();
        Ok(head)
    }

    /// The shop head in force, if any.
    pub fn shop_head(&self) -> Option<&Adapter> {
        self.shop_head.as_ref()
    }

    /// Takes the current shopper's state out, leaving a fresh one.
    pub fn take_state(&mut self) -> ShopperState {
        self.invalidate();
        self.reset_kv();
        let fresh = self.new_state();
        std::mem::replace(&mut self.state, fresh)
    }

    /// Puts a shopper's state in (replacing the current one, which is dropped). The state is checked
    /// against this predictor's model (sizes, finiteness) and catalog (every item row in range, times and
    /// prices valid) first; a state that does not fit is refused and the current one kept.
    pub fn put_state(&mut self, mut state: ShopperState) -> Result<()> {
        state.check(self.encoder.shape().dim)?;
        state
            .sessions
            .check(self.catalog.len())
            .map_err(Error::State)?;
        state.sessions.set_config(self.state.sessions.config());
        self.invalidate();
        self.reset_kv();
        self.state = state;
        Ok(())
    }

    /// Serialises the shopper's state (versioned, bound to this model, items named by their ids,
    /// checksummed).
    pub fn export_state(&self) -> Vec<u8> {
        self.state.to_bytes(self.encoder.sha256(), &self.catalog)
    }

    /// Restores a shopper's state from [`Predictor::export_state`] bytes, possibly written under another
    /// catalog or model (see [`ShopperState::from_bytes`] for the policy; the report says what it did).
    /// Corrupted or incompatible state is refused with [`Error::State`] and the current state is kept.
    pub fn import_state(&mut self, bytes: &[u8]) -> Result<RestoreReport> {
        let missing = self.chunks_for_state(bytes)?.len();
        if missing > 0 {
            // A split catalog cannot yet tell a removed item from one it has not looked up: refuse
            // rather than drop the shopper's events (nothing changes; fetch, add, import again).
            return Err(Error::CatalogChunksNeeded(missing));
        }
        let fresh = self.new_state();
        let Restored { state, report } =
            ShopperState::from_bytes(bytes, self.encoder.sha256(), &self.catalog, &fresh)?;
        self.put_state(state)?;
        self.pin_session();
        Ok(report)
    }

    /// Rows the current session refers to (what a split catalog must keep).
    fn session_rows(&self) -> Vec<usize> {
        self.state
            .sessions
            .current()
            .iter()
            .map(|e| e.item as usize)
            .collect()
    }

    /// Drops what is derived from the session state (its session vector and the last top-k): called on
    /// every change of the session, the heads or the shopper.
    fn invalidate(&mut self) {
        self.cached_session_vec = None;
        self.cached_top = None;
    }

    /// Empties the incremental encoder's cache: the next session vector replays the session into it.
    fn reset_kv(&mut self) {
        if let Some(kv) = &mut self.kv {
            kv.cache.clear();
            kv.start_ms = f64::NAN;
            kv.count = 0;
            kv.last = None;
        }
    }

    /// The incremental (contract v2) encoder's session vector of the current, non-empty session: steps
    /// the events the cache does not hold yet. When the cache holds another session (or a part of this
    /// one that is gone), it is emptied and the session's last `reach + 1` kept events are replayed,
    /// which gives the same cache as stepping the whole session ([`crate::model::CacheShape::reach`]).
    fn step_session(&mut self) -> Result<Vec<f32>> {
        let kv = self.kv.as_mut().expect("a v2 encoder has a cache");
        let sessions = &self.state.sessions;
        let events = sessions.current();
        let n = events.len();
        let count = u64::from(sessions.current_count()).max(n as u64);
        let start = sessions.current_start_ms();
        let holds = kv.start_ms == start && kv.count <= count && count - kv.count <= n as u64;
        if !holds || (kv.count == count && kv.last.is_none()) {
            let replay = n.min(kv.cache.shape().reach() + 1);
            kv.cache.clear();
            kv.start_ms = start;
            kv.count = count - replay as u64;
            kv.last = None;
        }
        let d = self.encoder.shape().dim;
        let mut row = vec![0f32; d];
        let first = n - (count - kv.count) as usize;
        for i in first..n {
            let e = &events[i];
            let index = count - (n - i) as u64;
            let gap = if i > 0 {
                contract::gap_bucket(Some((e.ts_ms - events[i - 1].ts_ms) / 1000.0))
            } else {
                contract::GAP_FIRST_OR_UNKNOWN
            };
            self.catalog.copy_row(e.item as usize, &mut row);
            let input = StepInput {
                item: &row,
                event_type: e.kind.id(),
                time_gap: gap,
                index,
            };
            let out = self.encoder.step(&mut kv.cache, &input)?;
            kv.count += 1;
            kv.last = Some(out);
        }
        Ok(kv.last.clone().expect("a non-empty session was stepped"))
    }

    /// The distinct rows of the current session's last [`PROBE_SESSION_EVENTS`] events, most recent
    /// first: a partitioned catalog also probes their lists ([`Catalog::search_near`]), so re-views and
    /// the current item's neighbours are scored as the exact scan scores them.
    fn probe_rows(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = Vec::new();
        for e in self
            .state
            .sessions
            .current()
            .iter()
            .rev()
            .take(PROBE_SESSION_EVENTS)
        {
            if !rows.contains(&(e.item as usize)) {
                rows.push(e.item as usize);
            }
        }
        rows
    }

    /// Tells a split catalog which rows the current session names (their lists and ids stay resident).
    fn pin_session(&mut self) {
        if self.catalog.split().is_some() {
            let rows = self.session_rows();
            if let Some(sp) = self.catalog.split_mut() {
                sp.pin(&rows);
            }
        }
    }

    /// Split catalogs (format version 3): the body chunks needed before events naming `ids` can be
    /// tracked — directory buckets, then (once those are added) the lists of the items' vectors. Empty
    /// when nothing is missing, and always for other catalogs. Call again after adding: a bucket can
    /// reveal a list to fetch.
    pub fn chunks_for_ids<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Vec<ChunkRequest> {
        self.catalog
            .split_mut()
            .map_or_else(Vec::new, |sp| sp.requests_for_ids(ids))
    }

    /// Split catalogs: the chunks needed to import the state `bytes` (the buckets and lists of the items
    /// it names). Corrupted bytes are an [`Error::State`].
    pub fn chunks_for_state(&mut self, bytes: &[u8]) -> Result<Vec<ChunkRequest>> {
        let Some(sp) = self.catalog.split_mut() else {
            return Ok(Vec::new());
        };
        let ids = ShopperState::item_ids(bytes)?;
        Ok(sp.requests_for_ids(ids.iter().map(String::as_str)))
    }

    /// Split catalogs: the chunks needed for a top-`k` prediction of the current session — first the
    /// lists the query scans, then (once those are resident) the item blocks of the items it would
    /// show. Empty when everything is resident (or the session is empty).
    pub fn chunks_for_predict(&mut self, k: usize) -> Result<Vec<ChunkRequest>> {
        if self.catalog.split().is_none() || k == 0 {
            return Ok(Vec::new());
        }
        let Some(q) = self.session_vector()? else {
            return Ok(Vec::new());
        };
        let excluded = self.exclusions().len();
        let near = self.probe_rows();
        let Some(sp) = self.catalog.split_mut() else {
            return Ok(Vec::new());
        };
        let lists = sp.requests_for_query(&q, k, excluded, &near, &mut self.scratch);
        if !lists.is_empty() {
            return Ok(lists);
        }
        let top = self.predict_indices(k)?;
        let rows: Vec<usize> = top.iter().map(|&(i, _)| i).collect();
        let Some(sp) = self.catalog.split_mut() else {
            return Ok(Vec::new());
        };
        sp.touch_rows(&rows);
        Ok(sp.requests_for_rows(rows))
    }

    /// Split catalogs: sets how much of the body stays in memory (no effect on other catalogs).
    pub fn set_catalog_limits(&mut self, limits: crate::split::Limits) {
        if let Some(sp) = self.catalog.split_mut() {
            sp.set_limits(limits);
        }
        self.cached_top = None; // lists may have been dropped
    }

    /// Split catalogs: adds a fetched body chunk (checked against the catalog's SHA-256 of it; refused
    /// with [`Error::CatalogChunk`] otherwise, changing nothing). Memory stays within the catalog's
    /// limits: what the current session names is kept, the least recently used is dropped.
    pub fn add_chunk(&mut self, request: &ChunkRequest, bytes: &[u8]) -> Result<()> {
        let rows = self.session_rows();
        let sp = self
            .catalog
            .split_mut()
            .ok_or_else(|| Error::CatalogInvalid {
                what: "chunk",
                detail: "this catalog is not split (format version 3): it has no chunks to add"
                    .into(),
            })?;
        sp.add(request, bytes, &rows)?;
        // a list changes what a search scans (and may push another out); item blocks and directory
        // buckets do not (a row whose block is missing is left out when the prediction is shown)
        if request.kind == crate::split::ChunkKind::List {
            self.cached_top = None;
        }
        Ok(())
    }

    /// Turns on-device learning on or off (off: nothing is learned; predictions still work).
    pub fn set_learning(&mut self, on: bool) {
        self.learning = on;
    }

    /// Is on-device learning on?
    pub fn learning(&self) -> bool {
        self.learning
    }

    /// Validates and records a raw event. `now_ms` (the page's clock; 0 when replaying logs) fills a
    /// missing timestamp, and a timestamp more than [`MAX_FUTURE_SKEW_MS`] ahead of it (a skewed client
    /// clock) is clamped to it and counted.
    pub fn track_raw(&mut self, raw: &RawEvent, now_ms: f64) -> Result<TrackStatus> {
        match raw.validate(now_ms) {
            Ok(mut ev) => {
                if now_ms > 0.0 && ev.timestamp_ms > now_ms + MAX_FUTURE_SKEW_MS {
                    ev.timestamp_ms = now_ms;
                    self.state.stats.clock_skewed += 1;
                }
                self.track(&ev)
            }
            Err(e) => {
                self.state.stats.rejected += 1;
                Err(e.into())
            }
        }
    }

    /// Records a validated event.
    pub fn track(&mut self, ev: &Event) -> Result<TrackStatus> {
        let item = match self.catalog.lookup(&ev.item_id) {
            Lookup::Row(i) => Some(i),
            Lookup::Absent => None,
            Lookup::Unresolved(_) => return Err(Error::CatalogChunksNeeded(1)),
        };
        if let (Some(i), Some(sp)) = (item, self.catalog.split()) {
            if !sp.has_list(sp.list_of(i)) {
                return Err(Error::CatalogChunksNeeded(1));
            }
        }
        let Some(item) = item else {
            self.state.stats.unknown_items += 1;
            return match self.options.unknown_items {
                UnknownItemPolicy::Skip => Ok(TrackStatus::UnknownItem),
                UnknownItemPolicy::Reject => {
                    self.state.stats.rejected += 1;
                    Err(EventError::UnknownItem(ev.item_id.clone()).into())
                }
            };
        };
        let price = ev
            .price
            .or_else(|| self.catalog.meta(item).and_then(|m| m.price))
            .filter(|p| p.is_finite() && (0.0..=crate::event::MAX_PRICE).contains(p))
            .map(|p| p as f32);
        let sev = SessionEvent {
            kind: ev.kind,
            item: item as u32,
            ts_ms: ev.timestamp_ms,
            price,
        };
        if self.state.sessions.is_duplicate(&sev) {
            self.state.stats.duplicates += 1;
            return Ok(TrackStatus::Duplicate);
        }
        let new_session = self.state.sessions.is_new_session(sev.ts_ms);
        if new_session {
            self.finish_session_labels();
        } else if self.learning {
            // The event is the observed next item of the session state before it: learn from it.
            if let Some(ctx) = self.raw_session_vector()? {
                let ctx = ctx.to_vec();
                let (opts, t) = (&self.options.head, self.temperature);
                self.state.adapter.learn_with_base(
                    &ctx,
                    item,
                    &self.catalog,
                    opts,
                    t,
                    self.shop_head.as_ref(),
                );
                let lr = opts.intent_learning_rate;
                if let Some(x) = self.state.pending_exit.take() {
                    self.state.exit_head.update(&x, false, lr);
                }
            }
        }
        let pushed = self.state.sessions.push(sev);
        self.invalidate();
        if pushed == Pushed::NewSession {
            self.reset_kv();
        }
        if let Some(sp) = self.catalog.split_mut() {
            sp.pin_id(item, &ev.item_id);
        }
        self.pin_session();
        self.state.stats.accepted += 1;
        if ev.kind == EventKind::Purchase && self.learning {
            let lr = self.options.head.intent_learning_rate;
            for x in self.state.pending_purchase.drain(..) {
                self.state.purchase_head.update(&x, true, lr);
            }
        }
        Ok(if pushed == Pushed::NewSession {
            self.state.stats.sessions += 1;
            TrackStatus::NewSession
        } else {
            TrackStatus::Accepted
        })
    }

    /// Labels of a session that has ended: its last snapshot was an exit; its snapshots after the last
    /// purchase did not lead to one.
    fn finish_session_labels(&mut self) {
        let lr = self.options.head.intent_learning_rate;
        let learn = self.learning;
        let st = &mut self.state;
        if let Some(x) = st.pending_exit.take() {
            if learn {
                st.exit_head.update(&x, true, lr);
            }
        }
        for x in st.pending_purchase.drain(..) {
            if learn {
                st.purchase_head.update(&x, false, lr);
            }
        }
    }

    /// Ends the current session now (e.g. the shopper left; the harness at the end of a user's log):
    /// applies the end-of-session labels to the intent heads and archives the session.
    pub fn end_session(&mut self) {
        self.finish_session_labels();
        self.state.sessions.close_current();
        self.invalidate();
        self.reset_kv();
    }

    /// Fills the encoder input from the last `L` events of the current session (right-aligned).
    fn fill_input(&mut self) {
        let shape = self.encoder.shape();
        let (l, d) = (shape.max_len, shape.dim);
        let events = self.state.sessions.current();
        let n = events.len().min(l);
        let inp = &mut self.input;
        inp.items.iter_mut().for_each(|x| *x = 0.0);
        inp.event_types
            .iter_mut()
            .for_each(|x| *x = contract::PAD_ID);
        inp.time_gaps.iter_mut().for_each(|x| *x = contract::PAD_ID);
        inp.mask.iter_mut().for_each(|x| *x = 0.0);
        let skip = events.len() - n;
        let mut prev_ts: Option<f64> = if skip > 0 {
            Some(events[skip - 1].ts_ms)
        } else {
            None
        };
        for (k, e) in events.iter().skip(skip).enumerate() {
            let p = l - n + k;
            self.catalog
                .copy_row(e.item as usize, &mut inp.items[p * d..(p + 1) * d]);
            inp.event_types[p] = e.kind.id();
            inp.time_gaps[p] = contract::gap_bucket(prev_ts.map(|t| (e.ts_ms - t) / 1000.0));
            inp.mask[p] = 1.0;
            prev_ts = Some(e.ts_ms);
        }
    }

    /// The source model's session vector of the current session (cached until the next accepted event),
    /// or `None` when the session is empty. Computing it records an intent snapshot for later labels.
    pub fn raw_session_vector(&mut self) -> Result<Option<&[f32]>> {
        if self.state.sessions.current().is_empty() {
            return Ok(None);
        }
        if self.cached_session_vec.is_none() {
            let s = if self.kv.is_some() {
                self.step_session()?
            } else {
                self.fill_input();
                self.encoder.run(&self.input)?
            };
            let x = self.intent_input(&s);
            self.state.pending_exit = Some(x.clone());
            if self.state.pending_purchase.len() == crate::state::MAX_PENDING {
                self.state.pending_purchase.remove(0);
            }
            self.state.pending_purchase.push(x);
            self.cached_session_vec = Some(s);
        }
        Ok(self.cached_session_vec.as_deref())
    }

    /// The served session vector: the source vector through the on-device adapter.
    pub fn session_vector(&mut self) -> Result<Option<Vec<f32>>> {
        let alpha = self.state.adapter.alpha(&self.options.head);
        let Some(s) = self.raw_session_vector()? else {
            return Ok(None);
        };
        let s = s.to_vec();
        Ok(Some(self.state.adapter.apply_with_base(
            &s,
            alpha,
            self.shop_head.as_ref(),
        )))
    }

    /// The blending weight `α` of the adapter in force.
    pub fn alpha(&self) -> f32 {
        self.state.adapter.alpha(&self.options.head)
    }

    /// Hand-made features of the current session, at the time of its last event.
    pub fn features(&self) -> SessionFeatures {
        let now = self
            .state
            .sessions
            .current()
            .back()
            .map(|e| e.ts_ms)
            .unwrap_or(0.0);
        SessionFeatures::compute(&self.state.sessions, &self.catalog, now)
    }

    fn intent_input(&self, s: &[f32]) -> Vec<f32> {
        let mut x = Vec::with_capacity(NUM_FEATURES + s.len());
        x.extend_from_slice(&self.features().to_vec());
        x.extend_from_slice(s);
        // kept as an intent snapshot in the state: a non-finite value (extreme imported times or weights)
        // would make the state impossible to write back, so it counts as 0
        x.iter_mut()
            .filter(|v| !v.is_finite())
            .for_each(|v| *v = 0.0);
        x
    }

    /// The intent heads' input for the current session (the session features, then the source session
    /// vector), `None` for an empty session: what a shop scores its own intent heads on
    /// (`nextclick_model::shop_head::fit_intent`).
    pub fn intent_features(&mut self) -> Result<Option<Vec<f32>>> {
        let Some(s) = self.raw_session_vector()?.map(<[f32]>::to_vec) else {
            return Ok(None);
        };
        Ok(Some(self.intent_input(&s)))
    }

    /// Purchase propensity and exit risk of the current session (`None` for an empty session).
    pub fn intent(&mut self) -> Result<Option<Intent>> {
        let Some(s) = self.raw_session_vector()?.map(<[f32]>::to_vec) else {
            return Ok(None);
        };
        let x = self.intent_input(&s);
        Ok(Some(Intent {
            purchase: self.state.purchase_head.predict(&x),
            exit: self.state.exit_head.predict(&x),
        }))
    }

    /// Catalog indices and scores of the top-`k` items (what [`Predictor::predict`] returns, without
    /// the metadata): the evaluation harness's entry point.
    pub fn predict_indices(&mut self, k: usize) -> Result<Vec<(usize, f32)>> {
        // (a kept answer was computed from the session vector in force: nothing to encode or adapt again)
        if let Some((kk, top)) = &self.cached_top {
            if *kk == k {
                return Ok(top.clone());
            }
        }
        let Some(q) = self.session_vector()? else {
            return Ok(Vec::new());
        };
        if k == 0 {
            return Ok(Vec::new());
        }
        let exclude = self.exclusions();
        let near = self.probe_rows();
        let top = self
            .catalog
            .search_near(&q, k, &exclude, &near, &mut self.scratch);
        self.cached_top = Some((k, top.clone()));
        Ok(top)
    }

    /// Rows the rules leave out of a prediction (purchased in this session, the current item), sorted.
    fn exclusions(&self) -> Vec<usize> {
        let events = self.state.sessions.current();
        let mut exclude = Vec::new();
        if self.options.exclude_purchased {
            exclude.extend(
                events
                    .iter()
                    .filter(|e| e.kind == EventKind::Purchase)
                    .map(|e| e.item as usize),
            );
        }
        if self.options.exclude_current {
            if let Some(e) = events.back() {
                exclude.push(e.item as usize);
            }
        }
        exclude.sort_unstable();
        exclude.dedup();
        exclude
    }

    /// Top-`k` items for the current session, best first, without the items the rules exclude.
    /// An empty session yields an empty list.
    pub fn predict(&mut self, k: usize) -> Result<Vec<Prediction>> {
        let top = self.predict_indices(k)?;
        Ok(top
            .into_iter()
            // a split catalog's row whose item block could not be fetched has no id to show yet
            .filter(|&(i, _)| !self.catalog.id(i).is_empty())
            .map(|(i, score)| {
                let meta = self.catalog.meta(i);
                Prediction {
                    item_id: self.catalog.id(i).to_string(),
                    score,
                    title: meta.map(|m| m.title.clone()).filter(|t| !t.is_empty()),
                    url: meta.map(|m| m.url.clone()).filter(|u| !u.is_empty()),
                    price: meta.and_then(|m| m.price),
                }
            })
            .collect())
    }

    /// Counts an event rejected before it reached [`Predictor::track_raw`] (e.g. undecodable in the binding).
    pub fn note_rejected(&mut self) {
        self.state.stats.rejected += 1;
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Session history.
    pub fn sessions(&self) -> &Sessions {
        &self.state.sessions
    }

    /// The shopper's state.
    pub fn state(&self) -> &ShopperState {
        &self.state
    }

    /// Erases every trace of the shopper held in memory: sessions, counters, learned heads, caches.
    pub fn forget(&mut self) {
        self.state = self.new_state();
        self.invalidate();
        self.reset_kv();
        // which chunks a split catalog holds says where the shopper browsed: dropped too
        if let Some(sp) = self.catalog.split_mut() {
            sp.clear();
        }
    }
}

/// Indices and scores of the `k` largest finite scores, best first (ties: lower index first).
pub fn top_k(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    use std::cmp::Ordering;
    use std::collections::BinaryHeap;
    #[derive(PartialEq)]
    struct Entry(f32, usize);
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        // Reversed so that the heap's top is the worst kept entry.
        fn cmp(&self, other: &Self) -> Ordering {
            other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
        }
    }
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        if !s.is_finite() {
            continue;
        }
        if heap.len() < k {
            heap.push(Entry(s, i));
        } else if let Some(worst) = heap.peek() {
            if s > worst.0 {
                heap.pop();
                heap.push(Entry(s, i));
            }
        }
    }
    let mut v: Vec<(usize, f32)> = heap.into_iter().map(|e| (e.1, e.0)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_sorted_and_skips_excluded() {
        let s = [0.1, f32::NEG_INFINITY, 0.9, 0.5, 0.9, f32::NAN];
        assert_eq!(top_k(&s, 3), vec![(2, 0.9), (4, 0.9), (3, 0.5)]);
        assert_eq!(top_k(&s, 10).len(), 4);
        assert!(top_k(&s, 0).is_empty());
    }

    #[test]
    fn options_reject_unknown_keys_and_bad_values() {
        let e = serde_json::from_str::<Options>(r#"{"sesionTimeoutMinutes": 5}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"));
        let o = Options {
            session_timeout_minutes: -1.0,
            ..Options::default()
        };
        assert!(matches!(
            o.validate(),
            Err(Error::InvalidOption {
                name: "sessionTimeoutMinutes",
                ..
            })
        ));
    }
}
