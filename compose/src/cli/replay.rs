use anyhow::Context as _;
use host_test::run::{Preopen, RunOptions};
use std::path::{Path, PathBuf};
use webgpu_virt::trace::{Catalog, decode};

/// Replay a trace on the wgpu host and verify it against the recording: a summary, and the
/// first divergence (the call, where in its result, expected vs got). Exit status 0 only when
/// nothing diverged.
#[derive(clap::Args)]
pub struct Replay {
    /// The trace (as `configure --record` writes it; compressed, or cut off, too).
    trace: PathBuf,
    /// Re-issue the calls without comparing their results.
    #[arg(long)]
    no_verify: bool,
    /// Stop after call number CALL.
    #[arg(long, value_name = "CALL")]
    until: Option<u64>,
    /// How long to wait for a recorded result or value before calling it a divergence.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    wait: u64,
    /// Of a pod's trace, replay only this guest's calls (and verify them).
    #[arg(long, value_name = "NAME")]
    guest: Option<String>,
    /// Compile the replayer afresh rather than load it from the cache of compiled components
    /// (`$WEBGPU_VIRT_CACHE_DIR`, else `$XDG_CACHE_HOME/webgpu-virt`, else
    /// `~/.cache/webgpu-virt`; an empty `WEBGPU_VIRT_CACHE_DIR` turns the cache off).
    #[arg(long)]
    no_cache: bool,
}

impl Replay {
    pub fn exec(self) -> anyhow::Result<i32> {
        let trace = &self.trace;
        std::fs::metadata(trace).with_context(|| format!("reading the trace {}", trace.display()))?;
        let name = trace.file_name().with_context(|| format!("{} names no file", trace.display()))?.to_string_lossy().into_owned();
        let dir = match trace.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut args = vec!["replayer".to_string(), name];
        if self.no_verify {
            args.push("--no-verify".into());
        }
        if let Some(until) = self.until {
            args.extend(["--until".into(), until.to_string()]);
        }
        args.extend(["--wait".into(), self.wait.to_string()]);
        if let Some(guest) = &self.guest {
            args.extend(["--guest".into(), guest.clone()]);
        }

        let engine = host_test::run::engine().map_err(anyhow::Error::from)?;
        let path = Path::new("the replayer");
        let cache = if self.no_cache { None } else { super::cache::dir() };
        let component = super::cache::compile(&engine, webgpu_virt::REPLAYER, path, cache.as_deref())?;
        let options = RunOptions { args, preopens: vec![Preopen { host: dir, guest: ".".into() }], capture_stdout: true, ..RunOptions::default() };
        let outcome = super::run_to_end(|| host_test::run::run(&engine, &component, path, &options))??;
        let report = String::from_utf8_lossy(outcome.stdout.as_deref().unwrap_or_default()).into_owned();
        print!("{report}");
        // The replayer names the call; the trace tools show it whole.
        if let Some(call) = diverged_at(&report) {
            let bytes = std::fs::read(trace).with_context(|| format!("reading {}", trace.display()))?;
            if let Some((line, _)) = decode(&Catalog::built_in(), &bytes).ok().and_then(|d| d.each.into_iter().nth(call as usize)) {
                println!("  the call: #{call} {line}");
            }
        }
        Ok(super::ended(&outcome))
    }
}

/// The call a replay report says diverged (`divergence at call #N ...`).
fn diverged_at(report: &str) -> Option<u64> {
    let rest = report.lines().find_map(|l| l.strip_prefix("divergence at call #"))?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Write the replayer component, to replay traces on another runtime that implements
/// `wasi:webgpu` (`RUNTIME run --dir DIR replayer.wasm TRACE`).
#[derive(clap::Args)]
pub struct Replayer {
    /// Where to write it.
    #[arg(short, long)]
    output: PathBuf,
}

impl Replayer {
    pub fn exec(self) -> anyhow::Result<i32> {
        std::fs::write(&self.output, webgpu_virt::REPLAYER).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
