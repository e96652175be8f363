//! Benchmark, for pods: `bench_flood` with submissions ten times the size (ten times the loop
//! iterations an invocation), so that two flooders in one pod differ tenfold in the GPU time
//! each submission takes. Its output says `flood-heavy` where `bench_flood`'s says `flood`.

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        guests::flood(10).await;
        Ok(())
    }
}

guests::export_command!(Command);
