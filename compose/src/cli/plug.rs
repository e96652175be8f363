use anyhow::Context as _;
use std::path::PathBuf;

/// Compose the virt in front of an application: OUT is APP with its wasi:webgpu served by the virt.
#[derive(clap::Args)]
pub struct Plug {
    /// The application component.
    app: PathBuf,
    /// The virt to use (default: the built-in, unconfigured pass-through).
    #[arg(long)]
    virt: Option<PathBuf>,
    /// Where to write the composed component.
    #[arg(short, long)]
    output: PathBuf,
}

impl Plug {
    pub fn exec(self) -> anyhow::Result<i32> {
        let app = std::fs::read(&self.app).with_context(|| format!("reading {}", self.app.display()))?;
        let virt = match &self.virt {
            Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            None => webgpu_virt::VIRT.to_vec(),
        };
        let composed = webgpu_virt::plug(&app, &virt).with_context(|| format!("plugging the virt into {}", self.app.display()))?;
        std::fs::write(&self.output, composed).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
