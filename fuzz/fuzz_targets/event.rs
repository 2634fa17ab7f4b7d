//! Raw event JSON (what the page hands to `track`) → `RawEvent` → `validate`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nextclick::fuzzing::event(data);
});
