//! `webgpu-virt`: run `wasi:webgpu` components on the wgpu host and compose the virt in front of
//! them.

mod cli;

use clap::Parser;

#[derive(Parser)]
#[command(name = "webgpu-virt", version, about = "Run and virtualize wasi:webgpu components")]
enum Command {
    Run(cli::run::Run),
    Serve(cli::serve::Serve),
    Plug(cli::plug::Plug),
    Configure(cli::configure::Configure),
    Shim(cli::configure::Shim),
    Adapter(cli::adapter::Adapter),
    Replay(cli::replay::Replay),
    Replayer(cli::replay::Replayer),
    #[command(subcommand)]
    Trace(cli::trace::Trace),
}

fn main() {
    let result = match Command::parse() {
        Command::Run(c) => c.exec(),
        Command::Serve(c) => c.exec(),
        Command::Plug(c) => c.exec(),
        Command::Configure(c) => c.exec(),
        Command::Shim(c) => c.exec(),
        Command::Adapter(c) => c.exec(),
        Command::Replay(c) => c.exec(),
        Command::Replayer(c) => c.exec(),
        Command::Trace(c) => c.exec(),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: what was being done, then why, joined by ": ".
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
