//! A device of the runtime, on which virtual devices run, and its queue's ledger: the one
//! mechanism by which the virt learns that work on a host device's queue is done.
//!
//! The virt numbers the queue operations it forwards to a host device's queue (submissions
//! and writes, every virtual device's, 1, 2, ...) and keeps the most known done. A wait on the
//! runtime's queue (`on-submitted-work-done`) covers everything submitted when it starts, so
//! one wait serves every number up to it: [`Host::done_through`] asks one only when none asked
//! covers the number, and everyone waiting for a number it covers hears of it.

use crate::ids::DeviceId;
use crate::{RecordOptionGpuSize64, WitName, exp, imp};
use futures::channel::oneshot;
use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

/// A device of the runtime, and what the virt keeps of its queue.
pub struct Host {
    pub device: Rc<imp::GpuDevice>,
    /// Whether the virt owns its devices' destroy, loss and labels (a pod's host device, when
    /// its guests share the GPU: see `super::share`).
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
    /// The number of each virtual device's last queue operation.
    last: RefCell<Vec<(DeviceId, u64)>>,
    queue: OnceCell<imp::GpuQueue>,
    /// A small buffer of the virt's own, made when first needed (`super::share::Spoil`).
    scratch: OnceCell<imp::GpuBuffer>,
}

impl Host {
    pub fn new(device: Rc<imp::GpuDevice>, pooled: bool, key: Key, instant_pops: bool) -> Rc<Self> {
        Rc::new(Self {
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
            queue: OnceCell::new(),
            scratch: OnceCell::new(),
        })
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

    /// A queue operation of `device` was forwarded: its number.
    pub fn forwarded(&self, device: DeviceId) -> u64 {
        let n = self.submitted.get() + 1;
        self.submitted.set(n);
        let mut last = self.last.borrow_mut();
        match last.iter_mut().find(|(d, _)| *d == device) {
            Some((_, at)) => *at = n,
            None => last.push((device, n)),
        }
        n
    }

    /// The number of `device`'s last queue operation (0: none).
    pub fn last_of(&self, device: DeviceId) -> u64 {
        self.last.borrow().iter().find(|(d, _)| *d == device).map_or(0, |(_, n)| *n)
    }

    /// `device` is gone: its numbers need no keeping.
    pub fn leave(&self, device: DeviceId) {
        self.last.borrow_mut().retain(|(d, _)| *d != device);
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

    /// Whether another device forwarded a queue operation that no wait was asked for yet: work
    /// `device` releases now would be waited for with it.
    pub fn others_uncovered(&self, device: DeviceId) -> bool {
        let asked = self.asked.get();
        self.last.borrow().iter().any(|(d, n)| *d != device && *n > asked)
    }

    /// Starts a wait on the queue for everything forwarded so far, if another device's
    /// operations need it ([`Self::others_uncovered`]): made before `device` releases held
    /// work, so that no other device waits for work released after its own.
    pub async fn cover(self: &Rc<Self>, device: DeviceId) {
        if !self.others_uncovered(device) {
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
