//! The quota policy: GPU memory and objects charged before calls reach the runtime, refused
//! without it.
//!
//! Memory and object counts are counted for the whole instance (an application cannot escape
//! its quota with a second device) and shown per device. A buffer, texture or query set is
//! charged at creation ([`memory`] says how much) and released exactly once: on `destroy`, on the
//! drop of its last handle, or when its device is destroyed or lost. A creation over the quota
//! does not reach the runtime: the application gets an invalid object (see [`objects`]) and an
//! out-of-memory error; one over a size cap, a validation error, as WebGPU gives for a size
//! above a limit ([`adapter`] reports the limits clamped). [`writes`] caps the bytes per call.

pub mod adapter;
pub mod memory;
pub mod objects;
pub mod pipelines;
pub mod writes;

use super::{Counter, DeviceId, Policy};
use std::cell::{Cell, RefCell};
use webgpu_virt_config::{Config, Size};

/// The kinds of objects counted: the first three also take memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Buffer,
    Texture,
    QuerySet,
    ShaderModule,
    CommandEncoder,
    BindGroup,
    Pipeline,
}

/// The number of kinds.
const KINDS: usize = 7;

impl Kind {
    const ALL: [Kind; KINDS] =
        [Kind::Buffer, Kind::Texture, Kind::QuerySet, Kind::ShaderModule, Kind::CommandEncoder, Kind::BindGroup, Kind::Pipeline];

    /// Whether objects of this kind take GPU memory the quota charges.
    fn takes_memory(self) -> bool {
        matches!(self, Kind::Buffer | Kind::Texture | Kind::QuerySet)
    }

    /// The kind's name in the configuration (`max-objects`) and the stats.
    fn name(self) -> &'static str {
        webgpu_virt_config::MaxObjects::KINDS[self as usize]
    }

    /// One of the kind, for messages.
    fn one(self) -> &'static str {
        match self {
            Kind::Buffer => "a buffer",
            Kind::Texture => "a texture",
            Kind::QuerySet => "a query set",
            Kind::ShaderModule => "a shader module",
            Kind::CommandEncoder => "a command encoder",
            Kind::BindGroup => "a bind group",
            Kind::Pipeline => "a pipeline",
        }
    }
}

/// What one device uses: each `crate::device::VirtualDevice` holds its own.
#[derive(Default)]
pub struct Usage {
    /// Bumped when the device is destroyed: charges made before then are already released.
    epoch: u32,
    /// Whether the device is destroyed or lost: what is made on it then is invalid and takes
    /// nothing, so it is neither charged nor refused.
    gone: bool,
    bytes: [u64; KINDS],
    objects: [u64; KINDS],
    peak: u64,
    denials: u64,
}

impl Usage {
    fn total(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// What one tenant, or the whole pod, may take and takes.
#[derive(Default)]
struct Account {
    max_memory: Option<u64>,
    max_objects: [Option<u32>; KINDS],
    used: u64,
    peak: u64,
    /// Live objects by kind, all devices together.
    objects: [u64; KINDS],
    /// Refusals, all devices together.
    denials: u64,
}

impl Account {
    fn new(max_memory: Option<Size>, max_objects: &webgpu_virt_config::MaxObjects) -> Self {
        Self { max_memory: max_memory.map(|s| s.0), max_objects: std::array::from_fn(|k| max_objects.get(k)), ..Self::default() }
    }

    /// Why an object of `kind` taking `bytes` does not fit, if it does not. `whose` names the
    /// quota in the message (empty for an application's own).
    fn refusal(&self, kind: Kind, bytes: u64, whose: &str) -> Option<Refusal> {
        let k = kind as usize;
        let left = self.max_memory.map_or(u64::MAX, |max| max.saturating_sub(self.used));
        if bytes > left {
            return Some(Refusal::out_of_memory(format!("{} of {bytes} bytes refused, {left} bytes of the {whose}memory quota left", kind.one())));
        }
        if !self.max_objects[k].is_some_and(|max| self.objects[k] >= u64::from(max)) {
            return None;
        }
        let message = format!("{} refused: {} {} live, the most {whose}allowed", kind.one(), self.objects[k], kind.name());
        // A pipeline that cannot be made for want of resources is WebGPU's internal error.
        Some(match kind {
            Kind::Pipeline => Refusal::internal(message),
            _ => Refusal::out_of_memory(message),
        })
    }

    fn charge(&mut self, kind: Kind, bytes: u64) {
        self.used += bytes;
        self.peak = self.peak.max(self.used);
        self.objects[kind as usize] += 1;
    }

    fn release(&mut self, kind: Kind, bytes: u64, objects: u64) {
        self.used -= bytes;
        self.objects[kind as usize] -= objects;
    }
}

/// The instance's quotas and usage: each tenant's, and the pool's (all tenants together).
struct Ledger {
    tenants: Vec<Account>,
    pool: Account,
}

impl Ledger {
    /// The account of the tenant `device` belongs to.
    fn tenant(&mut self, device: DeviceId) -> &mut Account {
        let last = self.tenants.len() - 1;
        let tenant = crate::tenant::of(device) as usize;
        &mut self.tenants[tenant.min(last)]
    }
}

thread_local! {
    static LEDGER: RefCell<Option<Ledger>> = const { RefCell::new(None) };
}

/// Reads and changes what `device` uses (`None` if it is no device's id).
fn usage<R>(device: DeviceId, f: impl FnOnce(&mut Usage) -> R) -> Option<R> {
    crate::device::get(device).map(|v| f(&mut v.usage.borrow_mut()))
}

/// Whether `config` asks the quota of a tenant for anything.
fn asks(config: &Config) -> bool {
    config.max_memory.is_some()
        || config.max_buffer_size.is_some()
        || config.max_texture_dimension.is_some()
        || config.max_write_size.is_some()
        || config.max_in_flight.is_some()
        || (0..KINDS).any(|k| config.max_objects.get(k).is_some())
}

/// Sets the quota up from the configuration; the policy to put in the chain, if any.
pub(super) fn configure(config: &Config) -> Option<Box<dyn Policy>> {
    let tenants = config.tenants();
    // A pod always counts: its operator sees each guest's memory and objects.
    if !(0..tenants).any(|t| asks(config.policy(t))) && config.pool == Default::default() && config.guests.is_empty() {
        return None;
    }
    let accounts = (0..tenants).map(|t| Account::new(config.policy(t).max_memory, &config.policy(t).max_objects)).collect();
    let pool = Account::new(config.pool.max_memory, &Default::default());
    LEDGER.set(Some(Ledger { tenants: accounts, pool }));
    Some(Box::new(QuotaStats))
}

fn with<R>(f: impl FnOnce(&mut Ledger) -> R) -> Option<R> {
    LEDGER.with_borrow_mut(|l| l.as_mut().map(f))
}

/// Why the quota refuses a call: the error the application gets.
pub struct Refusal {
    pub kind: crate::exp::GpuErrorKind,
    pub message: String,
}

impl Refusal {
    pub fn out_of_memory(message: String) -> Self {
        Self { kind: crate::exp::GpuErrorKind::OutOfMemoryError, message: said(message) }
    }

    pub fn internal(message: String) -> Self {
        Self { kind: crate::exp::GpuErrorKind::InternalError, message: said(message) }
    }

    pub fn validation(message: String) -> Self {
        Self { kind: crate::exp::GpuErrorKind::ValidationError, message: said(message) }
    }
}

/// A message the application gets from the quota, saying so.
pub fn said(message: impl std::fmt::Display) -> String {
    format!("webgpu-virt quota: {message}")
}

/// Memory charged to an object, released when dropped (or earlier, by [`Charge::release`]).
pub struct Charge {
    device: DeviceId,
    kind: Kind,
    bytes: u64,
    epoch: u32,
}

impl Charge {
    /// Charges an object of `kind` taking `bytes` to `device`, unless its tenant's memory
    /// quota or cap on objects of its kind, or the pool's memory quota, would be exceeded.
    pub fn new(device: DeviceId, kind: Kind, bytes: u64) -> Result<Option<Charge>, Refusal> {
        with(|l| {
            let k = kind as usize;
            if usage(device, |u| u.gone).unwrap_or(false) {
                return Ok(None);
            }
            if let Some(refusal) = l.tenant(device).refusal(kind, bytes, "").or_else(|| l.pool.refusal(kind, bytes, "pool's ")) {
                return Err(refusal);
            }
            l.tenant(device).charge(kind, bytes);
            l.pool.charge(kind, bytes);
            let epoch = usage(device, |u| {
                u.bytes[k] += bytes;
                u.objects[k] += 1;
                u.peak = u.peak.max(u.total());
                u.epoch
            });
            Ok(Some(Charge { device, kind, bytes, epoch: epoch.unwrap_or(0) }))
        })
        .unwrap_or(Ok(None))
    }

    /// Gives the memory back, once.
    pub fn release(self) {}
}

impl Drop for Charge {
    fn drop(&mut self) {
        with(|l| {
            let released = usage(self.device, |u| {
                if u.epoch != self.epoch {
                    return false; // released with its device
                }
                u.bytes[self.kind as usize] -= self.bytes;
                u.objects[self.kind as usize] -= 1;
                true
            });
            if released != Some(true) {
                return;
            }
            l.tenant(self.device).release(self.kind, self.bytes, 1);
            l.pool.release(self.kind, self.bytes, 1);
        });
    }
}

/// Releases everything charged to `device` (it was destroyed).
pub fn release_device(device: DeviceId) {
    with(|l| {
        let Some((bytes, objects)) = usage(device, |u| {
            u.epoch += 1;
            u.gone = true;
            (std::mem::take(&mut u.bytes), std::mem::take(&mut u.objects))
        }) else {
            return;
        };
        for kind in Kind::ALL {
            let k = kind as usize;
            l.tenant(device).release(kind, bytes[k], objects[k]);
            l.pool.release(kind, bytes[k], objects[k]);
        }
    });
}

/// What a buffer, texture or query set holds of the quota: its charge, or, if it was refused,
/// what the application asked for (`R`), which its getters answer.
#[derive(Default)]
pub struct Held<R> {
    charge: Cell<Option<Charge>>,
    refused: Option<R>,
}

impl<R> Held<R> {
    /// Releases the charge (on `destroy`); the object's drop then has nothing left to release.
    pub fn release(&self) {
        if let Some(c) = self.charge.take() {
            c.release();
        }
    }
}

/// A texture's size as asked for: width, height, depth or layers, mip levels, samples.
#[derive(Clone, Copy, Default)]
pub struct TextureSize {
    pub width: u32,
    pub height: u32,
    pub depth_or_array_layers: u32,
    pub mip_level_count: u32,
    pub sample_count: u32,
}

/// The quota's view for the operator.
struct QuotaStats;

impl Policy for QuotaStats {
    fn name(&self) -> &'static str {
        "quota"
    }

    /// Each tenant's current and peak bytes and limit (in a pod, each counter begins with the
    /// guest's name), the pool's in a pod, then per device (in the order they were made)
    /// bytes and objects by kind, peak bytes and refusals.
    fn counters(&self, out: &mut Vec<Counter>) {
        with(|l| {
            let mut push = |name: String, value: u64| out.push(Counter { name, value });
            let pod = crate::policy::pod(|c| !c.guests.is_empty());
            let mut accounts: Vec<(String, &Account)> =
                l.tenants.iter().enumerate().map(|(t, a)| (crate::policy::guest_prefix(t as u32), a)).collect();
            if pod {
                accounts.push(("pool ".into(), &l.pool));
            }
            for (prefix, account) in accounts {
                push(format!("{prefix}memory"), account.used);
                push(format!("{prefix}memory peak"), account.peak);
                if let Some(max) = account.max_memory {
                    push(format!("{prefix}memory limit"), max);
                }
                if pod && prefix != "pool " {
                    for kind in Kind::ALL {
                        push(format!("{prefix}{}", kind.name()), account.objects[kind as usize]);
                    }
                    push(format!("{prefix}refused"), account.denials);
                }
            }
            crate::policy::share::fairness::counters(|name, value| push(name.to_string(), value));
            // Per device, in the order they were made, those no longer reachable too.
            let mut devices: Vec<(DeviceId, Vec<Counter>)> = crate::device::all().iter().map(|v| (v.id, device_counters(v))).collect();
            RETIRED.with_borrow(|retired| devices.extend(retired.iter().cloned()));
            devices.sort_by_key(|(id, _)| *id);
            out.extend(devices.into_iter().flat_map(|(_, counters)| counters));
        });
    }
}

thread_local! {
    /// The last counters of the devices no longer reachable (see [`retire`]).
    static RETIRED: RefCell<Vec<(DeviceId, Vec<Counter>)>> = const { RefCell::new(Vec::new()) };
}

/// A device's bytes and objects by kind, peak bytes, refusals and submissions.
fn device_counters(v: &crate::device::VirtualDevice) -> Vec<Counter> {
    let mut out = Vec::new();
    let mut push = |name: String, value: u64| out.push(Counter { name, value });
    let usage = v.usage.borrow();
    let d = format!("{}device {}", crate::policy::guest_prefix(v.tenant), v.id.number());
    for kind in Kind::ALL {
        if kind.takes_memory() {
            push(format!("{d} {} bytes", kind.name()), usage.bytes[kind as usize]);
        }
        push(format!("{d} {}", kind.name()), usage.objects[kind as usize]);
    }
    push(format!("{d} memory peak"), usage.peak);
    push(format!("{d} refused"), usage.denials);
    crate::device::timeline::counters(v.id, |name, value| push(format!("{d} {name}"), value));
    out
}

/// Keeps the counters of a device that is leaving the registry (the application can no longer
/// reach it), for the operator's stats, when the quota keeps stats.
pub fn retire(v: &crate::device::VirtualDevice) {
    if LEDGER.with(|l| l.try_borrow().is_ok_and(|l| l.is_some())) {
        RETIRED.with_borrow_mut(|retired| retired.push((v.id, device_counters(v))));
    }
}

/// The cap on `device`'s submissions in flight: its guest's own, or, under the pool's cap alone,
/// none of its own (`u32::MAX`). `None`: no cap applies to it.
pub fn in_flight_cap(device: DeviceId) -> Option<u32> {
    let own = crate::policy::config(device, |c| c.max_in_flight.map(|n| n.get()));
    own.or_else(|| crate::policy::share::fairness::pool().map(|_| u32::MAX))
}

/// Counts a refusal.
pub fn refused(device: DeviceId) {
    with(|l| {
        usage(device, |u| u.denials += 1);
        l.tenant(device).denials += 1;
    });
}
