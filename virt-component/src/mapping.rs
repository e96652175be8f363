//! Buffer mapping, kept in WebGPU's order whatever the order in which calls reach the runtime.
//!
//! In WebGPU, `unmap` (or `destroy`) after `map-async` aborts the map. A call the virt forwards
//! to the runtime may start there later than a synchronous call the application makes next (one
//! virt stacked on another shows it: the inner virt's `map-async` can start after the `unmap`
//! that followed it). So the virt tracks the map it forwarded: when an `unmap` or `destroy` comes
//! first, the map is the application's `abort-error`, and if the runtime mapped the buffer after
//! all, the virt unmaps it again.

use crate::device::timeline::{self, HeldCall};
use crate::{GpuBuffer, exp};
use std::cell::Cell;
use std::future::Future as _;

/// The `map-async` of a buffer that the virt forwarded and that has not completed.
#[derive(Default)]
pub struct MapTracker {
    attempts: Cell<u64>,
    pending: Cell<Option<u64>>,
}

pub async fn map_async(
    buffer: &GpuBuffer,
    mode: exp::GpuMapMode,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::MapAsyncError> {
    // A map sees the work the application submitted before it, even work held back.
    timeline::drained(buffer.device).await;
    let t = &buffer.mapping;
    // A map while another is pending is the runtime's to reject; only the first is tracked.
    let attempt = t.pending.get().is_none().then(|| {
        let n = t.attempts.get() + 1;
        t.attempts.set(n);
        t.pending.set(Some(n));
        n
    });
    if crate::device::is_lost(buffer.device) {
        let message = "the buffer's device is lost".to_string();
        return Err(exp::MapAsyncError { kind: exp::MapAsyncErrorKind::OperationError, message });
    }
    // Its validation errors are made when the call starts: only that is bracketed.
    let bracket = crate::policy::share::bracket(buffer.device);
    let mut map = std::pin::pin!(buffer.inner.map_async(mode, offset, size));
    let started = std::future::poll_fn(|cx| std::task::Poll::Ready(map.as_mut().poll(cx))).await;
    drop(bracket);
    let result = match started {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => map.await,
    };
    let Some(attempt) = attempt else { return result };
    if t.pending.get() == Some(attempt) {
        t.pending.set(None);
        return result;
    }
    if result.is_ok() {
        // The runtime saw the unmap before this map: undo the map it then made.
        let _ = buffer.inner.unmap();
    }
    Err(exp::MapAsyncError {
        kind: exp::MapAsyncErrorKind::AbortError,
        message: "the buffer was unmapped or destroyed before the map completed".into(),
    })
}

pub fn unmap(buffer: &GpuBuffer) -> Result<(), exp::UnmapError> {
    buffer.mapping.pending.set(None);
    if let Some(timeline) = timeline::holding(buffer.device) {
        timeline.hold(HeldCall::Unmap(buffer.inner.clone()));
        return Ok(());
    }
    buffer.inner.unmap()
}

pub fn destroy(buffer: &GpuBuffer) {
    buffer.mapping.pending.set(None);
    buffer.quota.release();
    timeline::now_or_held(buffer.device, || buffer.inner.destroy(), || HeldCall::DestroyBuffer(buffer.inner.clone()));
}
