//! Benchmark: an inference-like job, shaped like a greedy decoding step. Every step uploads a
//! batch of `--batch` token ids (`write-buffer`), looks up their embeddings (a table of
//! [`VOCABULARY`] rows, `--hidden` wide), runs them through a stack of `--layers` dense layers
//! (ReLU between them) and picks each row's largest output and its index (the "next token"),
//! all in one compute pass, then reads the picks back through a mapped buffer. Pipelines,
//! weights and bind groups are made once. The last step's first row is checked against the CPU.
//!
//! Defaults (128 wide, 8 layers, batch 32, 50 steps) suit a software GPU; on a real one, use
//! `--hidden 1024 --layers 16 --batch 512` (17 GFLOP a step).
use guests::gpu::*;

struct Command;

/// Rows of the embedding table.
const VOCABULARY: u64 = 4096;

/// Each row of `input` is the embedding of its token.
const EMBED: &str = "
override hidden: u32 = 128u;
@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> input: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let row = g.x / hidden;
    if (row < arrayLength(&tokens)) {
        input[g.x] = table[tokens[row] * hidden + g.x % hidden];
    }
}
";

/// Each row's largest value and its index.
const PICK: &str = "
override hidden: u32 = 128u;
@group(0) @binding(0) var<storage, read> output: array<f32>;
@group(0) @binding(1) var<storage, read_write> picks: array<vec2<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    if (g.x >= arrayLength(&picks)) { return; }
    var best = output[g.x * hidden];
    var at = 0u;
    for (var i = 1u; i < hidden; i++) {
        let v = output[g.x * hidden + i];
        if (v > best) { best = v; at = i; }
    }
    picks[g.x] = vec2<f32>(f32(at), best);
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
        let table: Vec<f32> = (0..VOCABULARY * hidden).map(|i| noise(0, i).abs()).collect();
        let table_buffer = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bytes(&table));
        let tokens = guests::buffer(&device, batch * 4, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_DST);
        let size = batch * hidden * 4;
        let activation = || guests::buffer(&device, size, GpuBufferUsage::STORAGE);
        let ping_pong = [activation(), activation()];
        let picks = guests::buffer(&device, batch * 8, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC);
        let readback = guests::buffer(&device, batch * 8, GpuBufferUsage::MAP_READ | GpuBufferUsage::COPY_DST);

        let pipeline = |code: &str, constant: &str| {
            let constants = RecordGpuPipelineConstantValue::new();
            constants.add(constant, hidden as f64);
            let module = guests::shader(&device, code);
            device.create_compute_pipeline(GpuComputePipelineDescriptor {
                compute: GpuProgrammableStage { module: &module, entry_point: None, constants: Some(constants) },
                layout: GpuLayoutMode::Auto,
                label: None,
            })
        };
        // A dense layer: `relu(input x weights)`.
        let (embed, dense, pick) = (pipeline(EMBED, "hidden"), pipeline(&guests::tiled_matmul("max(sum, 0.0)"), "n"), pipeline(PICK, "hidden"));
        let group = |pipeline: &GpuComputePipeline, buffers: &[&GpuBuffer]| {
            device.create_bind_group(&GpuBindGroupDescriptor {
                layout: &pipeline.get_bind_group_layout(0),
                entries: buffers.iter().enumerate().map(|(i, b)| GpuBindGroupEntry { binding: i as u32, resource: GpuBindingResource::GpuBuffer(b) }).collect(),
                label: None,
            })
        };
        let embed_group = group(&embed, &[&tokens, &table_buffer, &ping_pong[0]]);
        // Layer l reads one activation buffer and writes the other.
        let layer_groups: Vec<GpuBindGroup> =
            (0..layers as usize).map(|l| group(&dense, &[&ping_pong[l % 2], &weight_buffers[l], &ping_pong[(l + 1) % 2]])).collect();
        let pick_group = group(&pick, &[&ping_pong[layers as usize % 2], &picks]);

        let mut ids = Vec::new();
        let mut result = Vec::new();
        let mut checksum = 0u64;
        let start = std::time::Instant::now();
        let mut first_step = 0.0;
        for step in 0..steps {
            ids = (0..batch).map(|i| (noise(1000 + step, i).abs() * VOCABULARY as f32) as u32 % VOCABULARY as u32).collect();
            let id_bytes: Vec<u8> = ids.iter().flat_map(|t| t.to_le_bytes()).collect();
            queue.write_buffer_with_copy(&tokens, 0, &id_bytes, None, None).expect("write-buffer");
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&embed);
            pass.set_bind_group(0, Some(&embed_group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups((batch * hidden / 64) as u32, None, None);
            pass.set_pipeline(&dense);
            for g in &layer_groups {
                pass.set_bind_group(0, Some(g), None, None, None).expect("set-bind-group");
                pass.dispatch_workgroups((hidden / 16) as u32, Some((batch / 16) as u32), None);
            }
            pass.set_pipeline(&pick);
            pass.set_bind_group(0, Some(&pick_group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups(batch.div_ceil(64) as u32, None, None);
            pass.end();
            encoder.copy_buffer_to_buffer(&picks, Some(0), &readback, Some(0), Some(batch * 8));
            queue.submit(&[&encoder.finish(None)]);
            readback.map_async(GpuMapMode::READ, None, None).await.expect("map-async");
            let read = readback.get_mapped_range_get_with_copy(None, None).expect("reading the mapped range");
            readback.unmap().expect("unmap");
            checksum = checksum.rotate_left(5) ^ guests::fnv1a(&read);
            result = read;
            if step == 0 {
                first_step = start.elapsed().as_secs_f64();
            }
        }
        let seconds = start.elapsed().as_secs_f64();

        // The last step's first row, on the CPU: its embedding through every layer, then the pick.
        let h = hidden as usize;
        let first = ids[0] as usize;
        let mut row: Vec<f32> = table[first * h..(first + 1) * h].to_vec();
        for w in &weights {
            row = (0..h).map(|j| (0..h).map(|k| row[k] * w[k * h + j]).sum::<f32>().max(0.0)).collect();
        }
        let best = row.iter().copied().fold(f32::MIN, f32::max);
        let value = |i: usize| f32::from_le_bytes(result[i * 4..i * 4 + 4].try_into().unwrap());
        let (at, gpu_best) = (value(0) as usize, value(1));
        // Rounding may order near-equal values differently: the GPU's pick must be a largest value.
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-3 * (1.0 + b.abs());
        let right = close(gpu_best, best) && at < h && close(row[at], best);
        let flop = 2.0 * (batch * hidden * hidden * layers) as f64;
        println!("result: {layers} layers of {hidden}, batch {batch}, {steps} steps: first row's pick {}; picks checksum {checksum:016x}", if right { "right" } else { "WRONG" });
        println!("bench infer: {:.3} ms a step ({:.1} GFLOP/s)", seconds * 1e3 / steps as f64, flop * steps as f64 / seconds / 1e9);
        // The first step pays what is done once (a pipeline's first dispatches, for one).
        println!("bench infer first step: {:.3} ms", first_step * 1e3);
        if steps > 1 {
            println!("bench infer after the first: {:.3} ms a step", (seconds - first_step) * 1e3 / (steps - 1) as f64);
        }
        assert!(right, "the GPU picked {at} ({gpu_best}), the CPU's largest is {best}");
        Ok(())
    }
}

guests::export_command!(Command);
