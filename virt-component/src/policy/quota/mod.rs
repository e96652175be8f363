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

use super::Policy;
use crate::hooks::Counter;
use crate::ids::DeviceId;
use crate::{config, device, tenant};
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
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

/// What one device uses.
#[derive(Default, Clone)]
struct Usage {
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
        if self.max_objects[k].is_none_or(|max| self.objects[k] < u64::from(max)) {
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

/// The instance's quotas and usage: each tenant's, and the pool's (all tenants together); what
/// each device uses; and what is left of the devices that nothing can reach any more.
struct Ledger {
    tenants: Vec<Account>,
    pool: Account,
    devices: HashMap<DeviceId, Usage>,
    retired: Retired,
}

impl Ledger {
    /// The account of the tenant `device` belongs to.
    fn tenant(&mut self, device: DeviceId) -> &mut Account {
        let last = self.tenants.len() - 1;
        let tenant = tenant::of(device) as usize;
        &mut self.tenants[tenant.min(last)]
    }

    /// What `device` uses (from its first charge, refusal or release until it is retired).
    fn usage(&mut self, device: DeviceId) -> &mut Usage {
        self.devices.entry(device).or_default()
    }
}

thread_local! {
    static LEDGER: RefCell<Option<Ledger>> = const { RefCell::new(None) };
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
    let retired = Retired { rows: VecDeque::new(), folded: (0..tenants).map(|_| Folded::default()).collect() };
    LEDGER.set(Some(Ledger { tenants: accounts, pool, devices: HashMap::new(), retired }));
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
            if l.usage(device).gone {
                return Ok(None);
            }
            if let Some(refusal) = l.tenant(device).refusal(kind, bytes, "").or_else(|| l.pool.refusal(kind, bytes, "pool's ")) {
                return Err(refusal);
            }
            l.tenant(device).charge(kind, bytes);
            l.pool.charge(kind, bytes);
            let u = l.usage(device);
            u.bytes[k] += bytes;
            u.objects[k] += 1;
            u.peak = u.peak.max(u.total());
            Ok(Some(Charge { device, kind, bytes, epoch: u.epoch }))
        })
        .unwrap_or(Ok(None))
    }

    /// Gives the memory back, once.
    pub fn release(self) {}
}

impl Drop for Charge {
    fn drop(&mut self) {
        with(|l| {
            // A charge is dropped before the last object of its device (the wrapper's id is
            // its last field): its device's usage is still there.
            let Some(u) = l.devices.get_mut(&self.device) else { return };
            if u.epoch != self.epoch {
                return; // released with its device
            }
            u.bytes[self.kind as usize] -= self.bytes;
            u.objects[self.kind as usize] -= 1;
            l.tenant(self.device).release(self.kind, self.bytes, 1);
            l.pool.release(self.kind, self.bytes, 1);
        });
    }
}

/// Releases everything charged to `device` (it was destroyed).
pub fn release_device(device: DeviceId) {
    // (A device's loss may be heard after it was retired: then there is nothing left of it.)
    if device::get(device).is_none() {
        return;
    }
    with(|l| {
        let u = l.usage(device);
        u.epoch += 1;
        u.gone = true;
        let (bytes, objects) = (std::mem::take(&mut u.bytes), std::mem::take(&mut u.objects));
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

/// How many retired devices keep rows of their own in the operator's stats; older ones are
/// folded into their tenant's totals, so that an application that makes and drops devices for
/// hours does not grow the virt's memory.
const RETIRED_ROWS: usize = 16;

/// One device's row in the stats: what it used, and its queue timeline's figures.
struct Row {
    id: DeviceId,
    tenant: u32,
    usage: Usage,
    queue: Vec<(&'static str, u64)>,
}

impl Row {
    fn of(id: DeviceId, tenant: u32, usage: Usage) -> Self {
        let mut queue = Vec::new();
        device::queue::counters(id, |name, value| queue.push((name, value)));
        Self { id, tenant, usage, queue }
    }

    /// A device's bytes and objects by kind, peak bytes, refusals and submissions.
    fn counters(&self, out: &mut Vec<Counter>) {
        let mut push = |name: String, value: u64| out.push(Counter { name, value });
        let d = format!("{}device {}", config::guest_prefix(self.tenant), self.id.number());
        for kind in Kind::ALL {
            if kind.takes_memory() {
                push(format!("{d} {} bytes", kind.name()), self.usage.bytes[kind as usize]);
            }
            push(format!("{d} {}", kind.name()), self.usage.objects[kind as usize]);
        }
        push(format!("{d} memory peak"), self.usage.peak);
        push(format!("{d} refused"), self.usage.denials);
        for (name, value) in &self.queue {
            push(format!("{d} {name}"), *value);
        }
    }
}

/// The devices nothing can reach any more: the latest with rows of their own, the others
/// folded by tenant.
struct Retired {
    rows: VecDeque<Row>,
    folded: Vec<Folded>,
}

/// Retired devices folded into one tenant's totals: how many, their highest peak and most in
/// flight, their refusals and queue figures added up.
#[derive(Default)]
struct Folded {
    devices: u64,
    peak: u64,
    denials: u64,
    queue: Vec<(&'static str, u64)>,
}

impl Folded {
    fn fold(&mut self, row: Row) {
        self.devices += 1;
        self.peak = self.peak.max(row.usage.peak);
        self.denials += row.usage.denials;
        for (name, value) in row.queue {
            let most = name.starts_with("most");
            match self.queue.iter_mut().find(|(n, _)| *n == name) {
                Some((_, total)) if most => *total = (*total).max(value),
                Some((_, total)) => *total += value,
                None => self.queue.push((name, value)),
            }
        }
    }

    fn counters(&self, tenant: u32, out: &mut Vec<Counter>) {
        if self.devices == 0 {
            return;
        }
        let d = format!("{}retired devices", config::guest_prefix(tenant));
        out.push(Counter { name: d.clone(), value: self.devices });
        out.push(Counter { name: format!("{d} memory peak"), value: self.peak });
        out.push(Counter { name: format!("{d} refused"), value: self.denials });
        out.extend(self.queue.iter().map(|(name, value)| Counter { name: format!("{d} {name}"), value: *value }));
    }
}

/// The quota's view for the operator.
struct QuotaStats;

impl Policy for QuotaStats {
    fn name(&self) -> &'static str {
        "quota"
    }

    /// Each tenant's current and peak bytes and limit (in a pod, each counter begins with the
    /// guest's name), the pool's in a pod, then per device (in the order they were made)
    /// bytes and objects by kind, peak bytes and refusals, and the devices retired long ago
    /// by tenant.
    fn counters(&self, out: &mut Vec<Counter>) {
        with(|l| {
            let mut push = |name: String, value: u64| out.push(Counter { name, value });
            let pod = config::is_pod();
            let mut accounts: Vec<(String, &Account)> =
                l.tenants.iter().enumerate().map(|(t, a)| (config::guest_prefix(t as u32), a)).collect();
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
            device::fairness::counters(|name, value| push(name.to_string(), value));
            // Per device, in the order they were made, the latest retired too.
            let live = device::all().iter().map(|v| Row::of(v.id, v.tenant, l.devices.get(&v.id).cloned().unwrap_or_default())).collect::<Vec<_>>();
            let mut rows: Vec<&Row> = live.iter().chain(l.retired.rows.iter()).collect();
            rows.sort_by_key(|row| row.id);
            rows.iter().for_each(|row| row.counters(out));
            for (tenant, folded) in l.retired.folded.iter().enumerate() {
                folded.counters(tenant as u32, out);
            }
        });
    }
}

/// `device` is retired (nothing can reach it): its row is kept for the operator's stats, and
/// the oldest retired row past [`RETIRED_ROWS`] folds into its tenant's totals.
pub fn retire(device: DeviceId) {
    // (A device retires when an object drops, which may happen while the ledger is at work.)
    LEDGER.with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else { return };
        let Some(l) = l.as_mut() else { return };
        let usage = l.devices.remove(&device).unwrap_or_default();
        let tenant = tenant::of(device);
        l.retired.rows.push_back(Row::of(device, tenant, usage));
        if l.retired.rows.len() > RETIRED_ROWS
            && let Some(oldest) = l.retired.rows.pop_front()
        {
            let last = l.retired.folded.len() - 1;
            l.retired.folded[(oldest.tenant as usize).min(last)].fold(oldest);
        }
    });
}

/// Counts a refusal.
pub fn refused(device: DeviceId) {
    with(|l| {
        l.usage(device).denials += 1;
        l.tenant(device).denials += 1;
    });
    crate::console::limit_hit("a quota refused a call");
}
