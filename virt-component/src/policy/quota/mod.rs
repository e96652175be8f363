//! The quota policy: GPU memory charged before calls reach the runtime, refused without it.
//!
//! Memory is counted for the whole instance (an application cannot escape its quota with a
//! second device) and shown per device. A buffer, texture or query set is charged at creation
//! ([`memory`] says how much) and released exactly once: on `destroy`, on the drop of its last
//! handle, or when its device is destroyed. A creation over the quota does not reach the runtime:
//! the application gets an invalid object (see [`objects`]) and an out-of-memory error.

pub mod adapter;
pub mod memory;
pub mod objects;

use super::{Counter, DeviceId, Policy};
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use webgpu_virt_config::Config;

/// The kinds of memory charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Buffer,
    Texture,
    QuerySet,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Buffer, Kind::Texture, Kind::QuerySet];

    fn name(self) -> &'static str {
        match self {
            Kind::Buffer => "buffers",
            Kind::Texture => "textures",
            Kind::QuerySet => "query-sets",
        }
    }
}

/// What one device uses.
#[derive(Default)]
struct Usage {
    /// Bumped when the device is destroyed: charges made before then are already released.
    epoch: u32,
    bytes: [u64; 3],
    objects: [u64; 3],
    peak: u64,
    denials: u64,
}

impl Usage {
    fn total(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// The instance's quota and usage.
struct Ledger {
    max_memory: Option<u64>,
    used: u64,
    peak: u64,
    devices: HashMap<DeviceId, Usage>,
}

thread_local! {
    static LEDGER: RefCell<Option<Ledger>> = const { RefCell::new(None) };
}

/// Sets the quota up from the configuration; the policy to put in the chain, if any.
pub(super) fn configure(config: &Config) -> Option<Box<dyn Policy>> {
    let max_memory = config.max_memory.map(|s| s.0);
    max_memory?;
    LEDGER.set(Some(Ledger { max_memory, used: 0, peak: 0, devices: HashMap::new() }));
    Some(Box::new(QuotaStats))
}

fn with<R>(f: impl FnOnce(&mut Ledger) -> R) -> Option<R> {
    LEDGER.with_borrow_mut(|l| l.as_mut().map(f))
}

/// A creation the quota refuses: how much it asked for and how much was left.
pub struct OverQuota {
    pub asked: u64,
    pub left: u64,
}

/// Memory charged to an object, released when dropped (or earlier, by [`Charge::release`]).
pub struct Charge {
    device: DeviceId,
    kind: Kind,
    bytes: u64,
    epoch: u32,
}

impl Charge {
    /// Charges `bytes` of `kind` to `device`, unless the quota would be exceeded.
    pub fn new(device: DeviceId, kind: Kind, bytes: u64) -> Result<Option<Charge>, OverQuota> {
        with(|l| {
            let usage = l.devices.entry(device).or_default();
            let left = l.max_memory.map_or(u64::MAX, |max| max.saturating_sub(l.used));
            if bytes > left {
                usage.denials += 1;
                return Err(OverQuota { asked: bytes, left });
            }
            usage.bytes[kind as usize] += bytes;
            usage.objects[kind as usize] += 1;
            usage.peak = usage.peak.max(usage.total());
            l.used += bytes;
            l.peak = l.peak.max(l.used);
            Ok(Charge { device, kind, bytes, epoch: usage.epoch })
        })
        .transpose()
    }

    /// Gives the memory back, once.
    pub fn release(self) {}
}

impl Drop for Charge {
    fn drop(&mut self) {
        with(|l| {
            let Some(usage) = l.devices.get_mut(&self.device) else { return };
            if usage.epoch != self.epoch {
                return; // released with its device
            }
            usage.bytes[self.kind as usize] -= self.bytes;
            usage.objects[self.kind as usize] -= 1;
            l.used -= self.bytes;
        });
    }
}

/// Releases everything charged to `device` (it was destroyed).
pub fn release_device(device: DeviceId) {
    with(|l| {
        if let Some(usage) = l.devices.get_mut(&device) {
            l.used -= usage.total();
            usage.epoch += 1;
            usage.bytes = [0; 3];
            usage.objects = [0; 3];
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

    /// The instance's current and peak bytes and limit, then per device (in the order they
    /// were made) bytes and objects by kind, peak bytes and refusals.
    fn counters(&self, out: &mut Vec<Counter>) {
        with(|l| {
            let mut push = |name: String, value: u64| out.push(Counter { name, value });
            push("memory".into(), l.used);
            push("memory peak".into(), l.peak);
            if let Some(max) = l.max_memory {
                push("memory limit".into(), max);
            }
            let mut devices: Vec<_> = l.devices.iter().collect();
            devices.sort_by_key(|(id, _)| **id);
            for (id, usage) in devices {
                let d = format!("device {}", id.number());
                for kind in Kind::ALL {
                    push(format!("{d} {} bytes", kind.name()), usage.bytes[kind as usize]);
                    push(format!("{d} {}", kind.name()), usage.objects[kind as usize]);
                }
                push(format!("{d} memory peak"), usage.peak);
                push(format!("{d} refused"), usage.denials);
            }
        });
    }
}
