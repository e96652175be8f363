//! Limits, features and adapter info: what the adapter offers, what a device gets by default and
//! when it asks, and how requests beyond the adapter fail.
use guests::gpu::*;

struct Command;

const FEATURES: &[&str] = &[
    "core-features-and-limits", "depth-clip-control", "depth32float-stencil8", "texture-compression-bc",
    "texture-compression-bc-sliced-3d", "texture-compression-etc2", "texture-compression-astc",
    "texture-compression-astc-sliced-3d", "timestamp-query", "indirect-first-instance", "shader-f16",
    "rg11b10ufloat-renderable", "bgra8unorm-storage", "float32-filterable", "float32-blendable",
    "clip-distances", "dual-source-blending", "subgroups", "primitive-index",
];

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let gpu = get_gpu();
        println!("preferred canvas format: {:?}", gpu.get_preferred_canvas_format());
        println!("unknown feature level gives no adapter: {}", gpu
            .request_adapter(Some(GpuRequestAdapterOptions { feature_level: Some("bogus".into()), power_preference: None, force_fallback_adapter: None, xr_compatible: None }))
            .await
            .is_none());
        let adapter = gpu.request_adapter(None).await.expect("adapter");
        let info = adapter.info();
        println!(
            "adapter info: vendor-given={} description-given={} fallback-is-cpu={} subgroups-ordered={}",
            !info.vendor().is_empty(),
            !info.description().is_empty(),
            info.is_fallback_adapter() == (info.architecture() == "cpu"),
            info.subgroup_min_size() <= info.subgroup_max_size(),
        );
        let limits = adapter.limits();
        println!(
            "adapter limits at least WebGPU's defaults: {}",
            limits.max_texture_dimension2_d() >= 8192
                && limits.max_bind_groups() >= 4
                && limits.max_buffer_size() >= 256 << 20
                && limits.max_storage_buffer_binding_size() >= 128 << 20
                && limits.min_uniform_buffer_offset_alignment() <= 256
                && limits.max_compute_workgroup_size_x() >= 256
        );
        let adapter_features = adapter.features();

        // A default device gets WebGPU's default limits.
        let device = adapter.request_device(None).await.expect("device");
        let d = device.limits();
        println!(
            "default device limits: bind-groups={} buffer-size={} uniform-binding={} storage-binding={} uniform-alignment={} workgroup-x={} storage-in-vertex={}",
            d.max_bind_groups(),
            d.max_buffer_size(),
            d.max_uniform_buffer_binding_size(),
            d.max_storage_buffer_binding_size(),
            d.min_uniform_buffer_offset_alignment(),
            d.max_compute_workgroup_size_x(),
            d.max_storage_buffers_in_vertex_stage() == d.max_storage_buffers_per_shader_stage(),
        );
        let device_features = device.features();
        let subset = FEATURES.iter().all(|f| !device_features.has(f) || adapter_features.has(f));
        println!("device features within the adapter's: {subset}");
        println!("unknown feature name: {}", adapter_features.has("no-such-feature"));
        let info = device.adapter_info();
        println!("device adapter info matches: {}", info.description() == adapter.info().description());

        // Asking for the adapter's own maximum works; beyond it fails.
        let ask = |name: &str, value: u64| {
            let limits = RecordOptionGpuSize64::new();
            limits.add(name, Some(value));
            Some(GpuDeviceDescriptor { required_features: None, required_limits: Some(limits), default_queue: None, label: None })
        };
        let most = limits.max_bind_groups();
        let big = adapter.request_device(ask("maxBindGroups", u64::from(most))).await.expect("device with more bind groups");
        println!("asked for the adapter's maxBindGroups: got it {}", big.limits().max_bind_groups() == most);
        let err = |r: Result<GpuDevice, RequestDeviceError>| r.map(|_| ()).map_err(|e| e.kind);
        println!("beyond the adapter: {:?}", err(adapter.request_device(ask("maxBindGroups", u64::from(most) + 1)).await));
        println!("unknown limit: {:?}", err(adapter.request_device(ask("maxTeapots", 1)).await));
        let feature = Some(GpuDeviceDescriptor {
            required_features: Some(vec![GpuFeatureName::TextureFormatsTier2]),
            required_limits: None,
            default_queue: None,
            label: None,
        });
        println!("unsupported feature: {:?}", err(adapter.request_device(feature).await));

        // The record type behaves as a map.
        let r = RecordOptionGpuSize64::new();
        r.add("a", Some(1));
        r.add("b", None);
        r.add("a", Some(3));
        r.remove("missing");
        println!("record: keys={:?} values={:?} a={:?} has-b={} has-c={}", r.keys(), r.values(), r.get("a"), r.has("b"), r.has("c"));
        r.remove("a");
        println!("record after remove: {:?}", r.entries());
        println!("wgsl language feature known: {}", gpu.wgsl_language_features().has("readonly_and_readwrite_storage_textures"));
        Ok(())
    }
}

guests::export_command!(Command);
