//! The `wasm-bindgen` layer: a `Predictor` class for JavaScript. Thin by design: it converts JS values
//! with `serde-wasm-bindgen`, calls the core, and turns every core error into a JS `Error` with the core's
//! message. Nothing here panics on input; a panic (a bug) is logged to the console once.

use wasm_bindgen::prelude::*;

use crate::event::RawEvent;
use crate::predictor::{Options, Predictor};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** An event as the page reports it. `timestamp` is ms (or s) since the epoch; missing means now. */
export interface NextclickEvent {
  type: "view" | "click" | "cart" | "remove_from_cart" | "purchase" | string;
  itemId: string;
  timestamp?: number;
  price?: number;
}
/** Options of `Predictor.create`; every key is optional. Unknown keys are an error. */
export interface PredictorOptions {
  sessionTimeoutMinutes?: number;
  maxSessionEvents?: number;
  maxPastSessions?: number;
  duplicateWindowMs?: number;
  unknownItems?: "skip" | "reject";
  excludePurchased?: boolean;
  excludeCurrent?: boolean;
  modelSha256?: string;
  catalogSha256?: string;
}
/** One predicted item, best first. */
export interface Prediction {
  itemId: string;
  score: number;
  title?: string;
  url?: string;
  price?: number;
}
/** What `track` did with an event. */
export type TrackStatus = "accepted" | "new_session" | "duplicate" | "unknown_item";
/** Counters (no item or shopper data). */
export interface PredictorStats {
  accepted: number;
  rejected: number;
  duplicates: number;
  unknownItems: number;
  sessions: number;
}
"#;

fn install_panic_hook() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("nextclick: internal error (please report): {info}").into());
        }));
    });
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("nextclick: {e}"))
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
}

/// The on-device predictor.
#[wasm_bindgen(js_name = Predictor)]
pub struct JsPredictor {
    inner: Predictor,
}

#[wasm_bindgen(js_class = Predictor)]
impl JsPredictor {
    /// Loads a contract-v1 ONNX model and a catalog built for it. Throws on bad bytes or options.
    pub fn create(
        model: &[u8],
        catalog: &[u8],
        #[wasm_bindgen(unchecked_param_type = "PredictorOptions | undefined")] options: JsValue,
    ) -> Result<JsPredictor, JsError> {
        install_panic_hook();
        let options: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("invalid options: {e}")))?
        };
        Ok(JsPredictor { inner: Predictor::new(model, catalog, options).map_err(js_err)? })
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
                return Err(js_err(crate::Error::InvalidEvent(crate::EventError::Malformed(e.to_string()))));
            }
        };
        let status = self.inner.track_raw(&raw, js_sys::Date::now()).map_err(js_err)?;
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

    /// Erases every trace of the shopper held by this predictor.
    pub fn forget(&mut self) {
        self.inner.forget();
    }
}
