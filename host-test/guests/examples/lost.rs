//! Device loss: `lost` resolves with reason `destroyed` after `destroy()`; every `lost` future
//! resolves; the device's objects keep answering without errors or traps; a new device works.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("adapter");
        let device = adapter.request_device(None).await.expect("device");
        let lost = device.lost();
        let lost_too = device.lost();
        let buffer = device.create_buffer(&GpuBufferDescriptor { size: 16, usage: GpuBufferUsage::MAP_READ, mapped_at_creation: None, label: None });
        let mut errors = device.on_uncaptured_error();
        // A wait between subscribing and the loss: whoever reads the stream meanwhile (the virt
        // does) must hear it end.
        device.queue().on_submitted_work_done().await;
        device.destroy();
        let info = lost.await;
        println!("lost: reason={:?} message-given={}", info.reason(), !info.message().is_empty());
        println!("second lost future: reason={:?}", lost_too.await.reason());
        println!("lost after loss: reason={:?}", device.lost().await.reason());

        // A lost device's calls are no-ops: no errors, no traps.
        let after = device.create_buffer(&GpuBufferDescriptor { size: 8, usage: GpuBufferUsage::COPY_DST, mapped_at_creation: None, label: None });
        device.queue().write_buffer_with_copy(&after, 0, &[1, 2, 3, 4], None, None).expect("write-buffer result");
        let encoder = device.create_command_encoder(None);
        device.queue().submit(&[&encoder.finish(None)]);
        device.queue().on_submitted_work_done().await;
        println!("map-async on a lost device: {:?}", buffer.map_async(GpuMapMode::READ, None, None).await.map_err(|e| e.kind));
        device.push_error_scope(GpuErrorFilter::Validation);
        println!("pop-error-scope on a lost device: {:?}", device.pop_error_scope().await.map(|e| e.is_some()).map_err(|e| e.kind));
        println!("uncaptured stream ends: {}", errors.next().await.is_none());

        // The adapter still gives a working device.
        let again = adapter.request_device(None).await.expect("a new device");
        let b = guests::buffer_with(&again, GpuBufferUsage::COPY_SRC, &[5, 6, 7, 8]);
        println!("new device works: {:?}", guests::read_buffer(&again, &b, 0, 4).await);
        Ok(())
    }
}

guests::export_command!(Command);
