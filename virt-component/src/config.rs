//! The configuration `webgpu-virt configure` baked into this component.
//!
//! The slot below is the only place the component's binary holds the slot marker; `configure`
//! finds it there and writes the encoded configuration after it. An empty slot (as built) is
//! the default configuration: no policy.

use webgpu_virt_config::{Config, slot};

#[used]
static SLOT: slot::Slot = slot::EMPTY;

/// The baked configuration.
///
/// # Panics
/// When the slot holds what this component cannot decode: it was written by another version of
/// webgpu-virt (whose `configure` and `plug` check it) or altered by hand. Serving the application
/// without the policy its operator asked for would be worse than stopping.
pub fn baked() -> Config {
    // Read through volatile loads: the slot is immutable to the compiler, which would otherwise
    // fold the empty slot it was built with into the code.
    let len = unsafe { core::ptr::read_volatile(&SLOT.len) } as usize;
    let base = SLOT.bytes.as_ptr();
    let bytes: Vec<u8> =
        (0..len.min(slot::CAPACITY)).map(|i| unsafe { core::ptr::read_volatile(base.add(i)) }).collect();
    Config::decode(&bytes).unwrap_or_else(|e| panic!("the baked configuration is unreadable: {e}"))
}
