//! What a virtual device is, and the registry of them: every `gpu-device` the virt hands out
//! is a [`VirtualDevice`] here, from its making until nothing can reach it.

use super::host::Host;
use super::scopes::Scopes;
use super::timeline::Timeline;
use crate::ids::DeviceId;
use crate::{exp, hooks, imp, tenant};
use futures::channel::oneshot;
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// A device the application holds.
pub struct VirtualDevice {
    pub id: DeviceId,
    /// The guest it belongs to (0 in front of one application).
    pub tenant: u32,
    pub host: Rc<Host>,
    /// Its error scopes and uncaptured-error listeners (also the wrapper's `errors`).
    pub scopes: Rc<Scopes>,
    loss: RefCell<Loss>,
    /// Its label and its queue's, when its host device is pooled (the host's are the first
    /// device's).
    pub label: RefCell<String>,
    pub queue_label: RefCell<String>,
    /// Its buffers, textures and query sets, which its `destroy` frees.
    memory: RefCell<Vec<Memory>>,
    /// Its submissions in flight and the work held back, when a cap applies to it.
    pub timeline: RefCell<Option<Rc<Timeline>>>,
    /// Whether the application destroyed it (which unmaps its buffers).
    pub destroyed: Cell<bool>,
    /// The wrappers alive that carry its id: its own, its queue's and those of everything made
    /// from it. At none, it leaves the registry, and its host device goes with it unless pooled.
    objects: Cell<usize>,
}

/// Whether a device is lost, and who waits to hear it.
enum Loss {
    Alive(Vec<oneshot::Sender<Lost>>),
    Lost(Lost),
}

/// Why a device was lost.
#[derive(Clone)]
pub struct Lost {
    pub reason: exp::GpuDeviceLostReason,
    pub message: String,
}

/// A memory object of a device, destroyed with it.
pub enum Memory {
    Buffer(Weak<imp::GpuBuffer>),
    Texture(Weak<imp::GpuTexture>),
    QuerySet(Weak<imp::GpuQuerySet>),
}

impl Memory {
    fn alive(&self) -> bool {
        match self {
            Memory::Buffer(b) => b.strong_count() > 0,
            Memory::Texture(t) => t.strong_count() > 0,
            Memory::QuerySet(q) => q.strong_count() > 0,
        }
    }
}

thread_local! {
    static DEVICES: RefCell<HashMap<DeviceId, Rc<VirtualDevice>>> = RefCell::new(HashMap::new());
}

/// The virtual device of `id`, if `id` is a device's.
pub fn get(id: DeviceId) -> Option<Rc<VirtualDevice>> {
    DEVICES.with_borrow(|d| d.get(&id).cloned())
}

/// Every virtual device.
pub fn all() -> Vec<Rc<VirtualDevice>> {
    DEVICES.with_borrow(|d| d.values().cloned().collect())
}

/// The virtual device of `id` if its host device is pooled: then its destroy, loss and label
/// are the virt's.
pub fn pooled(id: DeviceId) -> Option<Rc<VirtualDevice>> {
    get(id).filter(|v| v.host.pooled)
}

/// Whether objects of `id` belong to a lost pooled device: what they do then is as on a lost
/// device (nothing), whatever the host device does.
pub fn is_lost(id: DeviceId) -> bool {
    pooled(id).is_some_and(|v| matches!(*v.loss.borrow(), Loss::Lost(_)))
}

/// Whether `id` is lost or destroyed (so lost, in WebGPU, whenever its `lost` resolves): it runs
/// nothing more and reports no error.
pub fn is_gone(id: DeviceId) -> bool {
    is_lost(id) || is_destroyed(id)
}

/// Reports an error of the virt's own on `device`: to the application's innermost error scope of
/// its filter, else to its uncaptured-error streams. A device gone reports nothing, as in WebGPU.
pub fn report(device: DeviceId, kind: exp::GpuErrorKind, message: String) {
    if let Some(v) = get(device).filter(|_| !is_gone(device)) {
        super::scopes::report_to(&v.host.device, &v.scopes, None, kind, message);
    }
}

/// Whether the application destroyed `device`.
pub fn is_destroyed(device: DeviceId) -> bool {
    get(device).is_some_and(|v| v.destroyed.get())
}

/// Registers a new virtual device `id` of `tenant` on `host`, with error scopes `scopes`.
pub fn enter(id: DeviceId, host: Rc<Host>, tenant: u32, scopes: Rc<Scopes>) -> Rc<VirtualDevice> {
    scopes.belong_to(tenant);
    tenant::enter(id, tenant);
    let virtual_device = Rc::new(VirtualDevice {
        id,
        tenant,
        scopes,
        host,
        loss: RefCell::new(Loss::Alive(Vec::new())),
        label: RefCell::default(),
        queue_label: RefCell::default(),
        memory: RefCell::default(),
        timeline: RefCell::default(),
        destroyed: Cell::new(false),
        // The device's wrapper, made before it was registered.
        objects: Cell::new(1),
    });
    DEVICES.with_borrow_mut(|d| d.insert(id, virtual_device.clone()));
    virtual_device
}

/// An object's id: 1, 2, ... in the order objects are made, never reused. Every wrapper holds
/// one; it counts the objects of its device ([`VirtualDevice::objects`]), and when the
/// application drops the object, its drop tells the policies.
pub struct ObjectId {
    id: u64,
    device: DeviceId,
}

thread_local! {
    /// The next object id.
    static OBJECTS: Cell<u64> = const { Cell::new(1) };
}

impl ObjectId {
    /// The next id, for an object of `device`.
    pub fn new(device: DeviceId) -> Self {
        object_made(device);
        let id = OBJECTS.get();
        OBJECTS.set(id + 1);
        Self { id, device }
    }

    pub fn get(&self) -> u64 {
        self.id
    }
}

impl Drop for ObjectId {
    fn drop(&mut self) {
        hooks::dropped(self.id);
        object_dropped(self.device);
    }
}

/// An object of `id` was made.
fn object_made(id: DeviceId) {
    DEVICES.with(|d| {
        if let Some(v) = d.try_borrow().ok().as_ref().and_then(|d| d.get(&id)) {
            v.objects.set(v.objects.get() + 1);
        }
    });
}

/// An object of `id` was dropped. After the last, nothing can reach the device any more: the
/// policies hear it is retired (what the operator's stats say of it is theirs to keep), and
/// the device leaves the registry (WebGPU keeps a device alive while any of its objects is).
fn object_dropped(id: DeviceId) {
    let Some(v) = get(id) else { return };
    let left = v.objects.get().saturating_sub(1);
    v.objects.set(left);
    if left > 0 {
        return;
    }
    hooks::device_retired(id);
    // Work it still holds back goes on (its drainer keeps what it needs); else its drainer ends.
    if let Some(t) = v.timeline.borrow().as_ref().filter(|t| !t.is_holding()) {
        t.forget();
    }
    v.host.leave(id);
    tenant::leave(id);
    // Dropped outside the registry's borrow: the device's drop may drop objects of its own.
    let gone = DEVICES.with(|d| d.try_borrow_mut().ok().and_then(|mut d| d.remove(&id)));
    drop(gone);
}

/// Destroys a lost device's memory objects that are still alive.
fn destroy(memory: Vec<Memory>) {
    for object in memory {
        match object {
            Memory::Buffer(b) => b.upgrade().iter().for_each(|b| b.destroy()),
            Memory::Texture(t) => t.upgrade().iter().for_each(|t| t.destroy()),
            Memory::QuerySet(q) => q.upgrade().iter().for_each(|q| q.destroy()),
        }
    }
}

impl VirtualDevice {
    /// The device is lost: its waiters hear why, its uncaptured-error streams end, what it took
    /// is released, its held work dropped and its memory objects destroyed.
    pub fn lose(&self, lost: Lost) {
        if let Some(memory) = self.lose_keeping_memory(lost) {
            destroy(memory);
        }
    }

    /// As [`Self::lose`], for a device whose work still runs on the GPU and may never end (a
    /// watchdog's loss): its memory objects are destroyed once its work is done, since a
    /// runtime may make `destroy` wait for work in flight (wgpu's does, for a lock its waits
    /// hold).
    pub fn lose_while_running(&self, lost: Lost) {
        let Some(memory) = self.lose_keeping_memory(lost) else { return };
        let (host, last) = (self.host.clone(), self.host.last_of(self.id));
        crate::bridge::spawn(async move {
            host.done_through(last).await;
            destroy(memory);
        });
    }

    /// Loses the device but for its memory objects, which it hands back (`None`: it was lost
    /// already).
    fn lose_keeping_memory(&self, lost: Lost) -> Option<Vec<Memory>> {
        let waiters = match std::mem::replace(&mut *self.loss.borrow_mut(), Loss::Lost(lost.clone())) {
            Loss::Alive(waiters) => waiters,
            Loss::Lost(_) => return None,
        };
        for waiter in waiters {
            let _ = waiter.send(lost.clone());
        }
        self.scopes.end();
        hooks::device_gone(self.id);
        self.forget_timeline();
        Some(self.memory.take())
    }

    /// Lets a lost device's timeline go (and its drainer end): nothing more runs on that device.
    pub fn forget_timeline(&self) {
        if let Some(t) = self.timeline.take() {
            t.forget();
        }
    }

    /// Hears of the device's loss.
    pub fn wait_lost(&self) -> oneshot::Receiver<Lost> {
        let (tx, rx) = oneshot::channel();
        match &mut *self.loss.borrow_mut() {
            Loss::Alive(waiters) => {
                // Those who stopped listening (a wait that ended first) are let go.
                waiters.retain(|w| !w.is_canceled());
                waiters.push(tx);
            }
            Loss::Lost(lost) => {
                let _ = tx.send(lost.clone());
            }
        }
        rx
    }

    /// Remembers a memory object, for its `destroy` (kept only when its host device is pooled:
    /// else the runtime's destroy frees them).
    pub fn track(&self, object: Memory) {
        if !self.host.pooled {
            return;
        }
        let mut memory = self.memory.borrow_mut();
        // Forget what is gone already, so that the list does not grow with the objects made.
        if memory.len() >= 64 && memory.len().is_power_of_two() {
            memory.retain(Memory::alive);
        }
        memory.push(object);
    }
}
