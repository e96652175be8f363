//! What WebGPU validates of a compute shader that wgpu does not: the workgroup storage an entry
//! point uses, against the device's `maxComputeWorkgroupStorageSize`.
//!
//! Left to wgpu and the driver, a module whose workgroup variables are far too large is made with
//! no error on lavapipe, and its pipeline's creation never returns on an NVIDIA GPU: one call of
//! any guest would stop the host. So the host reads each module's workgroup storage when it is
//! made (parsing it with naga, as wgpu does) and refuses a pipeline over the limit itself, with
//! the validation error WebGPU specifies, before wgpu sees it.

use crate::objects::ShaderModule;
use crate::state::{DeviceState, ErrorValue};

/// The workgroup storage each compute entry point of the WGSL `code` uses, in bytes as WebGPU
/// counts it: every workgroup variable the entry point statically uses, each rounded up to 16
/// bytes. Empty for a module that does not parse or validate (wgpu reports why).
pub fn workgroup_storage(code: &str) -> Vec<(String, u64)> {
    let Ok(module) = naga::front::wgsl::parse_str(code) else { return Vec::new() };
    let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
    let Ok(info) = validator.validate(&module) else { return Vec::new() };
    let ctx = module.to_ctx();
    module
        .entry_points
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.stage == naga::ShaderStage::Compute)
        .map(|(index, entry)| {
            let uses = info.get_entry_point(index);
            let bytes = module
                .global_variables
                .iter()
                .filter(|(handle, var)| var.space == naga::AddressSpace::WorkGroup && !uses[*handle].is_empty())
                .map(|(_, var)| u64::from(module.types[var.ty].inner.size(ctx)).next_multiple_of(16))
                .sum();
            (entry.name.clone(), bytes)
        })
        .collect()
}

/// The validation error of a compute pipeline whose entry point (`entry`, or the module's only
/// compute entry point) uses more workgroup storage than `limits` allow, if it does.
pub fn check_workgroup_storage(shader: &ShaderModule, entry: Option<&str>, limits: &wgpu::Limits) -> Option<ErrorValue> {
    let (name, bytes) = match entry {
        Some(entry) => shader.workgroup_storage.iter().find(|(name, _)| name == entry)?,
        None => match shader.workgroup_storage.as_slice() {
            [only] => only,
            _ => return None,
        },
    };
    let limit = u64::from(limits.max_compute_workgroup_storage_size);
    (*bytes > limit).then(|| {
        ErrorValue::validation(format!(
            "create-compute-pipeline: entry point `{name}` uses {bytes} bytes of workgroup storage, more than maxComputeWorkgroupStorageSize, {limit}"
        ))
    })
}

/// An invalid compute pipeline, made without the refused module (its own errors are dropped:
/// the caller reports why it is invalid).
pub fn invalid_compute_pipeline(device: &wgpu::Device, state: &DeviceState) -> wgpu::ComputePipeline {
    let (pipeline, _) = state.capture(|| {
        let empty = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: None, source: wgpu::ShaderSource::Wgsl("".into()) });
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &empty,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
    });
    pipeline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workgroup_storage_counts_what_each_entry_point_uses() {
        let code = "
            var<workgroup> big: array<u32, 1000000>;
            var<workgroup> small: array<u32, 3>;
            @compute @workgroup_size(1) fn a() { big[0] = 1u; }
            @compute @workgroup_size(1) fn b() { small[0] = 1u; }
            @compute @workgroup_size(1) fn c() {}
        ";
        assert_eq!(workgroup_storage(code), [("a".into(), 4_000_000), ("b".into(), 16), ("c".into(), 0)]);
        assert!(workgroup_storage("not wgsl").is_empty());
    }
}
