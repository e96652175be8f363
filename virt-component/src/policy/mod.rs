//! The policy chain: what the virt does besides forwarding.
//!
//! Every exported function shows each call to the chain before it forwards it ([`before`], with
//! the call's [`Args`]) and what it returned after ([`after`], with its [`Ret`]), with the
//! [`DeviceId`] of the object called. Policies run in order before the call and in reverse order
//! after it, like tower layers. The chain is built once, at the first call, from the
//! [baked configuration](crate::config); with no policy configured the generated code checks one
//! flag and forwards, so an unconfigured virt is a pure pass-through at its cost.
//!
//! A policy that must answer a call itself (quota refuses a `create-buffer` with an invalid
//! object and an error; sharing will hand out virtual devices) takes the function over through
//! the generator's `BY_HAND` table, which routes the export to a hand-written body; that body
//! calls the generated forwarding (`forward_*`) for what it lets through. The generic hooks here
//! observe; they still see the calls a hand-written body answers.

mod calls;
mod noop;
pub mod quota;

pub use crate::{Args, Func, Ret};
use std::cell::{Cell, RefCell};
use webgpu_virt_config::Config;

/// The device an object belongs to: every wrapper carries one. Objects made by a method belong
/// to the device of the object called; a new device gets a fresh id; `gpu`, adapters and the
/// helper records belong to none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(u32);

impl DeviceId {
    /// Belongs to no device.
    pub const NONE: Self = Self(0);

    /// A device id never used before in this instance.
    pub fn fresh() -> Self {
        thread_local!(static NEXT: Cell<u32> = const { Cell::new(1) });
        NEXT.with(|n| {
            let id = n.get();
            n.set(id.checked_add(1).expect("fewer than 2^32 devices"));
            Self(id)
        })
    }

    /// The id's number: 1, 2, ... in the order the devices were made (0 for [`Self::NONE`]).
    pub fn number(self) -> u32 {
        self.0
    }
}

/// One value a policy keeps for the operator (the `stats` export).
pub struct Counter {
    pub name: String,
    pub value: u64,
}

/// A policy: sees calls before and after they reach the runtime.
pub trait Policy {
    /// The policy's name in the operator's view.
    fn name(&self) -> &'static str;

    /// A call about to be forwarded.
    fn before(&mut self, device: DeviceId, args: &Args<'_>) {
        let _ = (device, args);
    }

    /// What a call returned to the application.
    fn after(&mut self, device: DeviceId, ret: &Ret<'_>) {
        let _ = (device, ret);
    }

    /// Appends the values this policy keeps for the operator.
    fn counters(&self, out: &mut Vec<Counter>) {
        let _ = out;
    }
}

thread_local! {
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
    static CHAIN: RefCell<Vec<Box<dyn Policy>>> = const { RefCell::new(Vec::new()) };
    /// Whether the chain holds a policy; `None` until it is built.
    static ACTIVE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The policies a configuration asks for, in chain order.
fn chain(config: &Config) -> Vec<Box<dyn Policy>> {
    let mut chain: Vec<Box<dyn Policy>> = Vec::new();
    chain.extend(quota::configure(config));
    if config.count_calls {
        chain.push(Box::new(calls::Calls::default()));
    }
    if config.noop {
        chain.push(Box::new(noop::Noop));
    }
    chain
}

/// Whether any policy is configured; builds the chain at the first call.
#[inline]
pub fn active() -> bool {
    ACTIVE.get().unwrap_or_else(|| {
        let config = crate::config::baked();
        let chain = chain(&config);
        let active = !chain.is_empty();
        CHAIN.set(chain);
        CONFIG.set(config);
        ACTIVE.set(Some(active));
        active
    })
}

/// Reads the baked configuration.
pub fn config<R>(f: impl FnOnce(&Config) -> R) -> R {
    active();
    CONFIG.with_borrow(f)
}

/// Shows a call to every policy, in order.
pub fn before(device: DeviceId, args: &Args<'_>) {
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.before(device, args)));
}

/// Shows what a call returned to every policy, in reverse order.
pub fn after(device: DeviceId, ret: &Ret<'_>) {
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().rev().for_each(|p| p.after(device, ret)));
}

/// Every policy's counters: (policy, counter).
pub fn counters() -> Vec<(&'static str, Counter)> {
    active();
    CHAIN.with_borrow(|chain| {
        let mut all = Vec::new();
        for policy in chain {
            let mut own = Vec::new();
            policy.counters(&mut own);
            all.extend(own.into_iter().map(|c| (policy.name(), c)));
        }
        all
    })
}
