//! The test guests (`host-test/guests/examples/*.rs`), built into `wasm32-wasip2` components by
//! this crate's build script: `NAME` is the path of guest `name`, and [`ALL`] lists them all.
//! Tests and benchmarks use it as a dev-dependency; nothing else builds the guests.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
