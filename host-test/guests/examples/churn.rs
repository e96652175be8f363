//! Devices made and dropped by the thousand, each with a buffer it keeps and one over any small
//! quota: the virt's bookkeeping of devices that nothing can reach any more must stay bounded
//! while its totals stay right.
use guests::gpu::*;

/// How many devices the guest makes, one after another.
const DEVICES: u32 = 10_000;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("adapter");
        let mut refused = 0;
        for _ in 0..DEVICES {
            let device = adapter.request_device(None).await.expect("request-device");
            let _kept = guests::buffer(&device, 1024, GpuBufferUsage::STORAGE);
            let (_, error) = guests::scoped(&device, GpuErrorFilter::OutOfMemory, || guests::buffer(&device, 1 << 20, GpuBufferUsage::STORAGE)).await;
            refused += u32::from(error.is_some());
        }
        println!("{DEVICES} devices made and dropped, {refused} buffers refused");
        Ok(())
    }
}

guests::export_command!(Command);
