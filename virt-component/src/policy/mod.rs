//! The policy chain: what the virt does besides forwarding.
//!
//! Every exported function shows each call to the chain before it forwards it ([`before`], with
//! the call's [`Args`]) and what it returned after ([`after`], with its [`Ret`]), with the
//! [`DeviceId`] of the object called and the call's number (calls are numbered in the order they
//! reach the chain, so that an async call's result finds its call). Every object has an id of
//! its own, never reused ([`ObjectId`]); the chain is told when the application drops one. Policies run in order before the call and in reverse order
//! after it, like tower layers. The chain is built once, at the first call, from the
//! [baked configuration](crate::config); with no policy configured the generated code checks one
//! flag and forwards, so an unconfigured virt is a pure pass-through at its cost.
//!
//! A policy that must answer a call itself (quota refuses a `create-buffer` with an invalid
//! object and an error) takes the function over through the generator's `BY_HAND` table, which
//! routes the export to a hand-written body; that body calls the generated forwarding
//! (`forward_*`) for what it lets through. The generic hooks here observe; they still see the
//! calls a hand-written body answers.
//!
//! Devices are the virtual-device layer's (`crate::device`); it asks the policies about them
//! through the functions at the end of this file: whether a device may be made
//! ([`admit_device`], [`device_admitted`]), which host device it runs on
//! (`share::place`), how many of its submissions may be in flight, and that it is gone
//! ([`device_gone`]).
//!
//! One folder or file per policy: `quota/` (memory, objects, caps), `share/` (host devices
//! shared by a pod's guests, error attribution, fairness), `record/` (the trace), `calls.rs`
//! (call counts), `noop.rs` (the cost of the chain itself).

mod calls;
mod noop;
pub mod quota;
pub mod record;
pub mod share;

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
#[derive(Clone)]
pub struct Counter {
    pub name: String,
    pub value: u64,
}

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
    fn resolved(&mut self, call: u64, value: &dyn record::Recorded) {
        let _ = (call, value);
    }

    /// Writes out what the policy holds (in an async call: it may block).
    fn flush(&mut self) {}

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
    /// The number of the next call shown to the chain.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    /// The number of the last call shown to the chain.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// The next object id.
    static OBJECTS: Cell<u64> = const { Cell::new(1) };
}

/// An object's id: 1, 2, ... in the order objects are made, never reused. Every wrapper holds
/// one; when the application drops the object, the id's drop tells the chain. It also counts
/// the objects of its device (see `crate::device::object_made`).
pub struct ObjectId {
    id: u64,
    device: DeviceId,
}

impl ObjectId {
    /// The next id, for an object of `device`.
    pub fn new(device: DeviceId) -> Self {
        crate::device::object_made(device);
        OBJECTS.with(|n| {
            let id = n.get();
            n.set(id + 1);
            Self { id, device }
        })
    }

    pub fn get(&self) -> u64 {
        self.id
    }
}

impl Drop for ObjectId {
    fn drop(&mut self) {
        dropped(self.id);
        crate::device::object_dropped(self.device);
    }
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

/// Reads the policy of the tenant that objects of `device` belong to.
pub fn config<R>(device: DeviceId, f: impl FnOnce(&Config) -> R) -> R {
    active();
    CONFIG.with_borrow(|c| f(c.policy(crate::tenant::of(device))))
}

/// Reads the whole baked configuration: the pod's, with every guest's policy.
pub fn pod<R>(f: impl FnOnce(&Config) -> R) -> R {
    active();
    CONFIG.with_borrow(f)
}

/// How many tenants the virt serves.
pub fn tenants() -> u32 {
    pod(Config::tenants)
}

/// How the operator's counters of `tenant` begin: the guest's name and a space in a pod,
/// nothing in front of one application.
pub fn guest_prefix(tenant: u32) -> String {
    pod(|c| c.guests.get(tenant as usize).map(|g| format!("{} ", g.name)).unwrap_or_default())
}

/// Shows a call to every policy, in order; the call's number.
pub fn before(device: DeviceId, args: &Args<'_>) -> u64 {
    let call = CALLS.get();
    CALLS.set(call + 1);
    CURRENT.set(call);
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.before(device, call, args)));
    call
}

/// Shows what call number `call` returned to every policy, in reverse order.
pub fn after(device: DeviceId, call: u64, ret: &Ret<'_>) {
    CHAIN.with_borrow_mut(|chain| chain.iter_mut().rev().for_each(|p| p.after(device, call, ret)));
}

/// The number of the call being made: a future or stream it returns is known by it.
pub fn current_call() -> u64 {
    CURRENT.get()
}

/// Tells every policy what a future or stream returned by call number `call` produced.
pub fn resolved(call: u64, value: &dyn record::Recorded) {
    if active() {
        CHAIN.with_borrow_mut(|chain| chain.iter_mut().for_each(|p| p.resolved(call, value)));
    }
}

/// Tells every policy that the application dropped `object`. An object the virt drops while a
/// policy is at work (none of them drops the application's) is not the application's doing.
pub fn dropped(object: u64) {
    if ACTIVE.get() == Some(true) {
        CHAIN.with(|chain| {
            if let Ok(mut chain) = chain.try_borrow_mut() {
                chain.iter_mut().for_each(|p| p.dropped(object));
            }
        });
    }
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

/// Whether the policies let `adapter` make a device as `descriptor` asks (before it is made).
pub fn admit_device(adapter: &crate::GpuAdapter, descriptor: Option<&crate::exp::GpuDeviceDescriptor>) -> Result<(), crate::exp::RequestDeviceError> {
    quota::adapter::admit(adapter, descriptor)
}

/// What the policies set up for a device just made; an error refuses it after all.
pub async fn device_admitted(adapter: &crate::GpuAdapter, device: &crate::GpuDevice) -> Result<(), crate::exp::RequestDeviceError> {
    quota::adapter::admitted(adapter, device).await
}

/// Where a device the policies admitted runs: its wrapper and its host device.
pub async fn place_device(
    adapter: &crate::GpuAdapter,
    descriptor: Option<crate::exp::GpuDeviceDescriptor>,
) -> Result<(crate::exp::GpuDevice, std::rc::Rc<crate::device::Host>), crate::exp::RequestDeviceError> {
    share::place(adapter, descriptor).await
}

/// The cap on `device`'s submissions in flight, if one applies to it.
pub fn in_flight_cap(device: DeviceId) -> Option<u32> {
    quota::in_flight_cap(device)
}

/// `device` is destroyed or lost: what it took is released.
pub fn device_gone(device: DeviceId) {
    quota::release_device(device);
}

/// `device` is unreachable (its last object was dropped): its stats are kept.
pub fn device_retired(device: &crate::device::VirtualDevice) {
    quota::retire(device);
}
