//! Persisted state bytes → `Predictor::import_state` on the reference predictor (as is, and re-sealed), then
//! used: track, predict, intent, export and re-import (`nextclick::fuzzing::state`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nextclick::fuzzing::state(data);
});
