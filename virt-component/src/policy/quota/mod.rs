//! The quota policy: GPU memory, object counts and load, enforced before calls reach the runtime.

pub mod memory;
