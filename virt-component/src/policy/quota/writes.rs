//! The cap on the bytes one call carries: `write-buffer`, `write-texture`, and copies into and
//! out of mapped ranges. The bytes of a call over it do not reach the runtime: the functions with
//! an error result return one (an `operation-error`) without calling it; `write-texture`, which
//! has none, is forwarded with no data, which the runtime reports as the validation error it is
//! (too little data for the copy) in the application's scope or stream.

use super::refused;
use crate::policy::config;
use crate::{GpuBuffer, GpuQueue, exp};

/// Why `bytes` may not be carried, if they may not.
fn over(what: &str, bytes: u64) -> Option<String> {
    let cap = config(|c| c.max_write_size.map(|s| s.0))?;
    (bytes > cap).then(|| format!("webgpu-virt quota: {what} of {bytes} bytes is over the cap of {cap} bytes a call"))
}

pub fn write_buffer_with_copy(
    queue: &GpuQueue,
    buffer: exp::GpuBufferBorrow<'_>,
    buffer_offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    if let Some(message) = over("write-buffer", data.len() as u64) {
        refused(queue.device);
        return Err(exp::WriteBufferError { kind: exp::WriteBufferErrorKind::OperationError, message });
    }
    queue.forward_write_buffer_with_copy(buffer, buffer_offset, data, data_offset, size)
}

pub fn write_texture_with_copy(
    queue: &GpuQueue,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    data_layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    let data = match over("write-texture", data.len() as u64) {
        Some(_) => {
            refused(queue.device);
            Vec::new()
        }
        None => data,
    };
    queue.forward_write_texture_with_copy(destination, data, data_layout, size)
}

pub fn get_mapped_range_get_with_copy(
    buffer: &GpuBuffer,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<Vec<u8>, exp::GetMappedRangeError> {
    // The size is what will be copied out: the rest of the buffer when not given.
    let bytes = size.unwrap_or_else(|| crate::policy::quota::objects::size(buffer).saturating_sub(offset.unwrap_or(0)));
    if let Some(message) = over("a mapped range copy", bytes) {
        refused(buffer.device);
        return Err(exp::GetMappedRangeError { kind: exp::GetMappedRangeErrorKind::OperationError, message });
    }
    buffer.forward_get_mapped_range_get_with_copy(offset, size)
}

pub fn get_mapped_range_set_with_copy(
    buffer: &GpuBuffer,
    data: Vec<u8>,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::GetMappedRangeError> {
    if let Some(message) = over("a mapped range copy", data.len() as u64) {
        refused(buffer.device);
        return Err(exp::GetMappedRangeError { kind: exp::GetMappedRangeErrorKind::OperationError, message });
    }
    buffer.forward_get_mapped_range_set_with_copy(data, offset, size)
}
