//! The benchmarks' quiet neighbour in a pod: it takes a device, so that a benchmark guest's
//! device shares the host device with it (and the virt attributes errors), and does nothing else.
struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        // Kept until the end: the host device stays shared.
        std::mem::forget(device);
        Ok(())
    }
}

guests::export_command!(Command);
