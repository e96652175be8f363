//! A policy that sees every call and does nothing: what the chain itself costs.

use super::Policy;

pub struct Noop;

impl Policy for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
}
