//! The call counter: how many times the application (each guest, in a pod) called each
//! function.

use super::Policy;
use crate::hooks::Counter;
use crate::ids::DeviceId;
use crate::{Args, Func};

pub struct Calls {
    /// By tenant, by function.
    counts: Vec<[u64; Func::COUNT]>,
}

impl Calls {
    pub fn new(tenants: u32) -> Self {
        Self { counts: vec![[0; Func::COUNT]; tenants as usize] }
    }
}

impl Policy for Calls {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn before(&mut self, device: DeviceId, _: u64, args: &Args<'_>) {
        let tenant = (crate::tenant::of(device) as usize).min(self.counts.len() - 1);
        self.counts[tenant][args.func() as usize] += 1;
    }

    /// The functions called at least once, in the order of `Func` (in a pod, guest by guest,
    /// each name after the guest's).
    fn counters(&self, out: &mut Vec<Counter>) {
        for (tenant, counts) in self.counts.iter().enumerate() {
            let prefix = crate::config::guest_prefix(tenant as u32);
            let called = Func::ALL.iter().zip(counts).filter(|(_, n)| **n > 0);
            out.extend(called.map(|(f, n)| Counter { name: format!("{prefix}{}", f.name()), value: *n }));
        }
    }
}
