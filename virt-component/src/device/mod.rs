//! The virtual-device layer: what a device the application holds is.
//!
//! Every `gpu-device` the virt hands out is a [`VirtualDevice`], and everything the virt knows
//! of a device is on it: its id (which every object made from it carries), its tenant, the
//! [`Host`] device it runs on, its error scopes ([`scopes`]), its loss, its labels, the memory
//! objects its `destroy` frees, and its queue timeline with the work held back on it
//! ([`timeline`]), and what it has taken (memory and objects, which the quota charges).
//!
//! The policies work on this layer, and it asks them through `crate::policy`: the quota
//! admits a device, limits what it may take and caps its submissions in flight
//! (`policy::quota`); sharing decides which host device it runs on, attributes errors on a
//! shared one and schedules submissions across guests (`policy::share`); the recorder observes
//! its calls (`policy::record`).
//!
//! On a host device of its own, a device's destroy, loss and labels are the runtime's. On a
//! pooled host device (a pod's, when its guests share the GPU) they are the virt's:
//! - a device's `destroy()` frees its own memory objects, resolves its own `lost` and ends its
//!   own streams; the host device lives on;
//! - real loss of the host device resolves every virtual device's `lost`;
//! - a lost virtual device reports no errors, makes invalid memory objects, writes and submits
//!   nothing, as a lost device does.

pub mod scopes;
pub mod timeline;

use crate::bindings::wit_future;
use crate::policy::DeviceId;
use crate::{GpuAdapter, GpuDevice, GpuDeviceLostInfo, exp, imp};
use futures::channel::oneshot;
use hashbrown::HashMap;
use scopes::Scopes;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use timeline::Timeline;
use wit_bindgen::rt::async_support::FutureReader;

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
    label: RefCell<String>,
    queue_label: RefCell<String>,
    /// Its buffers, textures and query sets, which its `destroy` frees.
    memory: RefCell<Vec<Memory>>,
    /// Its submissions in flight and the work held back, when a cap applies to it.
    timeline: RefCell<Option<Rc<Timeline>>>,
    /// The memory and objects it has taken, charged by the quota.
    pub usage: RefCell<crate::policy::quota::Usage>,
    /// The number of its last submission on its host device's queue (see [`Host::submitted`]).
    pub last_submission: Cell<u64>,
    /// Whether the application destroyed it (which unmaps its buffers).
    destroyed: Cell<bool>,
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

/// A device of the runtime, and the virtual devices on it.
pub struct Host {
    pub device: Rc<imp::GpuDevice>,
    /// Whether the virt owns its devices' destroy, loss and labels (a pod's host device, when
    /// its guests share the GPU: see `policy::share`).
    pub pooled: bool,
    /// What it was asked for: virtual devices asking for the same may share it.
    pub key: crate::policy::share::Key,
    /// Whether its `pop-error-scope` completes when it is called (`policy::share` shares only
    /// such a host device).
    pub instant_pops: bool,
    /// Whether a second virtual device joined it: its calls are bracketed from then on.
    pub shared: Cell<bool>,
    /// Whether the virt listens for its loss (`policy::share::watch_loss`).
    pub watched: Cell<bool>,
    pub members: RefCell<Vec<Weak<VirtualDevice>>>,
    /// On a pooled host device, the submissions forwarded to its queue (all its virtual
    /// devices', numbered 1, 2, ...); of those, the most a wait on the queue was asked for and
    /// the most known done; and who waits for a number to be done (`policy::share` keeps them).
    pub submitted: Cell<u64>,
    pub asked: Cell<u64>,
    pub done: Cell<u64>,
    pub done_waiters: RefCell<Vec<(u64, oneshot::Sender<()>)>>,
    queue: std::cell::OnceCell<imp::GpuQueue>,
    /// A small buffer of the virt's own, made when first needed (`policy::share::spoil`).
    scratch: std::cell::OnceCell<imp::GpuBuffer>,
}

impl Host {
    pub fn new(device: Rc<imp::GpuDevice>, pooled: bool, key: crate::policy::share::Key, instant_pops: bool) -> Rc<Self> {
        Rc::new(Self {
            device,
            pooled,
            key,
            instant_pops,
            shared: Cell::new(false),
            watched: Cell::new(false),
            members: RefCell::default(),
            submitted: Cell::new(0),
            asked: Cell::new(0),
            done: Cell::new(0),
            done_waiters: RefCell::default(),
            queue: Default::default(),
            scratch: Default::default(),
        })
    }

    /// Its queue (asked of the runtime when first needed).
    pub fn queue(&self) -> &imp::GpuQueue {
        self.queue.get_or_init(|| self.device.queue())
    }

    /// A buffer of 4 bytes (copy source and destination) that belongs to no application.
    pub fn scratch(&self) -> &imp::GpuBuffer {
        self.scratch.get_or_init(|| {
            let usage = imp::GpuBufferUsage::COPY_SRC | imp::GpuBufferUsage::COPY_DST;
            self.device.create_buffer(&imp::GpuBufferDescriptor { size: 4, usage, mapped_at_creation: None, label: None })
        })
    }

    /// The virtual devices on it.
    pub fn members(&self) -> Vec<Rc<VirtualDevice>> {
        self.members.borrow().iter().filter_map(Weak::upgrade).collect()
    }
}

thread_local! {
    static DEVICES: RefCell<HashMap<DeviceId, Rc<VirtualDevice>>> = RefCell::new(HashMap::new());
}

/// The virtual device of `id`, if `id` is a device's.
pub fn get(id: DeviceId) -> Option<Rc<VirtualDevice>> {
    DEVICES.with_borrow(|d| d.get(&id).cloned())
}

/// An object of `id` was made (every wrapper counts: see [`VirtualDevice::objects`]).
pub fn object_made(id: DeviceId) {
    DEVICES.with(|d| {
        if let Some(v) = d.try_borrow().ok().as_ref().and_then(|d| d.get(&id)) {
            v.objects.set(v.objects.get() + 1);
        }
    });
}

/// An object of `id` was dropped. After the last, nothing can reach the device any more: what
/// the operator's stats say of it is kept, and the device leaves the registry (WebGPU keeps a
/// device alive while any of its objects is).
pub fn object_dropped(id: DeviceId) {
    let Some(v) = get(id) else { return };
    let left = v.objects.get().saturating_sub(1);
    v.objects.set(left);
    if left > 0 {
        return;
    }
    crate::policy::device_retired(&v);
    // Dropped outside the registry's borrow: the device's drop may drop objects of its own.
    let gone = DEVICES.with(|d| d.try_borrow_mut().ok().and_then(|mut d| d.remove(&id)));
    drop(gone);
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

/// `gpu-adapter.request-device`: the policies admit it, sharing finds its host device (a
/// pooled one, or one of its own from the runtime), and it is registered with its tenant and,
/// when a cap applies, its timeline.
pub async fn request_device(
    adapter: &GpuAdapter,
    descriptor: Option<exp::GpuDeviceDescriptor>,
) -> Result<exp::GpuDevice, exp::RequestDeviceError> {
    crate::policy::admit_device(adapter, descriptor.as_ref())?;
    let label = descriptor.as_ref().and_then(|d| d.label.clone()).unwrap_or_default();
    let queue_label = descriptor.as_ref().and_then(|d| d.default_queue.as_ref()?.label.clone()).unwrap_or_default();
    let (device, host) = crate::policy::place_device(adapter, descriptor).await?;
    let made = device.get::<GpuDevice>();
    let pooled = host.pooled;
    let v = enter(made, host, crate::tenant::of(adapter.device));
    if pooled {
        v.name(label, queue_label);
    }
    *v.timeline.borrow_mut() = timeline::start(made);
    crate::policy::device_admitted(adapter, made).await?;
    Ok(device)
}

/// Registers a new virtual device of `tenant` on `host`.
fn enter(wrapper: &GpuDevice, host: Rc<Host>, tenant: u32) -> Rc<VirtualDevice> {
    // A device joining a shared host device has virtual error scopes from the start; the first
    // one turns to them when the second joins.
    let shared = host.shared.get();
    for member in host.members() {
        member.scopes.set_virtual(shared);
    }
    wrapper.errors.set_virtual(shared);
    wrapper.errors.belong_to(tenant);
    let virtual_device = Rc::new(VirtualDevice {
        id: wrapper.device,
        tenant,
        scopes: wrapper.errors.clone(),
        host: host.clone(),
        loss: RefCell::new(Loss::Alive(Vec::new())),
        label: RefCell::default(),
        queue_label: RefCell::default(),
        memory: RefCell::default(),
        timeline: RefCell::default(),
        usage: RefCell::default(),
        last_submission: Cell::new(0),
        destroyed: Cell::new(false),
        // The device's wrapper, made before it was registered.
        objects: Cell::new(1),
    });
    host.members.borrow_mut().push(Rc::downgrade(&virtual_device));
    DEVICES.with_borrow_mut(|d| d.insert(wrapper.device, virtual_device.clone()));
    virtual_device
}

impl VirtualDevice {
    fn name(&self, label: String, queue_label: String) {
        *self.label.borrow_mut() = label;
        *self.queue_label.borrow_mut() = queue_label;
    }

    /// The device is lost: its waiters hear why, its uncaptured-error streams end, what it took
    /// is released, its held work dropped and its memory objects destroyed.
    pub fn lose(&self, lost: Lost) {
        let waiters = match std::mem::replace(&mut *self.loss.borrow_mut(), Loss::Lost(lost.clone())) {
            Loss::Alive(waiters) => waiters,
            Loss::Lost(_) => return,
        };
        for waiter in waiters {
            let _ = waiter.send(lost.clone());
        }
        self.scopes.end();
        crate::policy::device_gone(self.id);
        timeline::forget(self.id);
        for object in self.memory.take() {
            match object {
                Memory::Buffer(b) => b.upgrade().iter().for_each(|b| b.destroy()),
                Memory::Texture(t) => t.upgrade().iter().for_each(|t| t.destroy()),
                Memory::QuerySet(q) => q.upgrade().iter().for_each(|q| q.destroy()),
            }
        }
    }

    /// Hears of the device's loss.
    fn wait_lost(&self) -> oneshot::Receiver<Lost> {
        let (tx, rx) = oneshot::channel();
        match &mut *self.loss.borrow_mut() {
            Loss::Alive(waiters) => waiters.push(tx),
            Loss::Lost(lost) => {
                let _ = tx.send(lost.clone());
            }
        }
        rx
    }
}

/// Whether the application destroyed `device`.
pub fn is_destroyed(device: DeviceId) -> bool {
    get(device).is_some_and(|v| v.destroyed.get())
}

/// Remembers a memory object of `device`, for its `destroy`.
pub fn track(device: DeviceId, object: Memory) {
    if let Some(v) = pooled(device) {
        let mut memory = v.memory.borrow_mut();
        // Forget what is gone already, so that the list does not grow with the objects made.
        if memory.len() >= 64 && memory.len().is_power_of_two() {
            memory.retain(Memory::alive);
        }
        memory.push(object);
    }
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

/// `gpu-device.destroy`: its memory released and its loss resolved; a pooled host device lives
/// on for the others.
pub fn destroy(device: &GpuDevice) {
    if let Some(v) = get(device.device) {
        v.destroyed.set(true);
    }
    crate::policy::device_gone(device.device);
    match pooled(device.device) {
        Some(v) => v.lose(Lost { reason: exp::GpuDeviceLostReason::Destroyed, message: "the device was destroyed".into() }),
        None => timeline::now_or_held(device.device, || device.inner.destroy(), || timeline::HeldCall::DestroyDevice),
    }
}

/// `gpu-device.lost`: a pooled device's own loss, else the runtime's (which also releases what
/// the device took: the virt hears of a loss only when the application asks, so a lost device's
/// objects are otherwise released as the application drops them).
pub fn lost(device: &GpuDevice) -> FutureReader<exp::GpuDeviceLostInfo> {
    let Some(v) = pooled(device.device) else {
        let id = device.device;
        let placeholder = <exp::GpuDeviceLostInfo as crate::bridge::Placeholder>::placeholder;
        return crate::bridge::future(
            device.inner.lost(),
            move |info| {
                crate::policy::device_gone(id);
                timeline::forget(id);
                exp::GpuDeviceLostInfo::new(GpuDeviceLostInfo::from(info))
            },
            placeholder,
        );
    };
    crate::policy::share::watch_loss(&v.host);
    let (tx, rx) = wit_future::new::<exp::GpuDeviceLostInfo>(<exp::GpuDeviceLostInfo as crate::bridge::Placeholder>::placeholder);
    let wait = v.wait_lost();
    let call = crate::policy::current_call();
    crate::bridge::spawn(async move {
        // A device dropped before its loss is never lost: its future never resolves.
        let Ok(Lost { reason, message }) = wait.await else { return };
        let value = exp::GpuDeviceLostInfo::new(GpuDeviceLostInfo::Local { reason, message });
        crate::policy::resolved(call, &value);
        let _ = tx.write(value).await;
    });
    rx
}

pub fn label(device: &GpuDevice) -> String {
    match pooled(device.device) {
        Some(v) => v.label.borrow().clone(),
        None => device.forward_label(),
    }
}

pub fn set_label(device: &GpuDevice, label: String) {
    match pooled(device.device) {
        Some(v) => *v.label.borrow_mut() = label,
        None => device.forward_set_label(label),
    }
}

/// A pooled device's queue: its label is the device's own.
pub mod queue {
    use crate::GpuQueue;

    pub fn label(queue: &GpuQueue) -> String {
        match super::pooled(queue.device) {
            Some(v) => v.queue_label.borrow().clone(),
            None => queue.forward_label(),
        }
    }

    pub fn set_label(queue: &GpuQueue, label: String) {
        match super::pooled(queue.device) {
            Some(v) => *v.queue_label.borrow_mut() = label,
            None => queue.forward_set_label(label),
        }
    }
}

