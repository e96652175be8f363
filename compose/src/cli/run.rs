use host_test::run::{Counter, GuestEnd, Preopen, RunOptions, STATS};
use std::path::PathBuf;

/// Run a command component (exporting `wasi:cli/run@0.3.0`) with wasi:webgpu on wgpu.
#[derive(clap::Args)]
pub struct Run {
    /// Preopen HOST_DIR for the guest, as `.` or as GUEST_DIR with HOST_DIR::GUEST_DIR.
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs: Vec<Preopen>,
    /// Pass this process's environment variables to the guest.
    #[arg(long)]
    inherit_env: bool,
    /// When the component is done, print the counters of the virt's policies to stderr
    /// (`webgpu-virt plug` exports them beside the application's exports), then what reached
    /// this host.
    #[arg(long)]
    stats: bool,
    /// Load the component compiled from the cache of compiled components, and put it there
    /// after compiling it (see `replay --help` for where the cache is).
    #[arg(long)]
    cache: bool,
    /// The component to run.
    component: PathBuf,
    /// Arguments for the guest (its argv[1..]).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl Run {
    pub fn exec(self) -> anyhow::Result<i32> {
        let engine = host_test::run::engine().map_err(anyhow::Error::from)?;
        let component = super::cache::load(&engine, &self.component, self.cache)?;
        let mut args = vec![self.component.display().to_string()];
        args.extend(self.args);
        let options = RunOptions { args, preopens: self.dirs, inherit_env: self.inherit_env, stats: self.stats, capture_stdout: false };
        let outcome = super::run_to_end(|| host_test::run::run(&engine, &component, &self.component, &options))??;
        report_guests(&outcome.guests);
        if self.stats {
            print_stats(outcome.stats.as_deref());
            let h = outcome.host;
            eprintln!("host (what reached the runtime):");
            for (name, value) in [("devices", h.devices), ("devices held", h.devices_held), ("buffers", h.buffers), ("largest buffer", h.largest_buffer), ("textures", h.textures), ("query sets", h.query_sets)] {
                eprintln!("  host {name:<20} {value:>12}");
            }
        }
        Ok(super::ended(&outcome))
    }
}

/// How each guest of a pod ended, on stderr.
fn report_guests(guests: &[(String, GuestEnd)]) {
    let Some((trapped, why)) = guests.iter().find_map(|(name, end)| match end {
        GuestEnd::Trapped(why) => Some((name, why)),
        _ => None,
    }) else {
        for (name, end) in guests {
            if let GuestEnd::Exited(code) = end {
                eprintln!("guest {name}: exited with {code}");
            }
        }
        return;
    };
    eprintln!("guest {trapped}: trapped: {why}");
    for (name, end) in guests {
        match end {
            GuestEnd::Exited(code) => eprintln!("guest {name}: exited with {code}"),
            GuestEnd::Stopped => eprintln!("guest {name}: stopped: guest {trapped} trapped, and a trap ends every guest of a pod (wasmtime ends the whole store)"),
            GuestEnd::Trapped(_) => {}
        }
    }
}

/// The counters as a table on stderr, after the command's own output.
fn print_stats(counters: Option<&[Counter]>) {
    let Some(counters) = counters else {
        eprintln!("stats: none (the component exports no {STATS}: compose it with `webgpu-virt plug`)");
        return;
    };
    if counters.is_empty() {
        eprintln!("stats: none (no policy of the virt keeps any: configure it with `--count-calls`)");
        return;
    }
    let width = counters.iter().map(|c| c.policy.len() + c.name.len() + 1).max().unwrap_or(0);
    eprintln!("stats:");
    for c in counters {
        eprintln!("  {:<width$}  {:>12}", format!("{} {}", c.policy, c.name), c.value);
    }
}
