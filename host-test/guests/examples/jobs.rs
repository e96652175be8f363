//! `--jobs N` independent jobs (100 by default), each with its own buffers, shader, pipeline,
//! bind group and submissions, inside an error scope of its own; job `--bad J` (73 by default)
//! also writes past the end of its output buffer, a validation error its scope finds. Each job
//! prints what its scope found and a sum of its results. For `trace slice`: the slice of the
//! first error is that job's calls.
use guests::gpu::*;

struct Command;

const N: u32 = 256;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    output[id.x] = input[id.x] * 2u + 1u;
}
";

async fn job(device: &GpuDevice, j: u32, bad: bool) {
    let label = |what: &str| Some(format!("job {j} {what}"));
    device.push_error_scope(GpuErrorFilter::Validation);
    let data: Vec<u32> = (0..N).map(|i| i + j).collect();
    let input = guests::buffer_with(device, GpuBufferUsage::STORAGE, &guests::bytes_of(&data));
    input.set_label(&format!("job {j} input"));
    let size = u64::from(N) * 4;
    let usage = GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC | GpuBufferUsage::COPY_DST;
    let output = device.create_buffer(&GpuBufferDescriptor { size, usage, mapped_at_creation: None, label: label("output") });
    let module = device.create_shader_module(&GpuShaderModuleDescriptor { code: SHADER.into(), compilation_hints: None, label: label("shader") });
    let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
        compute: GpuProgrammableStage { module: &module, entry_point: None, constants: None },
        layout: GpuLayoutMode::Auto,
        label: label("pipeline"),
    });
    let group = device.create_bind_group(&GpuBindGroupDescriptor {
        layout: &pipeline.get_bind_group_layout(0),
        entries: vec![
            GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(&input) },
            GpuBindGroupEntry { binding: 1, resource: GpuBindingResource::GpuBuffer(&output) },
        ],
        label: label("bind group"),
    });
    let write = match bad {
        true => match device.queue().write_buffer_with_copy(&output, size, &[1, 2, 3, 4], None, None) {
            Ok(()) => ", its write past the end taken",
            Err(_) => ", its write past the end refused",
        },
        false => "",
    };
    device.queue().submit(&[&guests::dispatch(device, &pipeline, &group, N / 64)]);
    let found = device.pop_error_scope().await.expect("pop-error-scope");
    let out = guests::u32s(&guests::read_buffer(device, &output, 0, size).await);
    let sum: u64 = out.iter().map(|v| u64::from(*v)).sum();
    let found = found.map_or("no error", |e| guests::kind_name(&e.kind()));
    println!("job {j}: {found}{write}, sum {sum}");
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let jobs = guests::arg_u64("--jobs", 100) as u32;
        let bad = guests::arg_u64("--bad", 73) as u32;
        let device = guests::device().await;
        for j in 0..jobs {
            job(&device, j, j == bad).await;
        }
        Ok(())
    }
}

guests::export_command!(Command);
