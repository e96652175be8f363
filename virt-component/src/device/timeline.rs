//! A device's queue timeline, when a cap on submissions in flight applies to it: the
//! submissions in flight, and the calls held back behind one past the cap.
//!
//! The caps are the policies' (a guest's `max-in-flight`, `policy::quota`; the pod's
//! `pool.max-in-flight` and its turns, `policy::share::fairness`); holding work back and
//! forwarding it in order is this layer's.
//!
//! `submit` is a synchronous function, and a synchronous call cannot wait in the component
//! model, so the virt keeps a submission past a cap and returns. From then on, every call that
//! comes after it on the device's queue timeline joins it, in order: `submit`, `write-buffer`,
//! `write-texture`, and the calls that would change what held work finds (`unmap`, the
//! `destroy` of buffers, textures, query sets and the device). The async calls that would
//! observe held work (`on-submitted-work-done`, `map-async`, `pop-error-scope`) first wait
//! until everything held before them has been forwarded. So the runtime sees the application's
//! calls in the application's order, with no more in flight than the caps allow.
//!
//! A submission is in flight from the moment it is forwarded until an `on-submitted-work-done`
//! asked after it resolves: the application's own (an application that waits for its work
//! costs the cap nothing), or, while calls are held, one the virt asks itself (one at a time).
//! Held work is forwarded by the device's drainer task as work completes; errors it makes go to
//! the error scopes that were open when the application made the call (the drainer opens scopes
//! of its own around it when the application's have changed since, and hands what they caught
//! to [`super::scopes::report_to`]).

use super::scopes::{Mark, Scopes};
use crate::policy::DeviceId;
use crate::policy::share::fairness::{self, Pool};
use crate::{GpuBuffer, GpuCommandBuffer, GpuDevice, GpuQueue, GpuTexture, exp, imp};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// A call held back, with what it needs to be made later.
pub enum HeldCall {
    Submit(Vec<Rc<imp::GpuCommandBuffer>>),
    WriteBuffer { buffer: Rc<imp::GpuBuffer>, offset: u64, data: Vec<u8>, data_offset: Option<u64>, size: Option<u64> },
    WriteTexture { texture: Rc<imp::GpuTexture>, place: TexturePlace, data: Vec<u8>, layout: exp::GpuTexelCopyBufferLayout, size: exp::GpuExtent3D },
    Unmap(Rc<imp::GpuBuffer>),
    DestroyBuffer(Rc<imp::GpuBuffer>),
    DestroyTexture(Rc<imp::GpuTexture>),
    DestroyQuerySet(Rc<imp::GpuQuerySet>),
    DestroyDevice,
}

/// Where in a texture a held `write-texture` goes (its copy info without the texture).
pub struct TexturePlace {
    mip_level: Option<u32>,
    origin: Option<exp::GpuOrigin3D>,
    aspect: Option<exp::GpuTextureAspect>,
}

/// One device's submissions in flight and the calls held back behind one past the cap.
pub struct Timeline {
    device_id: DeviceId,
    max: u32,
    /// The pod's cap on all guests' submissions, if it has one.
    pool: Option<Rc<Pool>>,
    device: Rc<imp::GpuDevice>,
    queue: imp::GpuQueue,
    scopes: Rc<Scopes>,
    /// Submissions forwarded, and of those the ones known done: the difference is in flight.
    forwarded: Cell<u64>,
    done: Cell<u64>,
    /// Whether the virt waits on the queue itself (for held work to go on).
    watching: Cell<bool>,
    /// For the operator: the most submissions in flight at once, and how many were held back.
    most_in_flight: Cell<u32>,
    submissions_held: Cell<u64>,
    held: RefCell<VecDeque<(Mark, HeldCall)>>,
    /// Calls held so far and calls forwarded from the held ones: a waiter waits for the second
    /// to reach the first as it was when it began to wait.
    counts: Cell<(u64, u64)>,
    waiters: RefCell<Vec<(u64, oneshot::Sender<()>)>>,
    /// Wakes the drainer: work completed, or a call was held.
    wake: mpsc::UnboundedSender<()>,
}

/// The timeline of a new device, when a cap applies to it. Made in `request-device` (an async
/// call: the drainer task starts there).
pub fn start(device: &GpuDevice) -> Option<Rc<Timeline>> {
    let max = crate::policy::in_flight_cap(device.device)?;
    let (wake, mut woken) = mpsc::unbounded();
    let timeline = Rc::new(Timeline {
        device_id: device.device,
        max,
        pool: fairness::pool(),
        device: device.inner.clone(),
        queue: device.inner.queue(),
        scopes: device.errors.clone(),
        forwarded: Cell::new(0),
        done: Cell::new(0),
        watching: Cell::new(false),
        most_in_flight: Cell::new(0),
        submissions_held: Cell::new(0),
        held: RefCell::default(),
        counts: Cell::new((0, 0)),
        waiters: RefCell::default(),
        wake,
    });
    let drainer = timeline.clone();
    crate::bridge::spawn(async move {
        while woken.next().await.is_some() {
            drainer.drain().await;
        }
    });
    Some(timeline)
}

/// Lets a lost device's timeline go (and its drainer end): nothing more runs on that device.
pub fn forget(device: DeviceId) {
    if let Some(t) = super::get(device).and_then(|v| v.timeline.take()) {
        t.wake.close_channel();
        if let Some(pool) = &t.pool {
            pool.leave(device, t.in_flight());
        }
    }
}

fn timeline(device: DeviceId) -> Option<Rc<Timeline>> {
    super::get(device)?.timeline.borrow().clone()
}

/// Every device with a timeline watches its queue while it has work in flight (devices wait
/// for the pool's slots, which come back only from work known done).
pub fn watch_all() {
    for timeline in super::all().iter().filter_map(|v| v.timeline.borrow().clone()) {
        timeline.watch();
    }
}

/// Wakes `device`'s drainer (a slot is free for it).
pub fn wake(device: DeviceId) {
    if let Some(t) = timeline(device) {
        let _ = t.wake.unbounded_send(());
    }
}

/// The device's timeline if it holds calls back: then a call on its queue timeline must be
/// held too ([`Timeline::hold`]), behind them.
pub fn holding(device: DeviceId) -> Option<Rc<Timeline>> {
    timeline(device).filter(|t| !t.held.borrow().is_empty())
}

/// Makes a call on `device` now (`now`), or, while calls are held there, holds it behind them
/// (`held` describes it).
pub fn now_or_held(device: DeviceId, now: impl FnOnce(), held: impl FnOnce() -> HeldCall) {
    match holding(device) {
        Some(timeline) => timeline.hold(held()),
        None => now(),
    }
}

/// Waits until every call `device` held back before now has been forwarded.
pub async fn drained(device: DeviceId) {
    let Some(t) = holding(device) else { return };
    let (tx, rx) = oneshot::channel();
    t.waiters.borrow_mut().push((t.counts.get().0, tx));
    // The drainer drops the sender only once the calls are forwarded (or the instance ends).
    let _ = rx.await;
}

pub fn submit(queue: &GpuQueue, command_buffers: Vec<exp::GpuCommandBufferBorrow<'_>>) {
    // A lost device submits nothing; command buffers of another device are not submitted.
    if super::is_lost(queue.device) {
        return;
    }
    // (The generated check has reported it.)
    if command_buffers.iter().any(|b| crate::policy::share::foreign(queue.device, b.get::<GpuCommandBuffer>().device)) {
        return;
    }
    let Some(t) = timeline(queue.device) else {
        queue.forward_submit(command_buffers);
        crate::policy::share::submitted(queue.device);
        return;
    };
    let buffers: Vec<_> = command_buffers.iter().map(|b| b.get::<GpuCommandBuffer>().inner.clone()).collect();
    let capped = !(t.held.borrow().is_empty() && t.may_submit());
    if capped {
        t.submissions_held.set(t.submissions_held.get() + 1);
    }
    // Past a cap it waits; and while other devices on its host device have work no wait was
    // asked for, the drainer releases it after asking one (a synchronous call cannot).
    if capped || crate::policy::share::others_uncovered(queue.device) {
        t.hold(HeldCall::Submit(buffers));
    } else {
        t.submit_now(&buffers);
    }
}

/// The operator's figures for `device`: the most submissions it had in flight, and how many of
/// its submissions were held back.
pub fn counters(device: DeviceId, mut push: impl FnMut(&str, u64)) {
    if let Some(t) = timeline(device) {
        push("most in flight", t.most_in_flight.get().into());
        push("submissions held", t.submissions_held.get());
        push("submissions", t.forwarded.get());
    }
}

pub async fn on_submitted_work_done(queue: &GpuQueue) {
    if super::is_lost(queue.device) {
        return;
    }
    drained(queue.device).await;
    let t = timeline(queue.device);
    let asked = t.as_ref().map(|t| t.forwarded.get());
    match super::pooled(queue.device) {
        Some(v) => crate::policy::share::work_done(&v).await,
        None => queue.forward_on_submitted_work_done().await,
    }
    if let (Some(t), Some(asked)) = (t, asked) {
        t.completed(asked);
    }
}

impl Timeline {
    /// Holds `call` back behind the calls held before it.
    pub fn hold(self: &Rc<Self>, call: HeldCall) {
        self.held.borrow_mut().push_back((self.scopes.mark(), call));
        let (held, forwarded) = self.counts.get();
        self.counts.set((held + 1, forwarded));
        self.watch();
        let _ = self.wake.unbounded_send(());
    }

    fn in_flight(&self) -> u64 {
        self.forwarded.get() - self.done.get()
    }

    /// Whether a submission may be forwarded now: below the device's cap, and the pool's.
    fn may_submit(&self) -> bool {
        self.in_flight() < u64::from(self.max) && self.pool.as_ref().is_none_or(|p| p.may_release(self.device_id))
    }

    /// The first `count` submissions are done.
    fn completed(&self, count: u64) {
        let newly = count.saturating_sub(self.done.get());
        self.done.set(self.done.get().max(count));
        if let Some(pool) = &self.pool {
            pool.done(newly);
        }
        let _ = self.wake.unbounded_send(());
    }

    /// While calls are held (here, or by others for the pool's slots), waits on the queue (one
    /// wait at a time) so that they go on when the submissions in flight are done.
    fn watch(self: &Rc<Self>) {
        let others_wait = self.pool.as_ref().is_some_and(|p| p.waiting());
        if self.watching.get() || self.in_flight() == 0 || (self.held.borrow().is_empty() && !others_wait) {
            return;
        }
        self.watching.set(true);
        let me = self.clone();
        let asked = self.forwarded.get();
        crate::bridge::spawn(async move {
            me.queue.on_submitted_work_done().await;
            me.watching.set(false);
            me.completed(asked);
        });
    }

    /// Forwards a submission.
    fn submit_now(self: &Rc<Self>, buffers: &[Rc<imp::GpuCommandBuffer>]) {
        let refs: Vec<&imp::GpuCommandBuffer> = buffers.iter().map(|b| &**b).collect();
        self.queue.submit(&refs);
        crate::policy::share::submitted(self.device_id);
        self.forwarded.set(self.forwarded.get() + 1);
        if let Some(pool) = &self.pool {
            let holds_more = self.held.borrow().iter().any(|(_, call)| matches!(call, HeldCall::Submit(_)));
            pool.released(self.device_id, self.in_flight() >= u64::from(self.max) || !holds_more);
        }
        let in_flight = u32::try_from(self.in_flight()).unwrap_or(u32::MAX);
        self.most_in_flight.set(self.most_in_flight.get().max(in_flight));
    }

    /// Forwards held calls in order, as far as the cap lets submissions through.
    async fn drain(self: &Rc<Self>) {
        loop {
            let next = {
                let mut held = self.held.borrow_mut();
                let blocked = matches!(held.front(), Some((_, HeldCall::Submit(_)))) && !self.may_submit();
                if blocked { None } else { held.pop_front() }
            };
            if matches!(next, Some((_, HeldCall::Submit(_)))) {
                // What other devices submitted before this release is waited for without it.
                crate::policy::share::cover(self.device_id).await;
            }
            let Some((mark, call)) = next else {
                // Blocked by the pool (not by its own cap): it waits for its turn.
                let submit_waits = matches!(self.held.borrow().front(), Some((_, HeldCall::Submit(_))));
                if let Some(pool) = self.pool.as_ref().filter(|_| submit_waits && self.in_flight() < u64::from(self.max)) {
                    pool.wait(self.device_id);
                }
                self.watch();
                return;
            };
            self.forward(mark, call).await;
            let (held, forwarded) = self.counts.get();
            self.counts.set((held, forwarded + 1));
            self.waiters.borrow_mut().retain(|(until, _)| *until > forwarded + 1);
        }
    }

    /// Makes a held call. When the application's error scopes are no longer those open when it
    /// made the call, scopes of the virt's own catch the call's errors, which then go where
    /// they belong.
    async fn forward(self: &Rc<Self>, mark: Mark, call: HeldCall) {
        const FILTERS: [exp::GpuErrorFilter; 3] =
            [exp::GpuErrorFilter::Validation, exp::GpuErrorFilter::OutOfMemory, exp::GpuErrorFilter::Internal];
        // Scopes of its own also when the device's scopes are virtual: then the runtime's
        // scopes never hold the application's.
        let moved = self.scopes.mark() != mark || self.scopes.is_virtual();
        if moved {
            for filter in FILTERS {
                self.device.push_error_scope(filter);
            }
        }
        self.make(call);
        if moved {
            // All three pops start at the join's first poll, before any other call can reach
            // the runtime: the scopes hold this call's errors and nothing else.
            let (internal, memory, validation) =
                futures::join!(self.device.pop_error_scope(), self.device.pop_error_scope(), self.device.pop_error_scope());
            for error in [validation, memory, internal].into_iter().flatten().flatten() {
                super::scopes::report_to(&self.device, &self.scopes, Some(&mark), error.kind(), error.message());
            }
        }
    }

    fn make(self: &Rc<Self>, call: HeldCall) {
        match call {
            HeldCall::Submit(buffers) => self.submit_now(&buffers),
            HeldCall::WriteBuffer { buffer, offset, data, data_offset, size } => {
                // The data's range was checked when the call was held: nothing is left to fail
                // here but what goes to the error scopes.
                let _ = self.queue.write_buffer_with_copy(&buffer, offset, &data, data_offset, size);
                crate::policy::share::submitted(self.device_id);
            }
            HeldCall::WriteTexture { texture, place, data, layout, size } => {
                let TexturePlace { mip_level, origin, aspect } = place;
                let destination = imp::GpuTexelCopyTextureInfo { texture: &texture, mip_level, origin, aspect };
                self.queue.write_texture_with_copy(&destination, &data, layout, size);
                crate::policy::share::submitted(self.device_id);
            }
            HeldCall::Unmap(buffer) => {
                let _ = buffer.unmap();
            }
            HeldCall::DestroyBuffer(buffer) => buffer.destroy(),
            HeldCall::DestroyTexture(texture) => texture.destroy(),
            HeldCall::DestroyQuerySet(query_set) => query_set.destroy(),
            HeldCall::DestroyDevice => self.device.destroy(),
        }
    }
}

/// `write-buffer` on the device's queue timeline: nothing on a lost device (nor with a buffer
/// of another device: the generated check reported it), held back behind held work, else
/// forwarded.
pub fn write_buffer(
    queue: &GpuQueue,
    buffer: exp::GpuBufferBorrow<'_>,
    offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    if super::is_lost(queue.device) || crate::policy::share::foreign(queue.device, buffer.get::<GpuBuffer>().device) {
        return Ok(());
    }
    match holding(queue.device) {
        Some(timeline) => hold_write_buffer(&timeline, buffer.get(), offset, data, data_offset, size),
        None => {
            queue.forward_write_buffer_with_copy(buffer, offset, data, data_offset, size)?;
            crate::policy::share::submitted(queue.device);
            Ok(())
        }
    }
}

/// `write-texture` on the device's queue timeline, as [`write_buffer`].
pub fn write_texture(
    queue: &GpuQueue,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    if super::is_lost(queue.device) || crate::policy::share::foreign(queue.device, destination.texture.get::<GpuTexture>().device) {
        return;
    }
    match holding(queue.device) {
        Some(timeline) => hold_write_texture(&timeline, destination, data, layout, size),
        None => {
            queue.forward_write_texture_with_copy(destination, data, layout, size);
            crate::policy::share::submitted(queue.device);
        }
    }
}

/// The held form of a `write-buffer`, after checking what WebGPU checks at the call: that the
/// data offset and size lie within the data (else the call's own `operation-error`).
fn hold_write_buffer(
    timeline: &Rc<Timeline>,
    buffer: &GpuBuffer,
    offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    let len = data.len() as u64;
    let start = data_offset.unwrap_or(0);
    let end = size.map_or(Some(len), |size| start.checked_add(size));
    if !end.is_some_and(|end| start <= end && end <= len) {
        let message = format!("write-buffer: data offset {start} and size {size:?} are outside the {len} bytes given");
        return Err(exp::WriteBufferError { kind: exp::WriteBufferErrorKind::OperationError, message });
    }
    timeline.hold(HeldCall::WriteBuffer { buffer: buffer.inner.clone(), offset, data, data_offset, size });
    Ok(())
}

/// The held form of a `write-texture`.
fn hold_write_texture(
    timeline: &Rc<Timeline>,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    let texture = destination.texture.get::<GpuTexture>().inner.clone();
    let place = TexturePlace { mip_level: destination.mip_level, origin: destination.origin, aspect: destination.aspect };
    timeline.hold(HeldCall::WriteTexture { texture, place, data, layout, size });
}
