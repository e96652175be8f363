//! A compute shader squares 1024 numbers and adds an override constant; the guest prints a
//! summary of the result.
use guests::gpu::*;

struct Command;

const N: u32 = 1024;

const SHADER: &str = "
override offset: u32 = 1u;
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    output[id.x] = input[id.x] * input[id.x] + offset;
}
";

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let input: Vec<u32> = (0..N).map(|i| i * 3 + 1).collect();
        let input = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &guests::bytes_of(&input));
        let output = device.create_buffer(&GpuBufferDescriptor {
            size: u64::from(N) * 4,
            usage: GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC,
            mapped_at_creation: None,
            label: Some("output".into()),
        });
        let constants = RecordGpuPipelineConstantValue::new();
        constants.add("offset", 7.0);
        let module = guests::shader(&device, SHADER);
        let pipeline = device
            .create_compute_pipeline_async(GpuComputePipelineDescriptor {
                compute: GpuProgrammableStage { module: &module, entry_point: Some("main".into()), constants: Some(constants) },
                layout: GpuLayoutMode::Auto,
                label: Some("square".into()),
            })
            .await
            .expect("create-compute-pipeline-async");
        let group = device.create_bind_group(&GpuBindGroupDescriptor {
            layout: &pipeline.get_bind_group_layout(0),
            entries: vec![
                GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(&input) },
                GpuBindGroupEntry {
                    binding: 1,
                    resource: GpuBindingResource::GpuBufferBinding(GpuBufferBinding { buffer: &output, offset: None, size: None }),
                },
            ],
            label: None,
        });
        let encoder = device.create_command_encoder(None);
        let pass = encoder.begin_compute_pass(None);
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
        pass.dispatch_workgroups(N / 64, None, None);
        pass.end();
        let queue = device.queue();
        queue.submit(&[&encoder.finish(None)]);
        // Reading back waits for the work (its map-async comes after the submission); the guest
        // waits for nothing else, so that it runs on any host where mapping works.
        let out = guests::u32s(&guests::read_buffer(&device, &output, 0, u64::from(N) * 4).await);
        let sum: u64 = out.iter().map(|v| u64::from(*v)).sum();
        println!("compute: n={} first={} last={} sum={}", out.len(), out[0], out[out.len() - 1], sum);
        Ok(())
    }
}

guests::export_command!(Command);
