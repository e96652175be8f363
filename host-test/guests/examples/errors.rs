//! Error scopes: filters route errors to the innermost matching scope, scopes nest, a scope
//! catches only the first error, popping an empty stack is an error, and errors of async
//! pipeline creation come back as results.
use guests::gpu::*;

struct Command;

fn bad_buffer(device: &GpuDevice) -> GpuBuffer {
    // map-read may only be combined with copy-dst.
    guests::buffer(device, 16, GpuBufferUsage::MAP_READ | GpuBufferUsage::STORAGE)
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;

        let (_, e) = guests::scoped(&device, GpuErrorFilter::Validation, || bad_buffer(&device)).await;
        println!("validation scope: {e:?}");

        // Out-of-memory and internal-error scopes do not catch a validation error: the outer
        // validation scope does.
        for (name, filter) in [("oom", GpuErrorFilter::OutOfMemory), ("internal", GpuErrorFilter::Internal)] {
            device.push_error_scope(GpuErrorFilter::Validation);
            device.push_error_scope(filter);
            bad_buffer(&device);
            let inner = device.pop_error_scope().await.expect("pop");
            let outer = device.pop_error_scope().await.expect("pop");
            println!("{name} scope inside validation scope: inner={:?} outer={:?}", inner.map(|e| guests::describe(&e)), outer.map(|e| guests::describe(&e)));
        }

        // Only the first error of a scope is kept; a clean scope gives none.
        device.push_error_scope(GpuErrorFilter::Validation);
        let first = device.create_buffer(&GpuBufferDescriptor { size: 4, usage: GpuBufferUsage::empty(), mapped_at_creation: None, label: Some("first".into()) });
        bad_buffer(&device);
        let caught = device.pop_error_scope().await.expect("pop").expect("an error");
        println!("the scope kept the first of two errors: {}", caught.message().contains("'first'"));
        drop(first);
        let (_, clean) = guests::scoped(&device, GpuErrorFilter::Validation, || device.create_sampler(None)).await;
        println!("clean scope: {clean:?}");

        // Popping with no scope pushed.
        println!("pop on empty stack: {:?}", device.pop_error_scope().await.map(|_| ()).map_err(|e| e.kind));

        // A buffer over the device's maximum size is a validation error, not out of memory.
        device.push_error_scope(GpuErrorFilter::Validation);
        let (_, oom) = guests::scoped(&device, GpuErrorFilter::OutOfMemory, || {
            device.create_buffer(&GpuBufferDescriptor { size: 1 << 62, usage: GpuBufferUsage::STORAGE, mapped_at_creation: None, label: None })
        })
        .await;
        let validation = device.pop_error_scope().await.expect("pop").map(|e| guests::describe(&e));
        println!("oversized buffer: oom scope={oom:?} validation scope={validation:?}");

        // Async pipeline creation reports its error as a result, not through scopes.
        let module = guests::shader(&device, "@compute @workgroup_size(1) fn main() {}");
        let (result, scope) = {
            device.push_error_scope(GpuErrorFilter::Validation);
            let r = device
                .create_compute_pipeline_async(GpuComputePipelineDescriptor {
                    compute: GpuProgrammableStage { module: &module, entry_point: Some("missing".into()), constants: None },
                    layout: GpuLayoutMode::Auto,
                    label: None,
                })
                .await;
            (r, device.pop_error_scope().await.expect("pop"))
        };
        println!("async pipeline with a missing entry point: {:?} scope={:?}", result.map(|_| ()).map_err(|e| e.kind), scope.map(|e| guests::describe(&e)));
        Ok(())
    }
}

guests::export_command!(Command);
