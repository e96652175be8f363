//! The configuration `webgpu-virt configure` baked into this component, and what every layer
//! reads of it.
//!
//! The slot below is the only place the component's binary holds the slot marker; `configure`
//! finds it there and writes the encoded configuration after it. An empty slot (as built) is
//! the default configuration: no policy.

use std::cell::OnceCell;
use webgpu_virt_config::{Config, slot};

#[used]
static SLOT: slot::Slot = slot::EMPTY;

thread_local! {
    static CONFIG: OnceCell<&'static Config> = const { OnceCell::new() };
}

/// The baked configuration.
///
/// # Panics
/// When the slot holds what this component cannot decode: it was written by another version of
/// webgpu-virt (whose `configure` and `plug` check it) or altered by hand. Serving the application
/// without the policy its operator asked for would be worse than stopping.
fn baked() -> Config {
    // Read through volatile loads: the slot is immutable to the compiler, which would otherwise
    // fold the empty slot it was built with into the code.
    let len = unsafe { core::ptr::read_volatile(&SLOT.len) } as usize;
    let base = SLOT.bytes.as_ptr();
    let bytes: Vec<u8> =
        (0..len.min(slot::CAPACITY)).map(|i| unsafe { core::ptr::read_volatile(base.add(i)) }).collect();
    Config::decode(&bytes).unwrap_or_else(|e| panic!("the baked configuration is unreadable: {e}"))
}

/// The whole configuration: the pod's, with every guest's policy (decoded at the first use, and
/// kept for the instance's life).
pub fn pod() -> &'static Config {
    CONFIG.with(|c| *c.get_or_init(|| Box::leak(Box::new(baked()))))
}

/// The policy of `tenant`.
pub fn of_tenant(tenant: u32) -> &'static Config {
    pod().policy(tenant)
}

/// How many tenants the virt serves.
pub fn tenants() -> u32 {
    pod().tenants()
}

/// Whether the virt serves a pod of guests.
pub fn is_pod() -> bool {
    !pod().guests.is_empty()
}

/// How the operator's counters of `tenant` begin: the guest's name and a space in a pod,
/// nothing in front of one application.
pub fn guest_prefix(tenant: u32) -> String {
    pod().guests.get(tenant as usize).map(|g| format!("{} ", g.name)).unwrap_or_default()
}
