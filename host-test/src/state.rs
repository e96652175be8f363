//! Per-device error and loss state: the WebGPU error model.
//!
//! wgpu is never given an error scope of its own: every error it finds reaches the handler
//! installed by [`DeviceState::install`], synchronously, during the call that caused it. The
//! handler routes the error here: to the innermost open scope whose filter matches, else to every
//! `on-uncaptured-error` stream. Errors the host itself finds take the same path through
//! [`DeviceState::report`]. Because nothing depends on wgpu's thread-local scope stack, the
//! host may be driven from any thread.
//!
//! A device's work outlives its objects: dropping wgpu's last handle to a queue waits for the
//! queue's work, which may run for hours. So a device state keeps the device's wgpu handles, and
//! when it goes (its last object dropped) while the device still runs work, its handles go to
//! the context's [`Lingering`] devices instead, let go once their work is done.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::wait::{Submitted, Waits};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Waker;
use std::time::Instant;

/// A `gpu-error`'s contents.
#[derive(Clone, Debug)]
pub struct ErrorValue {
    pub kind: w::GpuErrorKind,
    pub message: String,
}

impl ErrorValue {
    pub fn validation(message: impl Into<String>) -> Self {
        Self { kind: w::GpuErrorKind::ValidationError, message: message.into() }
    }

    pub fn from_wgpu(e: &wgpu::Error) -> Self {
        let kind = match e {
            wgpu::Error::OutOfMemory { .. } => w::GpuErrorKind::OutOfMemoryError,
            wgpu::Error::Validation { .. } => w::GpuErrorKind::ValidationError,
            wgpu::Error::Internal { .. } => w::GpuErrorKind::InternalError,
        };
        let message = match e {
            wgpu::Error::Validation { description, .. } | wgpu::Error::Internal { description, .. } => {
                description.clone()
            }
            wgpu::Error::OutOfMemory { .. } => e.to_string(),
        };
        Self { kind, message }
    }

    fn matches(&self, filter: Option<w::GpuErrorFilter>) -> bool {
        matches!(
            (filter, &self.kind),
            (None, _)
                | (Some(w::GpuErrorFilter::Validation), w::GpuErrorKind::ValidationError)
                | (Some(w::GpuErrorFilter::OutOfMemory), w::GpuErrorKind::OutOfMemoryError)
                | (Some(w::GpuErrorFilter::Internal), w::GpuErrorKind::InternalError)
        )
    }
}

/// Why and how a device was lost.
#[derive(Clone, Debug)]
pub struct LostValue {
    pub reason: w::GpuDeviceLostReason,
    pub message: String,
}

struct Scope {
    /// `None` is the host's own capture-everything scope (used by the async pipeline
    /// constructors); the guest's scopes always have a filter.
    filter: Option<w::GpuErrorFilter>,
    error: Option<ErrorValue>,
}

/// One `on-uncaptured-error` stream's queue.
#[derive(Default)]
pub struct Listener {
    inner: Mutex<ListenerInner>,
}

#[derive(Default)]
struct ListenerInner {
    queue: VecDeque<ErrorValue>,
    waker: Option<Waker>,
}

impl Listener {
    /// The next error, or `None` after registering `waker` to hear of the next one.
    pub fn next(&self, waker: &Waker) -> Option<ErrorValue> {
        let mut inner = lock(&self.inner);
        let next = inner.queue.pop_front();
        if next.is_none() {
            inner.waker = Some(waker.clone());
        }
        next
    }

    /// Wakes whoever waits for the next error (the device is lost: the stream ends).
    fn wake(&self) {
        if let Some(w) = lock(&self.inner).waker.take() {
            w.wake();
        }
    }

    fn push(&self, e: ErrorValue) {
        let mut inner = lock(&self.inner);
        inner.queue.push_back(e);
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }
}

#[derive(Default)]
struct Inner {
    /// The device's latest submission: what `on-submitted-work-done` waits for.
    last_submission: Option<Submitted>,
    scopes: Vec<Scope>,
    listeners: Vec<Weak<Listener>>,
    lost: Option<LostValue>,
    lost_wakers: Vec<Waker>,
    queue_label: String,
}

/// Shared by a device and every object made from it.
#[derive(Default)]
pub struct DeviceState {
    inner: Mutex<Inner>,
    /// The device's wgpu handles: its queue's last handle is dropped only once its work is done.
    handles: OnceLock<Handles>,
    /// Where its handles go if it still runs work when it goes.
    lingering: OnceLock<Arc<Lingering>>,
    waits: Waits,
}

/// A device's wgpu handles.
struct Handles {
    device: wgpu::Device,
    _queue: wgpu::Queue,
}

impl Handles {
    /// Whether `index` is done, waiting for it until `deadline` at most.
    fn done_by(&self, index: &wgpu::SubmissionIndex, deadline: Instant) -> bool {
        let timeout = Some(deadline.saturating_duration_since(Instant::now()));
        let wait = wgpu::PollType::Wait { submission_index: Some(index.clone()), timeout };
        !matches!(self.device.poll(wait), Err(wgpu::PollError::Timeout))
    }
}

/// Devices that nothing of the guest's holds any more but that still run work, with their last
/// submission.
#[derive(Default)]
pub struct Lingering(Mutex<Vec<(Handles, wgpu::SubmissionIndex)>>);

impl Lingering {
    /// Lets go of the devices whose work is done by `deadline` (waiting for them until then),
    /// and says how many still run work.
    pub fn sweep(&self, deadline: Instant) -> usize {
        let mut devices = lock(&self.0);
        devices.retain(|(handles, index)| !handles.done_by(index, deadline));
        devices.len()
    }
}

impl Drop for DeviceState {
    fn drop(&mut self) {
        let Some(Submitted { index, .. }) = self.last_submission() else { return };
        let (Some(handles), Some(lingering)) = (self.handles.take(), self.lingering.get()) else { return };
        if !handles.done_by(&index, Instant::now()) {
            lock(&lingering.0).push((handles, index));
        }
    }
}

/// Locks a mutex, ignoring poisoning: the state behind these mutexes stays consistent at every
/// await and every call out, so a panic elsewhere cannot leave it half-updated.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DeviceState {
    /// Creates the state for a fresh wgpu device and routes its errors and loss here.
    pub fn install(device: &wgpu::Device, queue: &wgpu::Queue, queue_label: String, lingering: Arc<Lingering>) -> Arc<Self> {
        let state = Arc::new(Self::default());
        lock(&state.inner).queue_label = queue_label;
        let _ = state.handles.set(Handles { device: device.clone(), _queue: queue.clone() });
        let _ = state.lingering.set(lingering);
        let weak = Arc::downgrade(&state);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Some(state) = weak.upgrade() {
                state.report(ErrorValue::from_wgpu(&e));
            }
        }));
        let weak = Arc::downgrade(&state);
        device.set_device_lost_callback(move |reason, message| {
            if let Some(state) = weak.upgrade() {
                let reason = match reason {
                    wgpu::DeviceLostReason::Destroyed => w::GpuDeviceLostReason::Destroyed,
                    _ => w::GpuDeviceLostReason::Unknown,
                };
                state.lose(reason, message);
            }
        });
        state
    }

    /// Delivers an error: to the innermost matching scope, else to the uncaptured streams.
    /// A lost device reports nothing more, as in WebGPU.
    pub fn report(&self, e: ErrorValue) {
        let listeners: Vec<Arc<Listener>> = {
            let mut inner = lock(&self.inner);
            if inner.lost.is_some() {
                return;
            }
            if let Some(scope) = inner.scopes.iter_mut().rev().find(|s| e.matches(s.filter)) {
                scope.error.get_or_insert(e);
                return;
            }
            inner.listeners.retain(|l| l.strong_count() > 0);
            inner.listeners.iter().filter_map(Weak::upgrade).collect()
        };
        if listeners.is_empty() {
            eprintln!("wasi:webgpu: uncaptured {:?}: {}", e.kind, e.message);
        }
        for l in listeners {
            l.push(e.clone());
        }
    }

    pub fn push_scope(&self, filter: w::GpuErrorFilter) {
        lock(&self.inner).scopes.push(Scope { filter: Some(filter), error: None });
    }

    /// Pops the innermost scope; `Err` when the stack is empty. A lost device's pop finds no
    /// error, whatever its stack held (WebGPU resolves it with null).
    pub fn pop_scope(&self) -> Result<Option<ErrorValue>, ()> {
        let mut inner = lock(&self.inner);
        let lost = inner.lost.is_some();
        match inner.scopes.pop() {
            _ if lost => Ok(None),
            Some(scope) => Ok(scope.error),
            None => Err(()),
        }
    }

    /// Runs `f` with every error it causes captured rather than reported.
    pub fn capture<R>(&self, f: impl FnOnce() -> R) -> (R, Option<ErrorValue>) {
        lock(&self.inner).scopes.push(Scope { filter: None, error: None });
        let r = f();
        let error = lock(&self.inner).scopes.pop().and_then(|s| s.error);
        (r, error)
    }

    pub fn subscribe(&self) -> Arc<Listener> {
        let listener = Arc::new(Listener::default());
        lock(&self.inner).listeners.push(Arc::downgrade(&listener));
        listener
    }

    /// Marks the device lost (the first reason wins) and wakes every `lost` future and every
    /// reader of an `on-uncaptured-error` stream, whose stream then ends.
    pub fn lose(&self, reason: w::GpuDeviceLostReason, message: String) {
        let (wakers, listeners) = {
            let mut inner = lock(&self.inner);
            if inner.lost.is_some() {
                return;
            }
            inner.lost = Some(LostValue { reason, message });
            let listeners: Vec<Arc<Listener>> = inner.listeners.iter().filter_map(Weak::upgrade).collect();
            (std::mem::take(&mut inner.lost_wakers), listeners)
        };
        wakers.into_iter().for_each(Waker::wake);
        listeners.iter().for_each(|l| l.wake());
    }

    /// The loss, or `None` after registering `waker` to hear of it.
    pub fn lost(&self, waker: Option<&Waker>) -> Option<LostValue> {
        let mut inner = lock(&self.inner);
        if inner.lost.is_none()
            && let Some(waker) = waker
        {
            inner.lost_wakers.push(waker.clone());
        }
        inner.lost.clone()
    }

    /// The queue submitted work: `index` is now its latest submission.
    pub fn submitted(&self, index: wgpu::SubmissionIndex) {
        let mut inner = lock(&self.inner);
        let number = inner.last_submission.as_ref().map_or(1, |s| s.number + 1);
        inner.last_submission = Some(Submitted { number, index });
    }

    /// Whether work submitted to the device still runs after waiting for it until `deadline`
    /// (a device that is lost, or whose wait fails, has nothing more to say).
    pub fn unfinished(&self, deadline: Instant) -> bool {
        let (Some(handles), Some(last)) = (self.handles.get(), self.last_submission()) else { return false };
        !handles.done_by(&last.index, deadline)
    }

    /// The latest submission so far, if any.
    pub fn last_submission(&self) -> Option<Submitted> {
        lock(&self.inner).last_submission.clone()
    }

    /// The wgpu device (`None` only before [`DeviceState::install`]).
    pub fn device(&self) -> Option<wgpu::Device> {
        self.handles.get().map(|h| h.device.clone())
    }

    pub fn waits(&self) -> &Waits {
        &self.waits
    }

    pub fn is_lost(&self) -> bool {
        lock(&self.inner).lost.is_some()
    }

    /// Whether the device was destroyed (not lost otherwise).
    pub fn is_destroyed(&self) -> bool {
        lock(&self.inner).lost.as_ref().is_some_and(|l| l.reason == w::GpuDeviceLostReason::Destroyed)
    }

    pub fn queue_label(&self) -> String {
        lock(&self.inner).queue_label.clone()
    }

    pub fn set_queue_label(&self, label: String) {
        lock(&self.inner).queue_label = label;
    }
}
