//! Buffer mapping: mapped-at-creation, map for writing, map for reading, partial ranges, map
//! state transitions, and an unmap that aborts a pending map.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let state = |b: &GpuBuffer| match b.map_state() { GpuBufferMapState::Unmapped => "unmapped", GpuBufferMapState::Pending => "pending", GpuBufferMapState::Mapped => "mapped" };

        // Mapped at creation, written, then read back through a copy.
        let created = device.create_buffer(&GpuBufferDescriptor {
            size: 16,
            usage: GpuBufferUsage::COPY_SRC,
            mapped_at_creation: Some(true),
            label: None,
        });
        println!("mapped-at-creation: state={}", state(&created));
        created.get_mapped_range_set_with_copy(&[1, 2, 3, 4], Some(8), Some(8)).expect("set range");
        created.unmap().expect("unmap");
        println!("after unmap: state={}", state(&created));
        println!("read back: {:?}", guests::read_buffer(&device, &created, 0, 16).await);

        // Map for writing, write the second half, unmap, map for reading elsewhere.
        let writable = guests::buffer(&device, 32, GpuBufferUsage::MAP_WRITE | GpuBufferUsage::COPY_SRC);
        writable.map_async(GpuMapMode::WRITE, Some(16), Some(16)).await.expect("map for writing");
        println!("map-async(write) done: state={}", state(&writable));
        writable.get_mapped_range_set_with_copy(&[9; 16], Some(16), None).expect("write mapped range");
        let outside = writable.get_mapped_range_get_with_copy(Some(0), Some(8));
        println!("range outside the mapping: {:?}", outside.map_err(|e| e.kind));
        writable.unmap().expect("unmap");
        println!("written: {:?}", guests::read_buffer(&device, &writable, 8, 16).await);

        // Map for reading, then a range, then an unaligned range.
        let readable = guests::buffer(&device, 64, GpuBufferUsage::MAP_READ | GpuBufferUsage::COPY_DST);
        device.queue().write_buffer_with_copy(&readable, 0, &(0u8..64).collect::<Vec<_>>(), None, None).expect("write-buffer");
        readable.map_async(GpuMapMode::READ, None, None).await.expect("map for reading");
        let part = readable.get_mapped_range_get_with_copy(Some(8), Some(8)).expect("read range");
        println!("read range 8+8: {part:?}");
        let unaligned = readable.get_mapped_range_get_with_copy(Some(3), Some(4));
        println!("unaligned range: {:?}", unaligned.map_err(|e| e.kind));
        let write_to_read = readable.get_mapped_range_set_with_copy(&[1, 2, 3, 4], None, None);
        println!("writing a read mapping: {:?}", write_to_read.map_err(|e| e.kind));
        readable.unmap().expect("unmap");

        // An unmap while a map is pending aborts it: the map cannot complete before the guest
        // has control back, as a WebGPU promise cannot resolve within the call.
        let mut aborted = std::pin::pin!(readable.map_async(GpuMapMode::READ, None, None));
        guests::start(aborted.as_mut());
        readable.unmap().expect("unmap");
        println!("map aborted by unmap: {:?}", aborted.await.map_err(|e| e.kind));
        println!("state after abort: {}", state(&readable));

        // Two maps back to back: the second is rejected at once, an operation-error with no
        // error on the device, and the first maps (WebGPU's `[[pending_map]]`). A destroyed
        // buffer's every map-async is a validation error and an operation-error.
        let twice = guests::buffer(&device, 16, GpuBufferUsage::MAP_READ);
        device.push_error_scope(GpuErrorFilter::Validation);
        let mut first = std::pin::pin!(twice.map_async(GpuMapMode::READ, None, None));
        guests::start(first.as_mut());
        let second = twice.map_async(GpuMapMode::READ, None, None).await;
        let first = first.await;
        let error = device.pop_error_scope().await.expect("a scope was pushed");
        println!(
            "two maps back to back: first {:?}, second {:?}, validation error: {}",
            first.map_err(|e| e.kind),
            second.map_err(|e| e.kind),
            error.is_some()
        );
        twice.unmap().expect("unmap");
        twice.destroy();
        for n in 1..=2 {
            device.push_error_scope(GpuErrorFilter::Validation);
            let mapped = twice.map_async(GpuMapMode::READ, None, None).await;
            let error = device.pop_error_scope().await.expect("a scope was pushed");
            println!("map-async of a destroyed buffer, {n}: {:?}, validation error: {}", mapped.map_err(|e| e.kind), error.is_some());
        }

        // The device's destroy() unmaps its buffers: a buffer mapped at creation no longer
        // answers for its range, whatever the GPU has done since.
        let kept = device.create_buffer(&GpuBufferDescriptor { size: 16, usage: GpuBufferUsage::MAP_WRITE, mapped_at_creation: Some(true), label: None });
        device.destroy();
        let range = kept.get_mapped_range_set_with_copy(&[1, 2, 3, 4], None, None);
        println!("mapped at creation, then the device destroyed: state={} range={:?}", state(&kept), range.map_err(|e| e.kind));
        Ok(())
    }
}

guests::export_command!(Command);
