//! The call counter: how many times the application called each function.

use super::{Args, Counter, DeviceId, Func, Policy};

pub struct Calls {
    counts: [u64; Func::COUNT],
}

impl Default for Calls {
    fn default() -> Self {
        Self { counts: [0; Func::COUNT] }
    }
}

impl Policy for Calls {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn before(&mut self, _: DeviceId, _: u64, args: &Args<'_>) {
        self.counts[args.func() as usize] += 1;
    }

    /// The functions called at least once, in the order of `Func`.
    fn counters(&self, out: &mut Vec<Counter>) {
        let called = Func::ALL.iter().zip(self.counts).filter(|(_, n)| *n > 0);
        out.extend(called.map(|(f, n)| Counter { name: f.name().to_string(), value: n }));
    }
}
