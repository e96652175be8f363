//! A device of the runtime, on which virtual devices run, and its queue's ledger: the one
//! mechanism by which the virt learns that work on a host device's queue is done.
//!
//! The virt numbers the queue operations it forwards to a host device's queue (submissions
//! and writes, every virtual device's, 1, 2, ...) and keeps the most known done. A wait on the
//! runtime's queue (`on-submitted-work-done`) covers everything submitted when it starts, so
//! one wait serves every number up to it: [`Host::done_through`] asks one only when none asked
//! covers the number, and everyone waiting for a number it covers hears of it.

use super::gpu_time;
use crate::ids::DeviceId;
use crate::{RecordOptionGpuSize64, WitName, clock, exp, imp, tenant};
use futures::channel::{mpsc, oneshot};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::{Rc, Weak};
use std::task::Poll;

thread_local! {
    /// Every host device, for a watchdog to wait on the work of the others (they share a GPU).
    static HOSTS: RefCell<Vec<Weak<Host>>> = const { RefCell::new(Vec::new()) };
}

/// The GPU time of a queue operation, in nanoseconds, once it is done ([`Host::time_of`]).
pub type Time = Rc<Cell<Option<u64>>>;

/// A device of the runtime, and what the virt keeps of its queue.
pub struct Host {
    pub device: Rc<imp::GpuDevice>,
    /// Whether the virt owns its devices' destroy, loss and labels: a pod's host device, when
    /// its guests share the GPU (`super::share`), or a device under a GPU-time limit, which the
    /// virt may lose itself (`super::watchdog`).
    pub pooled: bool,
    /// What it was asked for: virtual devices asking for the same may share it.
    pub key: Key,
    /// Whether its `pop-error-scope` completes when it is called (only such a host device is
    /// shared).
    pub instant_pops: bool,
    /// Whether a second virtual device joined it: its calls are bracketed from then on.
    pub shared: Cell<bool>,
    /// Whether the virt listens for its loss (`super::share::watch_loss`).
    pub watched: Cell<bool>,
    /// Queue operations forwarded, the most a wait was asked for and the most known done.
    submitted: Cell<u64>,
    asked: Cell<u64>,
    done: Cell<u64>,
    /// Who waits for a number to be done.
    waiters: RefCell<Vec<(u64, oneshot::Sender<()>)>>,
    /// The number of each virtual device's last queue operation, and of its last submission.
    last: RefCell<Vec<(DeviceId, u64)>>,
    last_submission: RefCell<Vec<(DeviceId, u64)>>,
    /// While GPU time is measured: the submissions not known done, and when the last known
    /// done was heard of (`super::gpu_time`).
    timed: RefCell<VecDeque<Timed>>,
    idle_since: Cell<u64>,
    /// While GPU time is measured: the latest numbers heard done, and when (the last [`HEARD`]).
    heard: RefCell<VecDeque<(u64, u64)>>,
    /// Operations whose time someone learns once it is known ([`Host::time_of`]).
    learning: RefCell<Vec<(u64, Time)>>,
    /// The devices whose submissions are watched against a time limit, and where to tell.
    watchers: RefCell<Vec<(DeviceId, mpsc::UnboundedSender<Submitted>)>>,
    queue: OnceCell<imp::GpuQueue>,
    /// A small buffer of the virt's own, made when first needed (`super::share::Spoil`).
    scratch: OnceCell<imp::GpuBuffer>,
    /// The bind group index reserved for a chunk's place (`super::chunks`), and the most
    /// workgroups a dispatch may have per dimension: its limits, asked when first needed.
    pub reserved_group: OnceCell<Option<u32>>,
    max_workgroups: OnceCell<u32>,
}

impl Host {
    pub fn new(device: Rc<imp::GpuDevice>, pooled: bool, key: Key, instant_pops: bool) -> Rc<Self> {
        let host = Rc::new(Self {
            device,
            pooled,
            key,
            instant_pops,
            shared: Cell::new(false),
            watched: Cell::new(false),
            submitted: Cell::new(0),
            asked: Cell::new(0),
            done: Cell::new(0),
            waiters: RefCell::default(),
            last: RefCell::default(),
            last_submission: RefCell::default(),
            timed: RefCell::default(),
            idle_since: Cell::new(0),
            heard: RefCell::default(),
            learning: RefCell::default(),
            watchers: RefCell::default(),
            queue: OnceCell::new(),
            scratch: OnceCell::new(),
            reserved_group: OnceCell::new(),
            max_workgroups: OnceCell::new(),
        });
        HOSTS.with_borrow_mut(|hosts| {
            hosts.retain(|h| h.strong_count() > 0);
            hosts.push(Rc::downgrade(&host));
        });
        host
    }

    /// Its queue (asked of the runtime when first needed).
    pub fn queue(&self) -> &imp::GpuQueue {
        self.queue.get_or_init(|| self.device.queue())
    }

    /// A buffer of 4 bytes (copy source and destination) that belongs to no application.
    pub fn scratch(&self) -> &imp::GpuBuffer {
        self.scratch.get_or_init(|| {
            let usage = imp::GpuBufferUsage::COPY_SRC | imp::GpuBufferUsage::COPY_DST;
            self.device.create_buffer(&imp::GpuBufferDescriptor { size: 4, usage, mapped_at_creation: None, label: None })
        })
    }

    /// The most workgroups a dispatch may have per dimension.
    pub fn max_workgroups_per_dimension(&self) -> u32 {
        *self.max_workgroups.get_or_init(|| self.device.limits().max_compute_workgroups_per_dimension())
    }

    /// A queue operation of `device` was forwarded, made by the application's call number
    /// `call`: its number.
    pub fn forwarded(self: &Rc<Self>, device: DeviceId, operation: Operation, call: u64) -> u64 {
        self.forwarded_since(device, operation, call, None)
    }

    /// Submits `buffers` for `device` (a submission or a part of one that call number `call`
    /// made): its number. Its time starts before the runtime's submit, which may run the work
    /// before it returns (lavapipe's did: a dispatch of 0.4 s returned from it done).
    pub fn submit(self: &Rc<Self>, device: DeviceId, buffers: &[&imp::GpuCommandBuffer], operation: Operation, call: u64) -> u64 {
        let since = gpu_time::measured().then(clock::now).flatten();
        self.queue().submit(buffers);
        self.forwarded_since(device, operation, call, since)
    }

    /// [`Self::forwarded`], of an operation handed to the runtime at `since` (`None`: now).
    fn forwarded_since(self: &Rc<Self>, device: DeviceId, operation: Operation, call: u64, since: Option<u64>) -> u64 {
        let n = self.submitted.get() + 1;
        self.submitted.set(n);
        Self::set(&mut self.last.borrow_mut(), device, n);
        if operation == Operation::Write {
            return n;
        }
        let previous = Self::number_of(&self.last_submission.borrow(), device);
        Self::set(&mut self.last_submission.borrow_mut(), device, n);
        if gpu_time::measured() {
            let at = since.or_else(clock::now).unwrap_or(0);
            self.timed.borrow_mut().push_back(Timed { number: n, tenant: tenant::of(device), call, at, charged: false });
            if self.watchers.borrow().iter().any(|(d, _)| *d == device) {
                // What the GPU had to do before it: here, the last operation of every other
                // device and its own previous submission (a write of its own is part of its own
                // work); on other host devices, everything forwarded so far (they share the GPU).
                let others = self.last.borrow().iter().filter(|(d, _)| *d != device).map(|(_, n)| *n).max().unwrap_or(0);
                let mut behind = vec![(Rc::downgrade(self), others.max(previous))];
                HOSTS.with_borrow(|hosts| {
                    for other in hosts.iter().filter_map(Weak::upgrade).filter(|h| !Rc::ptr_eq(h, self)) {
                        if other.submitted.get() > other.done.get() {
                            behind.push((Rc::downgrade(&other), other.submitted.get()));
                        }
                    }
                });
                let mut behind = Some(behind);
                self.watchers.borrow_mut().retain(|(d, tx)| {
                    *d != device || tx.unbounded_send(Submitted { number: n, at, part: operation == Operation::Part, behind: behind.take().unwrap_or_default() }).is_ok()
                });
            }
            // A wait for it, so that its time is known even if the application never waits on
            // the queue (a map waits on the runtime's own). It starts when the pump runs next (a
            // synchronous call cannot start one): what the same guest forwards before then is
            // covered by it too, and shares its time.
            crate::bridge::spawn(self.clone().ask());
        }
        n
    }

    fn set(list: &mut Vec<(DeviceId, u64)>, device: DeviceId, n: u64) {
        match list.iter_mut().find(|(d, _)| *d == device) {
            Some((_, at)) => *at = n,
            None => list.push((device, n)),
        }
    }

    fn number_of(list: &[(DeviceId, u64)], device: DeviceId) -> u64 {
        list.iter().find(|(d, _)| *d == device).map_or(0, |(_, n)| *n)
    }

    /// The submissions of `device` forwarded from now on, with when (for a time limit:
    /// `super::watchdog`). The channel closes when the device leaves.
    pub fn watch(&self, device: DeviceId) -> mpsc::UnboundedReceiver<Submitted> {
        let (tx, rx) = mpsc::unbounded();
        self.watchers.borrow_mut().push((device, tx));
        rx
    }

    /// The number of `device`'s last queue operation (0: none).
    pub fn last_of(&self, device: DeviceId) -> u64 {
        Self::number_of(&self.last.borrow(), device)
    }

    /// `device` is gone: its numbers need no keeping.
    pub fn leave(&self, device: DeviceId) {
        self.last.borrow_mut().retain(|(d, _)| *d != device);
        self.last_submission.borrow_mut().retain(|(d, _)| *d != device);
        self.watchers.borrow_mut().retain(|(d, _)| *d != device);
    }

    /// The most known done.
    pub fn done(&self) -> u64 {
        self.done.get()
    }

    /// Waits until queue operation number `n` is done, asking the runtime for a wait when none
    /// asked covers it (the wait runs apart from the caller, which may give up).
    pub async fn done_through(self: &Rc<Self>, n: u64) {
        if self.done.get() >= n {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push((n, tx));
        if self.asked.get() < n {
            crate::bridge::spawn(self.clone().ask());
        }
        // Dropped unanswered only when the instance ends.
        let _ = rx.await;
    }

    /// Whether a queue operation was forwarded that no wait was asked for yet and that work
    /// `device` releases now must not share a wait with: another device's, so that no device
    /// waits for work released after its own (and no guest's GPU time is mixed with another's);
    /// and, when `own` (its submissions are timed against a limit), its own last submission, so
    /// that each is timed on its own.
    pub fn uncovered(&self, device: DeviceId, own: bool) -> bool {
        let asked = self.asked.get();
        self.last.borrow().iter().any(|(d, n)| *d != device && *n > asked)
            || (own && Self::number_of(&self.last_submission.borrow(), device) > asked)
    }

    /// Starts a wait on the queue for everything forwarded so far, if [`Self::uncovered`]:
    /// made before `device` releases held work.
    pub async fn cover(self: &Rc<Self>, device: DeviceId, own: bool) {
        if !self.uncovered(device, own) {
            return;
        }
        // The runtime takes the queue's state when the call starts: start it now (the job's
        // first poll makes the call), finish it apart.
        let mut wait = Box::pin(self.clone().ask());
        if std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await.is_pending() {
            crate::bridge::spawn(wait);
        }
    }

    /// A wait on the queue for everything forwarded when it starts, unless one was asked for
    /// already.
    async fn ask(self: Rc<Self>) {
        let target = self.submitted.get();
        if self.asked.get() >= target {
            return;
        }
        self.asked.set(target);
        self.queue().on_submitted_work_done().await;
        self.reached(target);
    }

    /// The queue operations up to number `n` are done.
    fn reached(&self, n: u64) {
        self.time(n);
        if let Some(now) = gpu_time::measured().then(clock::now).flatten() {
            let mut heard = self.heard.borrow_mut();
            if heard.len() == HEARD {
                heard.pop_front();
            }
            heard.push_back((n, now));
        }
        self.done.set(self.done.get().max(n));
        let done = self.done.get();
        let ready: Vec<_> = {
            let mut waiters = self.waiters.borrow_mut();
            let (ready, waiting) = std::mem::take(&mut *waiters).into_iter().partition(|(at, _)| *at <= done);
            *waiters = waiting;
            ready
        };
        for (_, waiter) in ready {
            let _ = waiter.send(());
        }
    }
}

/// How many of the latest numbers heard done a host device remembers ([`Host::heard_at`]).
const HEARD: usize = 64;

/// How long `settle` waits at most for submissions still in flight.
const SETTLE: u64 = 20_000_000;

/// Waits, at most 20 ms, until every timed submission on every host device is done and its time
/// known: called when the application is done, before the operator's stats are read and the
/// trace is ended (work that runs on, a runaway's, is left to it).
pub async fn settle() {
    if !gpu_time::measured() {
        return;
    }
    let Some(now) = clock::now() else { return };
    let hosts: Vec<Rc<Host>> = HOSTS.with_borrow(|hosts| hosts.iter().filter_map(Weak::upgrade).collect());
    for host in hosts {
        let Some(last) = host.timed.borrow().back().map(|t| t.number) else { continue };
        let done = host.done_through(last);
        futures::future::select(std::pin::pin!(done), std::pin::pin!(clock::until(now + SETTLE))).await;
    }
}

/// A queue operation the virt forwards.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A write (`write-buffer`, `write-texture`).
    Write,
    /// A submission.
    Submission,
    /// A later part of a submission cut into parts (`super::chunks`): the runtime sees a
    /// submission of its own, the limit on GPU time counts it with the one before.
    Part,
}

/// A submission whose GPU time is measured.
struct Timed {
    number: u64,
    tenant: u32,
    /// The application's call that made it.
    call: u64,
    /// When it was forwarded.
    at: u64,
    /// Whether its time was charged before it was done ([`Host::charge_now`]).
    charged: bool,
}

/// A submission forwarded, for a watchdog.
pub struct Submitted {
    /// Its number on the host queue.
    pub number: u64,
    /// When it was forwarded (the monotonic clock's nanoseconds).
    pub at: u64,
    /// Whether it is a later part of the submission before it (`super::chunks`).
    pub part: bool,
    /// What the GPU must finish before it can be said to run: a number on each host device
    /// (this one's first), each covered by a wait already asked on this one.
    pub behind: Vec<(Weak<Host>, u64)>,
}

impl Host {
    /// The operations up to `n` are done, heard of now: the submissions among them ran from
    /// when the first was forwarded or when the work before it was done, whichever is later,
    /// until now, an even share each (`super::gpu_time`).
    fn time(&self, n: u64) {
        let ready: Vec<Timed> = {
            let mut timed = self.timed.borrow_mut();
            let count = timed.iter().take_while(|t| t.number <= n).count();
            timed.drain(..count).collect()
        };
        let Some(first) = ready.first() else { return };
        let now = clock::now().unwrap_or(0);
        let start = first.at.max(self.idle_since.get());
        let share = now.saturating_sub(start) / ready.len() as u64;
        for t in ready.iter().filter(|t| !t.charged) {
            gpu_time::spent(t.tenant, share);
            crate::hooks::gpu_time(t.call, share);
        }
        self.learning.borrow_mut().retain(|(number, time)| {
            if let Some(t) = ready.iter().find(|t| t.number == *number) {
                time.set(Some(now.saturating_sub(t.at)));
            }
            *number > n
        });
        self.idle_since.set(now);
    }

    /// When the virt heard that the operations up to `n` were done (0 for none; `None`: not
    /// remembered).
    pub fn heard_at(&self, n: u64) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        self.heard.borrow().iter().find(|(done, _)| *done >= n).map(|(_, at)| *at)
    }

    /// The time from the forwarding of operation `n`, a timed submission, until it was heard
    /// done, once it is: at least what it ran (it counts the work before it on the queue, and
    /// the runtime's latency). How a cut dispatch learns what its chunk ran (`super::chunks`):
    /// the share [`Self::time`] gives it could be less, when the wait for the work before it
    /// was heard of with its own.
    pub fn time_of(&self, n: u64) -> Time {
        let time = Rc::new(Cell::new(None));
        self.learning.borrow_mut().push((n, time.clone()));
        time
    }

    /// Charges operation `n`, which runs still, the time it has run until now (its device is
    /// lost for it, and it may never end): from when the one before it was done, which the
    /// caller knows.
    pub fn charge_now(&self, n: u64) {
        let mut timed = self.timed.borrow_mut();
        let Some(t) = timed.iter_mut().find(|t| t.number == n && !t.charged) else { return };
        t.charged = true;
        let now = clock::now().unwrap_or(0);
        let ran = now.saturating_sub(t.at.max(self.idle_since.get()));
        gpu_time::spent(t.tenant, ran);
        crate::hooks::gpu_time(t.call, ran);
    }
}

/// The required features (sorted) and limits (sorted) of a device descriptor.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Key {
    features: Vec<&'static str>,
    limits: Vec<(String, Option<u64>)>,
}

impl Key {
    pub fn of(descriptor: Option<&exp::GpuDeviceDescriptor>) -> Self {
        let Some(d) = descriptor else { return Self::default() };
        let mut features: Vec<&'static str> = d.required_features.iter().flatten().map(|f| f.wit_name()).collect();
        features.sort_unstable();
        features.dedup();
        let mut limits = d.required_limits.as_ref().map(|l| l.get::<RecordOptionGpuSize64>().inner.entries()).unwrap_or_default();
        limits.sort();
        Self { features, limits }
    }
}
