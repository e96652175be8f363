//! The virtual-device layer: what a device the application holds is.
//!
//! Every `gpu-device` the virt hands out is a virtual device ([`registry`]), and everything the
//! virt knows of a device is there: its id (which every object made from it carries), its
//! tenant, the host device it runs on ([`host`], with the ledger of its queue), its error scopes
//! ([`scopes`]), its loss, its labels, the memory objects its `destroy` frees, and its queue
//! timeline with the work held back on it ([`timeline`], [`queue`], [`fairness`]). Virtual
//! devices of a pod's guests may share a host device ([`share`]).
//!
//! The layer names no policy. What it asks of them (may this device be made; it is gone; it is
//! retired) goes through `crate::hooks`, which the policy chain registers with; the caps it
//! applies are read from the configuration.
//!
//! On a host device of its own, a device's destroy, loss and labels are the runtime's. On a
//! pooled host device (a pod's, when its guests share the GPU) they are the virt's:
//! - a device's `destroy()` frees its own memory objects, resolves its own `lost` and ends its
//!   own streams; the host device lives on;
//! - real loss of the host device resolves every virtual device's `lost`;
//! - a lost virtual device reports no errors, makes invalid memory objects, writes and submits
//!   nothing, as a lost device does.
//!
//! Work the virt knows is invalid (made with an object it refused) never reaches the runtime:
//! [`invalid`].
//!
//! Files, each using only those before it: `gpu_time`, `host`, `scopes`, `budget`,
//! `fairness`; `timeline`; `registry`; `invalid` (objects known invalid); `bound` (loop
//! budgets), `chunks` (dispatch chunks, which `timeline` runs), `watchdog`; `share`; `queue`;
//! this one (the device's own calls).

pub mod bound;
pub mod budget;
pub mod chunks;
pub mod draws;
pub mod fairness;
pub mod gpu_time;
pub mod host;
pub mod invalid;
pub mod queue;
pub mod registry;
pub mod scopes;
pub mod share;
pub mod timeline;
pub mod watchdog;

pub use registry::{Lost, Memory, ObjectId, all, get, is_destroyed, is_lost, pooled};

use crate::bindings::{wit_future, wit_stream};
use crate::{GpuAdapter, GpuDevice, GpuDeviceLostInfo, GpuError, exp, hooks, ids, imp, tenant};
use futures::StreamExt;
use futures::channel::mpsc;
use scopes::Scope;
use timeline::{HeldCall, Timeline};
use wit_bindgen::rt::async_support::{FutureReader, StreamReader};

/// `gpu-adapter.request-device`: the policies admit it, sharing finds its host device (a
/// pooled one, or one of its own from the runtime), and it is registered with its tenant and,
/// when a cap applies, its timeline.
pub async fn request_device(
    adapter: &GpuAdapter,
    descriptor: Option<exp::GpuDeviceDescriptor>,
) -> Result<exp::GpuDevice, exp::RequestDeviceError> {
    hooks::admit_device(adapter, descriptor.as_ref())?;
    let label = descriptor.as_ref().and_then(|d| d.label.clone()).unwrap_or_default();
    let queue_label = descriptor.as_ref().and_then(|d| d.default_queue.as_ref()?.label.clone()).unwrap_or_default();
    let (device, host) = share::place(adapter, descriptor).await?;
    let made = device.get::<GpuDevice>();
    // A device joining a shared host device has virtual error scopes from the start; the first
    // one turns to them when the second joins.
    let shared = host.shared.get();
    for member in share::members(&host) {
        member.scopes.set_virtual(shared);
    }
    made.errors.set_virtual(shared);
    let tenant = tenant::of(adapter.device);
    let v = registry::enter(made.device, host, tenant, made.errors.clone());
    if v.host.pooled {
        *v.label.borrow_mut() = label;
        *v.queue_label.borrow_mut() = queue_label;
    }
    if let Some(max) = in_flight_cap(tenant) {
        let timeline = Timeline::start(v.id, max, fairness::pool(), v.host.clone(), v.scopes.clone());
        *v.timeline.borrow_mut() = Some(timeline);
    }
    if let Some(limit) = crate::config::of_tenant(tenant).max_submission_time {
        watchdog::start(&v, limit);
    }
    hooks::device_admitted(adapter, made).await?;
    Ok(device)
}

/// The cap on the submissions in flight of `tenant`'s devices: its own, or, under the pool's
/// cap alone or while GPU time is measured (whose timelines keep each operation's wait apart),
/// none of its own (`u32::MAX`). `None`: no timeline.
fn in_flight_cap(tenant: u32) -> Option<u32> {
    let own = crate::config::of_tenant(tenant).max_in_flight.map(|n| n.get());
    own.or_else(|| (fairness::pool().is_some() || gpu_time::measured()).then_some(u32::MAX))
}

/// Remembers a memory object of `device`, for its `destroy`.
pub fn track(device: ids::DeviceId, object: Memory) {
    if let Some(v) = get(device) {
        v.track(object);
    }
}

/// `gpu-device.destroy`: its memory released and its loss resolved; a pooled host device lives
/// on for the others.
pub fn destroy(device: &GpuDevice) {
    if let Some(v) = get(device.device) {
        v.destroyed.set(true);
    }
    hooks::device_gone(device.device);
    match pooled(device.device) {
        // Behind the calls held before it: they are the application's, made before the destroy
        // (their errors reach its scopes and streams before they end).
        Some(v) => {
            // A host device that is this device's own (no other shares it, now or later) is
            // destroyed with it, as without the virt; the device's uncaptured-error streams then
            // end with the runtime's, after the errors the runtime reported before the destroy
            // (ending them at once would drop those still on their way).
            let own = !share::sharing();
            let destroyed = move || {
                if own {
                    v.scopes.end_with_runtime();
                    v.host.device.destroy();
                }
                v.lose(Lost { reason: exp::GpuDeviceLostReason::Destroyed, message: "the device was destroyed".into() });
            };
            match queue::holding(device.device) {
                Some(timeline) => timeline.hold(HeldCall::Run(Box::new(destroyed))),
                None => destroyed(),
            }
        }
        None => queue::now_or_held(device.device, || device.inner.destroy(), || HeldCall::DestroyDevice),
    }
}

/// `gpu-device.lost`: a pooled device's own loss, else the runtime's (which also releases what
/// the device took: the virt hears of a loss only when the application asks, so a lost device's
/// objects are otherwise released as the application drops them).
pub fn lost(device: &GpuDevice) -> FutureReader<exp::GpuDeviceLostInfo> {
    let placeholder = <exp::GpuDeviceLostInfo as crate::bridge::Placeholder>::placeholder;
    let Some(v) = pooled(device.device) else {
        let id = device.device;
        return crate::bridge::future(
            device.inner.lost(),
            move |info| {
                hooks::device_gone(id);
                if let Some(v) = get(id) {
                    v.forget_timeline();
                }
                exp::GpuDeviceLostInfo::new(GpuDeviceLostInfo::from(info))
            },
            placeholder,
        );
    };
    share::watch_loss(&v.host);
    let (tx, rx) = wit_future::new::<exp::GpuDeviceLostInfo>(placeholder);
    let wait = v.wait_lost();
    let call = ids::current_call();
    crate::bridge::spawn(async move {
        // A device dropped before its loss is never lost: its future never resolves.
        let Ok(Lost { reason, message }) = wait.await else { return };
        let value = exp::GpuDeviceLostInfo::new(GpuDeviceLostInfo::Local { reason, message });
        hooks::resolved(call, &value);
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

pub fn push_error_scope(device: &GpuDevice, filter: exp::GpuErrorFilter) {
    if device.errors.push(filter) {
        device.inner.push_error_scope(filter);
    }
}

pub async fn pop_error_scope(device: &GpuDevice) -> Result<Option<exp::GpuError>, exp::PopErrorScopeError> {
    // Errors of work held back from before this pop belong to the scope: forward it first.
    queue::drained(device.device).await;
    let host = |e: Option<imp::GpuError>| e.map(|e| exp::GpuError::new(GpuError::Host(e)));
    let scope = device.errors.pop();
    if registry::is_gone(device.device) {
        // A lost device's pop (a destroyed one is lost) resolves with no error, whatever its
        // stack held.
        return Ok(None);
    }
    let local = |kind, message| exp::GpuError::new(GpuError::Local { kind, message });
    match &scope {
        // The virt's own scope: what it caught is all there is.
        Some(Scope { forwarded: false, .. }) => return Ok(scope.and_then(|s| s.reported).map(|(kind, message)| local(kind, message))),
        // No scope, with virtual scopes: the runtime's stack is not the application's.
        None if device.errors.is_virtual() => {
            let message = "pop-error-scope: the error scope stack is empty".to_string();
            return Err(exp::PopErrorScopeError { kind: exp::PopErrorScopeErrorKind::OperationError, message });
        }
        _ => {}
    }
    let Some(Scope { reported: Some((kind, message)), split, .. }) = scope else {
        // No scope of the virt's (the runtime says what popping an empty stack is) or nothing
        // reported into it: the runtime's scope is the application's.
        return device.inner.pop_error_scope().await.map(host);
    };
    if split {
        // The split first: what it caught came after the virt's error.
        let _later = device.inner.pop_error_scope().await;
    }
    let earlier = device.inner.pop_error_scope().await?;
    Ok(Some(host(earlier).unwrap_or_else(|| local(kind, message))))
}

pub fn on_uncaptured_error(device: &GpuDevice) -> StreamReader<exp::GpuError> {
    // The stream ends when the device is lost: on a pooled host device, the virt must hear of it.
    if let Some(v) = pooled(device.device) {
        share::watch_loss(&v.host);
    }
    let (tx, rx) = mpsc::unbounded();
    if device.errors.is_ended() || device.errors.is_virtual() {
        // A lost device's streams end at once; every error of a device with virtual scopes
        // reaches the virt through the brackets.
        device.errors.listen(tx);
    } else {
        device.errors.listen(tx.clone());
        // The runtime's errors and the virt's go through one channel into the application's stream.
        let mut runtime = device.inner.on_uncaptured_error();
        crate::bridge::spawn(async move {
            while let Some(e) = runtime.next().await {
                if tx.unbounded_send(exp::GpuError::new(GpuError::Host(e))).is_err() {
                    return;
                }
            }
            // The runtime's stream ended (the device is lost): so does the application's.
            tx.close_channel();
        });
    }
    let (mut writer, reader) = wit_stream::new::<exp::GpuError>();
    let call = ids::current_call();
    crate::bridge::spawn(async move {
        let mut rx = rx;
        while let Some(e) = rx.next().await {
            hooks::resolved(call, &e);
            if writer.write_one(e).await.is_some() {
                break;
            }
        }
    });
    reader
}
