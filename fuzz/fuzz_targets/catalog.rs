//! Catalog bytes → `Catalog::from_bytes`. Also re-sealed (valid trailing SHA-256) so that mutations reach
//! the field checks behind the checksum.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nextclick::fuzzing::catalog(data);
});
