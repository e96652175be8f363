//! GPU time: how long each guest's work ran on the GPU, when the configuration measures it.
//!
//! The virt has no view into the GPU, and WebGPU gives it none that every runtime has. It sees
//! the order of the host queue: each queue operation it forwards is numbered (`super::host`),
//! a wait on the queue is asked after each submission (it starts when the virt's pump runs
//! next, so a burst of calls shares one), and every wait that completes says that everything
//! up to some number is done. A queue runs its operations in order, so the
//! submissions newly done ran from when the first of them was forwarded, or when the work
//! before it was done, whichever is later, until the wait completed: that interval is their GPU
//! time, shared evenly among them.
//!
//! Whose time it is: the virt never lets two guests' work share a wait (a timeline holds a
//! submission until a wait covers another device's work before it), so an interval is always
//! one guest's. A submission under a time limit is timed on its own (it is held until a wait
//! covers its guest's submission before it).
//!
//! The estimate's error: the time between the GPU finishing and the virt hearing of it (the
//! runtime's completion latency: tens of microseconds on the built-in host) is counted; a write
//! is not timed apart (wgpu carries it out with the next submission, in whose time it lands);
//! time the GPU is idle while the CPU prepares the next submission is never counted; and work
//! of several host devices running side by side (a device per guest) is each counted whole.

use crate::hooks::Counter;
use crate::{clock, config};
use std::cell::{Cell, RefCell};

/// One guest's GPU time.
#[derive(Default, Clone, Copy)]
pub struct Spent {
    pub ns: u64,
    pub operations: u64,
    pub longest: u64,
    /// Devices lost for a submission over `max-submission-time` (`super::watchdog`).
    pub overdue: u64,
    /// Times its work was held back for its `max-gpu-share` (`super::budget`).
    pub budget_holds: u64,
    /// Dispatches and draws of its cut into chunks (`super::chunks`, `super::draws`).
    pub cuts: [u64; 2],
    /// Chunks of its dispatches and draws submitted, each a queue operation.
    pub chunks: [u64; 2],
    /// Dispatches and draws of its set apart: each waited for the work before it.
    pub set_apart: [u64; 2],
}

/// What work a cut took out of a pass (an index of [`Spent`]'s counts).
#[derive(Clone, Copy)]
pub enum Work {
    Dispatch = 0,
    Draw = 1,
}

thread_local! {
    /// Per tenant.
    static SPENT: RefCell<Vec<Spent>> = const { RefCell::new(Vec::new()) };
    /// Whether GPU time is measured (decided at the first use).
    static ON: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether GPU time is measured: the configuration asks for it and the build has a clock.
pub fn measured() -> bool {
    if let Some(on) = ON.get() {
        return on;
    }
    let on = config::pod().measures_gpu_time() && clock::now().is_some();
    ON.set(Some(on));
    on
}

/// A queue operation of `tenant` ran `ns` on the GPU.
pub fn spent(tenant: u32, ns: u64) {
    with(tenant, |s| {
        s.ns += ns;
        s.operations += 1;
        s.longest = s.longest.max(ns);
    });
}

/// `tenant`'s work was held back for its GPU budget.
pub fn budget_hold(tenant: u32) {
    with(tenant, |s| s.budget_holds += 1);
    crate::console::limit_hit("work was held back for max-gpu-share");
}

/// A dispatch or draw of `tenant` was cut into chunks.
pub fn cut(tenant: u32, work: Work) {
    with(tenant, |s| s.cuts[work as usize] += 1);
}

/// A dispatch or draw of `tenant` was set apart: the work before it in its submission may take
/// a slice.
pub fn set_apart(tenant: u32, work: Work) {
    with(tenant, |s| s.set_apart[work as usize] += 1);
}

/// A chunk of a dispatch or draw of `tenant` was submitted.
pub fn chunk(tenant: u32, work: Work) {
    with(tenant, |s| s.chunks[work as usize] += 1);
}

/// A device of `tenant` was lost for a submission over its time limit.
pub fn overdue(tenant: u32) {
    with(tenant, |s| s.overdue += 1);
    crate::console::limit_hit("a device was lost to max-submission-time");
}

fn with(tenant: u32, f: impl FnOnce(&mut Spent)) {
    SPENT.with_borrow_mut(|all| {
        let i = tenant as usize;
        if all.len() <= i {
            all.resize(i + 1, Spent::default());
        }
        f(&mut all[i]);
    });
}

/// The GPU time of `tenant` so far.
pub fn of(tenant: u32) -> Spent {
    SPENT.with_borrow(|all| all.get(tenant as usize).copied().unwrap_or_default())
}

/// The operator's figures, per guest (times in microseconds).
pub fn counters() -> Vec<(&'static str, Counter)> {
    let mut out = Vec::new();
    if !measured() {
        return out;
    }
    for tenant in 0..config::tenants() {
        let prefix = config::guest_prefix(tenant);
        let s = of(tenant);
        let mut push = |name: &str, value| out.push(("gpu-time", Counter { name: format!("{prefix}{name}"), value }));
        push("gpu time us", s.ns / 1_000);
        push("queue operations timed", s.operations);
        push("longest operation us", s.longest / 1_000);
        if config::of_tenant(tenant).max_submission_time.is_some() {
            push("devices lost to max-submission-time", s.overdue);
            push("dispatches cut", s.cuts[0]);
            push("dispatch chunks", s.chunks[0]);
            push("dispatches set apart", s.set_apart[0]);
            push("draws cut", s.cuts[1]);
            push("draw chunks", s.chunks[1]);
            push("draws set apart", s.set_apart[1]);
        }
        if config::of_tenant(tenant).max_gpu_share.is_some() {
            push("held for max-gpu-share", s.budget_holds);
        }
    }
    out
}
