//! Loops of every kind in one compute shader, counting their iterations: two nested `for`
//! loops bounded by a storage buffer (`--outer N --inner M`, default 30 and 40), beside the inner
//! one a loop of 4 iterations (a constant), a loop of rounds holding a `workgroupBarrier` (a tiled
//! matmul's shape, 50 rounds, a constant), and a `loop` that only returns, in a function that
//! must return a value (60 steps). It prints the counts.
//!
//! Under a loop budget (`max-loop-iterations`) each loop runs at most that many iterations per
//! call of its function, a nested loop across all of its outer loop's iterations. The loops of
//! constant trip count have no counter: each outer iteration takes 4 from the outer loop's.
use guests::gpu::*;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> data: array<u32>;
var<workgroup> arrived: atomic<u32>;
const ROUNDS = 50u;

// Counts to `to` in a loop that can only end by returning.
fn steps(to: u32) -> u32 {
    var n = 0u;
    loop {
        if n == to { return n; }
        n += 1u;
    }
    return n;
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) l: u32) {
    var outer = 0u;
    var inner = 0u;
    var fours = 0u;
    for (var i = 0u; i < data[0]; i++) {
        outer += 1u;
        for (var j = 0u; j < data[1]; j++) { inner += 1u; }
        for (var k = 0u; k < 4u; k++) { fours += 1u; }
    }
    var rounds = 0u;
    for (var r = 0u; r < ROUNDS; r++) {
        atomicAdd(&arrived, 1u);
        workgroupBarrier();
        rounds += 1u;
    }
    let stepped = steps(60u);
    workgroupBarrier();
    if l == 0u {
        data[2] = outer;
        data[3] = inner;
        data[4] = rounds;
        data[5] = atomicLoad(&arrived);
        data[6] = stepped;
        data[7] = fours;
    }
}
";

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let (outer, inner) = (guests::arg_u64("--outer", 30) as u32, guests::arg_u64("--inner", 40) as u32);
        let device = guests::device().await;
        let data = guests::buffer_with(&device, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC, &guests::bytes_of(&[outer, inner, 0, 0, 0, 0, 0, 0]));
        let (pipeline, group) = guests::compute_pipeline(&device, SHADER, &data);
        device.queue().submit(&[&guests::dispatch(&device, &pipeline, &group, 1)]);
        let counts = guests::u32s(&guests::read_buffer(&device, &data, 8, 24).await);
        println!(
            "outer loop {} (its loop of 4: {}), inner loop {}, barrier rounds {} (arrivals {}), steps of a returning loop {}",
            counts[0], counts[5], counts[1], counts[2], counts[3], counts[4]
        );
        Ok(())
    }
}

guests::export_command!(Command);
