//! Two devices of one adapter: each works on its own, and using an object of one with the
//! other is a validation error (a buffer in the other's commands, written through the other's
//! queue; a command buffer submitted to the other's queue).
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("adapter");
        let a = adapter.request_device(None).await.expect("device a");
        let b = adapter.request_device(None).await.expect("device b");
        let usage = GpuBufferUsage::COPY_SRC | GpuBufferUsage::COPY_DST;
        let of_a = guests::buffer_with(&a, usage, &[1, 2, 3, 4]);
        let of_b = guests::buffer_with(&b, usage, &[5, 6, 7, 8]);
        println!("a reads its own: {:?}", guests::read_buffer(&a, &of_a, 0, 4).await);
        println!("b reads its own: {:?}", guests::read_buffer(&b, &of_b, 0, 4).await);

        let (_, copy) = guests::scoped(&b, GpuErrorFilter::Validation, || {
            let encoder = b.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&of_a, Some(0), &of_b, Some(0), Some(4));
            b.queue().submit(&[&encoder.finish(None)]);
        })
        .await;
        println!("b copies from a's buffer: {copy:?}");
        let (_, write) = guests::scoped(&b, GpuErrorFilter::Validation, || {
            let _ = b.queue().write_buffer_with_copy(&of_a, 0, &[9, 9, 9, 9], None, None);
        })
        .await;
        println!("b's queue writes a's buffer: {write:?}");
        let (_, submit) = guests::scoped(&b, GpuErrorFilter::Validation, || {
            let commands = a.create_command_encoder(None).finish(None);
            b.queue().submit(&[&commands]);
        })
        .await;
        println!("b's queue submits a's commands: {submit:?}");
        println!("a's buffer after all: {:?}", guests::read_buffer(&a, &of_a, 0, 4).await);
        println!("b's buffer after all: {:?}", guests::read_buffer(&b, &of_b, 0, 4).await);
        Ok(())
    }
}

guests::export_command!(Command);
