//! The cap on the bytes one call carries: `write-buffer`, `write-texture`, and copies into and
//! out of mapped ranges. A call over it does not reach the runtime: the functions with an error
//! result return one (an `operation-error`); `write-texture`, which has none, is a validation
//! error in the application's scope or stream.

use crate::device::queue;
use crate::ids::DeviceId;
use crate::{GpuBuffer, GpuQueue, exp};

/// Whether `bytes` may be carried by a call on `device`; if not, the refusal is counted and the
/// message says why.
fn check(device: DeviceId, what: &str, bytes: u64) -> Result<(), String> {
    match crate::tenant::policy(device).max_write_size.map(|s| s.0) {
        Some(cap) if bytes > cap => {
            super::refused(device);
            Err(super::said(format!("{what} of {bytes} bytes is over the cap of {cap} bytes a call")))
        }
        _ => Ok(()),
    }
}

/// The error of a mapped range copy over the cap.
fn mapped_range_error(message: String) -> exp::GetMappedRangeError {
    exp::GetMappedRangeError { kind: exp::GetMappedRangeErrorKind::OperationError, message }
}

pub fn write_buffer_with_copy(
    queue: &GpuQueue,
    buffer: exp::GpuBufferBorrow<'_>,
    buffer_offset: u64,
    data: Vec<u8>,
    data_offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::WriteBufferError> {
    check(queue.device, "write-buffer", data.len() as u64)
        .map_err(|message| exp::WriteBufferError { kind: exp::WriteBufferErrorKind::OperationError, message })?;
    queue::write_buffer(queue, buffer, buffer_offset, data, data_offset, size)
}

pub fn write_texture_with_copy(
    queue: &GpuQueue,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    data: Vec<u8>,
    data_layout: exp::GpuTexelCopyBufferLayout,
    size: exp::GpuExtent3D,
) {
    match check(queue.device, "write-texture", data.len() as u64) {
        Ok(()) => queue::write_texture(queue, destination, data, data_layout, size),
        Err(message) => crate::device::registry::report(queue.device, exp::GpuErrorKind::ValidationError, message),
    }
}

pub fn get_mapped_range_get_with_copy(
    buffer: &GpuBuffer,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<Vec<u8>, exp::GetMappedRangeError> {
    // The size is what will be copied out: the rest of the buffer when not given.
    let bytes = size.unwrap_or_else(|| super::objects::size(buffer).saturating_sub(offset.unwrap_or(0)));
    check(buffer.device, "a mapped range copy", bytes).map_err(mapped_range_error)?;
    if crate::mapping::MapTracker::is_local(buffer) {
        return buffer.mapping.get(offset, size);
    }
    buffer.forward_get_mapped_range_get_with_copy(offset, size)
}

pub fn get_mapped_range_set_with_copy(
    buffer: &GpuBuffer,
    data: Vec<u8>,
    offset: Option<u64>,
    size: Option<u64>,
) -> Result<(), exp::GetMappedRangeError> {
    check(buffer.device, "a mapped range copy", data.len() as u64).map_err(mapped_range_error)?;
    if crate::mapping::MapTracker::is_local(buffer) {
        return buffer.mapping.set(data, offset, size);
    }
    buffer.forward_get_mapped_range_set_with_copy(data, offset, size)
}
