//! Fairness across a pod's guests: the pool's cap on the submissions in flight of all guests
//! together (`pool.max-in-flight`), given out in shares of the GPU's time.
//!
//! A submission past the pool's cap is held back on its device's queue timeline
//! (`super::timeline`) like one past the device's own cap. When a slot frees, the device whose
//! guest has had the least of the GPU, for its `weight`, releases next (weighted fair queuing):
//! - what a guest has had is its GPU time (`super::gpu_time`), with its submissions still in
//!   flight counted at its mean time per operation; so weights are shares of GPU time, whatever
//!   the size of each guest's submissions. (A virt with no clock, the plain build configured by
//!   hand, counts submissions instead.)
//! - A guest that starts waiting after an idle spell starts at most [`CREDIT`] behind the
//!   least-served guest still waiting or running, not behind by all the time it did not use:
//!   idling banks no more credit than that (a guest's own short waits for its queue lose none).
//! - A device with nothing held does not jump the line: while others wait, its submissions wait
//!   too. While devices wait, every device with work in flight watches its queue, so that slots
//!   come back.
//!
//! Each device in the pool is known by its id and the channel that wakes its drainer.

use super::{budget, gpu_time};
use crate::ids::DeviceId;
use crate::{config, tenant};
use futures::channel::mpsc;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// How far behind the others a guest coming back from an idle spell may start: GPU time, in
/// nanoseconds for weight 1.
pub const CREDIT: f64 = 100e6;

thread_local! {
    static POOL: RefCell<Option<Rc<Pool>>> = const { RefCell::new(None) };
}

/// The pod's cap on submissions in flight, all guests together, and what each guest had.
pub struct Pool {
    max: u64,
    in_flight: Cell<u64>,
    most: Cell<u64>,
    /// The devices with a submission waiting for a slot, in the order they began to wait.
    waiting: RefCell<Vec<DeviceId>>,
    /// Every device under the pool's cap, and what wakes its drainer.
    members: RefCell<Vec<(DeviceId, mpsc::UnboundedSender<()>)>>,
    /// What each guest had, by tenant.
    shares: RefCell<Vec<Share>>,
}

/// What one guest had of the pool.
#[derive(Clone, Copy, Default)]
struct Share {
    /// Submissions released, and those of them in flight.
    released: u64,
    in_flight: u64,
    /// Added to its use when it came back from an idle spell.
    lift: f64,
    /// Its GPU time when last looked at, and how much of it came while another guest also had
    /// work in flight or waiting (what the shares are about).
    seen: u64,
    contended: u64,
}

/// The pool, if the pod has an in-flight cap.
pub fn pool() -> Option<Rc<Pool>> {
    POOL.with_borrow_mut(|pool| {
        if pool.is_none() {
            let max = config::pod().pool.max_in_flight?;
            *pool = Some(Rc::new(Pool {
                max: max.get().into(),
                in_flight: Cell::new(0),
                most: Cell::new(0),
                waiting: RefCell::default(),
                members: RefCell::default(),
                shares: RefCell::default(),
            }));
        }
        pool.clone()
    })
}

/// A guest's weight: its share of the GPU, relative to the others'.
fn weight(tenant: u32) -> f64 {
    config::of_tenant(tenant).weight.map_or(1, |w| w.get()).into()
}

impl Pool {
    fn share(&self, tenant: u32) -> Share {
        self.shares.borrow().get(tenant as usize).copied().unwrap_or_default()
    }

    fn update(&self, tenant: u32, f: impl FnOnce(&mut Share)) {
        let mut shares = self.shares.borrow_mut();
        let i = tenant as usize;
        if shares.len() <= i {
            shares.resize(i + 1, Share::default());
        }
        f(&mut shares[i]);
    }

    /// Whether `tenant` has work in flight or waiting.
    fn busy(&self, tenant: u32) -> bool {
        self.share(tenant).in_flight > 0 || self.waiting.borrow().iter().any(|d| tenant::of(*d) == tenant)
    }

    /// Books the GPU time each guest had since last looked at, as contended if more than one
    /// guest was busy meanwhile (called before each change of who is busy).
    fn account(&self) {
        if !gpu_time::measured() {
            return;
        }
        let busy = (0..config::tenants()).filter(|t| self.busy(*t)).count();
        for tenant in 0..config::tenants() {
            let ns = gpu_time::of(tenant).ns;
            self.update(tenant, |s| {
                if busy > 1 {
                    s.contended += ns.saturating_sub(s.seen);
                }
                s.seen = ns;
            });
        }
    }

    /// What `tenant` had of the GPU, for its weight: its GPU time and its work in flight at its
    /// mean time per operation (without a clock, its submissions), plus its lift.
    fn had(&self, tenant: u32) -> f64 {
        let share = self.share(tenant);
        let used = if gpu_time::measured() {
            let spent = gpu_time::of(tenant);
            let mean = if spent.operations == 0 { 0.0 } else { spent.ns as f64 / spent.operations as f64 };
            spent.ns as f64 + share.in_flight as f64 * mean
        } else {
            share.released as f64
        };
        used / weight(tenant) + share.lift
    }

    /// The waiting device that releases next: the one whose guest had the least (the earliest
    /// waiting of those that had as little), passing over guests over their GPU budget.
    fn next(&self) -> Option<DeviceId> {
        let waiting = self.waiting.borrow();
        let mut best: Option<(DeviceId, f64)> = None;
        for &device in waiting.iter() {
            let tenant = tenant::of(device);
            if budget::check(tenant).is_err() {
                continue;
            }
            let had = self.had(tenant);
            if best.is_none_or(|(_, least)| had < least) {
                best = Some((device, had));
            }
        }
        best.map(|(device, _)| device)
    }

    /// Whether `device` may forward a submission now: a slot is free and no other device is
    /// ahead of it.
    pub fn may_release(&self, device: DeviceId) -> bool {
        self.in_flight.get() < self.max && self.next().is_none_or(|d| d == device)
    }

    /// `device` forwarded a submission: a slot is taken. It stops waiting when `over` (it
    /// reached its own cap or holds no more submissions).
    pub fn released(&self, device: DeviceId, over: bool) {
        self.account();
        let in_flight = self.in_flight.get() + 1;
        self.in_flight.set(in_flight);
        self.most.set(self.most.get().max(in_flight));
        self.update(tenant::of(device), |s| {
            s.released += 1;
            s.in_flight += 1;
        });
        if over {
            self.waiting.borrow_mut().retain(|d| *d != device);
        }
        self.wake_next();
    }

    /// `device` comes under the pool's cap; `wake` wakes its drainer.
    pub fn join(&self, device: DeviceId, wake: mpsc::UnboundedSender<()>) {
        self.members.borrow_mut().push((device, wake));
    }

    /// `device` holds a submission it may not forward yet: it waits for its turn.
    pub fn wait(&self, device: DeviceId) {
        if self.waiting.borrow().contains(&device) {
            return;
        }
        self.account();
        let tenant = tenant::of(device);
        if !self.busy(tenant) {
            // Back from an idle spell: at most `CREDIT` behind the least-served guest at work.
            let others = (0..config::tenants()).filter(|t| *t != tenant && self.busy(*t)).map(|t| self.had(t));
            if let Some(level) = others.min_by(f64::total_cmp) {
                let behind = level - CREDIT - self.had(tenant);
                if behind > 0.0 {
                    self.update(tenant, |s| s.lift += behind);
                }
            }
        }
        self.waiting.borrow_mut().push(device);
        // Slots come back only from work known done: every device with work in flight watches
        // its queue (its drainer, woken with nothing to release, does).
        for (_, wake) in self.members.borrow().iter() {
            let _ = wake.unbounded_send(());
        }
    }

    /// `count` submissions of `device` are done: their slots are free.
    pub fn done(&self, device: DeviceId, count: u64) {
        if count > 0 {
            self.account();
            self.in_flight.set(self.in_flight.get().saturating_sub(count));
            self.update(tenant::of(device), |s| s.in_flight = s.in_flight.saturating_sub(count));
            self.wake_next();
        }
    }

    /// Wakes the drainer of the device that releases next, when a slot is free.
    fn wake_next(&self) {
        if self.in_flight.get() >= self.max {
            return;
        }
        let Some(next) = self.next() else { return };
        if let Some((_, wake)) = self.members.borrow().iter().find(|(d, _)| *d == next) {
            let _ = wake.unbounded_send(());
        }
    }

    /// Whether devices wait for a slot.
    pub fn waiting(&self) -> bool {
        !self.waiting.borrow().is_empty()
    }

    /// `device` is gone, with `in_flight` submissions no one will hear of.
    pub fn leave(&self, device: DeviceId, in_flight: u64) {
        self.account();
        self.members.borrow_mut().retain(|(d, _)| *d != device);
        self.waiting.borrow_mut().retain(|d| *d != device);
        self.in_flight.set(self.in_flight.get().saturating_sub(in_flight));
        self.update(tenant::of(device), |s| s.in_flight = s.in_flight.saturating_sub(in_flight));
        self.wake_next();
    }
}

/// The pool's figures for the operator: the most in flight, and each guest's GPU time while
/// others had work too (microseconds): the shares the pool is about.
pub fn counters(mut push: impl FnMut(&str, u64)) {
    if let Some(pool) = POOL.with_borrow(|p| p.clone()) {
        push("pool most in flight", pool.most.get());
        if gpu_time::measured() {
            pool.account();
            for tenant in 0..config::tenants() {
                let name = format!("pool {}gpu time us while contended", config::guest_prefix(tenant));
                push(&name, pool.share(tenant).contended / 1_000);
            }
        }
    }
}
