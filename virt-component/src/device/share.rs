//! Virtual devices sharing a host device: a pod's guests on one host GPU device, each on a
//! virtual device of its own.
//!
//! In a pod whose guests share the GPU (the default; `device-per-guest` turns it off), the host
//! device is requested once for each set of required features and limits (`super::host::Key`),
//! and every later `request-device` asking for the same set gets a virtual device on it
//! ([`place`]). A device asking for something else gets a host device of its own, so each
//! device reports exactly what it asked for. On a shared host device:
//! - *Errors* are attributed by the virt: host error scopes belong to the host device, so once a
//!   second virtual device joins, every call that can make an error is bracketed with one scope
//!   of each filter ([`bracket`]), and what they catch goes to the calling device's own scopes or
//!   uncaptured-error streams (`super::scopes`). The brackets' pops must complete when they are
//!   made (a synchronous call cannot wait): each host device is checked for that when it is
//!   made, and one that does not is never shared.
//! - *Destroy and loss* are per virtual device (`super`); real loss of the host device reaches
//!   every virtual device on it ([`watch_loss`], from the first time an application asks for a
//!   `lost` future or an uncaptured-error stream on it).
//! - *Objects of two virtual devices* do not mix: using one with the other is a validation error
//!   ([`foreign`], checked by the generated forwarding for every handle argument).
//! - *Waits on the queue* are each device's own: `on-submitted-work-done` resolves once the
//!   device's own last queue operation is done, not once everything on the host device's queue
//!   at the time of the runtime's call is (`super::host` keeps the numbers; before a device
//!   releases work it held back, `super::timeline` starts a wait for what the others forwarded
//!   until then).

use super::host::{Host, Key};
use super::registry::{Lost, VirtualDevice, all, get, is_lost};
use super::scopes::{FILTERS, at_once};
use crate::ids::DeviceId;
use crate::{GpuAdapter, GpuDevice, config, exp, imp};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;


thread_local! {
    /// The pooled host devices, to find one for a new virtual device.
    static POOL: RefCell<Vec<Rc<Host>>> = const { RefCell::new(Vec::new()) };
    /// Whether any host device is shared: the one check a call pays otherwise.
    static BRACKETING: Cell<bool> = const { Cell::new(false) };
}

/// Whether a pod's guests share host devices (if not, each host device is one device's own).
pub fn sharing() -> bool {
    config::is_pod() && !config::pod().pool.device_per_guest
}

/// The host device of a new device and its wrapper: when sharing, a pooled host device asked
/// for the same (then the wrapper is a new virtual device on it), else one from the runtime.
pub async fn place(
    adapter: &GpuAdapter,
    descriptor: Option<exp::GpuDeviceDescriptor>,
) -> Result<(exp::GpuDevice, Rc<Host>), exp::RequestDeviceError> {
    if !sharing() {
        let device = adapter.forward_request_device(descriptor).await?;
        // Under a GPU-time limit the virt may lose the device itself (`super::watchdog`): then
        // its loss, destroy and labels are the virt's, as on a pooled host device.
        let policy = config::of_tenant(crate::tenant::of(adapter.device));
        let owned = policy.max_submission_time.is_some();
        let inner = device.get::<GpuDevice>().inner.clone();
        // Loop budgets make shader modules' twins inside scopes of the virt's own, which must
        // close at once (`super::bound`).
        let instant_pops = policy.loop_budget().is_some() && pops_at_once(&inner).await;
        let host = Host::new(inner, owned, Key::default(), instant_pops);
        return Ok((device, host));
    }
    let key = Key::of(descriptor.as_ref());
    if let Some(host) = POOL.with_borrow(|pool| pool.iter().find(|h| h.key == key && h.instant_pops).cloned()) {
        host.shared.set(true);
        BRACKETING.set(true);
        let device = exp::GpuDevice::new(GpuDevice::wrap_rc(host.device.clone(), DeviceId::fresh()));
        return Ok((device, host));
    }
    let device = adapter.forward_request_device(descriptor).await?;
    let inner = device.get::<GpuDevice>().inner.clone();
    let instant_pops = pops_at_once(&inner).await;
    let host = Host::new(inner, true, key, instant_pops);
    POOL.with_borrow_mut(|pool| pool.push(host.clone()));
    Ok((device, host))
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

/// The virtual devices on `host`.
pub fn members(host: &Rc<Host>) -> Vec<Rc<VirtualDevice>> {
    all().into_iter().filter(|v| Rc::ptr_eq(&v.host, host)).collect()
}

/// Resolves every member's loss when the pooled host device is lost. The runtime's `lost` is
/// asked for only once an application asks for what needs it (a device's `lost` future, or its
/// uncaptured-error stream, which a lost device ends): the virt calls the runtime only for what
/// the application asked.
pub fn watch_loss(host: &Rc<Host>) {
    if host.watched.replace(true) {
        return;
    }
    let lost = host.device.lost();
    let host = Rc::downgrade(host);
    crate::bridge::spawn(async move {
        let info = lost.await;
        let Some(host) = host.upgrade() else { return };
        let lost = Lost { reason: info.reason(), message: info.message() };
        for member in members(&host) {
            member.lose(lost.clone());
        }
        POOL.with_borrow_mut(|pool| pool.retain(|h| !Rc::ptr_eq(h, &host)));
    });
}


/// Error scopes around one call on a shared host device: what they catch is the calling
/// device's. Made by [`bracket`]; closed when dropped (or by [`quiet`]).
pub struct Bracket {
    device: Rc<VirtualDevice>,
    report: bool,
}

/// Closes a bracket around a call that was already reported as an error (it used an object of
/// another device): WebGPU reports one error per call, so what the runtime said of it is dropped.
pub fn quiet(bracket: Option<Bracket>) {
    if let Some(mut bracket) = bracket {
        bracket.report = false;
    }
}

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
    Some(Bracket { device: v, report: true })
}

impl Drop for Bracket {
    fn drop(&mut self) {
        let v = &self.device;
        // Popped in reverse order of the pushes; each holds the first error of its filter.
        let mut caught = Vec::new();
        for _ in FILTERS {
            if let Some(Ok(Some(error))) = at_once(v.host.device.pop_error_scope()) {
                caught.push(error);
            }
        }
        if is_lost(v.id) || !self.report {
            return; // a lost device reports nothing
        }
        for error in caught.into_iter().rev() {
            super::scopes::report_to(&v.host.device, &v.scopes, None, error.kind(), error.message());
        }
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

/// An encoder that recorded a command with an object of another virtual device: as WebGPU
/// does, the encoder becomes invalid, and its `finish` (a pass's: its command encoder's) reports
/// it. The virt makes the runtime's own encoder invalid with a command that no runtime accepts,
/// so that everything after follows from the runtime: the error at `finish`, one only, and an
/// invalid result. That command comes just before the application's, which is then forwarded
/// too (the runtime sees one device): so the runtime checks them in the order WebGPU would,
/// the other device at that command; and an object that is invalid besides invalidates the
/// encoder when it is recorded, as it does direct.
pub trait Spoil {
    fn spoil(&self);
}

pub fn spoil(encoder: &impl Spoil) {
    encoder.spoil();
}

impl Spoil for crate::GpuCommandEncoder {
    /// A copy of a buffer onto itself.
    fn spoil(&self) {
        if let Some(v) = get(self.device).filter(|_| !is_lost(self.device)) {
            let scratch = v.host.scratch();
            let bracket = bracket(self.device);
            self.inner.borrow().copy_buffer_to_buffer(scratch, Some(0), scratch, Some(0), Some(4));
            drop(bracket);
        }
    }
}

/// A bind group set at an index past every device's `maxBindGroups`.
macro_rules! spoil_by_bind_group_index {
    ($($wrapper:ty => $($borrow:ident)?),*) => {$(
        impl Spoil for $wrapper {
            fn spoil(&self) {
                if !is_lost(self.device) {
                    let bracket = bracket(self.device);
                    let _ = self.inner$(.$borrow())?.set_bind_group(u32::MAX, None, None, None, None);
                    drop(bracket);
                }
            }
        }
    )*};
}

// (A pass's handle may be swapped: `super::chunks`, `super::draws`.)
spoil_by_bind_group_index!(crate::GpuComputePassEncoder => borrow, crate::GpuRenderPassEncoder => borrow, crate::GpuRenderBundleEncoder =>);

/// Reports that a call on an object of `device` used an object of another device, or one made
/// with such an object.
pub fn report_foreign(device: DeviceId, function: &str) {
    let message = format!("{function}: an object of another device, or made with one, was used");
    super::registry::report(device, exp::GpuErrorKind::ValidationError, message);
}

