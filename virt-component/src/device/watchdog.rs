//! The time limit on submissions (`max-submission-time`): a device whose submission runs on
//! the GPU longer than its guest's limit is lost, reason `unknown`, with a message naming the
//! limit and the submission.
//!
//! Each limited device has a watchdog task that hears of its submissions as they are forwarded
//! (`Host::watch`). A submission's time starts when the work before it is done (or when it was
//! forwarded, if later): its own previous submission, every other device's work forwarded
//! before it on its host device, and everything forwarded so far on the virt's other host
//! devices, which share the GPU (with a device per guest, the driver runs them side by side).
//! Waiting behind other guests' work is never its time. The parts of a submission cut into
//! chunks (`super::chunks`) are timed together, the waits between them left out. If it is not
//! done by the limit, or is heard done having run past it (a runtime that runs the work inside
//! its `submit`, as wgpu's GL backend on llvmpipe does, holds the virt's thread meanwhile: the
//! chunks keep each such wait to a slice), the device is lost. Losing the device
//! resolves everything its guest waits on and drops its held work (`super::registry`); the
//! other devices on the host device are not touched. What the runaway work still occupies on
//! the GPU is not this file's: a lost device does not stop work already submitted.

use super::gpu_time;
use super::host::Submitted;
use super::registry::{Lost, VirtualDevice, get};
use crate::{clock, config, exp};
use futures::StreamExt;
use futures::future::{Either, select};
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use webgpu_virt_config::Duration;

/// Watches `v`'s submissions against `limit` (when the virt has a clock to measure them with).
pub fn start(v: &Rc<VirtualDevice>, limit: Duration) {
    if !gpu_time::measured() {
        return;
    }
    let mut submitted = v.host.watch(v.id);
    let (host, device, tenant) = (v.host.clone(), v.id, v.tenant);
    crate::bridge::spawn(async move {
        let mut count = 0u64;
        let mut alarm: Option<Alarm> = None;
        // The time the parts of the application's submission ran so far.
        let mut ran = 0u64;
        while let Some(Submitted { number, at, part, behind }) = submitted.next().await {
            if !part {
                ran = 0;
                count += 1;
            }
            // It starts when it was handed to the runtime, or when the virt heard the work
            // before it done, if later (not when the watchdog got to it: a runtime that runs
            // the work inside its `submit` holds the virt's thread meanwhile).
            let mut start = at;
            for (other, before) in behind {
                if let Some(other) = other.upgrade() {
                    other.done_through(before).await;
                    start = start.max(other.heard_at(before).or_else(clock::now).unwrap_or(at));
                }
            }
            let deadline = start.saturating_add(limit.0.saturating_sub(ran));
            let mut done = pin!(host.done_through(number));
            let in_time = loop {
                let alarm = match &mut alarm {
                    Some(alarm) if alarm.mark <= deadline => alarm,
                    slot => slot.insert(Alarm::at(deadline)),
                };
                if let Either::Left(_) = select(done.as_mut(), alarm.ring.as_mut()).await {
                    break true;
                }
                // It rang: at the deadline, or at an earlier one that this submission outlived.
                let rang = alarm.mark;
                alarm.mark = u64::MAX;
                if rang >= deadline {
                    break false;
                }
            };
            if in_time {
                ran += clock::now().map_or(0, |now| now.saturating_sub(start));
                // Done, and in time unless the virt could not hear the deadline pass (the
                // runtime ran it inside its `submit`).
                if ran <= limit.0 {
                    continue;
                }
            } else if host.done() >= number {
                continue;
            }
            let Some(v) = get(device) else { return };
            let message = format!(
                "webgpu-virt: the device's submission {count} ran on the GPU for longer than max-submission-time \
                 ({limit}): the device is lost"
            );
            crate::console::write(&format!("{}{message}", config::guest_prefix(tenant)));
            // What it ran so far is its guest's GPU time (when it ends, if ever, nothing more).
            host.charge_now(number);
            gpu_time::overdue(tenant);
            v.lose_while_running(Lost { reason: exp::GpuDeviceLostReason::Unknown, message });
            return;
        }
    });
}

/// A wake-up at a mark on the monotonic clock, kept from one submission to the next. Most
/// submissions end long before their deadline, and a timer started and cancelled for each is a
/// runtime call each way; an alarm set for an earlier deadline serves a later one (when it rings
/// first, a new one is set), so a device that submits steadily sets one per limit's length.
struct Alarm {
    /// When it rings (`u64::MAX` once it rang: it serves no deadline).
    mark: u64,
    ring: Pin<Box<dyn Future<Output = ()>>>,
}

impl Alarm {
    fn at(mark: u64) -> Self {
        Self { mark, ring: Box::pin(clock::until(mark)) }
    }
}
