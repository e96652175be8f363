//! Benchmark floor: the bare forwarder. It exports `webgpu-virt:worlds/hop` and forwards each
//! call to its import, doing nothing else: composed in front of `bench_hop`, it is one bare hop.
wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/hop-forwarder",
    generate_all,
});

use exports::webgpu_virt::worlds::hop as exp;
use webgpu_virt::worlds::hop;

struct Forwarder;

/// The exported `thing`, wrapping the imported one as the virt wraps every resource.
struct Thing {
    inner: hop::Thing,
}

impl exp::GuestThing for Thing {
    fn new() -> Self {
        Self { inner: hop::Thing::new() }
    }

    fn poke(&self, other: Option<exp::ThingBorrow<'_>>) -> u64 {
        self.inner.poke(other.as_ref().map(|o| &o.get::<Thing>().inner))
    }
}

impl exp::Guest for Forwarder {
    type Thing = Thing;

    fn trivial() -> u64 {
        hop::trivial()
    }

    fn bytes(data: Vec<u8>) -> u64 {
        hop::bytes(&data)
    }
}

export!(Forwarder);
