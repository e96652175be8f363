use super::policy::PolicyArgs;
use anyhow::Context as _;
use std::path::PathBuf;

/// Compose the virt in front of an application: OUT is APP with its wasi:webgpu served by the
/// virt, exporting APP's exports and the virt's stats.
#[derive(clap::Args)]
pub struct Plug {
    /// The application component.
    app: PathBuf,
    /// The virt to use, as `configure` wrote it (default: the built-in virt, configured by the
    /// policy flags, else the pure pass-through).
    #[arg(long, conflicts_with = "config", conflicts_with_all = super::policy::FLAGS)]
    virt: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Where to write the composed component.
    #[arg(short, long)]
    output: PathBuf,
}

impl Plug {
    pub fn exec(self) -> anyhow::Result<i32> {
        let app = std::fs::read(&self.app).with_context(|| format!("reading {}", self.app.display()))?;
        let virt = match &self.virt {
            Some(path) => {
                let virt = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                // A virt of ours must hold a configuration this version can read.
                match webgpu_virt::configuration(&virt) {
                    Err(e @ webgpu_virt::ConfigureError::Unreadable(_)) => {
                        return Err(anyhow::Error::new(e).context(format!("checking {}", path.display())));
                    }
                    _ => virt,
                }
            }
            None if self.policy.given() => self.policy.virt()?,
            None => webgpu_virt::VIRT.to_vec(),
        };
        let composed = webgpu_virt::plug(&app, &virt).with_context(|| format!("plugging the virt into {}", self.app.display()))?;
        std::fs::write(&self.output, composed).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
