//! A plain p2 command (`fn main`, exporting `wasi:cli/run@0.2.x`): `webgpu-virt run` must refuse
//! it with a message saying why it cannot wait on wasi:webgpu.
fn main() {
    println!("a p2 command ran");
}
