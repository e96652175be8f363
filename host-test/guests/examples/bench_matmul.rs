//! Benchmark: a realistic compute job. A tiled matrix multiply of two N x N f32 matrices
//! (default 1024) in WGSL, run R times (default 5); checks sampled entries against the CPU.
use guests::gpu::*;

struct Command;


fn value(seed: u64, i: u64) -> f32 {
    ((i.wrapping_mul(2654435761).wrapping_add(seed)) % 4) as f32
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let n = guests::arg_u64("--n", 1024);
        let repeat = guests::arg_u64("--repeat", 5);
        assert!(n % 16 == 0, "n must be a multiple of 16");
        let device = guests::device().await;
        let a: Vec<f32> = (0..n * n).map(|i| value(1, i)).collect();
        let b: Vec<f32> = (0..n * n).map(|i| value(2, i)).collect();
        let bytes = |m: &[f32]| m.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let ga = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bytes(&a));
        let gb = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bytes(&b));
        let gc = guests::buffer(&device, n * n * 4, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC);
        let constants = RecordGpuPipelineConstantValue::new();
        constants.add("n", n as f64);
        let module = guests::shader(&device, &guests::tiled_matmul("sum"));
        let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
            compute: GpuProgrammableStage { module: &module, entry_point: None, constants: Some(constants) },
            layout: GpuLayoutMode::Auto,
            label: None,
        });
        let entry = |binding, buffer| GpuBindGroupEntry { binding, resource: GpuBindingResource::GpuBuffer(buffer) };
        let group = device.create_bind_group(&GpuBindGroupDescriptor {
            layout: &pipeline.get_bind_group_layout(0),
            entries: vec![entry(0, &ga), entry(1, &gb), entry(2, &gc)],
            label: None,
        });
        let queue = device.queue();
        let mut times = Vec::new();
        for _ in 0..repeat {
            let start = std::time::Instant::now();
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups((n / 16) as u32, Some((n / 16) as u32), None);
            pass.end();
            queue.submit(&[&encoder.finish(None)]);
            queue.on_submitted_work_done().await;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let c = guests::read_buffer(&device, &gc, 0, n * n * 4).await;
        let c: Vec<f32> = c.chunks_exact(4).map(|w| f32::from_le_bytes(w.try_into().unwrap())).collect();
        let mut wrong = 0;
        for s in 0..64u64 {
            let (i, j) = ((s * 37) % n, (s * 101 + 7) % n);
            let want: f32 = (0..n).map(|k| a[(i * n + k) as usize] * b[(k * n + j) as usize]).sum();
            if c[(i * n + j) as usize] != want {
                wrong += 1;
            }
        }
        println!("result: {n}x{n} sampled entries wrong: {wrong} of 64, c[0]={}", c[0]);
        times.sort_by(|x, y| x.total_cmp(y));
        println!("bench matmul: {:.3} ms median of {repeat}", times[times.len() / 2]);
        Ok(())
    }
}

guests::export_command!(Command);
