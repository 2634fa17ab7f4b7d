//! Persisted state bytes → `ShopperState::from_bytes` (as is, and re-sealed with the model hash they name).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nextclick::fuzzing::state(data);
});
