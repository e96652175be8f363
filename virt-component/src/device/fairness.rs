//! Fairness across a pod's guests: the pool's cap on the submissions in flight of all guests
//! together (`pool.max-in-flight`), released round-robin.
//!
//! A submission past the pool's cap is held back on its device's queue timeline
//! (`super::timeline`) like one past the device's own cap, and the devices holding submissions
//! back take turns: the device whose turn it is releases up to its guest's `weight` submissions
//! as slots free up, then goes to the back of the line. A device with nothing held does not
//! jump the line: while others wait, its submissions wait too. While devices wait, every device
//! with work in flight watches its queue, so that slots come back. Each device in the pool is
//! known by its id and the channel that wakes its drainer.

use crate::ids::DeviceId;
use crate::{config, tenant};
use futures::channel::mpsc;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

thread_local! {
    static POOL: RefCell<Option<Rc<Pool>>> = const { RefCell::new(None) };
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
    /// Every device under the pool's cap, and what wakes its drainer.
    members: RefCell<Vec<(DeviceId, mpsc::UnboundedSender<()>)>>,
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
                turns: RefCell::default(),
                credit: Cell::new(0),
                members: RefCell::default(),
            }));
        }
        pool.clone()
    })
}

/// How many submissions `device`'s guest releases at its turn.
fn weight(device: DeviceId) -> u32 {
    tenant::policy(device).weight.map_or(1, |w| w.get())
}

impl Pool {
    /// Whether `device` may forward a submission now: a slot is free and no other device is
    /// ahead of it.
    pub fn may_release(&self, device: DeviceId) -> bool {
        self.in_flight.get() < self.max && self.turns.borrow().front().is_none_or(|d| *d == device)
    }

    /// `device` forwarded a submission: a slot is taken, and its turn is used up by one (all
    /// of it when `over`: the device reached its own cap or holds no more submissions, so that
    /// it does not hold the line).
    pub fn released(&self, device: DeviceId, over: bool) {
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

    /// `device` comes under the pool's cap; `wake` wakes its drainer.
    pub fn join(&self, device: DeviceId, wake: mpsc::UnboundedSender<()>) {
        self.members.borrow_mut().push((device, wake));
    }

    /// `device` holds a submission it may not forward yet: it waits for its turn.
    pub fn wait(&self, device: DeviceId) {
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
        // Slots come back only from work known done: every device with work in flight watches
        // its queue (its drainer, woken with nothing to release, does).
        for (_, wake) in self.members.borrow().iter() {
            let _ = wake.unbounded_send(());
        }
    }

    /// `count` submissions are done: their slots are free.
    pub fn done(&self, count: u64) {
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
        let Some(front) = self.turns.borrow().front().copied() else { return };
        if let Some((_, wake)) = self.members.borrow().iter().find(|(d, _)| *d == front) {
            let _ = wake.unbounded_send(());
        }
    }

    /// Whether devices wait for a slot.
    pub fn waiting(&self) -> bool {
        !self.turns.borrow().is_empty()
    }

    /// `device` is gone, with `in_flight` submissions no one will hear of.
    pub fn leave(&self, device: DeviceId, in_flight: u64) {
        self.members.borrow_mut().retain(|(d, _)| *d != device);
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
pub fn counters(mut push: impl FnMut(&str, u64)) {
    if let Some(pool) = POOL.with_borrow(|p| p.clone()) {
        push("pool most in flight", pool.most.get());
    }
}
