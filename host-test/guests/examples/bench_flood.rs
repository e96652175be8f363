//! Benchmark, for pods: a flooding guest (`guests::flood`). For `--ms T` milliseconds (default
//! 3000) it submits heavy dispatches (`--work N` loop iterations an invocation, default 4096) in
//! bursts of `--burst B` (default 32) without waiting for them, yielding between bursts and
//! waiting for its queue only every 256 submissions. Prints how many submissions it made, and
//! how long a burst's calls took on average (the time no other guest of its pod can run: they
//! share one thread). `bench_flood_heavy` is the same with submissions ten times the size.

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        guests::flood(1).await;
        Ok(())
    }
}

guests::export_command!(Command);
