//! An HTTP service that does real GPU work for each request: `GET /squares?n=N` makes a device,
//! computes `i * i + 1` for `i` in `0..N` in a compute shader, reads the result back and answers
//! with its sum and last value. `GET /trap` traps its instance, on purpose.
//!
//! A WebGPU error (no adapter, a refused device or buffer, a failed map) is answered with 503
//! and the error's kind and message: under a quota too small for its buffers, every request is
//! still answered, and says why it could not compute.
//!
//! It exports `wasi:http/handler@0.3.0`, not `wasi:cli/run`, so it uses none of the command
//! guests' shared helpers: it has bindings of its own.

wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/gpu-service",
    generate_all,
});

use exports::wasi::http::handler::Guest;
use wasi::http::types::{ErrorCode, Fields, Request, Response};
use wasi::webgpu::webgpu::*;

struct Service;

export!(Service);

const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> values: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&values) {
        values[id.x] = id.x * id.x + 1u;
    }
}
";

/// The most values one request may ask for.
const MAX_N: u32 = 1 << 20;

impl Guest for Service {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let target = request.get_path_with_query().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, body) = match path {
            "/squares" => match count(query) {
                Ok(n) => match squares(n).await {
                    Ok((sum, last)) => (200, format!("n={n} sum={sum} last={last}\n")),
                    Err(e) => (503, format!("webgpu: {e}\n")),
                },
                Err(e) => (400, format!("{e}\n")),
            },
            "/trap" => panic!("GET /trap traps on purpose"),
            _ => (404, format!("no such path: {path} (try /squares?n=256)\n")),
        };
        Ok(respond(status, body.into_bytes()))
    }
}

/// The `n` of a query (`n=256`); 256 when it has none.
fn count(query: &str) -> Result<u32, String> {
    let Some(value) = query.split('&').find_map(|pair| pair.strip_prefix("n=")) else { return Ok(256) };
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
        _ => Err(format!("n must be a number from 1 to {MAX_N}, not `{value}`")),
    }
}

/// A response of `status` whose body is `body`, written by a task of its own once the runtime
/// reads it.
fn respond(status: u16, body: Vec<u8>) -> Response {
    let headers = Fields::new();
    headers.append("content-type", b"text/plain; charset=utf-8").expect("a valid header");
    let (mut writer, contents) = wit_stream::new::<u8>();
    let (_trailers_writer, trailers) = wit_future::new::<Result<Option<Fields>, ErrorCode>>(|| Ok(None));
    let (response, _sent) = Response::new(headers, Some(contents), trailers);
    response.set_status_code(status).expect("a valid status code");
    wit_bindgen::spawn_local(async move {
        let rest = writer.write_all(body).await;
        debug_assert!(rest.is_empty(), "the runtime stopped reading the body");
    });
    response
}

/// The sum of `i * i + 1` over `0..n` (wrapping in `u32` for each value, as the shader does),
/// and its last value, computed on the GPU.
async fn squares(n: u32) -> Result<(u64, u32), String> {
    let adapter = get_gpu().request_adapter(None).await.ok_or("no GPU adapter")?;
    let device = adapter.request_device(None).await.map_err(|e| format!("request-device failed: {}", e.message))?;
    device.push_error_scope(GpuErrorFilter::Validation);
    device.push_error_scope(GpuErrorFilter::OutOfMemory);
    let size = u64::from(n) * 4;
    let values = device.create_buffer(&GpuBufferDescriptor {
        size,
        usage: GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC,
        mapped_at_creation: None,
        label: Some("values".into()),
    });
    let staging = device.create_buffer(&GpuBufferDescriptor {
        size,
        usage: GpuBufferUsage::MAP_READ | GpuBufferUsage::COPY_DST,
        mapped_at_creation: None,
        label: Some("staging".into()),
    });
    let module = device.create_shader_module(&GpuShaderModuleDescriptor { code: SHADER.into(), label: None, compilation_hints: None });
    let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
        compute: GpuProgrammableStage { module: &module, entry_point: None, constants: None },
        layout: GpuLayoutMode::Auto,
        label: None,
    });
    let group = device.create_bind_group(&GpuBindGroupDescriptor {
        layout: &pipeline.get_bind_group_layout(0),
        entries: vec![GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(&values) }],
        label: None,
    });
    let encoder = device.create_command_encoder(None);
    let pass = encoder.begin_compute_pass(None);
    pass.set_pipeline(&pipeline);
    // An invalid bind group (its buffer refused) is a validation error, caught below.
    let _ = pass.set_bind_group(0, Some(&group), None, None, None);
    pass.dispatch_workgroups(n.div_ceil(64), None, None);
    pass.end();
    encoder.copy_buffer_to_buffer(&values, Some(0), &staging, Some(0), Some(size));
    device.queue().submit(&[&encoder.finish(None)]);
    let out_of_memory = device.pop_error_scope().await.map_err(|e| format!("pop-error-scope: {e:?}"))?;
    let invalid = device.pop_error_scope().await.map_err(|e| format!("pop-error-scope: {e:?}"))?;
    if let Some(e) = out_of_memory.or(invalid) {
        let kind = match e.kind() {
            GpuErrorKind::ValidationError => "validation error",
            GpuErrorKind::OutOfMemoryError => "out of memory",
            GpuErrorKind::InternalError => "internal error",
        };
        device.destroy();
        return Err(format!("{kind}: {}", e.message()));
    }
    staging.map_async(GpuMapMode::READ, None, None).await.map_err(|e| format!("map-async failed: {e:?}"))?;
    let bytes = staging.get_mapped_range_get_with_copy(None, None).map_err(|e| format!("reading the mapped range: {e:?}"))?;
    staging.unmap().map_err(|e| format!("unmap: {e:?}"))?;
    device.destroy();
    let values: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((values.iter().map(|&v| u64::from(v)).sum(), values.last().copied().unwrap_or(0)))
}
