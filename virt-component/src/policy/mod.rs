//! The policy chain: what the virt does besides forwarding.
//!
//! Every exported function shows each call to the chain before it forwards it ([`before`], with
//! the call's [`Args`]) and what it returned after ([`after`], with its [`Ret`]), with the
//! [`DeviceId`] of the object called and the call's number (calls are numbered in the order they
//! reach the chain, so that an async call's result finds its call). Every object has an id of
//! its own, never reused (`crate::device::ObjectId`); the chain is told when the application
//! drops one. Policies run in order before the call and in reverse order after it, like tower
//! layers. The chain is built once, at the first call, from the [baked
//! configuration](crate::config); with no policy configured the generated code checks one flag
//! and forwards, so an unconfigured virt is a pure pass-through at its cost.
//!
//! A policy that must answer a call itself (quota refuses a `create-buffer` with an invalid
//! object and an error) takes the function over through the generator's `BY_HAND` table, which
//! routes the export to a hand-written body; that body calls the generated forwarding
//! (`forward_*`) for what it lets through. The generic hooks here observe; they still see the
//! calls a hand-written body answers.
//!
//! The policies stand on the virtual-device layer (`crate::device`), which names none of them:
//! what the layer asks of them (`crate::hooks::Policies`) is answered here, at the one place
//! that knows every policy. One folder or file per policy, none reaching into another: `quota/`
//! (memory, objects, caps), `record/` (the trace), `calls.rs` (call counts), `noop.rs` (the cost
//! of the chain itself).

mod calls;
mod noop;
pub mod quota;
pub mod record;

use crate::encode::Recorded;
use crate::hooks::{self, Answer, Counter};
use crate::ids::{self, DeviceId};
use crate::{Args, GpuAdapter, GpuDevice, Ret, config, exp};
use std::cell::{Cell, RefCell};
use webgpu_virt_config::Config;

/// A policy: sees calls before and after they reach the runtime.
pub trait Policy {
    /// The policy's name in the operator's view.
    fn name(&self) -> &'static str;

    /// Call number `call` about to be forwarded.
    fn before(&mut self, device: DeviceId, call: u64, args: &Args<'_>) {
        let _ = (device, call, args);
    }

    /// What call number `call` returned to the application.
    fn after(&mut self, device: DeviceId, call: u64, ret: &Ret<'_>) {
        let _ = (device, call, ret);
    }

    /// The application dropped object `object`.
    fn dropped(&mut self, object: u64) {
        let _ = object;
    }

    /// A future that call number `call` returned resolved to `value`, or a stream it returned
    /// produced it.
    fn resolved(&mut self, call: u64, value: &dyn Recorded) {
        let _ = (call, value);
    }

    /// The queue operation that call number `call` made ran `ns` nanoseconds on the GPU.
    fn gpu_time(&mut self, call: u64, ns: u64) {
        let _ = (call, ns);
    }

    /// Writes out what the policy holds (in an async call: it may block).
    fn flush(&mut self) {}

    /// Appends the values this policy keeps for the operator.
    fn counters(&self, out: &mut Vec<Counter>) {
        let _ = out;
    }
}

thread_local! {
    static CHAIN: RefCell<Vec<Box<dyn Policy>>> = const { RefCell::new(Vec::new()) };
    /// Whether the chain holds a policy; `None` until it is built.
    static ACTIVE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The policies a configuration asks for, in chain order.
fn chain(config: &Config) -> Vec<Box<dyn Policy>> {
    let mut chain: Vec<Box<dyn Policy>> = Vec::new();
    chain.extend(quota::configure(config));
    // After the quota, so that the trace shows what the application was answered.
    if let Some(path) = &config.record {
        let guests: Vec<String> = config.guests.iter().map(|g| g.name.clone()).collect();
        chain.push(Box::new(record::Recorder::new(path, &guests, config.record_batched)));
    }
    if config.count_calls {
        chain.push(Box::new(calls::Calls::new(config.tenants())));
    }
    if config.noop {
        chain.push(Box::new(noop::Noop));
    }
    chain
}

/// Whether any policy is configured; builds the chain, and registers it with the layers below,
/// at the first call.
#[inline]
pub fn active() -> bool {
    ACTIVE.get().unwrap_or_else(|| {
        let chain = chain(config::pod());
        let active = !chain.is_empty();
        CHAIN.set(chain);
        ACTIVE.set(Some(active));
        hooks::register(&Registered);
        active
    })
}

/// Shows a call to every policy, in order; the call's number.
pub fn before(device: DeviceId, args: &Args<'_>) -> u64 {
    let call = ids::next_call();
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.before(device, call, args)));
    call
}

/// Shows what call number `call` returned to every policy, in reverse order.
pub fn after(device: DeviceId, call: u64, ret: &Ret<'_>) {
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().rev().for_each(|p| p.after(device, call, ret)));
}

/// Has every policy write out what it holds (in an async call: it may block).
pub fn flush() {
    active();
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.flush()));
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

/// What the policies answer the virtual-device layer and the bridge.
struct Registered;

impl hooks::Policies for Registered {
    fn admit_device(&self, adapter: &GpuAdapter, descriptor: Option<&exp::GpuDeviceDescriptor>) -> Result<(), exp::RequestDeviceError> {
        quota::adapter::admit(adapter, descriptor)
    }

    fn device_admitted<'a>(&'a self, adapter: &'a GpuAdapter, device: &'a GpuDevice) -> Answer<'a, Result<(), exp::RequestDeviceError>> {
        Box::pin(quota::adapter::admitted(adapter, device))
    }

    fn device_gone(&self, device: DeviceId) {
        quota::release_device(device);
    }

    fn device_retired(&self, device: DeviceId) {
        quota::retire(device);
    }

    fn resolved(&self, call: u64, value: &dyn Recorded) {
        if ACTIVE.get() == Some(true) {
            CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.resolved(call, value)));
        }
    }

    fn gpu_time(&self, call: u64, ns: u64) {
        if ACTIVE.get() == Some(true) {
            CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.gpu_time(call, ns)));
        }
    }

    /// An object the virt drops while a policy is at work (none of them drops the
    /// application's) is not the application's doing.
    fn dropped(&self, object: u64) {
        if ACTIVE.get() == Some(true) {
            CHAIN.with(|chain| {
                if let Ok(mut chain) = chain.try_borrow_mut() {
                    chain.iter_mut().for_each(|p| p.dropped(object));
                }
            });
        }
    }
}
