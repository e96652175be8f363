//! A runaway guest: a compute shader of two nested loops whose bounds come from a storage buffer
//! holding `u32::MAX`. One invocation never ends on a GPU without a watchdog; Mesa's llvmpipe
//! cuts every loop after a fixed count, so there `--wide` (65535 workgroups of 64) makes the
//! dispatch run for hours (`--workgroups N`: N workgroups, for work that ends after a while).
//! `--dispatches N` makes N such dispatches in one pass, `--submissions N` N such submissions:
//! the same work, in pieces; `--indirect` makes them indirect dispatches. `--draw` makes the
//! same work draws: instances (as many as the workgroups) of a triangle that covers an 8x8
//! target, each of whose 64 fragments runs the loops.
//! It submits the dispatch and returns without waiting for it, unless `--wait` (then it waits
//! for the work and says when the wait ended; with `--lost`, it then waits for its device's
//! loss and prints it).
use guests::gpu::*;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> data: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var acc = id.x;
    for (var i = 0u; i < data[0]; i++) {
        for (var j = 0u; j < data[1]; j++) {
            acc = acc * 1664525u + 1013904223u + j;
        }
    }
    data[2u + id.x % 64u] = acc;
}
";

const DRAWN: &str = "
@group(0) @binding(0) var<storage, read> data: array<u32>;

@vertex fn vs(@builtin(vertex_index) v: u32) -> @builtin(position) vec4<f32> {
    return vec4<f32>(f32(v & 1u) * 4.0 - 1.0, f32(v >> 1u) * 4.0 - 1.0, 0.0, 1.0);
}

@fragment fn fs(@builtin(position) p: vec4<f32>) -> @location(0) vec4<u32> {
    var acc = u32(p.x);
    for (var i = 0u; i < data[0]; i++) {
        for (var j = 0u; j < data[1]; j++) {
            acc = acc * 1664525u + 1013904223u + j;
        }
    }
    return vec4<u32>(acc, 0u, 0u, 1u);
}
";

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().collect();
        let wide = args.iter().any(|a| a == "--wide");
        let workgroups = match args.iter().position(|a| a == "--workgroups") {
            Some(i) => args[i + 1].parse().expect("--workgroups N"),
            None if wide => 65535,
            None => 1,
        };
        let device = guests::device().await;
        let mut bounds = vec![0u8; 66 * 4];
        bounds[..8].fill(0xff);
        let data = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bounds);
        let count = |name: &str| args.iter().position(|a| a == name).map_or(1, |i| args[i + 1].parse::<u32>().expect("a count"));
        let (dispatches, submissions) = (count("--dispatches"), count("--submissions"));
        let indirect = args.iter().any(|a| a == "--indirect").then(|| guests::buffer_with(&device, GpuBufferUsage::INDIRECT, &guests::bytes_of(&[workgroups, 1, 1])));
        match args.iter().any(|a| a == "--draw") {
            true => draw(&device, &data, workgroups, dispatches, submissions),
            false => dispatch(&device, &data, workgroups, dispatches, submissions, indirect.as_ref()),
        }
        println!("submitted a runaway dispatch");
        if args.iter().any(|a| a == "--wait") {
            let lost = device.lost();
            device.queue().on_submitted_work_done().await;
            println!("the wait for the work ended");
            if args.iter().any(|a| a == "--lost") {
                let info = lost.await;
                println!("the device was lost ({:?}): {}", info.reason(), info.message());
            }
        }
        Ok(())
    }
}

/// `submissions` submissions of a pass of `dispatches` dispatches of `workgroups` workgroups
/// each (indirect ones, if `indirect` holds their arguments).
fn dispatch(device: &GpuDevice, data: &GpuBuffer, workgroups: u32, dispatches: u32, submissions: u32, indirect: Option<&GpuBuffer>) {
    let (pipeline, group) = guests::compute_pipeline(device, SHADER, data);
    for _ in 0..submissions {
        let encoder = device.create_command_encoder(None);
        let pass = encoder.begin_compute_pass(None);
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
        for _ in 0..dispatches {
            match indirect {
                Some(args) => pass.dispatch_workgroups_indirect(args, 0),
                None => pass.dispatch_workgroups(workgroups, None, None),
            }
        }
        pass.end();
        device.queue().submit(&[&encoder.finish(None)]);
    }
}

/// `submissions` submissions of a pass of `draws` draws of `instances` instances each.
fn draw(device: &GpuDevice, data: &GpuBuffer, instances: u32, draws: u32, submissions: u32) {
    let format = GpuTextureFormat::Rgba8uint;
    let target = guests::texture(device, guests::extent(8, 8, 1), format, GpuTextureUsage::RENDER_ATTACHMENT, 1);
    let view = target.create_view(None);
    let module = guests::shader(device, DRAWN);
    let pipeline = guests::render_pipeline(device, &module, format, None);
    let group = device.create_bind_group(&GpuBindGroupDescriptor {
        layout: &pipeline.get_bind_group_layout(0),
        entries: vec![GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBufferBinding(GpuBufferBinding { buffer: data, offset: None, size: None }) }],
        label: None,
    });
    for _ in 0..submissions {
        let encoder = device.create_command_encoder(None);
        let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
        for _ in 0..draws {
            pass.draw(3, Some(instances), None, None);
        }
        pass.end();
        device.queue().submit(&[&encoder.finish(None)]);
    }
}

guests::export_command!(Command);
