use host_test::run::{Preopen, RunOptions};
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
    /// The component to run.
    component: PathBuf,
    /// Arguments for the guest (its argv[1..]).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl Run {
    pub fn exec(self) -> anyhow::Result<i32> {
        let engine = host_test::run::engine().map_err(anyhow::Error::from)?;
        let component = host_test::run::load(&engine, &self.component)?;
        let mut args = vec![self.component.display().to_string()];
        args.extend(self.args);
        let options = RunOptions { args, preopens: self.dirs, inherit_env: self.inherit_env };
        let code = super::runtime()?.block_on(host_test::run::run(&engine, &component, &self.component, &options))?;
        Ok(code)
    }
}
