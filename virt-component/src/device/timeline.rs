//! A device's queue timeline, when a cap on submissions in flight applies to it or GPU time is
//! measured: the submissions in flight, and the calls held back behind one past a cap.
//!
//! The caps are the configuration's (a guest's `max-in-flight`; the pod's `pool.max-in-flight`
//! and who releases next, [`super::fairness`]; a guest's GPU budget, [`super::budget`]);
//! holding work back and forwarding it in order is this file's.
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
//! A submission is in flight from the moment it is forwarded until a wait on the host device's
//! queue that covers it resolves (`super::host`): the application's own (an application that
//! waits for its work costs the cap nothing), or, while calls are held, one the virt asks
//! itself. Held work is forwarded by the device's drainer task as work completes; errors it
//! makes go to the error scopes that were open when the application made the call (the drainer
//! opens scopes of its own around it when the application's have changed since, and hands what
//! they caught to [`super::scopes::report_to`]).

use super::fairness::Pool;
use super::host::{Host, Operation, Time};
use super::{budget, gpu_time};
use super::scopes::{FILTERS, Mark, Scopes};
use crate::ids::DeviceId;
use crate::{clock, exp, imp, tenant};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

/// A call held back, with what it needs to be made later.
pub enum HeldCall {
    Submit(Vec<Rc<imp::GpuCommandBuffer>>),
    /// A dispatch cut into chunks (`super::chunks`): one chunk is submitted at a time, once
    /// the device's work before it is done.
    Chunks(Rc<dyn Chunks>),
    /// A later part of a submission cut into parts: its time adds to that submission's.
    Part(Vec<Rc<imp::GpuCommandBuffer>>),
    WriteBuffer { buffer: Rc<imp::GpuBuffer>, offset: u64, data: Vec<u8>, data_offset: Option<u64>, size: Option<u64> },
    WriteTexture { texture: Rc<imp::GpuTexture>, place: TexturePlace, data: Vec<u8>, layout: exp::GpuTexelCopyBufferLayout, size: exp::GpuExtent3D },
    Unmap(Rc<imp::GpuBuffer>),
    DestroyBuffer(Rc<imp::GpuBuffer>),
    DestroyTexture(Rc<imp::GpuTexture>),
    DestroyQuerySet(Rc<imp::GpuQuerySet>),
    DestroyDevice,
    /// What the virt does in the device's place (the destroy of a device whose loss it owns).
    Run(Box<dyn FnOnce()>),
    /// A call that the application's task makes itself, in its turn: the drainer hands it a
    /// sender and goes on once that is dropped (a `map-async` starts on the runtime after the
    /// calls held before it and before those held after it).
    Turn(oneshot::Sender<oneshot::Sender<()>>),
}

/// What learns the time of a runtime submission, once the runtime took it: a job whose chunk
/// made last went in it, or an application's command buffer of a submission in parts in it
/// (`super::chunks::Uncut`). The time comes once the submission is done.
pub trait Learns {
    fn timed(&self, time: &Time);
}

/// An application's command buffer held in a submission in parts, and what learns its time.
type Learner = (Weak<imp::GpuCommandBuffer>, Rc<dyn Learns>);

/// Work submitted in chunks, one at a time (a dispatch cut by `super::chunks`); it learns the
/// time of each runtime submission its chunk made last goes in.
pub trait Chunks: Learns {
    /// Encodes the next chunk into `encoder`, a pass or a copy of its own (`false`: every chunk
    /// was made).
    fn next(&self, encoder: &imp::GpuCommandEncoder) -> bool;
    /// Whether every chunk was made.
    fn is_done(&self) -> bool;
    /// Whether the next chunk waits for the device's work before it to be done.
    fn waits(&self) -> bool;
    /// The time the rest is expected to run, when it is one chunk known to fit a slice of time:
    /// then it need not wait for the work before it (the virt learns nothing from that wait,
    /// and stops nothing).
    fn rest(&self) -> Option<u64>;
    /// The most time a chunk may run.
    fn slice(&self) -> u64;
    /// The time the next chunk is expected to run (`None`: its pipeline's time is not known
    /// yet).
    fn estimate(&self) -> Option<u64>;
    /// What must be read back before the next chunk is made (an indirect dispatch's size),
    /// once what `next` gave for it is done.
    fn read(&self) -> Option<futures::future::LocalBoxFuture<'_, ()>>;
}

/// The command buffers of one runtime submission, in order: the application's (whole, or
/// parts of a cut one) and chunks. Chunks one after another go into one encoder of the virt's
/// own: the runtime makes and finishes one command encoder for them, not one a chunk. The jobs
/// whose chunks it holds learn the submission's time.
struct Batch {
    device: Rc<imp::GpuDevice>,
    buffers: Vec<Rc<imp::GpuCommandBuffer>>,
    chunks: Option<imp::GpuCommandEncoder>,
    jobs: Vec<Rc<dyn Chunks>>,
}

impl Batch {
    fn new(device: &Rc<imp::GpuDevice>, buffers: Vec<Rc<imp::GpuCommandBuffer>>) -> Self {
        Batch { device: device.clone(), buffers, chunks: None, jobs: Vec::new() }
    }

    /// Adds command buffers of the application's.
    fn extend(&mut self, buffers: Vec<Rc<imp::GpuCommandBuffer>>) {
        self.close();
        self.buffers.extend(buffers);
    }

    /// Adds the next chunk of `job`, if it has one left.
    fn chunk(&mut self, job: &Rc<dyn Chunks>) -> bool {
        let fresh = self.chunks.is_none();
        let encoder = self.chunks.get_or_insert_with(|| self.device.create_command_encoder(None));
        let made = job.next(encoder);
        match made {
            true => self.jobs.push(job.clone()),
            false if fresh => self.chunks = None,
            false => {}
        }
        made
    }

    fn close(&mut self) {
        if let Some(encoder) = self.chunks.take() {
            self.buffers.push(Rc::new(encoder.finish(None)));
        }
    }

    fn finish(mut self) -> (Vec<Rc<imp::GpuCommandBuffer>>, Vec<Rc<dyn Chunks>>) {
        self.close();
        (self.buffers, self.jobs)
    }
}

/// Where in a texture a held `write-texture` goes (its copy info without the texture).
pub struct TexturePlace {
    pub mip_level: Option<u32>,
    pub origin: Option<exp::GpuOrigin3D>,
    pub aspect: Option<exp::GpuTextureAspect>,
}

/// One device's submissions in flight and the calls held back behind one past the cap.
pub struct Timeline {
    device_id: DeviceId,
    max: u32,
    /// The pod's cap on all guests' submissions, if it has one.
    pool: Option<Rc<Pool>>,
    host: Rc<Host>,
    scopes: Rc<Scopes>,
    /// The numbers on the host device's queue of its submissions not known done.
    in_flight: RefCell<VecDeque<u64>>,
    /// Whether it waits for them (for held work to go on).
    watching: Cell<bool>,
    /// For the operator: submissions forwarded, the most in flight at once, and how many were
    /// held back.
    forwarded: Cell<u64>,
    most_in_flight: Cell<u32>,
    submissions_held: Cell<u64>,
    /// Each with the error scopes open and the application's call when it was made.
    held: RefCell<VecDeque<(Mark, u64, HeldCall)>>,
    /// Calls held so far and calls forwarded from the held ones: a waiter waits for the second
    /// to reach the first as it was when it began to wait.
    counts: Cell<(u64, u64)>,
    waiters: RefCell<Vec<(u64, oneshot::Sender<()>)>>,
    /// Wakes the drainer: work completed, or a call was held.
    wake: mpsc::UnboundedSender<()>,
    /// Whether the drainer is forwarding a held call (its errors are still on their way).
    forwarding: Cell<bool>,
    /// Whether a timer will wake the drainer when the guest's GPU budget allows again.
    budget_timer: Cell<bool>,
    /// Whether its submissions are timed each on its own, against a time limit: each waits for
    /// a wait to cover the one before ([`Host::uncovered`]).
    limited: bool,
    /// What the chunks forwarded since its work in flight was last all done are expected to
    /// run, and whether one of them, a pipeline's first, had no estimate: chunks that need no
    /// wait of their own go ahead of the work in flight only up to a slice of time, and one of
    /// unknown time at once ([`Self::may_go_ahead`]).
    ahead: Cell<u64>,
    probing: Cell<bool>,
    /// What learns the time of the runtime submission just made (its jobs, and its command
    /// buffers in `uncut`), and that time: it learns it once the runtime took the submission (a
    /// refused one runs nothing, and its time would make a pipeline look fast).
    untimed: RefCell<Vec<(Rc<dyn Learns>, Time)>>,
    /// The application's command buffers held in submissions in parts that learn the time of
    /// the runtime submission that holds them.
    uncut: RefCell<Vec<Learner>>,
}

/// Why a submission may not be forwarded now.
enum Blocked {
    /// The device's own cap on submissions in flight.
    Cap,
    /// The pool: its cap, or another device's turn.
    Pool,
    /// The guest's GPU budget, until this mark on the monotonic clock.
    Budget(u64),
}

impl Timeline {
    /// The timeline of device `device_id` on `host`, under a cap of `max` in flight (and the
    /// pool's, if the pod has one). Made in `request-device`, an async call: its drainer task
    /// starts there.
    pub fn start(device_id: DeviceId, max: u32, pool: Option<Rc<Pool>>, host: Rc<Host>, scopes: Rc<Scopes>) -> Rc<Self> {
        let (wake, mut woken) = mpsc::unbounded();
        if let Some(pool) = &pool {
            pool.join(device_id, wake.clone());
        }
        let timeline = Rc::new(Timeline {
            device_id,
            max,
            pool,
            host,
            scopes,
            in_flight: RefCell::default(),
            watching: Cell::new(false),
            forwarded: Cell::new(0),
            most_in_flight: Cell::new(0),
            submissions_held: Cell::new(0),
            held: RefCell::default(),
            counts: Cell::new((0, 0)),
            waiters: RefCell::default(),
            wake,
            forwarding: Cell::new(false),
            budget_timer: Cell::new(false),
            limited: gpu_time::measured() && crate::config::of_tenant(tenant::of(device_id)).max_submission_time.is_some(),
            ahead: Cell::new(0),
            probing: Cell::new(false),
            untimed: RefCell::default(),
            uncut: RefCell::default(),
        });
        let drainer = timeline.clone();
        crate::bridge::spawn(async move {
            while woken.next().await.is_some() {
                drainer.drain().await;
            }
        });
        timeline
    }

    /// The device is gone or lost: its drainer ends, the calls it held are dropped (whoever
    /// waits for them to be forwarded stops waiting), and the pool hears that its submissions
    /// in flight will never be known done.
    pub fn forget(&self) {
        self.wake.close_channel();
        self.held.borrow_mut().clear();
        self.uncut.borrow_mut().clear();
        self.waiters.borrow_mut().clear();
        if let Some(pool) = &self.pool {
            pool.leave(self.device_id, self.in_flight());
        }
    }

    /// Wakes the drainer.
    pub fn wake(&self) {
        let _ = self.wake.unbounded_send(());
    }

    /// Whether calls are held back: then a call on the device's queue timeline must be held
    /// too ([`Self::hold`]), behind them.
    pub fn is_holding(&self) -> bool {
        !self.held.borrow().is_empty() || self.forwarding.get()
    }

    /// Waits until every call held back before now has been forwarded.
    pub async fn drained(&self) {
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push((self.counts.get().0, tx));
        // The drainer drops the sender only once the calls are forwarded (or the instance ends).
        let _ = rx.await;
    }

    /// `submit` of `buffers`: forwarded now, or held back past a cap. Also held while work
    /// forwarded before it has no wait asked for that it must not share ([`Host::uncovered`]):
    /// the drainer releases it after asking one (a synchronous call cannot).
    pub fn submit(self: &Rc<Self>, buffers: Vec<Rc<imp::GpuCommandBuffer>>) {
        let blocked = self.blocked();
        if let Some(Blocked::Budget(_)) = blocked {
            gpu_time::budget_hold(tenant::of(self.device_id));
        }
        let capped = !self.held.borrow().is_empty() || blocked.is_some();
        if capped {
            self.submissions_held.set(self.submissions_held.get() + 1);
        }
        if capped || self.host.uncovered(self.device_id, self.limited) {
            self.hold(HeldCall::Submit(buffers));
        } else {
            self.submit_now(&buffers, crate::ids::current_call(), Operation::Submission);
        }
    }


    /// `submit` of a command buffer with parts (`super::chunks`): its calls, `Submit`s and
    /// `Chunks`, each held, in order; the drainer forwards them.
    pub fn submit_in_parts(self: &Rc<Self>, calls: Vec<HeldCall>) {
        self.submissions_held.set(self.submissions_held.get() + 1);
        for call in calls {
            self.hold(call);
        }
    }

    /// Holds `call` back behind the calls held before it.
    pub fn hold(self: &Rc<Self>, call: HeldCall) {
        self.held.borrow_mut().push_back((self.scopes.mark(), crate::ids::current_call(), call));
        let (held, forwarded) = self.counts.get();
        self.counts.set((held + 1, forwarded));
        self.watch();
        self.wake();
    }

    /// The operator's figures: the most submissions in flight, how many were held back, how
    /// many were forwarded (chunks of cut dispatches among them).
    pub fn counters(&self, mut push: impl FnMut(&'static str, u64)) {
        push("most in flight", self.most_in_flight.get().into());
        push("submissions held", self.submissions_held.get());
        push("submissions", self.forwarded.get());
    }

    fn in_flight(&self) -> u64 {
        self.in_flight.borrow().len() as u64
    }

    /// Why a submission may not be forwarded now, if it may not: the device's cap, the pool's
    /// or the guest's GPU budget.
    fn blocked(&self) -> Option<Blocked> {
        if self.in_flight() >= u64::from(self.max) {
            return Some(Blocked::Cap);
        }
        if let Err(until) = budget::check(tenant::of(self.device_id)) {
            return Some(Blocked::Budget(until));
        }
        if self.pool.as_ref().is_some_and(|p| !p.may_release(self.device_id)) {
            return Some(Blocked::Pool);
        }
        None
    }

    /// Its submissions the host device's queue has done since it last looked are done.
    pub fn completed(&self) {
        let done = self.host.done();
        let newly = {
            let mut in_flight = self.in_flight.borrow_mut();
            let before = in_flight.len();
            while in_flight.front().is_some_and(|n| *n <= done) {
                in_flight.pop_front();
            }
            if in_flight.is_empty() {
                self.ahead.set(0);
                self.probing.set(false);
            }
            (before - in_flight.len()) as u64
        };
        if let Some(pool) = &self.pool {
            pool.done(self.device_id, newly);
        }
        self.wake();
    }

    /// While calls are held (here, or by others for the pool's slots), waits for its
    /// submissions in flight (through a wait on the queue already asked, if one covers them),
    /// so that they go on when those are done.
    fn watch(self: &Rc<Self>) {
        let others_wait = self.pool.as_ref().is_some_and(|p| p.waiting());
        let Some(newest) = self.in_flight.borrow().back().copied() else { return };
        if self.watching.get() || (self.held.borrow().is_empty() && !others_wait) {
            return;
        }
        self.watching.set(true);
        let me = self.clone();
        crate::bridge::spawn(async move {
            me.host.done_through(newest).await;
            me.watching.set(false);
            me.completed();
        });
    }

    /// Forwards a submission (or a part of one) that call number `by` made.
    fn submit_now(self: &Rc<Self>, buffers: &[Rc<imp::GpuCommandBuffer>], by: u64, operation: Operation) -> u64 {
        let refs: Vec<&imp::GpuCommandBuffer> = buffers.iter().map(|b| &**b).collect();
        let number = self.host.submit(self.device_id, &refs, operation, by);
        self.in_flight.borrow_mut().push_back(number);
        self.forwarded.set(self.forwarded.get() + 1);
        if let Some(pool) = &self.pool {
            let holds_more = self.held.borrow().iter().any(|(_, _, call)| matches!(call, HeldCall::Submit(_) | HeldCall::Part(_) | HeldCall::Chunks(_)));
            pool.released(self.device_id, self.in_flight() >= u64::from(self.max) || !holds_more);
        }
        let in_flight = u32::try_from(self.in_flight()).unwrap_or(u32::MAX);
        self.most_in_flight.set(self.most_in_flight.get().max(in_flight));
        number
    }

    /// Whether the next chunk of `job`, which needs no wait of its own, may go while work is
    /// in flight: if the chunks gone ahead of that work and it are expected to run a slice at
    /// most, or, of a pipeline whose time is not known yet, if no other such chunk went ahead.
    /// So the work queued on the runtime stays bounded however many jobs follow each other.
    fn may_go_ahead(&self, job: &dyn Chunks) -> bool {
        match job.estimate() {
            Some(time) => self.ahead.get().saturating_add(time) <= job.slice(),
            None => !self.probing.get(),
        }
    }

    /// A chunk expected to run `estimate` went.
    fn went_ahead(&self, estimate: Option<u64>) {
        match estimate {
            Some(time) => self.ahead.set(self.ahead.get().saturating_add(time)),
            None => self.probing.set(true),
        }
    }

    /// Adds to `batch`, a part of the submission that the application's call `by` made, the
    /// parts held after it that need no wait of their own: its commands, and the next chunks of
    /// its cut dispatches and draws that may go ahead of the work in flight (a rest known to
    /// fit, a first chunk: [`Self::may_go_ahead`]). The runtime gets one submission where the
    /// application made one, unless a chunk must wait.
    fn join_parts(&self, by: u64, batch: &mut Batch) {
        let mut joined = 0;
        loop {
            let Some((mark, made_by, call)) = self.held.borrow_mut().pop_front() else { break };
            let goes = match &call {
                HeldCall::Part(_) => true,
                HeldCall::Chunks(job) => !job.waits() && self.may_go_ahead(&**job),
                _ => false,
            };
            match call {
                HeldCall::Part(part) if made_by == by => batch.extend(part),
                HeldCall::Chunks(job) if goes && made_by == by => {
                    self.went_ahead(job.estimate());
                    batch.chunk(&job);
                    if !job.is_done() {
                        self.held.borrow_mut().push_front((mark, made_by, HeldCall::Chunks(job)));
                        break;
                    }
                }
                call => {
                    self.held.borrow_mut().push_front((mark, made_by, call));
                    break;
                }
            }
            joined += 1;
        }
        self.count_forwarded(joined);
    }

    /// Forwards held calls in order, as far as the cap lets submissions through.
    async fn drain(self: &Rc<Self>) {
        loop {
            let (submit_next, chunk_next) = match self.held.borrow().front() {
                Some((_, _, HeldCall::Submit(_) | HeldCall::Part(_))) => (true, false),
                Some((_, _, HeldCall::Chunks(job))) => (true, job.waits() || !self.may_go_ahead(&**job)),
                _ => (false, false),
            };
            let blocked = if submit_next { self.blocked() } else { None };
            // A chunk after a dispatch's first goes once the device's work before it is done:
            // then the virt knows the time of the chunk before it, can stop between chunks, and
            // others' work runs in between (the rest known to fit a slice goes as a part does,
            // and a first chunk as a submission does, unless the chunks gone ahead are a slice
            // already).
            let blocked = blocked.or_else(|| (chunk_next && self.in_flight() > 0).then_some(Blocked::Cap));
            let next = if blocked.is_some() { None } else { self.held.borrow_mut().pop_front() };
            if submit_next && next.is_some() {
                // What was forwarded before this release is waited for without it.
                self.host.cover(self.device_id, self.limited).await;
            }
            let Some((mark, by, call)) = next else {
                match blocked {
                    // Blocked by the pool (not by its own cap): it waits for its turn.
                    Some(Blocked::Pool) => {
                        if let Some(pool) = &self.pool {
                            pool.wait(self.device_id);
                        }
                    }
                    // Over its budget: it goes on when the budget allows.
                    Some(Blocked::Budget(until)) => self.wake_at(until),
                    Some(Blocked::Cap) | None => {}
                }
                self.watch();
                return;
            };
            self.forwarding.set(true);
            let left = self.forward(mark.clone(), by, call).await;
            self.forwarding.set(false);
            if let Some(call) = left {
                // The rest of a job, first in line again.
                self.held.borrow_mut().push_front((mark, by, call));
                continue;
            }
            self.count_forwarded(1);
        }
    }

    /// `n` more of the held calls were forwarded: who waited for them goes on.
    fn count_forwarded(&self, n: u64) {
        let (held, forwarded) = self.counts.get();
        self.counts.set((held, forwarded + n));
        self.waiters.borrow_mut().retain(|(until, _)| *until > forwarded + n);
    }

    /// Wakes the drainer at `until`, a mark on the monotonic clock (once, however often asked).
    fn wake_at(self: &Rc<Self>, until: u64) {
        if self.budget_timer.replace(true) {
            return;
        }
        let me = self.clone();
        crate::bridge::spawn(async move {
            clock::until(until).await;
            me.budget_timer.set(false);
            me.wake();
        });
    }

    /// Makes a held call. When the application's error scopes are no longer those open when it
    /// made the call, scopes of the virt's own catch the call's errors, which then go where
    /// they belong.
    /// What is left of the call to make later (the rest of a job), if anything.
    async fn forward(self: &Rc<Self>, mark: Mark, by: u64, call: HeldCall) -> Option<HeldCall> {
        // What a job reads back first makes no errors: it is read outside the scopes below.
        if let HeldCall::Chunks(job) = &call
            && let Some(read) = job.read()
        {
            read.await;
        }
        // Scopes of its own also when the device's scopes are virtual: then the runtime's
        // scopes never hold the application's; and for a runtime submission of a submission in
        // parts, which the virt must know the runtime took.
        let piece = match &call {
            HeldCall::Chunks(_) | HeldCall::Part(_) => true,
            HeldCall::Submit(_) => matches!(self.held.borrow().front(), Some((_, _, HeldCall::Chunks(_) | HeldCall::Part(_)))),
            _ => false,
        };
        let moved = piece || self.scopes.mark() != mark || self.scopes.is_virtual();
        if moved {
            for filter in FILTERS {
                self.host.device.push_error_scope(filter);
            }
        }
        let mut left = match call {
            HeldCall::Turn(turn) => {
                let (made, making) = oneshot::channel();
                if turn.send(made).is_ok() {
                    let _ = making.await;
                }
                None
            }
            call => self.make(by, call),
        };
        if moved {
            // All three pops start at the join's first poll, before any other call can reach
            // the runtime: the scopes hold this call's errors and nothing else.
            let (internal, memory, validation) =
                futures::join!(self.host.device.pop_error_scope(), self.host.device.pop_error_scope(), self.host.device.pop_error_scope());
            // WebGPU refuses a submission whole: the runtime refused this part of one (a
            // command buffer submitted beside a cut one was invalid, say), so nothing more of
            // it goes. Refused at its first part, nothing of it ran, as in WebGPU.
            if piece && matches!(validation, Ok(Some(_))) {
                self.untimed.borrow_mut().clear();
                left = None;
                self.drop_rest_of_submission();
            }
            for error in [validation, memory, internal].into_iter().flatten().flatten() {
                super::scopes::report_to(&self.host.device, &self.scopes, Some(&mark), error.kind(), error.message());
            }
        }
        for (learns, time) in self.untimed.take() {
            learns.timed(&time);
        }
        left
    }

    /// `commands`, the application's, held in a submission in parts, holds what learns the
    /// time of the runtime submission that holds it, once the runtime took that (only a part
    /// of a submission in parts is made in scopes of the virt's own, which tell).
    pub fn uncut(&self, commands: &Rc<imp::GpuCommandBuffer>, learns: Rc<dyn Learns>) {
        let mut all = self.uncut.borrow_mut();
        all.retain(|(buffer, _)| buffer.strong_count() > 0);
        all.push((Rc::downgrade(commands), learns));
    }

    /// Drops the parts held of the submission whose part the runtime refused.
    fn drop_rest_of_submission(&self) {
        let mut dropped = 0;
        let mut held = self.held.borrow_mut();
        while let Some((_, _, HeldCall::Chunks(_) | HeldCall::Part(_))) = held.front() {
            held.pop_front();
            dropped += 1;
        }
        drop(held);
        self.count_forwarded(dropped);
    }

    /// Submits `buffers` with the parts held after them that join them ([`Self::join_parts`]).
    fn submit_joined(self: &Rc<Self>, by: u64, buffers: Vec<Rc<imp::GpuCommandBuffer>>, operation: Operation) {
        let mut batch = Batch::new(&self.host.device, buffers);
        self.join_parts(by, &mut batch);
        self.submit_batch(batch, by, operation);
    }

    /// Submits `batch`: each job with a chunk in it learns the submission's time (from its
    /// submission until the virt hears it done, the work queued before it included), once the
    /// runtime took it ([`Self::forward`]).
    fn submit_batch(self: &Rc<Self>, batch: Batch, by: u64, operation: Operation) {
        let (buffers, jobs) = batch.finish();
        let number = self.submit_now(&buffers, by, operation);
        let time = self.host.time_of(number);
        let mut untimed = self.untimed.borrow_mut();
        untimed.extend(jobs.into_iter().map(|job| (job as Rc<dyn Learns>, time.clone())));
        let mut uncut = self.uncut.borrow_mut();
        while let Some(at) = uncut.iter().position(|(held, _)| buffers.iter().any(|b| std::ptr::eq(held.as_ptr(), Rc::as_ptr(b)))) {
            untimed.push((uncut.swap_remove(at).1, time.clone()));
        }
    }

    /// Makes held call `call`, which the application's call number `by` made: what is left of
    /// it to make later.
    fn make(self: &Rc<Self>, by: u64, call: HeldCall) -> Option<HeldCall> {
        match call {
            HeldCall::Submit(buffers) => self.submit_joined(by, buffers, Operation::Submission),
            HeldCall::Part(buffers) => self.submit_joined(by, buffers, Operation::Part),
            HeldCall::Chunks(job) => {
                let (rest, estimate) = (job.rest(), job.estimate());
                let mut batch = Batch::new(&self.host.device, Vec::new());
                if batch.chunk(&job) {
                    self.went_ahead(estimate);
                    if rest.is_some() && job.is_done() {
                        self.join_parts(by, &mut batch);
                    }
                    self.submit_batch(batch, by, Operation::Part);
                }
                return (!job.is_done()).then_some(HeldCall::Chunks(job));
            }
            HeldCall::WriteBuffer { buffer, offset, data, data_offset, size } => {
                // The data's range was checked when the call was held: nothing is left to fail
                // here but what goes to the error scopes.
                let _ = self.host.queue().write_buffer_with_copy(&buffer, offset, &data, data_offset, size);
                self.host.forwarded(self.device_id, Operation::Write, by);
            }
            HeldCall::WriteTexture { texture, place, data, layout, size } => {
                let TexturePlace { mip_level, origin, aspect } = place;
                let destination = imp::GpuTexelCopyTextureInfo { texture: &texture, mip_level, origin, aspect };
                self.host.queue().write_texture_with_copy(&destination, &data, layout, size);
                self.host.forwarded(self.device_id, Operation::Write, by);
            }
            HeldCall::Unmap(buffer) => {
                let _ = buffer.unmap();
            }
            HeldCall::DestroyBuffer(buffer) => buffer.destroy(),
            HeldCall::DestroyTexture(texture) => texture.destroy(),
            HeldCall::DestroyQuerySet(query_set) => query_set.destroy(),
            HeldCall::DestroyDevice => self.host.device.destroy(),
            HeldCall::Run(call) => call(),
            HeldCall::Turn(_) => unreachable!("a turn is the application task's own (`forward`)"),
        }
        None
    }
}

