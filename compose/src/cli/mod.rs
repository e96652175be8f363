//! One module per subcommand, each a clap `Args` struct with an `exec()` returning the exit code.

pub mod adapter;
mod cache;
pub mod configure;
pub mod plug;
pub mod policy;
pub mod replay;
pub mod run;
pub mod serve;
pub mod trace;

/// The exit code of a run that ended with `code`. A run that left work running on the GPU
/// (nobody waits for it, and it cannot be stopped) says so and ends the process at once: the
/// drop of its devices, and a driver's handlers at exit, would wait for that work.
pub fn ended(outcome: &host_test::run::Outcome) -> i32 {
    if outcome.unfinished > 0 {
        let grace = host_test::run::EXIT_GRACE.as_secs();
        eprintln!(
            "webgpu-virt: {} device(s) still ran submitted work {grace} s after the component was done: left running; exiting without waiting for it",
            outcome.unfinished
        );
        host_test::run::exit_now(outcome.code);
    }
    outcome.code
}

/// The runtime every subcommand drives wasmtime and wgpu from.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// How long a run waits, once the component is done, for its runtime's blocking threads: the
/// writes of files the component handed over finish in that time (a trace a trapped
/// application's recorder handed over, say); a wait on the GPU for work that never ends (a
/// runaway's, which a watchdog gave up on) is left behind.
const SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a component to its end on a runtime of its own, then shuts the runtime down waiting at
/// most [`SHUTDOWN`] for its blocking threads. ([`ended`] then says what was left running.)
pub fn run_to_end<F: std::future::Future>(run: impl FnOnce() -> F) -> anyhow::Result<F::Output> {
    let runtime = runtime()?;
    let output = runtime.block_on(run());
    runtime.shutdown_timeout(SHUTDOWN);
    Ok(output)
}
