//! WebGPU limit names and wgpu's `Limits` fields: `gpu-supported-limits` and `required-limits`.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::objects::SupportedLimits;
use wasmtime::component::Resource;

/// Whether a larger value of a limit is better (most) or a smaller one (alignments).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

macro_rules! limits {
    ($($name:literal => $field:ident, $better:ident;)*) => {
        /// Every limit wgpu has a field for: (WebGPU name, better direction).
        pub const LIMITS: &[(&str, Better)] = &[$(($name, Better::$better)),*];

        pub fn get(l: &wgpu::Limits, name: &str) -> Option<u64> {
            match name {
                $($name => Some(l.$field as u64),)*
                _ => None,
            }
        }

        /// Sets a limit; `false` when the value does not fit the field.
        fn set(l: &mut wgpu::Limits, name: &str, value: u64) -> bool {
            match name {
                $($name => match value.try_into() {
                    Ok(v) => { l.$field = v; true }
                    Err(_) => false,
                },)*
                _ => false,
            }
        }
    };
}

limits! {
    "maxTextureDimension1D" => max_texture_dimension_1d, Higher;
    "maxTextureDimension2D" => max_texture_dimension_2d, Higher;
    "maxTextureDimension3D" => max_texture_dimension_3d, Higher;
    "maxTextureArrayLayers" => max_texture_array_layers, Higher;
    "maxBindGroups" => max_bind_groups, Higher;
    "maxBindGroupsPlusVertexBuffers" => max_bind_groups_plus_vertex_buffers, Higher;
    "maxBindingsPerBindGroup" => max_bindings_per_bind_group, Higher;
    "maxDynamicUniformBuffersPerPipelineLayout" => max_dynamic_uniform_buffers_per_pipeline_layout, Higher;
    "maxDynamicStorageBuffersPerPipelineLayout" => max_dynamic_storage_buffers_per_pipeline_layout, Higher;
    "maxSampledTexturesPerShaderStage" => max_sampled_textures_per_shader_stage, Higher;
    "maxSamplersPerShaderStage" => max_samplers_per_shader_stage, Higher;
    "maxStorageBuffersPerShaderStage" => max_storage_buffers_per_shader_stage, Higher;
    "maxStorageTexturesPerShaderStage" => max_storage_textures_per_shader_stage, Higher;
    "maxUniformBuffersPerShaderStage" => max_uniform_buffers_per_shader_stage, Higher;
    "maxUniformBufferBindingSize" => max_uniform_buffer_binding_size, Higher;
    "maxStorageBufferBindingSize" => max_storage_buffer_binding_size, Higher;
    "minUniformBufferOffsetAlignment" => min_uniform_buffer_offset_alignment, Lower;
    "minStorageBufferOffsetAlignment" => min_storage_buffer_offset_alignment, Lower;
    "maxVertexBuffers" => max_vertex_buffers, Higher;
    "maxBufferSize" => max_buffer_size, Higher;
    "maxVertexAttributes" => max_vertex_attributes, Higher;
    "maxVertexBufferArrayStride" => max_vertex_buffer_array_stride, Higher;
    "maxInterStageShaderVariables" => max_inter_stage_shader_variables, Higher;
    "maxColorAttachments" => max_color_attachments, Higher;
    "maxColorAttachmentBytesPerSample" => max_color_attachment_bytes_per_sample, Higher;
    "maxComputeWorkgroupStorageSize" => max_compute_workgroup_storage_size, Higher;
    "maxComputeInvocationsPerWorkgroup" => max_compute_invocations_per_workgroup, Higher;
    "maxComputeWorkgroupSizeX" => max_compute_workgroup_size_x, Higher;
    "maxComputeWorkgroupSizeY" => max_compute_workgroup_size_y, Higher;
    "maxComputeWorkgroupSizeZ" => max_compute_workgroup_size_z, Higher;
    "maxComputeWorkgroupsPerDimension" => max_compute_workgroups_per_dimension, Higher;
    "maxImmediateSize" => max_immediate_size, Higher;
}

/// WebGPU limits wgpu 30 has no field for: each equals the per-stage limit it refines.
const DERIVED: &[(&str, &str)] = &[
    ("maxStorageBuffersInVertexStage", "maxStorageBuffersPerShaderStage"),
    ("maxStorageBuffersInFragmentStage", "maxStorageBuffersPerShaderStage"),
    ("maxStorageTexturesInVertexStage", "maxStorageTexturesPerShaderStage"),
    ("maxStorageTexturesInFragmentStage", "maxStorageTexturesPerShaderStage"),
];

/// Any WebGPU limit by name, derived ones included.
pub fn value(l: &wgpu::Limits, name: &str) -> Option<u64> {
    let name = DERIVED.iter().find(|(d, _)| *d == name).map_or(name, |(_, base)| base);
    get(l, name)
}

/// The limits a device gets for `required` (WebGPU name → value, `None` = default), on an
/// adapter supporting `supported`. Errors are `request-device`'s operation errors.
pub fn for_request(supported: &wgpu::Limits, required: &[(String, Option<u64>)]) -> Result<wgpu::Limits, String> {
    let mut limits = wgpu::Limits::default().or_worse_values_from(supported);
    for (name, requested) in required {
        let Some(requested) = *requested else { continue };
        let Some(have) = value(supported, name) else {
            return Err(format!("required limit `{name}` is not a WebGPU limit this adapter knows"));
        };
        let better = LIMITS.iter().find(|(n, _)| n == name).map_or(Better::Higher, |(_, b)| *b);
        let too_good = match better {
            Better::Higher => requested > have,
            Better::Lower => requested < have,
        };
        if too_good {
            return Err(format!("required limit `{name}` = {requested} is better than the adapter's {have}"));
        }
        if better == Better::Lower && !requested.is_power_of_two() {
            return Err(format!("required limit `{name}` = {requested} is not a power of two"));
        }
        if DERIVED.iter().any(|(d, _)| d == name) {
            continue;
        }
        let current = get(&limits, name).unwrap_or(requested);
        let chosen = match better {
            Better::Higher => requested.max(current),
            Better::Lower => requested.min(current),
        };
        if !set(&mut limits, name, chosen) {
            return Err(format!("required limit `{name}` = {requested} is out of range"));
        }
    }
    Ok(limits)
}

macro_rules! getters {
    ($($method:ident: $ty:ty = $name:literal;)*) => {
        impl w::HostGpuSupportedLimits for crate::WebGpuCtxView<'_> {
            $(fn $method(&mut self, this: Resource<SupportedLimits>) -> wasmtime::Result<$ty> {
                let l = &self.table.get(&this)?.limits;
                // Every name below is in `LIMITS` or `DERIVED`, so `value` always answers.
                Ok(value(l, $name).unwrap_or(0) as $ty)
            })*

            fn drop(&mut self, this: Resource<SupportedLimits>) -> wasmtime::Result<()> {
                self.table.delete(this)?;
                Ok(())
            }
        }

        /// The WebGPU names behind the `gpu-supported-limits` getters.
        #[cfg(test)]
        pub const GETTER_NAMES: &[&str] = &[$($name),*];
    };
}

getters! {
    max_texture_dimension1_d: u32 = "maxTextureDimension1D";
    max_texture_dimension2_d: u32 = "maxTextureDimension2D";
    max_texture_dimension3_d: u32 = "maxTextureDimension3D";
    max_texture_array_layers: u32 = "maxTextureArrayLayers";
    max_bind_groups: u32 = "maxBindGroups";
    max_bind_groups_plus_vertex_buffers: u32 = "maxBindGroupsPlusVertexBuffers";
    max_immediate_size: u32 = "maxImmediateSize";
    max_bindings_per_bind_group: u32 = "maxBindingsPerBindGroup";
    max_dynamic_uniform_buffers_per_pipeline_layout: u32 = "maxDynamicUniformBuffersPerPipelineLayout";
    max_dynamic_storage_buffers_per_pipeline_layout: u32 = "maxDynamicStorageBuffersPerPipelineLayout";
    max_sampled_textures_per_shader_stage: u32 = "maxSampledTexturesPerShaderStage";
    max_samplers_per_shader_stage: u32 = "maxSamplersPerShaderStage";
    max_storage_buffers_per_shader_stage: u32 = "maxStorageBuffersPerShaderStage";
    max_storage_buffers_in_vertex_stage: u32 = "maxStorageBuffersInVertexStage";
    max_storage_buffers_in_fragment_stage: u32 = "maxStorageBuffersInFragmentStage";
    max_storage_textures_per_shader_stage: u32 = "maxStorageTexturesPerShaderStage";
    max_storage_textures_in_vertex_stage: u32 = "maxStorageTexturesInVertexStage";
    max_storage_textures_in_fragment_stage: u32 = "maxStorageTexturesInFragmentStage";
    max_uniform_buffers_per_shader_stage: u32 = "maxUniformBuffersPerShaderStage";
    max_uniform_buffer_binding_size: u64 = "maxUniformBufferBindingSize";
    max_storage_buffer_binding_size: u64 = "maxStorageBufferBindingSize";
    min_uniform_buffer_offset_alignment: u32 = "minUniformBufferOffsetAlignment";
    min_storage_buffer_offset_alignment: u32 = "minStorageBufferOffsetAlignment";
    max_vertex_buffers: u32 = "maxVertexBuffers";
    max_buffer_size: u64 = "maxBufferSize";
    max_vertex_attributes: u32 = "maxVertexAttributes";
    max_vertex_buffer_array_stride: u32 = "maxVertexBufferArrayStride";
    max_inter_stage_shader_variables: u32 = "maxInterStageShaderVariables";
    max_color_attachments: u32 = "maxColorAttachments";
    max_color_attachment_bytes_per_sample: u32 = "maxColorAttachmentBytesPerSample";
    max_compute_workgroup_storage_size: u32 = "maxComputeWorkgroupStorageSize";
    max_compute_invocations_per_workgroup: u32 = "maxComputeInvocationsPerWorkgroup";
    max_compute_workgroup_size_x: u32 = "maxComputeWorkgroupSizeX";
    max_compute_workgroup_size_y: u32 = "maxComputeWorkgroupSizeY";
    max_compute_workgroup_size_z: u32 = "maxComputeWorkgroupSizeZ";
    max_compute_workgroups_per_dimension: u32 = "maxComputeWorkgroupsPerDimension";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_getter_name_resolves() {
        let l = wgpu::Limits::default();
        for name in GETTER_NAMES {
            assert!(value(&l, name).is_some(), "{name}");
        }
    }

    #[test]
    fn requests_above_the_adapter_fail_and_below_default_keep_default() {
        let adapter = wgpu::Limits::default();
        let err = for_request(&adapter, &[("maxBufferSize".into(), Some(adapter.max_buffer_size + 1))]);
        assert!(err.unwrap_err().contains("maxBufferSize"));
        let l = for_request(&adapter, &[("maxBindGroups".into(), Some(1))]).unwrap();
        assert_eq!(l.max_bind_groups, adapter.max_bind_groups);
        assert!(for_request(&adapter, &[("maxWhatever".into(), Some(1))]).is_err());
        assert!(for_request(&adapter, &[("minUniformBufferOffsetAlignment".into(), Some(300))]).is_err());
    }
}
