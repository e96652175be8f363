//! A device's queue: the calls on its queue timeline (`submit`, writes, the wait for submitted
//! work), forwarded at once or held back behind held work ([`super::timeline`]), and its label.

use super::chunks::{self, Part};
use super::host::Operation;
use super::invalid;
use super::registry::{get, is_lost, pooled};
use super::share::foreign;
use super::timeline::{HeldCall, TexturePlace, Timeline};
use crate::ids::DeviceId;
use crate::{GpuBuffer, GpuCommandBuffer, GpuQueue, GpuTexture, exp, imp};
use std::rc::Rc;

fn timeline(device: DeviceId) -> Option<Rc<Timeline>> {
    get(device)?.timeline.borrow().clone()
}

/// The device's timeline if it holds calls back: then a call on its queue timeline must be
/// held too ([`Timeline::hold`]), behind them.
pub fn holding(device: DeviceId) -> Option<Rc<Timeline>> {
    timeline(device).filter(|t| t.is_holding())
}

/// Makes a call on `device` now (`now`), or, while calls are held there, holds it behind them
/// (`held` describes it).
pub fn now_or_held(device: DeviceId, now: impl FnOnce(), held: impl FnOnce() -> HeldCall) {
    match holding(device) {
        Some(timeline) => timeline.hold(held()),
        None => now(),
    }
}

/// Waits until every call `device` held back before now has been forwarded.
pub async fn drained(device: DeviceId) {
    if let Some(t) = holding(device) {
        t.drained().await;
    }
}

/// A queue operation of `device` reached the runtime (a submission, or a write), made by the
/// call being made: its host device numbers it.
fn forwarded(device: DeviceId, submission: bool) {
    if let Some(v) = get(device) {
        let operation = if submission { Operation::Submission } else { Operation::Write };
        v.host.forwarded(device, operation, crate::ids::current_call());
    }
}

pub fn submit(queue: &GpuQueue, command_buffers: Vec<exp::GpuCommandBufferBorrow<'_>>) {
    // WebGPU uses up every command buffer of a submission it refuses, and a lost device's
    // submission runs nothing: none of them can be submitted again.
    let use_up = || command_buffers.iter().for_each(|b| b.get::<GpuCommandBuffer>().invalid.mark());
    let device_of = |b: &exp::GpuCommandBufferBorrow<'_>| b.get::<GpuCommandBuffer>().device;
    if is_lost(queue.device) {
        return use_up();
    }
    // One of another virtual device on the same host device (the generated check has reported
    // it).
    if command_buffers.iter().any(|b| foreign(queue.device, device_of(b))) {
        return use_up();
    }
    // One known invalid: nothing of the submission runs.
    if let Some(i) = command_buffers.iter().position(|b| b.get::<GpuCommandBuffer>().invalid.is()) {
        use_up();
        return invalid::report(queue.device, "submit", &format!("command buffer {i}"));
    }
    // One of another device on another host device: the runtime refuses the submission in its
    // own words. They are used up now, since the submission may be held while that other
    // device submits one of them.
    if command_buffers.iter().any(|b| device_of(b) != queue.device) {
        use_up();
    }
    match timeline(queue.device) {
        Some(t) => match in_parts(&t, &command_buffers) {
            Some(calls) => t.submit_in_parts(calls),
            None => t.submit(command_buffers.iter().map(|b| b.get::<GpuCommandBuffer>().inner.clone()).collect()),
        },
        None => {
            queue.forward_submit(command_buffers);
            forwarded(queue.device, true);
        }
    }
}

/// A submission of command buffers some of which have parts cut from them (`super::chunks`):
/// the calls that make it, in order (`None` when none has parts). A command buffer known
/// invalid is submitted as its invalid part, with the others whole: the runtime refuses the
/// whole submission in its own words, as WebGPU does, and nothing of it runs. The timeline
/// learns which of the application's command buffers hold dispatches or draws of pipelines
/// not measured yet ([`Timeline::uncut`]).
fn in_parts(timeline: &Timeline, command_buffers: &[exp::GpuCommandBufferBorrow<'_>]) -> Option<Vec<HeldCall>> {
    let taken: Vec<_> = command_buffers.iter().map(|b| chunks::take_parts(b.get())).collect();
    if taken.iter().all(|(parts, _, _)| parts.is_empty()) {
        return None;
    }
    if taken.iter().any(|(_, invalid, _)| invalid.is_some()) {
        let refused = command_buffers.iter().zip(&taken).map(|(b, (_, invalid, _))| invalid.clone().unwrap_or_else(|| b.get::<GpuCommandBuffer>().inner.clone()));
        return Some(vec![HeldCall::Submit(refused.collect())]);
    }
    let mut calls = Vec::new();
    let mut together = Vec::new();
    let held = |commands: Rc<imp::GpuCommandBuffer>, uncut: chunks::Uncut| {
        if !uncut.is_empty() {
            timeline.uncut(&commands, Rc::new(uncut));
        }
        commands
    };
    for (b, (parts, _, uncut)) in command_buffers.iter().zip(taken) {
        for part in parts {
            match part {
                Part::Commands(commands, uncut) => together.push(held(commands, uncut)),
                Part::Chunks(job) => {
                    // A submission opens with a call of its own, the runtime's submission of
                    // its first chunk when that need not wait (the time limit counts the
                    // application's submissions by it).
                    if !together.is_empty() || calls.is_empty() {
                        calls.push(submission(&calls, std::mem::take(&mut together)));
                    }
                    calls.push(HeldCall::Chunks(job));
                }
            }
        }
        together.push(held(b.get::<GpuCommandBuffer>().inner.clone(), uncut));
    }
    calls.push(submission(&calls, together));
    Some(calls)
}

/// The first call of a submission in parts submits; the others add parts to it.
fn submission(calls: &[HeldCall], buffers: Vec<Rc<imp::GpuCommandBuffer>>) -> HeldCall {
    match calls.is_empty() {
        true => HeldCall::Submit(buffers),
        false => HeldCall::Part(buffers),
    }
}

/// The operator's figures for `device`'s queue timeline, if it has one.
pub fn counters(device: DeviceId, push: impl FnMut(&'static str, u64)) {
    if let Some(t) = timeline(device) {
        t.counters(push);
    }
}

/// `on-submitted-work-done`: once the work the device submitted before it is done, or the
/// device is lost. On a pooled host device, or under a cap, the host device's queue ledger
/// knows (the device's own last operation, not everything others submitted); else the
/// runtime's wait is the answer.
pub async fn on_submitted_work_done(queue: &GpuQueue) {
    if is_lost(queue.device) {
        return;
    }
    drained(queue.device).await;
    let Some(v) = get(queue.device) else { return queue.forward_on_submitted_work_done().await };
    let t = v.timeline.borrow().clone();
    if !v.host.pooled && t.is_none() {
        return queue.forward_on_submitted_work_done().await;
    }
    let host = v.host.clone();
    let done = host.done_through(host.last_of(v.id));
    if host.pooled {
        // The virt owns this device's loss: work that never ends resolves the wait then.
        let lost = v.wait_lost();
        drop(v);
        futures::future::select(std::pin::pin!(done), lost).await;
    } else {
        done.await;
    }
    if let Some(t) = t.filter(|_| !is_lost(queue.device)) {
        t.completed();
    }
}

/// `write-buffer` on the device's queue timeline: nothing on a lost device (nor with a buffer
/// of another device: the generated check reported it), a validation error with a buffer known
/// invalid, held back behind held work, else forwarded.
pub fn write_buffer(
    queue: &GpuQueue,
    buffer: exp::GpuBufferBorrow<'_>,
    offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    if is_lost(queue.device) || foreign(queue.device, buffer.get::<GpuBuffer>().device) {
        return Ok(());
    }
    if buffer.get::<GpuBuffer>().invalid.is() {
        invalid::report(queue.device, "write-buffer", "the buffer");
        return Ok(());
    }
    match holding(queue.device) {
        Some(timeline) => hold_write_buffer(&timeline, buffer.get(), offset, data, data_offset, size),
        None => {
            queue.forward_write_buffer_with_copy(buffer, offset, data, data_offset, size)?;
            forwarded(queue.device, false);
            Ok(())
        }
    }
}

/// `write-texture` on the device's queue timeline, as [`write_buffer`].
pub fn write_texture(
    queue: &GpuQueue,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    if is_lost(queue.device) || foreign(queue.device, destination.texture.get::<GpuTexture>().device) {
        return;
    }
    if destination.texture.get::<GpuTexture>().invalid.is() {
        return invalid::report(queue.device, "write-texture", "the texture");
    }
    match holding(queue.device) {
        Some(timeline) => hold_write_texture(&timeline, destination, data, layout, size),
        None => {
            queue.forward_write_texture_with_copy(destination, data, layout, size);
            forwarded(queue.device, false);
        }
    }
}
/// The held form of a `write-buffer`, after checking what WebGPU checks at the call: that the
/// data offset and size lie within the data (else the call's own `operation-error`).
fn hold_write_buffer(
    timeline: &Rc<Timeline>,
    buffer: &GpuBuffer,
    offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    let len = data.len() as u64;
    let start = data_offset.unwrap_or(0);
    let end = size.map_or(Some(len), |size| start.checked_add(size));
    if !end.is_some_and(|end| start <= end && end <= len) {
        let message = format!("write-buffer: data offset {start} and size {size:?} are outside the {len} bytes given");
        return Err(exp::WriteBufferError { kind: exp::WriteBufferErrorKind::OperationError, message });
    }
    timeline.hold(HeldCall::WriteBuffer { buffer: buffer.inner.clone(), offset, data, data_offset, size });
    Ok(())
}

/// The held form of a `write-texture`.
fn hold_write_texture(
    timeline: &Rc<Timeline>,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    let texture = destination.texture.get::<GpuTexture>().inner.clone();
    let place = TexturePlace { mip_level: destination.mip_level, origin: destination.origin, aspect: destination.aspect };
    timeline.hold(HeldCall::WriteTexture { texture, place, data, layout, size });
}

/// A pooled device's queue: its label is the device's own.
pub fn label(queue: &GpuQueue) -> String {
    match pooled(queue.device) {
        Some(v) => v.queue_label.borrow().clone(),
        None => queue.forward_label(),
    }
}

pub fn set_label(queue: &GpuQueue, label: String) {
    match pooled(queue.device) {
        Some(v) => *v.queue_label.borrow_mut() = label,
        None => queue.forward_set_label(label),
    }
}
