//! The per-guest GPU budget (`max-gpu-share`): a guest may have at most its share of the GPU's
//! time, whether or not other guests want the GPU (an operator sells a fraction of a GPU).
//!
//! A token bucket, in nanoseconds of GPU time: it fills at the guest's share of the time that
//! passes, up to its share of one second ([`WINDOW`]: how far the guest may run ahead), and the
//! guest's GPU time (`super::gpu_time`, charged as each operation is done) drains it. While it
//! is empty the guest's submissions are held back (`super::timeline`), and the pool passes over
//! the guest (`super::fairness`). Over any span, a guest running flat out gets its share of it,
//! plus at most one window's worth, plus the submissions in flight when the bucket ran dry.

use super::gpu_time;
use crate::{clock, config};
use std::cell::RefCell;

/// How far ahead of its share a guest may run: its share of this much time.
pub const WINDOW: u64 = 1_000_000_000;

/// One guest's bucket.
#[derive(Clone, Copy)]
struct Bucket {
    /// GPU time it may still have, in nanoseconds (below zero: owed).
    balance: f64,
    /// When it was last filled, and the guest's GPU time then.
    at: u64,
    spent: u64,
}

thread_local! {
    static BUCKETS: RefCell<Vec<Option<Bucket>>> = const { RefCell::new(Vec::new()) };
}

/// Whether `tenant` may release work now. If not: when it may (a mark on the monotonic clock).
pub fn check(tenant: u32) -> Result<(), u64> {
    let Some(share) = config::of_tenant(tenant).max_gpu_share.map(|s| s.get()) else { return Ok(()) };
    let Some(now) = clock::now() else { return Ok(()) };
    let spent = gpu_time::of(tenant).ns;
    let capacity = share * WINDOW as f64;
    BUCKETS.with_borrow_mut(|buckets| {
        let i = tenant as usize;
        if buckets.len() <= i {
            buckets.resize(i + 1, None);
        }
        let bucket = buckets[i].get_or_insert(Bucket { balance: capacity, at: now, spent });
        let filled = share * now.saturating_sub(bucket.at) as f64;
        bucket.balance = (bucket.balance + filled).min(capacity) - spent.saturating_sub(bucket.spent) as f64;
        bucket.at = now;
        bucket.spent = spent;
        if bucket.balance > 0.0 {
            return Ok(());
        }
        // Empty: it may go on once refilled past zero.
        Err(now + (-bucket.balance / share) as u64 + 1)
    })
}
