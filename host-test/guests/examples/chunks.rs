//! Large dispatches whose shaders read `workgroup_id`, `global_invocation_id` and
//! `num_workgroups`, checked invocation by invocation: under a time limit the virt runs them in
//! chunks (`virt-component/src/device/chunks.rs`), and every invocation must still see the
//! ids of the whole dispatch, run once, and in order with the commands around it.
//!
//! In one command encoder: a pass with an automatic layout (100 x 3 x 2 workgroups), a copy of
//! the invocation count (in a debug group of the encoder), and a pass with an explicit layout
//! and a dynamic offset (the same size); then dispatches of an entry point that reads no
//! id (5000 workgroups), an indirect one, one inside a pass's debug group, a large one in a
//! pass after a pass with a small one, one in an encoder made invalid before it, one in an
//! encoder made invalid after it, one submitted after an invalid command buffer, one with a
//! bind group of another pipeline's automatic layout, and large indirect ones. It prints what
//! each saw.
use guests::gpu::*;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read_write> count: atomic<u32>;
@group(1) @binding(0) var<uniform> salt: vec4<u32>;

@compute @workgroup_size(4, 2)
fn ids(@builtin(workgroup_id) w: vec3<u32>, @builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let size = n * vec3<u32>(4u, 2u, 1u);
    let i = 4u * (g.x + size.x * (g.y + size.y * g.z));
    out[i] = w.x | (w.y << 10u) | (w.z << 20u);
    out[i + 1u] = g.x + salt.x;
    out[i + 2u] = g.y | (g.z << 16u);
    out[i + 3u] = n.x | (n.y << 10u) | (n.z << 20u);
    atomicAdd(&count, 1u);
}

@compute @workgroup_size(64)
fn tally() {
    atomicAdd(&count, 1u);
}
";

const WHOLE: [u32; 3] = [100, 3, 2];
const SIZE: [u32; 3] = [4, 2, 1];

struct Command;

/// The invocations whose four words in `out` are not what the ids of a dispatch of `whole`
/// give (with `salt` added to the x of the global id).
fn wrong(out: &[u32], whole: [u32; 3], salt: u32) -> usize {
    let size = [whole[0] * SIZE[0], whole[1] * SIZE[1], whole[2] * SIZE[2]];
    let mut wrong = 0;
    for gz in 0..size[2] {
        for gy in 0..size[1] {
            for gx in 0..size[0] {
                let i = 4 * (gx + size[0] * (gy + size[1] * gz)) as usize;
                let w = [gx / SIZE[0], gy / SIZE[1], gz / SIZE[2]];
                let want = [w[0] | (w[1] << 10) | (w[2] << 20), gx + salt, gy | (gz << 16), whole[0] | (whole[1] << 10) | (whole[2] << 20)];
                if out[i..i + 4] != want {
                    wrong += 1;
                }
            }
        }
    }
    wrong
}

fn invocations(whole: [u32; 3]) -> u64 {
    whole.iter().chain(SIZE.iter()).map(|&n| u64::from(n)).product()
}

/// A compute pass of `encoder` with `pipeline` and `groups` (at indices 0, 1, ...), in which
/// `dispatch` dispatches.
fn in_pass(encoder: &GpuCommandEncoder, pipeline: &GpuComputePipeline, groups: &[&GpuBindGroup], dispatch: impl FnOnce(&GpuComputePassEncoder)) {
    let pass = encoder.begin_compute_pass(None);
    pass.set_pipeline(pipeline);
    for (index, group) in groups.iter().enumerate() {
        pass.set_bind_group(index as u32, Some(group), None, None, None).expect("set-bind-group");
    }
    dispatch(&pass);
    pass.end();
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let module = guests::shader(&device, SHADER);
        let storage = GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC;
        let words = 4 * invocations(WHOLE);
        let (out_auto, out_explicit) = (guests::buffer(&device, words * 4, storage), guests::buffer(&device, words * 4, storage));
        let count = guests::buffer_with(&device, storage | GpuBufferUsage::COPY_DST, &[0; 4]);
        let snapshot = guests::buffer(&device, 4, GpuBufferUsage::COPY_DST | GpuBufferUsage::COPY_SRC);
        // The salt: 0 at offset 0, 7 at offset 256 (a dynamic offset picks it).
        let mut salt = vec![0u8; 512];
        salt[256] = 7;
        let salt = guests::buffer_with(&device, GpuBufferUsage::UNIFORM, &salt);
        let entry = |binding, buffer| GpuBindGroupEntry { binding, resource: GpuBindingResource::GpuBuffer(buffer) };
        let salt_entry = |size| GpuBindGroupEntry {
            binding: 0,
            resource: GpuBindingResource::GpuBufferBinding(GpuBufferBinding { buffer: &salt, offset: Some(0), size: Some(size) }),
        };

        // The automatic layout.
        let stage = |entry_point: &str| GpuProgrammableStage { module: &module, entry_point: Some(entry_point.into()), constants: None };
        let auto = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("ids"), layout: GpuLayoutMode::Auto, label: None });
        let auto_groups = [
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &auto.get_bind_group_layout(0), entries: vec![entry(0, &out_auto), entry(1, &count)], label: None }),
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &auto.get_bind_group_layout(1), entries: vec![salt_entry(16)], label: None }),
        ];

        // An explicit layout, its salt at a dynamic offset.
        let storage_entry = |binding| GpuBindGroupLayoutEntry {
            binding,
            visibility: GpuShaderStage::COMPUTE,
            buffer: Some(GpuBufferBindingLayout { type_: Some(GpuBufferBindingType::Storage), has_dynamic_offset: None, min_binding_size: None }),
            sampler: None,
            texture: None,
            storage_texture: None,
        };
        let layouts = [
            device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor { entries: vec![storage_entry(0), storage_entry(1)], label: None }),
            device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor {
                entries: vec![GpuBindGroupLayoutEntry {
                    buffer: Some(GpuBufferBindingLayout { type_: Some(GpuBufferBindingType::Uniform), has_dynamic_offset: Some(true), min_binding_size: None }),
                    ..storage_entry(0)
                }],
                label: None,
            }),
        ];
        let layout = device.create_pipeline_layout(&GpuPipelineLayoutDescriptor { bind_group_layouts: vec![Some(&layouts[0]), Some(&layouts[1])], immediate_size: None, label: None });
        let explicit = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("ids"), layout: GpuLayoutMode::Specific(&layout), label: None });
        let explicit_groups = [
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &layouts[0], entries: vec![entry(0, &out_explicit), entry(1, &count)], label: None }),
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &layouts[1], entries: vec![salt_entry(16)], label: None }),
        ];

        let encoder = device.create_command_encoder(None);
        let dispatch_whole = |pass: &GpuComputePassEncoder| pass.dispatch_workgroups(WHOLE[0], Some(WHOLE[1]), Some(WHOLE[2]));
        in_pass(&encoder, &auto, &[&auto_groups[0], &auto_groups[1]], dispatch_whole);
        encoder.push_debug_group("snapshot".into());
        encoder.copy_buffer_to_buffer(&count, Some(0), &snapshot, Some(0), Some(4));
        encoder.pop_debug_group();
        let pass = encoder.begin_compute_pass(None);
        pass.set_pipeline(&explicit);
        pass.set_bind_group(0, Some(&explicit_groups[0]), None, None, None).expect("set-bind-group");
        pass.set_bind_group(1, Some(&explicit_groups[1]), Some(&[256]), None, None).expect("set-bind-group");
        pass.dispatch_workgroups(WHOLE[0], Some(WHOLE[1]), Some(WHOLE[2]));
        pass.end();
        device.queue().submit(&[&encoder.finish(None)]);

        let out = guests::u32s(&guests::read_buffer(&device, &out_auto, 0, words * 4).await);
        let counted = guests::u32s(&guests::read_buffer(&device, &snapshot, 0, 4).await)[0];
        println!("automatic layout, {WHOLE:?} workgroups: {} of {} invocations wrong, {counted} counted", wrong(&out, WHOLE, 0), invocations(WHOLE));
        let out = guests::u32s(&guests::read_buffer(&device, &out_explicit, 0, words * 4).await);
        let counted = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("explicit layout, dynamic offset: {} of {} invocations wrong, {counted} counted in all", wrong(&out, WHOLE, 7), invocations(WHOLE));

        // An entry point that reads no id: each workgroup runs once.
        let tally = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("tally"), layout: GpuLayoutMode::Auto, label: None });
        let tally_group = device.create_bind_group(&GpuBindGroupDescriptor { layout: &tally.get_bind_group_layout(0), entries: vec![entry(1, &count)], label: None });
        let before = counted;
        device.queue().submit(&[&guests::dispatch(&device, &tally, &tally_group, 5000)]);
        let counted = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("5000 workgroups of an entry point reading no id: {} invocations", counted - before);

        // An indirect dispatch, and one inside a pass's debug group, are made whole.
        let small = [10, 3, 2];
        let args = guests::buffer_with(&device, GpuBufferUsage::INDIRECT, &guests::bytes_of(&small));
        for indirect in [true, false] {
            let encoder = device.create_command_encoder(None);
            in_pass(&encoder, &auto, &[&auto_groups[0], &auto_groups[1]], |pass| {
                if indirect {
                    pass.dispatch_workgroups_indirect(&args, 0);
                } else {
                    pass.push_debug_group("inside".into());
                    pass.dispatch_workgroups(small[0], Some(small[1]), Some(small[2]));
                    pass.pop_debug_group();
                }
            });
            device.queue().submit(&[&encoder.finish(None)]);
            let out = guests::u32s(&guests::read_buffer(&device, &out_auto, 0, 16 * invocations(small)).await);
            let what = if indirect { "indirect" } else { "in a debug group" };
            println!("{what}, {small:?} workgroups: {} of {} invocations wrong", wrong(&out, small, 0), invocations(small));
        }

        // A pass whose small dispatch writes the first invocation's words, then a pass with a
        // large dispatch of a pipeline not measured yet (cut) that writes them again: the large
        // one must run second, as the first pass's work was encoded before it.
        let second = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("ids"), layout: GpuLayoutMode::Auto, label: None });
        let second_groups = [
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &second.get_bind_group_layout(0), entries: vec![entry(0, &out_auto), entry(1, &count)], label: None }),
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &second.get_bind_group_layout(1), entries: vec![salt_entry(16)], label: None }),
        ];
        let encoder = device.create_command_encoder(None);
        in_pass(&encoder, &auto, &[&auto_groups[0], &auto_groups[1]], |pass| pass.dispatch_workgroups(1, None, None));
        in_pass(&encoder, &second, &[&second_groups[0], &second_groups[1]], dispatch_whole);
        device.queue().submit(&[&encoder.finish(None)]);
        let out = guests::u32s(&guests::read_buffer(&device, &out_auto, 0, words * 4).await);
        println!("a small dispatch's pass, then a large dispatch's: {} of {} invocations wrong", wrong(&out, WHOLE, 0), invocations(WHOLE));

        // An encoder made invalid before a large dispatch (a copy at a misaligned offset): its
        // finish reports the error and its submission another, and nothing of it runs.
        let fresh = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("tally"), layout: GpuLayoutMode::Auto, label: None });
        let fresh_group = device.create_bind_group(&GpuBindGroupDescriptor { layout: &fresh.get_bind_group_layout(0), entries: vec![entry(1, &count)], label: None });
        let before = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        let (commands, finish) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&count, Some(0), &snapshot, Some(1), Some(4));
            in_pass(&encoder, &fresh, &[&fresh_group], |pass| pass.dispatch_workgroups(5000, None, None));
            encoder.finish(None)
        })
        .await;
        let ((), submit) = guests::caught(&device, || device.queue().submit(&[&commands])).await;
        let counted = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("an invalid encoder's large dispatch: finish {finish}, submit {submit}, {} invocations ran", counted - before);

        // An encoder made invalid after a large dispatch: the same, though the dispatch came first.
        let later = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("tally"), layout: GpuLayoutMode::Auto, label: None });
        let later_group = device.create_bind_group(&GpuBindGroupDescriptor { layout: &later.get_bind_group_layout(0), entries: vec![entry(1, &count)], label: None });
        let (commands, finish) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            in_pass(&encoder, &later, &[&later_group], |pass| pass.dispatch_workgroups(5000, None, None));
            encoder.copy_buffer_to_buffer(&count, Some(0), &snapshot, Some(1), Some(4));
            encoder.finish(None)
        })
        .await;
        let ((), submit) = guests::caught(&device, || device.queue().submit(&[&commands])).await;
        let after = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("an encoder made invalid after a large dispatch: finish {finish}, submit {submit}, {} invocations ran", after - counted);

        // An invalid command buffer submitted before a valid one with a large dispatch: the
        // runtime refuses the whole submission, and nothing of either runs.
        let beside = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("tally"), layout: GpuLayoutMode::Auto, label: None });
        let beside_group = device.create_bind_group(&GpuBindGroupDescriptor { layout: &beside.get_bind_group_layout(0), entries: vec![entry(1, &count)], label: None });
        let (invalid, finish) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&count, Some(0), &snapshot, Some(1), Some(4));
            encoder.finish(None)
        })
        .await;
        let encoder = device.create_command_encoder(None);
        in_pass(&encoder, &beside, &[&beside_group], |pass| pass.dispatch_workgroups(5000, None, None));
        let valid = encoder.finish(None);
        let ((), submit) = guests::caught(&device, || device.queue().submit(&[&invalid, &valid])).await;
        let before = after;
        let after = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("an invalid command buffer, then one with a large dispatch: finish {finish}, submit {submit}, {} invocations ran", after - before);

        // Bind groups made for another pipeline's automatic layout (the same entry point): they
        // fit no other pipeline, and a large dispatch with them is invalid as a small one is.
        let [mine, others] = [0, 1].map(|_| device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("ids"), layout: GpuLayoutMode::Auto, label: None }));
        let others_groups = [
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &others.get_bind_group_layout(0), entries: vec![entry(0, &out_auto), entry(1, &count)], label: None }),
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &others.get_bind_group_layout(1), entries: vec![salt_entry(16)], label: None }),
        ];
        let (commands, finish) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            in_pass(&encoder, &mine, &[&others_groups[0], &others_groups[1]], dispatch_whole);
            encoder.finish(None)
        })
        .await;
        let ((), submit) = guests::caught(&device, || device.queue().submit(&[&commands])).await;
        let counted = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("another pipeline's bind groups in a large dispatch: finish {finish}, submit {submit}, {} invocations ran", counted - after);

        // Large indirect dispatches: the whole dispatch's ids, as a direct one sees them (under a
        // time limit the virt reads the size back and runs it in chunks); one over the most
        // workgroups a dimension may have runs nothing. The arguments' buffer is `INDIRECT`
        // only: a copy from it is refused, and its usage is what was asked.
        let indirect = GpuBufferUsage::INDIRECT | GpuBufferUsage::COPY_DST;
        let args = guests::buffer_with(&device, indirect, &guests::bytes_of(&[WHOLE[0], WHOLE[1], WHOLE[2], 70000, 1, 1]));
        let before = counted;
        for offset in [0, 12] {
            let encoder = device.create_command_encoder(None);
            in_pass(&encoder, &auto, &[&auto_groups[0], &auto_groups[1]], |pass| pass.dispatch_workgroups_indirect(&args, offset));
            device.queue().submit(&[&encoder.finish(None)]);
        }
        let out = guests::u32s(&guests::read_buffer(&device, &out_auto, 0, words * 4).await);
        let counted = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!(
            "indirect, {WHOLE:?} workgroups, then [70000, 1, 1]: {} of {} invocations wrong, {} counted",
            wrong(&out, WHOLE, 0),
            invocations(WHOLE),
            counted - before
        );
        let (_, copied) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&args, Some(0), &snapshot, Some(0), Some(4));
            encoder.finish(None)
        })
        .await;
        println!("the arguments' buffer: usage {:#x}, a copy from it: {copied}", args.usage().bits());

        // A buffer bound to a large dispatch, destroyed after the dispatch was encoded (behind
        // a copy, which comes before it in the command buffer): the submission is refused, and
        // nothing of it runs, the copy included.
        let doomed = guests::buffer(&device, words * 4, storage);
        let stamp = guests::buffer_with(&device, GpuBufferUsage::COPY_SRC, &[0xff; 4]);
        let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor { compute: stage("ids"), layout: GpuLayoutMode::Auto, label: None });
        let groups = [
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &pipeline.get_bind_group_layout(0), entries: vec![entry(0, &doomed), entry(1, &count)], label: None }),
            device.create_bind_group(&GpuBindGroupDescriptor { layout: &pipeline.get_bind_group_layout(1), entries: vec![salt_entry(16)], label: None }),
        ];
        let encoder = device.create_command_encoder(None);
        encoder.copy_buffer_to_buffer(&stamp, Some(0), &snapshot, Some(0), Some(4));
        in_pass(&encoder, &pipeline, &[&groups[0], &groups[1]], dispatch_whole);
        let commands = encoder.finish(None);
        doomed.destroy();
        let unstamped = guests::u32s(&guests::read_buffer(&device, &snapshot, 0, 4).await)[0];
        let ((), submit) = guests::caught(&device, || device.queue().submit(&[&commands])).await;
        let stamped = guests::u32s(&guests::read_buffer(&device, &snapshot, 0, 4).await)[0];
        let after = guests::u32s(&guests::read_buffer(&device, &count, 0, 4).await)[0];
        println!("a bound buffer destroyed before the submission: submit {submit}, the copy before the dispatch {}, {} invocations ran", if stamped != unstamped { "ran" } else { "did not run" }, after - counted);
        Ok(())
    }
}

guests::export_command!(Command);
