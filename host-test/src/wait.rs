//! Waiting for a device's GPU work: `map-async` and `on-submitted-work-done`.
//!
//! wgpu runs map and work-done callbacks while a device is polled, and a blocking poll waits for
//! the GPU. Several threads in blocking polls of one device at once cost NVIDIA's driver dearly:
//! on an H200, the inference-like benchmark (a submit and a map each step) took 1.15-1.38x as
//! long with the virt's wait beside each map, and 1.00-1.05x once they took turns (an H100's
//! submit-and-wait loop with two waits a step: 10x). So a device's waits take turns: one poll
//! of a device at a time, for the oldest submission that any wait wants.
//!
//! A wait for an older submission may arrive while a later one is polled for (a guest's wait,
//! asked after another guest's map). It must not hang on the later work: a wait's turn blocks
//! without end only while it polls for the oldest submission that may be unfinished, and
//! otherwise polls in slices, after each of which the oldest wanted submission is polled for
//! again.

use crate::state::{DeviceState, lock};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a turn blocks while an older submission than the one polled for may still run.
const SLICE: Duration = Duration::from_millis(1);

/// A submission of a device's queue, numbered in the order the host submitted them.
#[derive(Clone)]
pub struct Submitted {
    pub number: u64,
    pub index: wgpu::SubmissionIndex,
}

/// The waits of one device.
#[derive(Default)]
pub struct Waits {
    state: Mutex<Wanted>,
    /// Held by the wait whose turn it is to poll.
    turn: Mutex<()>,
    /// Held by a submit, and by a turn's poll while it may end before its submission is done.
    submits: Mutex<()>,
}

#[derive(Default)]
struct Wanted {
    /// The submissions waited for, by number, and how many waits want each.
    submissions: BTreeMap<u64, (wgpu::SubmissionIndex, usize)>,
    /// Every submission up to this number is known to be done.
    done: u64,
}

/// What a wait wants, registered while it waits.
struct Want<'a> {
    waits: &'a Waits,
    number: u64,
}

impl Drop for Want<'_> {
    fn drop(&mut self) {
        let mut wanted = lock(&self.waits.state);
        if let Some((_, count)) = wanted.submissions.get_mut(&self.number) {
            *count -= 1;
            if *count == 0 {
                wanted.submissions.remove(&self.number);
            }
        }
    }
}

/// How a turn's poll went.
enum Polled {
    /// Every submission up to `number` is done (`None`: everything submitted when it polled).
    Done { number: Option<u64> },
    /// A slice passed first.
    Slice,
}

impl Waits {
    /// Runs `submit`, the queue's submit, out of the way of a slice's poll.
    pub fn submitting<R>(&self, submit: impl FnOnce() -> R) -> R {
        let _submitting = lock(&self.submits);
        submit()
    }

    fn want(&self, s: &Submitted) -> Want<'_> {
        let mut wanted = lock(&self.state);
        wanted.submissions.entry(s.number).or_insert_with(|| (s.index.clone(), 0)).1 += 1;
        Want { waits: self, number: s.number }
    }

    /// Takes a turn: polls `device` for the oldest submission wanted (else everything submitted
    /// so far), firing the callbacks of whatever is done.
    fn poll(&self, device: &wgpu::Device) -> Polled {
        let _turn = lock(&self.turn);
        let (target, timeout) = {
            let wanted = lock(&self.state);
            match wanted.submissions.first_key_value() {
                Some((&number, (index, _))) => {
                    let oldest_unfinished = number == wanted.done + 1;
                    (Some((number, index.clone())), if oldest_unfinished { None } else { Some(SLICE) })
                }
                // Everything submitted: in slices, since an older wait may come.
                None => (None, Some(SLICE)),
            }
        };
        let (number, index) = target.unzip();
        // A wait that may end before its submission is done (a slice) races wgpu's upkeep in a
        // submit on another thread: that can retire the submission between the wait's look at
        // the fence and its look at the queue, and an assertion in wgpu-core 30 then panics ("If
        // the queue is empty, the current submission index (108) should be at least the wait
        // submission index (109)", seen in a pod). So submits wait for a slice to end.
        let _no_submits = timeout.map(|_| lock(&self.submits));
        match device.poll(wgpu::PollType::Wait { submission_index: index, timeout }) {
            Ok(_) => {
                if let Some(number) = number {
                    let mut wanted = lock(&self.state);
                    wanted.done = wanted.done.max(number);
                }
                Polled::Done { number }
            }
            Err(wgpu::PollError::Timeout) => Polled::Slice,
            // Not a submission wgpu took: nothing to wait for (and nothing learnt of others).
            Err(wgpu::PollError::WrongSubmissionIndex(..)) => Polled::Done { number },
        }
    }
}

/// Waits, off the async executor, until wgpu has called the callback that feeds `rx`.
///
/// The callback runs once submission `until` is done (else, or if it does not, once everything
/// submitted when it polls is: work submitted after the call that waits is then waited for
/// too). `None` when the callback was dropped unanswered (the device is gone).
///
/// Like a WebGPU promise, the wait never completes within the call that started it, even when
/// wgpu answered at once: the guest gets control back first (so that, for example, an `unmap`
/// right after `map-async` always aborts the map, as it does in a browser).
pub(crate) async fn wait_on_gpu<R: Send + 'static>(
    state: &Arc<DeviceState>,
    mut rx: futures::channel::oneshot::Receiver<R>,
    mut until: Option<Submitted>,
) -> Option<R> {
    tokio::task::yield_now().await;
    let device = state.device()?;
    loop {
        match rx.try_recv() {
            Ok(Some(v)) => return Some(v),
            Ok(None) => {}
            Err(_) => return None,
        }
        let want = until.as_ref().map(|s| state.waits().want(s));
        let (s, d) = (state.clone(), device.clone());
        let polled = tokio::task::spawn_blocking(move || s.waits().poll(&d)).await;
        drop(want);
        match rx.try_recv() {
            Ok(Some(v)) => return Some(v),
            Err(_) => return None,
            Ok(None) => {}
        }
        match polled {
            Ok(Polled::Slice) => {}
            Ok(Polled::Done { number }) => {
                let reached = match (number, until.as_ref()) {
                    (Some(n), Some(mine)) => n >= mine.number,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                // Not yet: an older submission's turn came first.
                if !reached {
                    continue;
                }
                match until.take() {
                    // Its submission is done and the callback has not run: it hangs on work
                    // wgpu submits itself (writes queued since), so wait for everything next.
                    Some(_) => {}
                    // Everything submitted is done and the callback has not run yet: it runs on
                    // a later poll, after other work has gone first.
                    None => match tokio::time::timeout(Duration::from_micros(200), &mut rx).await {
                        Ok(Ok(v)) => return Some(v),
                        Ok(Err(_)) => return None,
                        Err(_) => {}
                    },
                }
            }
            // The poll panicked.
            Err(_) => return None,
        }
    }
}
