use anyhow::Context as _;
use std::path::PathBuf;
use webgpu_virt::{Config, Size};

/// The ids of the policy flags (not `--config`, which replaces them all).
pub const FLAGS: [&str; 5] = ["count_calls", "noop", "max_memory", "deny_feature", "mask_adapter_info"];

/// The policy of a virt, from flags or a file: what `configure` bakes in and what `plug` bakes
/// into the virt it composes. The flags' names are the file's keys.
#[derive(clap::Args)]
pub struct PolicyArgs {
    /// Read the policy from a TOML file (its keys are these flags' names: `max-memory = "256MiB"`).
    #[arg(long, value_name = "FILE.toml", conflicts_with_all = FLAGS)]
    config: Option<PathBuf>,
    /// Count the calls to each function (`webgpu-virt run --stats` prints them).
    #[arg(long)]
    count_calls: bool,
    /// Add a policy that does nothing (to measure what the policy chain costs).
    #[arg(long)]
    noop: bool,
    /// Cap the GPU memory of each device's objects: bytes, or with a unit (256MiB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<Size>,
    /// Hide a feature from the application and refuse devices that require it (repeatable:
    /// the TOML key is `deny-features`, a list).
    #[arg(long, value_name = "FEATURE")]
    deny_feature: Vec<String>,
    /// Answer generic words for the adapter's vendor, architecture, device and description.
    #[arg(long)]
    mask_adapter_info: bool,
}

impl PolicyArgs {
    /// Whether any policy was asked for.
    pub fn given(&self) -> bool {
        self.config.is_some() || !self.from_flags().is_pass_through()
    }

    fn from_flags(&self) -> Config {
        Config {
            count_calls: self.count_calls,
            noop: self.noop,
            max_memory: self.max_memory,
            deny_features: self.deny_feature.clone(),
            mask_adapter_info: self.mask_adapter_info,
        }
    }

    /// The configuration asked for.
    pub fn config(&self) -> anyhow::Result<Config> {
        match &self.config {
            Some(path) => Ok(webgpu_virt::read_config(path)?),
            None => Ok(self.from_flags()),
        }
    }

    /// The built-in virt with this policy baked in.
    pub fn virt(&self) -> anyhow::Result<Vec<u8>> {
        webgpu_virt::configure(webgpu_virt::VIRT, &self.config()?).context("configuring the virt")
    }
}
