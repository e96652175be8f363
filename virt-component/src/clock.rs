//! The time, for measuring and limiting GPU time: `wasi:clocks/monotonic-clock@0.3.0` in the
//! WASI build of the virt, none in the plain build (which imports only `wasi:webgpu`;
//! `webgpu-virt configure` picks the WASI build for a configuration that measures GPU time).

/// Nanoseconds on the monotonic clock, if the build has one.
#[cfg(feature = "record")]
pub fn now() -> Option<u64> {
    Some(crate::bindings::wasi::clocks0_3_0::monotonic_clock::now())
}

#[cfg(not(feature = "record"))]
pub fn now() -> Option<u64> {
    None
}

/// Waits until the monotonic clock reads `mark` (at once without a clock).
#[cfg(feature = "record")]
pub async fn until(mark: u64) {
    crate::bindings::wasi::clocks0_3_0::monotonic_clock::wait_until(mark).await;
}

#[cfg(not(feature = "record"))]
pub async fn until(_: u64) {}
