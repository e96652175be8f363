//! Numbers the virt gives: devices ([`DeviceId`]) and calls ([`next_call`]).

use std::cell::Cell;

/// The device an object belongs to: every wrapper carries one. Objects made by a method belong
/// to the device of the object called; a new device gets a fresh id; `gpu`, adapters and the
/// helper records belong to none (or, in a pod, to their tenant's root: see `crate::tenant`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(u32);

impl DeviceId {
    /// Belongs to no device.
    pub const NONE: Self = Self(0);

    /// A device id never used before in this instance.
    pub fn fresh() -> Self {
        thread_local!(static NEXT: Cell<u32> = const { Cell::new(1) });
        NEXT.with(|n| {
            let id = n.get();
            n.set(id.checked_add(1).expect("fewer than 2^32 devices"));
            Self(id)
        })
    }

    /// The id's number: 1, 2, ... in the order the devices were made (0 for [`Self::NONE`]).
    pub fn number(self) -> u32 {
        self.0
    }
}

thread_local! {
    /// The number of the next call.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    /// The number of the last call.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// Numbers a call the policies are shown (calls are numbered in the order they reach the chain,
/// so that an async call's result, and what a future it returned resolves to, find their call).
pub fn next_call() -> u64 {
    let call = CALLS.get();
    CALLS.set(call + 1);
    CURRENT.set(call);
    call
}

/// The number of the call being made: a future or stream it returns is known by it.
pub fn current_call() -> u64 {
    CURRENT.get()
}
