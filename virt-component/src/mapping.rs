//! Buffer mapping, kept in WebGPU's order whatever the order in which calls reach the runtime.
//!
//! In WebGPU, `unmap` (or `destroy`) after `map-async` aborts the map. A call the virt forwards
//! to the runtime may start there later than a synchronous call the application makes next (one
//! virt stacked on another shows it: the inner virt's `map-async` can start after the `unmap`
//! that followed it). So the virt tracks the map it forwarded: when an `unmap` or `destroy` comes
//! first, the map is the application's `abort-error`, and if the runtime mapped the buffer after
//! all, the virt unmaps it again. A second `map-async` while one is pending is the virt's own
//! `operation-error` (WebGPU checks `[[pending_map]]` before the device sees the call), so that
//! the answer does not depend on how far the runtime got with the first.

use crate::device::queue;
use crate::device::timeline::HeldCall;
use crate::{GpuBuffer, exp};
use std::cell::{Cell, RefCell};
use std::future::Future as _;

/// The `map-async` of a buffer that the virt forwarded and that has not completed; and the
/// mapping the virt holds itself for a buffer it refused that was asked mapped at creation.
#[derive(Default)]
pub struct MapTracker {
    attempts: Cell<u64>,
    pending: Cell<Option<u64>>,
    own: RefCell<Option<OwnMapping>>,
    /// The map state the application made while the runtime's is behind: a map waiting for
    /// held calls to go first, or an unmap or destroy held behind them.
    ahead: Cell<Option<exp::GpuBufferMapState>>,
}

/// A mapping the virt holds itself. WebGPU maps a buffer asked `mapped-at-creation` even when
/// the buffer is invalid (a quota's refusal is the out-of-memory error of one): its ranges can be
/// written and read back until `unmap`, and only later use of the buffer is an error. The
/// mapping starts zeroed and keeps what is written into it (in the order written: no more than
/// the application sent), never the buffer's size ahead.
struct OwnMapping {
    size: u64,
    writes: Vec<(u64, Vec<u8>)>,
}

fn range_error(message: String) -> exp::GetMappedRangeError {
    exp::GetMappedRangeError { kind: exp::GetMappedRangeErrorKind::OperationError, message }
}

impl MapTracker {
    /// The buffer, of `size` bytes asked for, is mapped by the virt.
    pub fn map_locally(&self, size: u64) {
        *self.own.borrow_mut() = Some(OwnMapping { size, writes: Vec::new() });
    }

    /// Whether the virt holds the mapping of `buffer` (a destroyed device's buffers are
    /// unmapped, as the runtime's are).
    pub fn is_local(buffer: &GpuBuffer) -> bool {
        let own = &buffer.mapping.own;
        if own.borrow().is_some() && crate::device::is_destroyed(buffer.device) {
            own.take();
        }
        own.borrow().is_some()
    }

    /// The range `offset`, `size` of the virt's mapping, checked as WebGPU checks it.
    fn range(&self, offset: Option<u64>, size: Option<u64>) -> Result<(u64, u64), exp::GetMappedRangeError> {
        let own = self.own.borrow();
        let Some(m) = own.as_ref() else { return Err(range_error("the buffer is not mapped".into())) };
        let offset = offset.unwrap_or(0);
        let size = size.unwrap_or_else(|| m.size.saturating_sub(offset));
        if !offset.is_multiple_of(8) || !size.is_multiple_of(4) {
            return Err(range_error(format!("offset {offset} must be a multiple of 8 and size {size} of 4")));
        }
        match offset.checked_add(size) {
            Some(end) if end <= m.size => Ok((offset, end)),
            _ => Err(range_error(format!("range {offset}+{size} is outside the mapped range 0+{}", m.size))),
        }
    }

    /// `get-mapped-range-get-with-copy` of the virt's mapping. The application receives the
    /// bytes it asks for: no more than the cap on one call's bytes lets through.
    pub fn get(&self, offset: Option<u64>, size: Option<u64>) -> Result<Vec<u8>, exp::GetMappedRangeError> {
        let (start, end) = self.range(offset, size)?;
        let len = usize::try_from(end - start).map_err(|_| range_error("the range is too large to copy".into()))?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).map_err(|_| range_error(format!("a copy of {len} bytes does not fit in memory")))?;
        bytes.resize(len, 0);
        for (at, data) in self.own.borrow().iter().flat_map(|m| m.writes.iter()) {
            let (from, to) = ((*at).max(start), (at + data.len() as u64).min(end));
            if from < to {
                bytes[(from - start) as usize..(to - start) as usize].copy_from_slice(&data[(from - at) as usize..(to - at) as usize]);
            }
        }
        Ok(bytes)
    }

    /// `get-mapped-range-set-with-copy` of the virt's mapping.
    pub fn set(&self, data: Vec<u8>, offset: Option<u64>, size: Option<u64>) -> Result<(), exp::GetMappedRangeError> {
        let (start, end) = self.range(offset, size)?;
        if data.len() as u64 > end - start {
            let message = format!("{} bytes do not fit the {}-byte range", data.len(), end - start);
            return Err(exp::GetMappedRangeError { kind: exp::GetMappedRangeErrorKind::RangeError, message });
        }
        if let Some(m) = self.own.borrow_mut().as_mut().filter(|_| !data.is_empty()) {
            // A write over the whole of earlier ones replaces them.
            let end = start + data.len() as u64;
            m.writes.retain(|(at, d)| !(start <= *at && at + d.len() as u64 <= end));
            m.writes.push((start, data));
        }
        Ok(())
    }
}

pub async fn map_async(
    buffer: &GpuBuffer,
    mode: exp::GpuMapMode,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::MapAsyncError> {
    let t = &buffer.mapping;
    // A map while another is pending is rejected at once, with no error on the device (WebGPU's
    // content-timeline check of `[[pending_map]]`): the virt answers it, whatever the runtime
    // has done with the first by the time a second would reach it.
    if t.pending.get().is_some() {
        let message = "a map of the buffer is already pending".to_string();
        return Err(exp::MapAsyncError { kind: exp::MapAsyncErrorKind::OperationError, message });
    }
    let attempt = t.attempts.get() + 1;
    t.attempts.set(attempt);
    t.pending.set(Some(attempt));
    // While calls are held, the map starts on the runtime in its turn: after the calls held
    // before it (it sees the work they submit), before those held after it (an `unmap`).
    let mut turn = None;
    if let Some(timeline) = queue::holding(buffer.device) {
        let (tx, rx) = futures::channel::oneshot::channel();
        t.ahead.set(Some(exp::GpuBufferMapState::Pending));
        timeline.hold(HeldCall::Turn(tx));
        // `None`: the held calls were dropped (the device is lost).
        turn = rx.await.ok();
        if t.ahead.get() == Some(exp::GpuBufferMapState::Pending) {
            t.ahead.set(None);
        }
    }
    // On a lost device the map rejects; with a buffer known invalid too, after WebGPU's
    // validation error.
    let lost = crate::device::is_lost(buffer.device);
    if lost || buffer.invalid.is() {
        if t.pending.get() == Some(attempt) {
            t.pending.set(None);
        }
        let message = if lost {
            "the buffer's device is lost".to_string()
        } else {
            crate::device::invalid::report(buffer.device, "map-async", "the buffer");
            "map-async: the buffer is invalid".to_string()
        };
        return Err(exp::MapAsyncError { kind: exp::MapAsyncErrorKind::OperationError, message });
    }
    // Its validation errors are made when the call starts: only that is bracketed.
    let bracket = crate::device::share::bracket(buffer.device);
    let inner = buffer.inner.clone();
    let mut map = Box::pin(async move { inner.map_async(mode, offset, size).await });
    let started = std::future::poll_fn(|cx| std::task::Poll::Ready(map.as_mut().poll(cx))).await;
    drop(bracket);
    // The drainer goes on.
    drop(turn);
    let result = match started {
        // Refused as it started: that is its answer, even if an `unmap` came while it waited
        // for its turn (the runtime sees the map first).
        std::task::Poll::Ready(Err(refused)) => {
            if t.pending.get() == Some(attempt) {
                t.pending.set(None);
            }
            return Err(refused);
        }
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => match crate::device::pooled(buffer.device) {
            // The virt owns the device's loss: a map that waits on work that never ends
            // fails then (the runtime's map goes on apart).
            Some(v) => match futures::future::select(map, v.wait_lost()).await {
                futures::future::Either::Left((result, _)) => result,
                futures::future::Either::Right((_, map)) => {
                    crate::bridge::spawn(async move {
                        let _ = map.await;
                    });
                    if t.pending.get() == Some(attempt) {
                        t.pending.set(None);
                    }
                    let message = "the buffer's device is lost".to_string();
                    return Err(exp::MapAsyncError { kind: exp::MapAsyncErrorKind::OperationError, message });
                }
            },
            None => map.await,
        },
    };
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
    if buffer.mapping.own.take().is_some() {
        return Ok(());
    }
    if let Some(timeline) = queue::holding(buffer.device) {
        timeline.hold(HeldCall::Unmap(buffer.inner.clone()));
        buffer.mapping.ahead.set(Some(exp::GpuBufferMapState::Unmapped));
        return Ok(());
    }
    buffer.inner.unmap()
}

/// `map-state`: the runtime's, unless the application's calls are ahead of it (held back).
pub fn map_state(buffer: &GpuBuffer) -> exp::GpuBufferMapState {
    buffer.mapping.ahead.get().unwrap_or_else(|| buffer.forward_map_state())
}

pub fn destroy(buffer: &GpuBuffer) {
    buffer.mapping.pending.set(None);
    buffer.mapping.own.take();
    buffer.quota.release();
    let stand_in = buffer.arguments.destroy();
    match queue::holding(buffer.device) {
        Some(timeline) => {
            timeline.hold(HeldCall::DestroyBuffer(buffer.inner.clone()));
            if let Some(stand_in) = stand_in {
                timeline.hold(HeldCall::DestroyBuffer(stand_in));
            }
            buffer.mapping.ahead.set(Some(exp::GpuBufferMapState::Unmapped));
        }
        None => {
            buffer.inner.destroy();
            if let Some(stand_in) = stand_in {
                stand_in.destroy();
            }
        }
    }
}
