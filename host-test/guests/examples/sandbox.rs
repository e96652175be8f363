//! What an application sees of the adapter and device through a sandboxing virt (run through
//! `webgpu-virt plug --max-memory 1MiB --deny-feature float32-filterable --mask-adapter-info`):
//! the memory limits, a feature, the adapter's description, and what `request-device` answers.
use guests::gpu::*;

struct Command;

fn describe(r: &Result<GpuDevice, RequestDeviceError>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => format!("Err({:?})", e.kind),
    }
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("no GPU adapter");
        let limits = adapter.limits();
        println!("adapter max-buffer-size: {}", limits.max_buffer_size());
        println!("adapter max-storage-buffer-binding-size: {}", limits.max_storage_buffer_binding_size());
        println!("adapter max-uniform-buffer-binding-size: {}", limits.max_uniform_buffer_binding_size());
        let device = adapter.request_device(None).await.expect("request-device");
        let limits = device.limits();
        println!("device max-buffer-size: {}", limits.max_buffer_size());
        println!("device max-storage-buffer-binding-size: {}", limits.max_storage_buffer_binding_size());
        println!("has float32-filterable: {}", adapter.features().has("float32-filterable"));
        let feature = GpuDeviceDescriptor {
            required_features: Some(vec![GpuFeatureName::Float32Filterable]),
            required_limits: None,
            default_queue: None,
            label: None,
        };
        println!("require float32-filterable: {}", describe(&adapter.request_device(Some(feature)).await));
        for size in [(1 << 20) + 1, 1 << 20] {
            let limits = RecordOptionGpuSize64::new();
            limits.add("maxBufferSize", Some(size));
            let descriptor = GpuDeviceDescriptor { required_features: None, required_limits: Some(limits), default_queue: None, label: None };
            println!("require maxBufferSize {size}: {}", describe(&adapter.request_device(Some(descriptor)).await));
        }
        let info = adapter.info();
        println!(
            "info: vendor={:?} architecture={:?} device={:?} description={:?}",
            info.vendor(),
            info.architecture(),
            info.device(),
            info.description()
        );
        Ok(())
    }
}

guests::export_command!(Command);
