use super::policy::PolicyArgs;
use anyhow::Context as _;
use std::path::PathBuf;

/// Compose the virt in front of an application: OUT is APP with its wasi:webgpu served by the
/// virt, exporting APP's exports and the virt's stats. Or, with --guest, compose a pod: several
/// applications sharing one virt and one host GPU device, each isolated as a tenant of its own.
#[derive(clap::Args)]
pub struct Plug {
    /// The application component.
    #[arg(required_unless_present = "guests", conflicts_with = "guests")]
    app: Option<PathBuf>,
    /// A guest of a pod, NAME=APP.wasm (repeat for each guest): the pod exports its
    /// wasi:cli/run@0.3.0 (or wasi:http/handler@0.3.0) as NAME. The policy flags apply to each
    /// guest; a --config file can give a guest its own policy in a `[guests.NAME]` table.
    #[arg(long = "guest", value_name = "NAME=APP.wasm", conflicts_with = "virt")]
    guests: Vec<String>,
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
        let Some(app_path) = &self.app else { return self.pod() };
        let app = std::fs::read(app_path).with_context(|| format!("reading {}", app_path.display()))?;
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
        no_recorded_service(&virt, &app, &app_path.display().to_string())?;
        let composed = webgpu_virt::plug(&app, &virt).with_context(|| format!("plugging the virt into {}", app_path.display()))?;
        std::fs::write(&self.output, composed).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }

    /// `--guest NAME=APP.wasm ...`: a pod.
    fn pod(&self) -> anyhow::Result<i32> {
        let mut names = Vec::new();
        let mut components = Vec::new();
        for guest in &self.guests {
            let (name, path) = guest.split_once('=').with_context(|| format!("`{guest}` is not NAME=APP.wasm"))?;
            names.push(name);
            components.push(std::fs::read(path).with_context(|| format!("reading {path}"))?);
        }
        // The names first: the configuration names its guests.
        webgpu_virt::pod::check_names(&names)?;
        let virt = self.policy.pod_virt(&names)?;
        for (name, component) in names.iter().zip(&components) {
            no_recorded_service(&virt, component, &format!("guest `{name}`"))?;
        }
        let guests: Vec<_> = names.iter().zip(&components).map(|(name, component)| webgpu_virt::pod::Guest { name, component }).collect();
        let pod = webgpu_virt::pod::plug_pod(&guests, &virt).context("making the pod")?;
        std::fs::write(&self.output, pod).with_context(|| format!("writing {}", self.output.display()))?;
        Ok(0)
    }
}

/// Refuses to record a service: `serve` (and any server that makes an instance per request)
/// would give each request a recorder of its own, and every one would write the same trace file.
fn no_recorded_service(virt: &[u8], app: &[u8], what: &str) -> anyhow::Result<()> {
    let records = webgpu_virt::configuration(virt).is_ok_and(|config| config.record.is_some());
    let service = webgpu_virt::exports(app).is_ok_and(|exports| exports.iter().any(|e| e == webgpu_virt::pod::HANDLER));
    if records && service {
        anyhow::bail!(
            "{what} is a service (it exports {}): recording one is not supported yet, because a server makes an \
             instance for each request and every instance would write the same trace file; record a command instead",
            webgpu_virt::pod::HANDLER
        );
    }
    Ok(())
}
