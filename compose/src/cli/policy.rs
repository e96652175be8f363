use anyhow::Context as _;
use std::path::PathBuf;
use webgpu_virt::{Config, Duration, Fraction, MaxObjects, Pool, Size};

/// The ids of the policy flags (not `--config`, which replaces them all).
pub const FLAGS: [&str; 21] = [
    "count_calls",
    "noop",
    "max_memory",
    "max_buffer_size",
    "max_texture_dimension",
    "max_objects",
    "max_write_size",
    "max_in_flight",
    "record",
    "record_batched",
    "deny_feature",
    "mask_adapter_info",
    "log_errors",
    "log_stats",
    "gpu_time",
    "max_submission_time",
    "max_gpu_share",
    "max_loop_iterations",
    "pool_max_memory",
    "pool_max_in_flight",
    "device_per_guest",
];

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
    /// Cap the GPU memory of the application's objects, all its devices together: bytes, or
    /// with a unit (256MiB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<Size>,
    /// Cap the size of one buffer (the devices' maxBufferSize).
    #[arg(long, value_name = "SIZE")]
    max_buffer_size: Option<Size>,
    /// Cap texture dimensions (the devices' maxTextureDimension1D/2D/3D).
    #[arg(long, value_name = "TEXELS")]
    max_texture_dimension: Option<u32>,
    /// Cap the live objects of each kind (buffers, textures, query-sets, shader-modules,
    /// command-encoders, bind-groups, pipelines): KIND=N,...
    #[arg(long, value_name = "KIND=N,...", value_parser = MaxObjects::parse)]
    max_objects: Option<MaxObjects>,
    /// Cap the bytes of one write-buffer or write-texture call, or one mapped range copy.
    #[arg(long, value_name = "SIZE")]
    max_write_size: Option<Size>,
    /// Cap each device's submissions in flight: a submit past it waits (held back in the virt,
    /// with the queue operations after it) until earlier work is done.
    #[arg(long, value_name = "N")]
    max_in_flight: Option<std::num::NonZeroU32>,
    /// Record every call, its data and results to PATH, through wasi:filesystem: a relative
    /// PATH is in the first preopened directory (`webgpu-virt run --dir`).
    #[arg(long, value_name = "PATH")]
    record: Option<String>,
    /// With --record: hand the records to the runtime in batches, one write under way at a
    /// time, rather than each call's before it returns (much cheaper for many calls without a
    /// wait; a crash loses the calls of the last write's microseconds).
    #[arg(long, requires = "record")]
    record_batched: bool,
    /// Hide a feature from the application and refuse devices that require it (repeatable:
    /// the TOML key is `deny-features`, a list).
    #[arg(long, value_name = "FEATURE")]
    deny_feature: Vec<String>,
    /// Answer generic words for the adapter's vendor, architecture, device and description.
    #[arg(long)]
    mask_adapter_info: bool,
    /// Write each error the virt reports that nobody catches or listens to (a quota refusal,
    /// an error attributed on a shared host device) to stderr as it happens, as the runtime
    /// does with its own. Uses the virt build that imports wasi:filesystem and wasi:cli
    /// (0.2); `run --stats` counts them either way.
    #[arg(long)]
    log_errors: bool,
    /// Write every stats counter to stderr when a limit is hit (a quota's refusal, a device
    /// lost to --max-submission-time, work held for --max-gpu-share), at most once a second:
    /// for runtimes that never call the virt's stats export (`run --stats` does). Uses the
    /// virt build that imports WASI, like --log-errors.
    #[arg(long)]
    log_stats: bool,
    /// Measure each submission's GPU time and report it per guest (`run --stats`, and the
    /// trace when recording). Uses the virt build that imports WASI (its monotonic clock).
    #[arg(long)]
    gpu_time: bool,
    /// Lose the device of a submission that runs longer than DURATION on the GPU (2s, 500ms):
    /// the application sees its device lost, reason `unknown`. Its time starts when the work
    /// queued before it is done. Implies --gpu-time.
    #[arg(long, value_name = "DURATION")]
    max_submission_time: Option<Duration>,
    /// Cap the application's share of the GPU's time (0.25, 25%): once over it, its
    /// submissions wait until it is under again, even with the GPU otherwise idle. Implies
    /// --gpu-time.
    #[arg(long, value_name = "FRACTION")]
    max_gpu_share: Option<Fraction>,
    /// Let every loop of the application's shaders run at most N iterations per call of its
    /// function: the virt rewrites each shader module so, and work on the GPU always ends (a
    /// lost device's too). With --max-submission-time and no N, the limit over 64 ns (2s:
    /// 31250000).
    #[arg(long, value_name = "N")]
    max_loop_iterations: Option<std::num::NonZeroU32>,
    /// In a pod: cap the GPU memory of all guests together (each guest's own quota applies
    /// too). The TOML key is `max-memory` in a `[pool]` table.
    #[arg(long, value_name = "SIZE")]
    pool_max_memory: Option<Size>,
    /// In a pod: cap the submissions in flight of all guests together; the held ones are
    /// released so that each guest gets GPU time in proportion to its `weight` (in a
    /// `[guests.NAME]` table; 1 by default). Measures GPU time. The TOML key is
    /// `max-in-flight` in `[pool]`.
    #[arg(long, value_name = "N")]
    pool_max_in_flight: Option<std::num::NonZeroU32>,
    /// In a pod: give each guest a host device of its own (errors and device loss kept apart
    /// by the runtime) instead of virtual devices on one shared host device. The TOML key is
    /// `device-per-guest` in `[pool]`.
    #[arg(long)]
    device_per_guest: bool,
}

impl PolicyArgs {
    /// Whether any policy was asked for.
    pub fn given(&self) -> bool {
        self.config.is_some() || !self.flag_config().is_pass_through()
    }

    fn flag_config(&self) -> Config {
        Config {
            count_calls: self.count_calls,
            noop: self.noop,
            max_memory: self.max_memory,
            max_buffer_size: self.max_buffer_size,
            max_texture_dimension: self.max_texture_dimension,
            max_objects: self.max_objects.clone().unwrap_or_default(),
            max_write_size: self.max_write_size,
            max_in_flight: self.max_in_flight,
            record: self.record.clone(),
            record_batched: self.record_batched,
            deny_features: self.deny_feature.clone(),
            mask_adapter_info: self.mask_adapter_info,
            log_errors: self.log_errors,
            log_stats: self.log_stats,
            gpu_time: self.gpu_time,
            max_submission_time: self.max_submission_time,
            max_gpu_share: self.max_gpu_share,
            max_loop_iterations: self.max_loop_iterations,
            weight: None,
            pool: Pool {
                max_memory: self.pool_max_memory,
                max_in_flight: self.pool_max_in_flight,
                device_per_guest: self.device_per_guest,
            },
            guests: Vec::new(),
        }
    }

    /// The configuration asked for.
    pub fn config(&self) -> anyhow::Result<Config> {
        match &self.config {
            Some(path) => Ok(webgpu_virt::read_config(path)?),
            None => Ok(self.flag_config()),
        }
    }

    /// The built-in virt with this policy baked in, for one application.
    pub fn virt(&self) -> anyhow::Result<Vec<u8>> {
        let config = self.config()?;
        if config.pool != Pool::default() || !config.guests.is_empty() {
            anyhow::bail!("the pool's settings and `[guests.NAME]` policies are for a pod: give its guests with --guest NAME=APP.wasm");
        }
        webgpu_virt::configure(webgpu_virt::virt_for(&config), &config).context("configuring the virt")
    }

    /// The built-in virt configured for a pod of guests named `names`.
    pub fn pod_virt(&self, names: &[&str]) -> anyhow::Result<Vec<u8>> {
        let config = webgpu_virt::pod::pod_config(&self.config()?, names)?;
        webgpu_virt::configure(webgpu_virt::virt_for(&config), &config).context("configuring the virt")
    }
}
