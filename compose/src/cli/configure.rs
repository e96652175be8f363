use anyhow::Context as _;
use std::path::PathBuf;

/// Write a virt component. With no policy (none exist yet) it is the pure pass-through.
#[derive(clap::Args)]
pub struct Configure {
    /// Where to write the virt component.
    #[arg(short, long)]
    output: PathBuf,
}

impl Configure {
    pub fn exec(self) -> anyhow::Result<i32> {
        std::fs::write(&self.output, webgpu_virt::VIRT).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
