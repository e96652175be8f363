//! The cap on submissions in flight (`max-in-flight = N`): a device's `submit` past it is held
//! back in the virt, not refused, until earlier work is done.
//!
//! `submit` is a synchronous function, and a synchronous call cannot wait in the component
//! model, so the virt keeps the submission and returns. From then on, every call that comes
//! after it on the device's queue timeline joins it, in order: `submit`, `write-buffer`,
//! `write-texture`, and the calls that would change what held work finds (`unmap`, the
//! `destroy` of buffers, textures, query sets and the device). The async calls that would
//! observe held work (`on-submitted-work-done`, `map-async`, `pop-error-scope`) first wait
//! until everything held before them has been forwarded. So the runtime sees the application's
//! calls in the application's order, with at most N submissions in flight.
//!
//! A submission is in flight from the moment it is forwarded until an `on-submitted-work-done`
//! asked after it resolves: the application's own (an application that waits for its work
//! costs the cap nothing), or, while calls are held, one the virt asks itself (one at a time).
//! Held work is forwarded by the device's drainer task as work completes; errors it makes go to the error scopes that were open when the application made
//! the call (the drainer opens scopes of its own around it when the application's have changed
//! since, and hands what they caught to [`crate::errors::report_to`]).
//!
//! **The pool** (`pool.max-in-flight`, in a pod): a cap on the submissions of all guests
//! together. A submission past it is held back like one past the device's own cap, and the
//! devices holding submissions back take turns: the device whose turn it is releases up to its
//! guest's `weight` submissions as slots free up, then goes to the back of the line. A device
//! with nothing held does not jump the line: while others wait, its submissions wait too. While
//! devices wait, every device with work in flight watches its queue, so that slots come back.

use crate::errors::{Mark, Scopes};
use crate::policy::{DeviceId, config};
use crate::{GpuBuffer, GpuCommandBuffer, GpuDevice, GpuQueue, GpuTexture, exp, imp};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use hashbrown::HashMap;
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
pub struct Throttle {
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

thread_local! {
    static THROTTLES: RefCell<HashMap<DeviceId, Rc<Throttle>>> = RefCell::new(HashMap::new());
    static POOL: RefCell<Option<Rc<Pool>>> = const { RefCell::new(None) };
}

/// A device's cap on submissions in flight: its own, or, under the pool's cap alone, none of
/// its own (`u32::MAX`). `None`: the device is not throttled at all.
fn max_in_flight(device: DeviceId) -> Option<u32> {
    let own = config(device, |c| c.max_in_flight.map(|n| n.get()));
    own.or_else(|| pool().map(|_| u32::MAX))
}

/// The pod's cap on submissions in flight, all guests together, and whose turn it is.
pub struct Pool {
    max: u64,
    in_flight: Cell<u64>,
    most: Cell<u64>,
    /// The devices with a submission waiting for a slot, in the order they get one.
    turns: RefCell<VecDeque<DeviceId>>,
    /// How many the device at the front may still release in its turn.
    credit: Cell<u32>,
}

/// The pool, if the pod has an in-flight cap.
fn pool() -> Option<Rc<Pool>> {
    POOL.with_borrow_mut(|pool| {
        if pool.is_none() {
            let max = crate::policy::pod(|c| c.pool.max_in_flight)?;
            *pool = Some(Rc::new(Pool {
                max: max.get().into(),
                in_flight: Cell::new(0),
                most: Cell::new(0),
                turns: RefCell::default(),
                credit: Cell::new(0),
            }));
        }
        pool.clone()
    })
}

/// How many submissions `device`'s guest releases at its turn.
fn weight(device: DeviceId) -> u32 {
    config(device, |c| c.weight.map_or(1, |w| w.get()))
}

impl Pool {
    /// Whether `device` may forward a submission now: a slot is free and no other device is
    /// ahead of it.
    fn may_release(&self, device: DeviceId) -> bool {
        self.in_flight.get() < self.max && self.turns.borrow().front().is_none_or(|d| *d == device)
    }

    /// `device` forwarded a submission: a slot is taken, and its turn is used up by one (all
    /// of it when `over`: the device reached its own cap or holds no more submissions, so that
    /// it does not hold the line).
    fn released(&self, device: DeviceId, over: bool) {
        let in_flight = self.in_flight.get() + 1;
        self.in_flight.set(in_flight);
        self.most.set(self.most.get().max(in_flight));
        let next = {
            let mut turns = self.turns.borrow_mut();
            if turns.front() != Some(&device) {
                return;
            }
            let credit = self.credit.get().saturating_sub(1);
            self.credit.set(credit);
            if credit > 0 && !over {
                return;
            }
            // Its turn is over: it waits at the back again if it still holds submissions.
            turns.pop_front();
            turns.front().copied()
        };
        if let Some(next) = next {
            self.credit.set(weight(next));
            self.wake_front();
        }
    }

    /// `device` holds a submission it may not forward yet: it waits for its turn.
    fn wait(&self, device: DeviceId) {
        {
            let mut turns = self.turns.borrow_mut();
            if turns.contains(&device) {
                return;
            }
            if turns.is_empty() {
                self.credit.set(weight(device));
            }
            turns.push_back(device);
        }
        // Slots come back only from work known done: watch every queue with work in flight.
        let all: Vec<_> = THROTTLES.with_borrow(|t| t.values().cloned().collect());
        for throttle in all {
            throttle.watch();
        }
    }

    /// `count` submissions are done: their slots are free.
    fn done(&self, count: u64) {
        if count > 0 {
            self.in_flight.set(self.in_flight.get().saturating_sub(count));
            self.wake_front();
        }
    }

    /// Wakes the drainer of the device whose turn it is, when a slot is free.
    fn wake_front(&self) {
        if self.in_flight.get() >= self.max {
            return;
        }
        let front = self.turns.borrow().front().copied();
        if let Some(t) = front.and_then(|d| THROTTLES.with_borrow(|t| t.get(&d).cloned())) {
            let _ = t.wake.unbounded_send(());
        }
    }

    /// Whether devices wait for a slot.
    fn waiting(&self) -> bool {
        !self.turns.borrow().is_empty()
    }

    /// `device` is gone, with `in_flight` submissions no one will hear of.
    fn leave(&self, device: DeviceId, in_flight: u64) {
        let was_front = self.turns.borrow().front() == Some(&device);
        self.turns.borrow_mut().retain(|d| *d != device);
        if was_front && let Some(next) = self.turns.borrow().front() {
            self.credit.set(weight(*next));
        }
        self.in_flight.set(self.in_flight.get().saturating_sub(in_flight));
        self.wake_front();
    }
}

/// The pool's figures for the operator.
pub fn pool_counters(mut push: impl FnMut(&str, u64)) {
    if let Some(pool) = POOL.with_borrow(|p| p.clone()) {
        push("pool most in flight", pool.most.get());
    }
}

/// Puts a new device under the cap, when one is configured. Called from `request-device` (an
/// async call: the drainer task starts there).
pub fn watch(device: &GpuDevice) {
    let Some(max) = max_in_flight(device.device) else { return };
    let (wake, mut woken) = mpsc::unbounded();
    let throttle = Rc::new(Throttle {
        device_id: device.device,
        max,
        pool: pool(),
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
    THROTTLES.with_borrow_mut(|t| t.insert(device.device, throttle.clone()));
    crate::bridge::spawn(async move {
        while woken.next().await.is_some() {
            throttle.drain().await;
        }
    });
}

/// Lets a lost device's throttle go (and its drainer end): nothing more runs on that device.
pub fn forget(device: DeviceId) {
    if let Some(t) = THROTTLES.with_borrow_mut(|t| t.remove(&device)) {
        t.wake.close_channel();
        if let Some(pool) = pool() {
            pool.leave(device, t.in_flight());
        }
    }
}

fn throttle(device: DeviceId) -> Option<Rc<Throttle>> {
    max_in_flight(device)?;
    THROTTLES.with_borrow(|t| t.get(&device).cloned())
}

/// The device's throttle if it holds calls back: then a call on its queue timeline must be
/// held too ([`Throttle::hold`]), behind them.
pub fn holding(device: DeviceId) -> Option<Rc<Throttle>> {
    throttle(device).filter(|t| !t.held.borrow().is_empty())
}

/// Makes a call on `device` now (`now`), or, while calls are held there, holds it behind them
/// (`held` describes it).
pub fn now_or_held(device: DeviceId, now: impl FnOnce(), held: impl FnOnce() -> HeldCall) {
    match holding(device) {
        Some(throttle) => throttle.hold(held()),
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
    if crate::device::is_lost(queue.device) {
        return;
    }
    // (The generated check has reported it.)
    if command_buffers.iter().any(|b| crate::device::foreign(queue.device, b.get::<GpuCommandBuffer>().device)) {
        return;
    }
    let Some(t) = throttle(queue.device) else { return queue.forward_submit(command_buffers) };
    let buffers: Vec<_> = command_buffers.iter().map(|b| b.get::<GpuCommandBuffer>().inner.clone()).collect();
    if t.held.borrow().is_empty() && t.may_submit() {
        t.submit_now(&buffers);
    } else {
        t.submissions_held.set(t.submissions_held.get() + 1);
        t.hold(HeldCall::Submit(buffers));
    }
}

/// The operator's figures for `device`: the most submissions it had in flight, and how many of
/// its submissions were held back.
pub fn counters(device: DeviceId, mut push: impl FnMut(&str, u64)) {
    if let Some(t) = throttle(device) {
        push("most in flight", t.most_in_flight.get().into());
        push("submissions held", t.submissions_held.get());
        push("submissions", t.forwarded.get());
    }
}

pub async fn on_submitted_work_done(queue: &GpuQueue) {
    if crate::device::is_lost(queue.device) {
        return;
    }
    drained(queue.device).await;
    let Some(t) = throttle(queue.device) else { return queue.forward_on_submitted_work_done().await };
    let asked = t.forwarded.get();
    queue.forward_on_submitted_work_done().await;
    t.completed(asked);
}

impl Throttle {
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
                crate::errors::report_to(&self.device, &self.scopes, Some(&mark), error.kind(), error.message());
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
            }
            HeldCall::WriteTexture { texture, place, data, layout, size } => {
                let TexturePlace { mip_level, origin, aspect } = place;
                let destination = imp::GpuTexelCopyTextureInfo { texture: &texture, mip_level, origin, aspect };
                self.queue.write_texture_with_copy(&destination, &data, layout, size);
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

/// The held form of a `write-buffer`, after checking what WebGPU checks at the call: that the
/// data offset and size lie within the data (else the call's own `operation-error`).
pub fn hold_write_buffer(
    throttle: &Rc<Throttle>,
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
    throttle.hold(HeldCall::WriteBuffer { buffer: buffer.inner.clone(), offset, data, data_offset, size });
    Ok(())
}

/// The held form of a `write-texture`.
pub fn hold_write_texture(
    throttle: &Rc<Throttle>,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    let texture = destination.texture.get::<GpuTexture>().inner.clone();
    let place = TexturePlace { mip_level: destination.mip_level, origin: destination.origin, aspect: destination.aspect };
    throttle.hold(HeldCall::WriteTexture { texture, place, data, layout, size });
}
