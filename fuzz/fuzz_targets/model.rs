//! Model bytes → the ONNX contract check that runs before tract sees the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nextclick::fuzzing::model(data);
});
