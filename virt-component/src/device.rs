//! The virtual-device layer: what a device the application holds is.
//!
//! Every `gpu-device` the virt hands out is a [`VirtualDevice`]: its id (which every object made
//! from it carries), its tenant, the [`Host`] device it runs on, its error scopes, its loss, its
//! label, and the memory objects its `destroy` frees. The policies work on it: the quota limits
//! what it may take (`policy::quota`), sharing puts several of them on one host device, the
//! recorder observes its calls.
//!
//! **Sharing.** In a pod whose guests share the GPU (the default; `device-per-guest` turns it
//! off), the host device is requested once for each set of required features and limits, and
//! every later `request-device` asking for the same set gets a virtual device on it. A device
//! asking for something else gets a host device of its own, so each device reports exactly what
//! it asked for. On a shared host device:
//! - *Errors* are attributed by the virt: host error scopes belong to the host device, so once a
//!   second virtual device joins, every call that can make an error is bracketed with one scope
//!   of each filter ([`bracket`]), and what they catch goes to the calling device's own scopes or
//!   uncaptured-error streams (`crate::errors`). The brackets' pops must complete when they are
//!   made (a synchronous call cannot wait): each host device is checked for that when it is made,
//!   and one that does not is never shared.
//! - *Destroy and loss* are virtual: a device's `destroy()` frees its own memory objects,
//!   resolves its own `lost` and ends its own streams; the host device lives on. Real loss of
//!   the host device resolves every virtual device's `lost`. A lost virtual device reports no
//!   errors, makes invalid memory objects, and submits nothing, as a lost device does.
//! - *Objects of two virtual devices* do not mix: using one with the other is a validation error.

use crate::bindings::wit_future;
use crate::errors::Scopes;
use crate::policy::DeviceId;
use crate::{GpuAdapter, GpuDevice, GpuDeviceLostInfo, RecordOptionGpuSize64, WitName, exp, imp};
use futures::channel::oneshot;
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use wit_bindgen::rt::async_support::FutureReader;

/// One filter of each kind, in the order a bracket pushes them.
const FILTERS: [exp::GpuErrorFilter; 3] = [exp::GpuErrorFilter::Validation, exp::GpuErrorFilter::OutOfMemory, exp::GpuErrorFilter::Internal];

/// A device the application holds.
pub struct VirtualDevice {
    pub id: DeviceId,
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
}

/// Whether a device is lost, and who waits to hear it.
enum Loss {
    Alive(Vec<oneshot::Sender<Lost>>),
    Lost(Lost),
}

/// Why a device was lost.
#[derive(Clone)]
pub struct Lost {
    reason: exp::GpuDeviceLostReason,
    message: String,
}

/// A memory object of a device, destroyed with it.
pub enum Memory {
    Buffer(Weak<imp::GpuBuffer>),
    Texture(Weak<imp::GpuTexture>),
    QuerySet(Weak<imp::GpuQuerySet>),
}

/// A device of the runtime.
pub struct Host {
    pub device: Rc<imp::GpuDevice>,
    /// Whether virtual devices share it (a pod's, made by [`request_device`] in sharing mode).
    pooled: bool,
    /// What it was asked for: virtual devices asking for the same share it.
    key: Key,
    /// Whether its `pop-error-scope` completes when it is called (see the module docs).
    instant_pops: bool,
    /// Whether a second virtual device joined it: its calls are bracketed from then on.
    shared: Cell<bool>,
    members: RefCell<Vec<Weak<VirtualDevice>>>,
}

/// The required features (sorted) and limits (sorted) of a device descriptor.
#[derive(Clone, PartialEq, Eq, Default)]
struct Key {
    features: Vec<&'static str>,
    limits: Vec<(String, Option<u64>)>,
}

impl Key {
    fn of(descriptor: Option<&exp::GpuDeviceDescriptor>) -> Self {
        let Some(d) = descriptor else { return Self::default() };
        let mut features: Vec<&'static str> = d.required_features.iter().flatten().map(|f| f.wit_name()).collect();
        features.sort_unstable();
        features.dedup();
        let mut limits = d.required_limits.as_ref().map(|l| l.get::<RecordOptionGpuSize64>().inner.entries()).unwrap_or_default();
        limits.sort();
        Self { features, limits }
    }
}

thread_local! {
    static DEVICES: RefCell<HashMap<DeviceId, Rc<VirtualDevice>>> = RefCell::new(HashMap::new());
    /// The pooled host devices, to find one for a new virtual device.
    static POOL: RefCell<Vec<Rc<Host>>> = const { RefCell::new(Vec::new()) };
    /// Whether any host device is shared: the one check a call pays otherwise.
    static BRACKETING: Cell<bool> = const { Cell::new(false) };
}

/// The virtual device of `id`, if `id` is a device's.
pub fn get(id: DeviceId) -> Option<Rc<VirtualDevice>> {
    DEVICES.with_borrow(|d| d.get(&id).cloned())
}

/// The virtual device of `id` if its host device is pooled: then its destroy, loss and label
/// are the virt's.
fn pooled(id: DeviceId) -> Option<Rc<VirtualDevice>> {
    get(id).filter(|v| v.host.pooled)
}

/// Whether objects of `id` belong to a lost pooled device: what they do then is as on a lost
/// device (nothing), whatever the host device does.
pub fn is_lost(id: DeviceId) -> bool {
    pooled(id).is_some_and(|v| matches!(*v.loss.borrow(), Loss::Lost(_)))
}

/// Whether a pod's guests share host devices.
fn sharing() -> bool {
    crate::policy::pod(|c| !c.guests.is_empty() && !c.pool.device_per_guest)
}

/// `gpu-adapter.request-device`: the policies' checks, then a device: on a pooled host device
/// when sharing, else from the runtime.
pub async fn request_device(
    adapter: &GpuAdapter,
    descriptor: Option<exp::GpuDeviceDescriptor>,
) -> Result<exp::GpuDevice, exp::RequestDeviceError> {
    crate::policy::quota::adapter::admit(adapter, descriptor.as_ref())?;
    let device = if sharing() {
        let key = Key::of(descriptor.as_ref());
        let label = descriptor.as_ref().and_then(|d| d.label.clone()).unwrap_or_default();
        let queue_label = descriptor.as_ref().and_then(|d| d.default_queue.as_ref()?.label.clone()).unwrap_or_default();
        let found = POOL.with_borrow(|pool| pool.iter().find(|h| h.key == key && h.instant_pops).cloned());
        match found {
            Some(host) => {
                host.shared.set(true);
                BRACKETING.set(true);
                let id = DeviceId::fresh();
                let device = exp::GpuDevice::new(GpuDevice::wrap_rc(host.device.clone(), id));
                enter(&device, host).name(label, queue_label);
                device
            }
            None => {
                let device = adapter.forward_request_device(descriptor).await?;
                let inner = device.get::<GpuDevice>().inner.clone();
                let host = Rc::new(Host {
                    instant_pops: pops_at_once(&inner).await,
                    device: inner,
                    pooled: true,
                    key,
                    shared: Cell::new(false),
                    members: RefCell::default(),
                });
                POOL.with_borrow_mut(|pool| pool.push(host.clone()));
                watch_loss(&host);
                enter(&device, host).name(label, queue_label);
                device
            }
        }
    } else {
        let device = adapter.forward_request_device(descriptor).await?;
        let inner = device.get::<GpuDevice>().inner.clone();
        let host =
            Rc::new(Host { device: inner, pooled: false, key: Key::default(), instant_pops: false, shared: Cell::new(false), members: RefCell::default() });
        enter(&device, host);
        device
    };
    let made = device.get::<GpuDevice>();
    crate::tenant::adopt(made.device, adapter.device);
    crate::policy::quota::adapter::admitted(adapter, made).await?;
    Ok(device)
}

/// Registers a new virtual device on `host`.
fn enter(device: &exp::GpuDevice, host: Rc<Host>) -> Rc<VirtualDevice> {
    let wrapper = device.get::<GpuDevice>();
    // A device joining a shared host device has virtual error scopes from the start; the first
    // one turns to them when the second joins.
    let shared = host.shared.get();
    for member in host.members.borrow().iter().filter_map(Weak::upgrade) {
        member.scopes.set_virtual(shared);
    }
    wrapper.errors.set_virtual(shared);
    let virtual_device = Rc::new(VirtualDevice {
        id: wrapper.device,
        scopes: wrapper.errors.clone(),
        host: host.clone(),
        loss: RefCell::new(Loss::Alive(Vec::new())),
        label: RefCell::default(),
        queue_label: RefCell::default(),
        memory: RefCell::default(),
    });
    host.members.borrow_mut().push(Rc::downgrade(&virtual_device));
    DEVICES.with_borrow_mut(|d| d.insert(wrapper.device, virtual_device.clone()));
    virtual_device
}

/// Whether `device`'s `pop-error-scope` completes as it is called (checked with a scope of its
/// own, which it then pops).
async fn pops_at_once(device: &imp::GpuDevice) -> bool {
    device.push_error_scope(exp::GpuErrorFilter::Internal);
    let mut pop = pin!(device.pop_error_scope());
    let first = std::future::poll_fn(|cx| Poll::Ready(pop.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(_) => true,
        Poll::Pending => {
            let _ = pop.await;
            false
        }
    }
}

/// Resolves every member's loss when the pooled host device is lost.
fn watch_loss(host: &Rc<Host>) {
    let lost = host.device.lost();
    let host = Rc::downgrade(host);
    crate::bridge::spawn(async move {
        let info = lost.await;
        let Some(host) = host.upgrade() else { return };
        let lost = Lost { reason: info.reason(), message: info.message() };
        let members: Vec<_> = host.members.borrow().iter().filter_map(Weak::upgrade).collect();
        for member in members {
            member.lose(lost.clone());
        }
        POOL.with_borrow_mut(|pool| pool.retain(|h| !Rc::ptr_eq(h, &host)));
    });
}

impl VirtualDevice {
    fn name(&self, label: String, queue_label: String) {
        *self.label.borrow_mut() = label;
        *self.queue_label.borrow_mut() = queue_label;
    }

    /// The device is lost: its waiters hear why, its uncaptured-error streams end, its memory
    /// objects are destroyed (the quota released them already).
    fn lose(&self, lost: Lost) {
        let waiters = match std::mem::replace(&mut *self.loss.borrow_mut(), Loss::Lost(lost.clone())) {
            Loss::Alive(waiters) => waiters,
            Loss::Lost(_) => return,
        };
        for waiter in waiters {
            let _ = waiter.send(lost.clone());
        }
        self.scopes.end();
        crate::policy::quota::release_device(self.id);
        crate::policy::quota::submissions::forget(self.id);
        for object in self.memory.take() {
            match object {
                Memory::Buffer(b) => b.upgrade().iter().for_each(|b| b.destroy()),
                Memory::Texture(t) => t.upgrade().iter().for_each(|t| t.destroy()),
                Memory::QuerySet(q) => q.upgrade().iter().for_each(|q| q.destroy()),
            }
        }
    }

    /// Whether its host device is pooled: its destroy and loss are the virt's.
    pub fn host_is_pooled(&self) -> bool {
        self.host.pooled
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
    crate::policy::quota::release_device(device.device);
    match pooled(device.device) {
        Some(v) => v.lose(Lost { reason: exp::GpuDeviceLostReason::Destroyed, message: "the device was destroyed".into() }),
        None => crate::policy::quota::submissions::now_or_held(
            device.device,
            || device.inner.destroy(),
            || crate::policy::quota::submissions::HeldCall::DestroyDevice,
        ),
    }
}

/// `gpu-device.lost`: a pooled device's own loss, else the runtime's.
pub fn lost(device: &GpuDevice) -> FutureReader<exp::GpuDeviceLostInfo> {
    let Some(v) = pooled(device.device) else { return device.forward_lost() };
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

/// Error scopes around one call on a shared host device: what they catch is the calling
/// device's. Made by [`bracket`]; closed when dropped.
pub struct Bracket(Rc<VirtualDevice>);

/// Opens a bracket for a call on an object of `device`, if its host device is shared.
#[inline]
pub fn bracket(device: DeviceId) -> Option<Bracket> {
    if !BRACKETING.get() {
        return None;
    }
    let v = get(device).filter(|v| v.host.shared.get())?;
    for filter in FILTERS {
        v.host.device.push_error_scope(filter);
    }
    Some(Bracket(v))
}

impl Drop for Bracket {
    fn drop(&mut self) {
        let v = &self.0;
        // Popped in reverse order of the pushes; each holds the first error of its filter.
        let mut caught = Vec::new();
        for _ in FILTERS {
            if let Some(Ok(Some(error))) = at_once(v.host.device.pop_error_scope()) {
                caught.push(error);
            }
        }
        if is_lost(v.id) {
            return; // a lost device reports nothing
        }
        for error in caught.into_iter().rev() {
            crate::errors::report_to(&v.host.device, &v.scopes, None, error.kind(), error.message());
        }
    }
}

/// The value of a future that is ready at its first poll (see [`Host::instant_pops`]).
fn at_once<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

/// Whether an object of `other` used in a call on an object of `this` belongs to another
/// virtual device on the same host device (across host devices, the runtime says so itself).
#[inline]
pub fn foreign(this: DeviceId, other: DeviceId) -> bool {
    this != other
        && BRACKETING.get()
        && match (get(this), get(other)) {
            (Some(a), Some(b)) => Rc::ptr_eq(&a.host, &b.host),
            _ => false,
        }
}

/// Reports that a call on an object of `device` used an object of another device.
pub fn report_foreign(device: DeviceId, function: &str) {
    if let Some(v) = get(device).filter(|_| !is_lost(device)) {
        let message = format!("{function}: an object of another device was used");
        crate::errors::report_to(&v.host.device, &v.scopes, None, exp::GpuErrorKind::ValidationError, message);
    }
}
