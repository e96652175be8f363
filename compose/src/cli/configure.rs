use super::policy::PolicyArgs;
use anyhow::Context as _;
use std::path::PathBuf;

/// Write a virt component with a policy baked in; with none, the pure pass-through.
#[derive(clap::Args)]
pub struct Configure {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Configure the virt for a pod of guests with these names, in the pod's order (guest
    /// number 0, 1, ...), to compose with `webgpu-virt shim` and wac.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pod: Vec<String>,
    /// Where to write the virt component.
    #[arg(short, long)]
    output: PathBuf,
}

impl Configure {
    pub fn exec(self) -> anyhow::Result<i32> {
        let virt = match self.pod.is_empty() {
            true => self.policy.virt()?,
            false => {
                let names: Vec<&str> = self.pod.iter().map(String::as_str).collect();
                webgpu_virt::pod::check_names(&names)?;
                self.policy.pod_virt(&names)?
            }
        };
        std::fs::write(&self.output, virt).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}

/// Write the tenant shim of a pod's guest number N: it gives that guest the virt's wasi:webgpu
/// with a `get-gpu` of its own (see docs/pods.md on composing pods with wac).
#[derive(clap::Args)]
pub struct Shim {
    /// The guest's number in the pod (0 for the first name of `configure --pod`).
    tenant: u32,
    /// Where to write the shim.
    #[arg(short, long)]
    output: PathBuf,
}

impl Shim {
    pub fn exec(self) -> anyhow::Result<i32> {
        let shim = webgpu_virt::pod::shim(self.tenant)?;
        std::fs::write(&self.output, shim).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}
