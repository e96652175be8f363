//! Device loss as a guest of a pod sees it: it listens for uncaptured errors, then waits for its
//! device's loss: with `--wait-for-loss`, the runtime's (a host that loses devices, such as the
//! test host with `WEBGPU_HOST_LOSE_DEVICES_AFTER_MS`), else the one its own `destroy()` makes.

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let mut errors = device.on_uncaptured_error();
        let lost = device.lost();
        if !std::env::args().any(|a| a == "--wait-for-loss") {
            device.destroy();
        }
        let info = lost.await;
        println!("loss: reason={:?}", info.reason());
        println!("loss: uncaptured stream ends: {}", errors.next().await.is_none());
        println!("loss: lost after loss: reason={:?}", device.lost().await.reason());
        Ok(())
    }
}

guests::export_command!(Command);
