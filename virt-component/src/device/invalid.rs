//! Objects the virt knows are invalid, so that it never hands the runtime work that must fail.
//!
//! A creation the virt refuses (a quota's) gives the application a stand-in (see
//! `policy::quota::objects`), an object that WebGPU would call invalid. What is made from an
//! invalid object is invalid too (a view of a refused texture, a bind group of a refused buffer,
//! the command buffer of an encoder that recorded a command with one), and so is an encoder
//! that records a command with one (a pass's command makes its command encoder invalid). The
//! generated forwarding carries that along every call ([`Flag`] on every wrapper).
//!
//! The calls that would hand the runtime such work are answered by the virt itself, as WebGPU
//! answers them: a validation error, and nothing runs. They are `submit` (none of its command
//! buffers runs), `write-buffer`, `write-texture` and `map-async` (which also rejects). So a
//! refusal is a WebGPU error on every runtime, even one that would fail on invalid work, and
//! the runtime's own errors at creation and `finish` stay as they are.

use crate::exp;
use crate::ids::DeviceId;
use std::cell::{Cell, OnceCell};
use std::rc::Rc;

/// Whether the virt knows an object is invalid. A pass's flag is tied to its command encoder's.
#[derive(Default)]
pub struct Flag {
    known: Rc<Cell<bool>>,
    /// Made with an object of another virtual device on the same host device (or with an
    /// object so made): the runtime's object is valid where WebGPU's is not, so a call that uses
    /// it is refused as one with the other device's object (`super::share`).
    across: Cell<bool>,
    /// The flag of the command encoder a pass records into.
    encoder: OnceCell<Rc<Cell<bool>>>,
}

impl Flag {
    /// Whether the object is known invalid.
    #[inline]
    pub fn is(&self) -> bool {
        self.known.get()
    }

    /// The object is invalid from now on (and a pass's command encoder with it).
    pub fn mark(&self) {
        self.known.set(true);
        if let Some(encoder) = self.encoder.get() {
            encoder.set(true);
        }
    }

    /// Whether the object was made with an object of another virtual device.
    #[inline]
    pub fn is_across(&self) -> bool {
        self.across.get()
    }

    /// The object was made with an object of another virtual device: invalid, and refused as
    /// such wherever it is used.
    pub fn mark_across(&self) {
        self.across.set(true);
        self.mark();
    }

    /// Ties a pass's flag to `encoder`'s, the command encoder it records into.
    pub fn within(&self, encoder: &Flag) {
        if encoder.is() {
            self.known.set(true);
        }
        // A pass is begun once: its flag is tied once.
        let _ = self.encoder.set(encoder.known.clone());
    }
}

/// Reports that `function`, a call on `device`, used `what`, an object known invalid: the
/// virt answers the call with a validation error and forwards nothing of it. A lost device
/// reports nothing, as in WebGPU.
pub fn report(device: DeviceId, function: &str, what: &str) {
    let message = format!("{function}: {what} is invalid: webgpu-virt refused it, or an object it was made with, at its creation");
    super::registry::report(device, exp::GpuErrorKind::ValidationError, message);
}
