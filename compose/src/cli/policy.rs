use anyhow::Context as _;
use std::path::PathBuf;
use webgpu_virt::Config;

/// The policy of a virt, from flags or a file: what `configure` bakes in and what `plug` bakes
/// into the virt it composes.
#[derive(clap::Args)]
pub struct PolicyArgs {
    /// Read the policy from a TOML file (its keys are these flags' names: `count-calls = true`).
    #[arg(long, value_name = "FILE.toml", conflicts_with_all = ["count_calls", "noop"])]
    config: Option<PathBuf>,
    /// Count the calls to each function (`webgpu-virt run --stats` prints them).
    #[arg(long)]
    count_calls: bool,
    /// Add a policy that does nothing (to measure what the policy chain costs).
    #[arg(long)]
    noop: bool,
}

impl PolicyArgs {
    /// Whether any policy was asked for.
    pub fn given(&self) -> bool {
        self.config.is_some() || self.count_calls || self.noop
    }

    /// The configuration asked for.
    pub fn config(&self) -> anyhow::Result<Config> {
        match &self.config {
            Some(path) => Ok(webgpu_virt::read_config(path)?),
            None => Ok(Config { count_calls: self.count_calls, noop: self.noop }),
        }
    }

    /// The built-in virt with this policy baked in.
    pub fn virt(&self) -> anyhow::Result<Vec<u8>> {
        webgpu_virt::configure(webgpu_virt::VIRT, &self.config()?).context("configuring the virt")
    }
}
