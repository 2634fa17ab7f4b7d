//! Raw event JSON (what the page hands to `track`) → `RawEvent` → `validate`, then `track` + `predict`
//! on one long-lived predictor (the reference model and catalog), as in a page that receives every input.
#![no_main]
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use nextclick::{Options, Predictor};

static PREDICTOR: Mutex<Option<Predictor>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut guard = PREDICTOR.lock().unwrap_or_else(|e| e.into_inner());
    let p = guard.get_or_insert_with(|| {
        Predictor::new(
            include_bytes!("../../models/reference.onnx"),
            include_bytes!("../../models/reference.catalog"),
            Options::default(),
        )
        .expect("reference model and catalog load")
    });
    nextclick::fuzzing::event(data, Some(p));
});
