//! The `wasm-bindgen` layer: a `Predictor` class for JavaScript. Thin by design: it converts JS values
//! with `serde-wasm-bindgen`, calls the core, and turns every core error into a JS `Error` with the core's
//! message. Nothing here panics on input; a panic (a bug) is logged to the console once.

use wasm_bindgen::prelude::*;

use crate::event::RawEvent;
use crate::predictor::{Options, Predictor};

// TypeScript: the types that cross this boundary are declared from their Rust definitions by
// `#[derive(Tsify)]` (wasm32 only, declarations only: values are still converted by serde-wasm-bindgen /
// serde_json below), with their serde names: `PredictorOptions` (`Options`), `HeadOptions`,
// `UnknownItemPolicy`, `NextclickEvent` (`RawEvent`), `EventKind`, `TrackStatus`, `Prediction`, `Intent`,
// `SessionFeatures`, `PredictorStats` (`Stats`), `RestoreReport`, `ShopHeadInfo`, `ChunkRequest`, `ChunkKind`
// and `CatalogResident`. wasm-pack writes them
// into `pkg/nextclick.d.ts`; the SDK's `nextclick.d.ts` imports them from there (docs/types.md).

/// The shop head in force, as `setShopHead` returns it.
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
struct ShopHeadInfo {
    /// Customers the head was learned from.
    customers: u32,
    /// Purchases it was learned from.
    purchases: u32,
    /// Does it carry a purchase-intent prior (learned from the shop's event history)? New shoppers'
    /// purchase scores then start from it instead of the hand-set prior.
    purchase_prior: bool,
    /// Does it carry an exit-risk prior, likewise?
    exit_prior: bool,
}

/// What a split catalog holds in memory, as `catalogResident` returns it.
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
struct CatalogResident {
    /// Resident lists.
    lists: usize,
    /// Resident item blocks.
    blocks: usize,
    /// Resident directory buckets.
    buckets: usize,
    /// Approximate wasm heap bytes of the catalog (head and resident chunks).
    heap_bytes: usize,
}

fn install_panic_hook() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(
                &format!("nextclick: internal error (please report): {info}").into(),
            );
        }));
    });
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("nextclick: {e}"))
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}

/// The on-device predictor.
#[wasm_bindgen(js_name = Predictor)]
pub struct JsPredictor {
    inner: Predictor,
}

#[wasm_bindgen(js_class = Predictor)]
impl JsPredictor {
    /// Loads a contract-v1 ONNX model and a catalog built for it. Throws on bad bytes or options.
    ///
    /// `catalogDigest` (optional): the SHA-256 of the catalog's bytes without their last 32 (its checksum),
    /// as `crypto.subtle.digest("SHA-256", catalog.subarray(0, catalog.length - 32))` computes it. Given,
    /// the catalog's checksum is compared with it instead of being recomputed in wasm (≈ 100 ms for 20k
    /// items on a first visit); a mismatch throws as a corrupted catalog does. It stands in for hashing
    /// `catalog`, so it must be computed from these bytes (a digest of other bytes defeats the check).
    /// The SDK computes it while the wasm compiles (`sdk/engine.js` `catalogDigest`).
    pub fn create(
        model: &[u8],
        catalog: &[u8],
        #[wasm_bindgen(unchecked_param_type = "PredictorOptions | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = catalogDigest)] catalog_digest: Option<Vec<u8>>,
    ) -> Result<JsPredictor, JsError> {
        install_panic_hook();
        let options: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            // Through JSON rather than serde-wasm-bindgen: the latter only looks up known keys, so a
            // misspelt option would be silently ignored instead of reported.
            let json = js_sys::JSON::stringify(&options)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| js_err("invalid options: not a JSON-compatible object"))?;
            serde_json::from_str(&json).map_err(|e| js_err(format!("invalid options: {e}")))?
        };
        let digest: Option<[u8; 32]> = match catalog_digest {
            None => None,
            Some(d) => Some(d.as_slice().try_into().map_err(|_| {
                js_err(format!(
                    "catalogDigest must be the 32 bytes of a SHA-256, got {} bytes",
                    d.len()
                ))
            })?),
        };
        Ok(JsPredictor {
            inner: Predictor::new_with_catalog_digest(model, catalog, options, digest.as_ref())
                .map_err(js_err)?,
        })
    }

    /// Records one event. Throws (with the reason) when the event is rejected.
    #[wasm_bindgen(unchecked_return_type = "TrackStatus")]
    pub fn track(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "NextclickEvent")] event: JsValue,
    ) -> Result<JsValue, JsError> {
        let raw: RawEvent = match serde_wasm_bindgen::from_value(event) {
            Ok(r) => r,
            Err(e) => {
                self.inner.note_rejected();
                return Err(js_err(crate::Error::InvalidEvent(
                    crate::EventError::Malformed(e.to_string()),
                )));
            }
        };
        let status = self
            .inner
            .track_raw(&raw, js_sys::Date::now())
            .map_err(js_err)?;
        to_js(&status)
    }

    /// The top-`k` next items for the current session, best first.
    #[wasm_bindgen(unchecked_return_type = "Prediction[]")]
    pub fn predict(&mut self, k: usize) -> Result<JsValue, JsError> {
        to_js(&self.inner.predict(k.min(1000)).map_err(js_err)?)
    }

    /// Counters of accepted, rejected and dropped events.
    #[wasm_bindgen(unchecked_return_type = "PredictorStats")]
    pub fn stats(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.stats())
    }

    /// Number of items in the catalog.
    #[wasm_bindgen(getter, js_name = catalogSize)]
    pub fn catalog_size(&self) -> usize {
        self.inner.catalog().len()
    }

    /// SHA-256 (hex) of the loaded model.
    #[wasm_bindgen(getter, js_name = modelSha256)]
    pub fn model_sha256(&self) -> String {
        crate::catalog::hex(self.inner.encoder().sha256())
    }

    /// Purchase propensity and exit risk of the current session (`null` when it is empty).
    #[wasm_bindgen(unchecked_return_type = "Intent | null")]
    pub fn intent(&mut self) -> Result<JsValue, JsError> {
        match self.inner.intent().map_err(js_err)? {
            Some(i) => to_js(&i),
            None => Ok(JsValue::NULL),
        }
    }

    /// Hand-made features of the current session.
    #[wasm_bindgen(unchecked_return_type = "SessionFeatures")]
    pub fn features(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.features())
    }

    /// Turns on-device learning on (consent granted) or off (pending / denied).
    #[wasm_bindgen(js_name = setLearning)]
    pub fn set_learning(&mut self, on: bool) {
        self.inner.set_learning(on);
    }

    /// The adapter's blending weight α in force.
    #[wasm_bindgen(getter)]
    pub fn alpha(&self) -> f32 {
        self.inner.alpha()
    }

    /// Ends the current session now (applies its intent labels).
    #[wasm_bindgen(js_name = endSession)]
    pub fn end_session(&mut self) {
        self.inner.end_session();
    }

    /// The shopper's state as bytes to persist (versioned, bound to the model, checksummed).
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> Vec<u8> {
        self.inner.export_state()
    }

    /// Restores state from `exportState` bytes, possibly written under an older catalog or model.
    /// Returns `{formatVersion, modelChanged, droppedEvents, keptEvents}`: events of items the live
    /// catalog no longer has are dropped; state of another model keeps its sessions and restarts the
    /// learned heads. Throws on corrupted or incompatible state, keeping the current state.
    #[wasm_bindgen(js_name = importState, unchecked_return_type = "RestoreReport")]
    pub fn import_state(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        to_js(&self.inner.import_state(bytes).map_err(js_err)?)
    }

    /// Sets the shop head (the bundle's `shop-head.bin`, learned by the shop from its orders) that new
    /// shoppers start from; `undefined`/`null` removes it. Throws if the bytes are corrupted or belong to
    /// another model. Returns `{customers, purchases, purchasePrior, exitPrior}` of the head, or `null` when
    /// removed.
    #[wasm_bindgen(js_name = setShopHead, unchecked_return_type = "ShopHeadInfo | null")]
    pub fn set_shop_head(&mut self, bytes: Option<Vec<u8>>) -> Result<JsValue, JsError> {
        let head = self.inner.set_shop_head(bytes.as_deref()).map_err(js_err)?;
        match head {
            None => Ok(JsValue::NULL),
            Some(h) => to_js(&ShopHeadInfo {
                customers: h.customers,
                purchases: h.purchases,
                purchase_prior: h.purchase.is_some(),
                exit_prior: h.exit.is_some(),
            }),
        }
    }

    /// Is the catalog split (format version 3)? Then the page fetches body chunks on demand: before
    /// `track`, `predict` and `importState`, ask `chunksForIds` / `chunksForPredict` / `chunksForState`
    /// which, fetch them from the body file (`Range: bytes=offset-(offset+length-1)`), `addChunk` each,
    /// and ask again until nothing is missing (docs/model-contract.md, "Split catalogs").
    #[wasm_bindgen(getter, js_name = catalogSplit)]
    pub fn catalog_split(&self) -> bool {
        self.inner.catalog().split().is_some()
    }

    /// Length in bytes of a split catalog's body file (0 for other catalogs).
    #[wasm_bindgen(getter, js_name = catalogBodyLength)]
    pub fn catalog_body_length(&self) -> f64 {
        self.inner
            .catalog()
            .split()
            .map_or(0.0, |s| s.body_len() as f64)
    }

    /// Split catalogs: the body chunks needed before events for these item ids can be tracked.
    #[wasm_bindgen(js_name = chunksForIds, unchecked_return_type = "ChunkRequest[]")]
    pub fn chunks_for_ids(&mut self, ids: Vec<String>) -> Result<JsValue, JsError> {
        to_js(&self.inner.chunks_for_ids(ids.iter().map(String::as_str)))
    }

    /// Split catalogs: the body chunks needed for a top-`k` prediction of the current session.
    #[wasm_bindgen(js_name = chunksForPredict, unchecked_return_type = "ChunkRequest[]")]
    pub fn chunks_for_predict(&mut self, k: usize) -> Result<JsValue, JsError> {
        to_js(&self.inner.chunks_for_predict(k.min(1000)).map_err(js_err)?)
    }

    /// Split catalogs: the body chunks needed to import this state (throws on corrupted state).
    #[wasm_bindgen(js_name = chunksForState, unchecked_return_type = "ChunkRequest[]")]
    pub fn chunks_for_state(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        to_js(&self.inner.chunks_for_state(bytes).map_err(js_err)?)
    }

    /// Split catalogs: adds a fetched body chunk. Throws (changing nothing) when its length or SHA-256
    /// is not the catalog's.
    #[wasm_bindgen(js_name = addChunk)]
    pub fn add_chunk(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ChunkRequest")] request: JsValue,
        bytes: &[u8],
    ) -> Result<(), JsError> {
        let req: crate::split::ChunkRequest = serde_wasm_bindgen::from_value(request)
            .map_err(|e| js_err(format!("invalid chunk request: {e}")))?;
        self.inner.add_chunk(&req, bytes).map_err(js_err)
    }

    /// Split catalogs: what is resident now, `{lists, blocks, buckets, heapBytes}` (`null` otherwise).
    #[wasm_bindgen(js_name = catalogResident, unchecked_return_type = "CatalogResident | null")]
    pub fn catalog_resident(&self) -> Result<JsValue, JsError> {
        match self.inner.catalog().split() {
            None => Ok(JsValue::NULL),
            Some(sp) => {
                let (lists, blocks, buckets) = sp.resident();
                to_js(&CatalogResident {
                    lists,
                    blocks,
                    buckets,
                    heap_bytes: sp.wasm32_heap_bytes(),
                })
            }
        }
    }

    /// Erases every trace of the shopper held by this predictor (sessions, learned heads, counters).
    pub fn forget(&mut self) {
        self.inner.forget();
    }
}
