//! Benchmark: an inference-like job. A stack of `--layers` dense layers (`--hidden` wide, ReLU
//! between them) runs over a batch of `--batch` rows, `--steps` times. Pipelines, weights and
//! bind groups are made once; every step uploads a new batch (`write-buffer`), dispatches every
//! layer in one compute pass, copies the output to a mapped buffer and reads it back. The last
//! step's first row is checked against the CPU.
//!
//! Defaults (128 wide, 8 layers, batch 32, 50 steps) suit a software GPU; on a real one, use
//! `--hidden 1024 --layers 16 --batch 512` (17 GFLOP a step).
use guests::gpu::*;

struct Command;

/// `out = relu(input x weights)`, a 16 x 16 tile of outputs per workgroup.
const SHADER: &str = "
override hidden: u32 = 128u;
const TILE: u32 = 16u;
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
var<workgroup> ti: array<array<f32, 16>, 16>;
var<workgroup> tw: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    var sum = 0.0;
    for (var t = 0u; t < hidden / TILE; t++) {
        ti[l.y][l.x] = input[g.y * hidden + t * TILE + l.x];
        tw[l.y][l.x] = weights[(t * TILE + l.y) * hidden + g.x];
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) { sum += ti[l.y][k] * tw[k][l.x]; }
        workgroupBarrier();
    }
    output[g.y * hidden + g.x] = max(sum, 0.0);
}
";

/// A value in [-1, 1), the same on every run.
fn noise(seed: u64, i: u64) -> f32 {
    let x = (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
}

fn bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let hidden = guests::arg_u64("--hidden", 128);
        let layers = guests::arg_u64("--layers", 8);
        let batch = guests::arg_u64("--batch", 32);
        let steps = guests::arg_u64("--steps", 50);
        assert!(hidden % 16 == 0 && batch % 16 == 0, "--hidden and --batch must be multiples of 16");
        let device = guests::device().await;
        let queue = device.queue();

        // Weights scaled so that activations stay near 1 through the stack.
        let scale = (2.0 / hidden as f32).sqrt();
        let weights: Vec<Vec<f32>> = (0..layers).map(|l| (0..hidden * hidden).map(|i| noise(l + 1, i) * scale).collect()).collect();
        let weight_buffers: Vec<GpuBuffer> = weights.iter().map(|w| guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bytes(w))).collect();
        let size = batch * hidden * 4;
        let activation = || guests::buffer(&device, size, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_DST | GpuBufferUsage::COPY_SRC);
        let ping_pong = [activation(), activation()];
        let readback = guests::buffer(&device, size, GpuBufferUsage::MAP_READ | GpuBufferUsage::COPY_DST);

        let constants = RecordGpuPipelineConstantValue::new();
        constants.add("hidden", hidden as f64);
        let module = guests::shader(&device, SHADER);
        let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
            compute: GpuProgrammableStage { module: &module, entry_point: None, constants: Some(constants) },
            layout: GpuLayoutMode::Auto,
            label: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        let entry = |binding, buffer| GpuBindGroupEntry { binding, resource: GpuBindingResource::GpuBuffer(buffer) };
        // Layer l reads one activation buffer and writes the other.
        let groups: Vec<GpuBindGroup> = (0..layers as usize)
            .map(|l| {
                let (from, to) = (&ping_pong[l % 2], &ping_pong[(l + 1) % 2]);
                device.create_bind_group(&GpuBindGroupDescriptor {
                    layout: &layout,
                    entries: vec![entry(0, from), entry(1, &weight_buffers[l]), entry(2, to)],
                    label: None,
                })
            })
            .collect();
        let output = &ping_pong[layers as usize % 2];

        let mut input = Vec::new();
        let mut result = Vec::new();
        let mut checksum = 0u64;
        let start = std::time::Instant::now();
        for step in 0..steps {
            input = (0..batch * hidden).map(|i| noise(1000 + step, i).abs()).collect();
            queue.write_buffer_with_copy(&ping_pong[0], 0, &bytes(&input), None, None).expect("write-buffer");
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            for group in &groups {
                pass.set_bind_group(0, Some(group), None, None, None).expect("set-bind-group");
                pass.dispatch_workgroups((hidden / 16) as u32, Some((batch / 16) as u32), None);
            }
            pass.end();
            encoder.copy_buffer_to_buffer(output, Some(0), &readback, Some(0), Some(size));
            queue.submit(&[&encoder.finish(None)]);
            readback.map_async(GpuMapMode::READ, None, None).await.expect("map-async");
            let read = readback.get_mapped_range_get_with_copy(None, None).expect("reading the mapped range");
            readback.unmap().expect("unmap");
            checksum = checksum.rotate_left(5) ^ guests::fnv1a(&read);
            result = read;
        }
        let seconds = start.elapsed().as_secs_f64();

        // The last step's first row, on the CPU.
        let mut row: Vec<f32> = input[..hidden as usize].to_vec();
        for w in &weights {
            row = (0..hidden as usize).map(|j| (0..hidden as usize).map(|k| row[k] * w[k * hidden as usize + j]).sum::<f32>().max(0.0)).collect();
        }
        let gpu: Vec<f32> = result[..hidden as usize * 4].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let wrong = gpu.iter().zip(&row).filter(|(g, c)| (*g - *c).abs() > 1e-3 * (1.0 + c.abs())).count();
        let flop = 2.0 * (batch * hidden * hidden * layers) as f64;
        println!("result: {layers} layers of {hidden}, batch {batch}, {steps} steps: first row wrong in {wrong} of {hidden}; output checksum {checksum:016x}");
        println!("bench infer: {:.3} ms a step ({:.1} GFLOP/s)", seconds * 1e3 / steps as f64, flop * steps as f64 / seconds / 1e9);
        assert_eq!(wrong, 0, "the GPU's result differs from the CPU's");
        Ok(())
    }
}

guests::export_command!(Command);
