use super::policy::PolicyArgs;
use anyhow::Context as _;
use std::path::PathBuf;

/// Write a virt component with a policy baked in; with none, the pure pass-through.
#[derive(clap::Args)]
pub struct Configure {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Where to write the virt component.
    #[arg(short, long)]
    output: PathBuf,
}

impl Configure {
    pub fn exec(self) -> anyhow::Result<i32> {
        let virt = self.policy.virt()?;
        std::fs::write(&self.output, virt).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
