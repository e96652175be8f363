//! The virt component's configuration, shared by the side that writes it (`webgpu-virt
//! configure`) and the side that reads it (the component), so that both agree on every field.
//!
//! The configuration is baked into the component, WASI-Virt style: the component holds a
//! *slot*, a static byte array starting with [`slot::MAGIC`], and `configure` writes the
//! [encoded](Config::encode) configuration into a copy of the component after that marker. The
//! component reads its slot once, at its first call. An empty slot is the default configuration:
//! no policy at all, a pure pass-through.
//!
//! ```
//! use webgpu_virt_config::Config;
//!
//! let config = Config { count_calls: true, ..Config::default() };
//! assert_eq!(Config::decode(&config.encode()), Ok(config));
//! assert!(Config::default().is_pass_through());
//! ```

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod memory;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroU32;

/// What the virt does besides forwarding. The field names are the TOML keys and, with `--`,
/// the command-line flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields, rename_all = "kebab-case", default))]
pub struct Config {
    /// A policy that sees every call and does nothing: the policy chain's own cost.
    pub noop: bool,
    /// Count the calls to each function, for the operator (`webgpu-virt run --stats`).
    pub count_calls: bool,
    /// The most GPU memory the application's objects may take, all its devices together:
    /// buffers at their size, textures by their exact size, query sets at 8 bytes a query.
    pub max_memory: Option<Size>,
    /// The largest buffer the application may make (its devices' `maxBufferSize`).
    pub max_buffer_size: Option<Size>,
    /// The largest texture dimension (the devices' `maxTextureDimension1D/2D/3D`).
    pub max_texture_dimension: Option<u32>,
    /// How many objects of each kind may live at once, all devices together.
    pub max_objects: MaxObjects,
    /// The most bytes one `write-buffer` or `write-texture` call, or one copy into or out of a
    /// mapped range, may carry.
    pub max_write_size: Option<Size>,
    /// The most submissions each device may have in flight (submitted, not known done). A
    /// `submit` past it is not refused: it is held back, with the queue operations after it,
    /// until earlier work is done.
    pub max_in_flight: Option<NonZeroU32>,
    /// Record every call, its data and its results to this file, through `wasi:filesystem`: a
    /// relative path is in the first preopened directory. Needs the recording build of the virt
    /// (`webgpu-virt configure` picks it).
    pub record: Option<String>,
    /// Hand the trace's records to the runtime in batches, one write under way at a time,
    /// rather than each call's before it returns: much cheaper for an application that makes
    /// many calls without waiting, at the price of the calls made while the last write was
    /// under way (microseconds' worth) when the application crashes.
    pub record_batched: bool,
    /// In a pod: this guest's share of the GPU's time, relative to the other guests' weights,
    /// when the pool's in-flight cap holds submissions back (1 if not given): a guest of weight
    /// 2 gets twice the GPU time of a guest of weight 1, whatever the size of their submissions.
    pub weight: Option<NonZeroU32>,
    /// Features the application must not see or ask for (`gpu-feature-name`s).
    pub deny_features: Vec<String>,
    /// Replace the adapter's vendor, architecture, device and description with generic words
    /// (a fingerprinting defence).
    pub mask_adapter_info: bool,
    /// Write each error the virt reports that no error scope catches and no uncaptured-error
    /// stream listens to, to `wasi:cli/stderr` as it happens (as a browser logs it to its
    /// console). Needs the build of the virt that imports WASI (`webgpu-virt configure` picks
    /// it); every build counts them in its stats.
    pub log_errors: bool,
    /// Write every counter of the stats to `wasi:cli/stderr` when a limit is hit (a quota's
    /// refusal, a device lost to `max-submission-time`, work held back for `max-gpu-share`),
    /// after the call that hit it, at most once a second: for runtimes that never call the
    /// stats export. Needs the build of the virt that imports WASI, like `log-errors`.
    pub log_stats: bool,
    /// Measure the GPU time of each submission and report it per guest (`gpu-time` in
    /// `webgpu-virt run --stats`; in the trace when recording). Implied by
    /// `max-submission-time`. Needs the build of the virt that imports WASI (its monotonic
    /// clock; `webgpu-virt configure` picks it).
    pub gpu_time: bool,
    /// The longest a submission may run on the GPU (`"2s"`, `"500ms"`). A submission not done
    /// within it loses its device: the reason is `unknown` and the message names the limit and
    /// the submission. Its time starts when the work queued before it on the GPU is done, so
    /// time spent behind other guests' work never counts against it.
    pub max_submission_time: Option<Duration>,
    /// The most of the GPU's time this guest may have (`0.25` or `"25%"`): once its GPU time
    /// is over that share of the time passed (it may run ahead by its share of one second), its
    /// submissions are held back until it is under again, whether or not others want the GPU.
    pub max_gpu_share: Option<Fraction>,
    /// The most iterations any loop of this guest's shaders runs per call of its function
    /// (see [`Config::loop_budget`]): the virt compiles every shader module with its loops
    /// ending there, so that a lost device's work on the GPU ends. With `max-submission-time`
    /// and no value of its own, the limit over [`NS_PER_ITERATION`].
    pub max_loop_iterations: Option<NonZeroU32>,
    /// Caps over all the guests of a pod together, and how they share the GPU.
    pub pool: Pool,
    /// A pod's guests, in order (a guest's number, its *tenant*, is its place here), each with
    /// the policy that applies to it. Empty for a virt in front of one application. (In a
    /// configuration file, `[guests.NAME]` tables give guests policies of their own, in the
    /// order of their names; `webgpu-virt plug` puts them in the pod's order.)
    #[cfg_attr(feature = "serde", serde(deserialize_with = "guest_tables"))]
    pub guests: Vec<Guest>,
}

/// `[guests.NAME]` tables: each a guest's policy.
#[cfg(feature = "serde")]
fn guest_tables<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Guest>, D::Error> {
    let tables: alloc::collections::BTreeMap<String, Config> = serde::Deserialize::deserialize(d)?;
    Ok(tables.into_iter().map(|(name, policy)| Guest { name, policy }).collect())
}

/// One guest of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guest {
    /// Its name in the pod (the name its `wasi:cli/run` is exported under).
    pub name: String,
    /// Its policy: quota, caps, limits, features. Recording, the call counter and the no-op
    /// policy are the pod's, set in the pod's configuration.
    pub policy: Config,
}

/// What a pod's guests share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields, rename_all = "kebab-case", default))]
pub struct Pool {
    /// The most GPU memory all guests' objects may take together (each guest's own quota
    /// applies too).
    pub max_memory: Option<Size>,
    /// The most submissions all guests may have in flight together. A submission past it is
    /// held back (as past a guest's own `max-in-flight`), and held submissions are released so
    /// that each guest gets GPU time in proportion to its `weight` (this measures GPU time, with
    /// the virt build that imports WASI).
    pub max_in_flight: Option<NonZeroU32>,
    /// Give each guest a host device of its own instead of virtual devices on one shared host
    /// device: errors and device loss are then kept apart by the runtime itself.
    pub device_per_guest: bool,
}

/// Caps on the number of live objects, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields, rename_all = "kebab-case", default))]
pub struct MaxObjects {
    /// Live buffers.
    pub buffers: Option<u32>,
    /// Live textures.
    pub textures: Option<u32>,
    /// Live query sets.
    pub query_sets: Option<u32>,
    /// Live shader modules.
    pub shader_modules: Option<u32>,
    /// Live command encoders.
    pub command_encoders: Option<u32>,
    /// Live bind groups.
    pub bind_groups: Option<u32>,
    /// Live pipelines, compute and render together.
    pub pipelines: Option<u32>,
}

impl MaxObjects {
    /// The kinds, by their names in the configuration.
    pub const KINDS: [&str; 7] =
        ["buffers", "textures", "query-sets", "shader-modules", "command-encoders", "bind-groups", "pipelines"];

    /// The cap of a kind, by index in [`Self::KINDS`].
    pub fn get(&self, kind: usize) -> Option<u32> {
        let caps = [
            self.buffers,
            self.textures,
            self.query_sets,
            self.shader_modules,
            self.command_encoders,
            self.bind_groups,
            self.pipelines,
        ];
        caps[kind]
    }

    fn slot(&mut self, kind: usize) -> Option<&mut Option<u32>> {
        let slots = [
            &mut self.buffers,
            &mut self.textures,
            &mut self.query_sets,
            &mut self.shader_modules,
            &mut self.command_encoders,
            &mut self.bind_groups,
            &mut self.pipelines,
        ];
        slots.into_iter().nth(kind)
    }

    /// Parses `buffers=1000,textures=256` (the command line's form).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut caps = Self::default();
        for item in text.split(',').filter(|i| !i.trim().is_empty()) {
            let (kind, count) = item.split_once('=').ok_or_else(|| alloc::format!("`{item}` is not KIND=COUNT"))?;
            let index = Self::KINDS
                .iter()
                .position(|k| *k == kind.trim())
                .ok_or_else(|| alloc::format!("`{}` is not a kind of object with a cap (the kinds: {})", kind.trim(), Self::KINDS.join(", ")))?;
            let count = count.trim().parse().map_err(|_| alloc::format!("`{}` is not a count of objects", count.trim()))?;
            *caps.slot(index).expect("a kind's index") = Some(count);
        }
        Ok(caps)
    }
}

/// A span of time in nanoseconds: in TOML and on the command line a string of a whole number
/// and a unit (`"2s"`, `"500ms"`, `"1m"`; units ns, us, ms, s, m).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

impl Duration {
    /// Parses `2s`, `500ms`, `250us`, `1m`, `100ns`.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let text = text.trim();
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let number: u64 = number.parse().map_err(|_| DurationError::NotANumber)?;
        let scale: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "" => return Err(DurationError::NoUnit),
            _ => return Err(DurationError::Unit),
        };
        match number.checked_mul(scale) {
            Some(0) => Err(DurationError::Zero),
            Some(ns) => Ok(Duration(ns)),
            None => Err(DurationError::TooLarge),
        }
    }
}

impl fmt::Display for Duration {
    /// In the largest unit that divides it (`2s`, `1500ms`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        for (unit, scale) in [("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
            if ns >= scale && ns.is_multiple_of(scale) {
                return write!(f, "{}{unit}", ns / scale);
            }
        }
        write!(f, "{ns}ns")
    }
}

/// Why a duration could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// No whole number at the start.
    NotANumber,
    /// A number with no unit.
    NoUnit,
    /// A unit other than ns, us, ms, s, m.
    Unit,
    /// Zero: no work could ever run.
    Zero,
    /// More than 2^64 - 1 nanoseconds.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "a duration is a whole number and a unit (2s, 500ms)",
            Self::NoUnit => "a duration needs a unit: ns, us, ms, s or m (2s, 500ms)",
            Self::Unit => "the unit of a duration is one of ns, us, ms, s, m",
            Self::Zero => "a duration of zero lets no work run",
            Self::TooLarge => "the duration is longer than 2^64 - 1 nanoseconds",
        })
    }
}

impl core::error::Error for DurationError {}

impl core::str::FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, DurationError> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: a string such as \"2s\" or \"500ms\"")
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Duration, E> {
                Err(E::custom(DurationError::NoUnit))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Duration, E> {
                Err(E::custom(DurationError::NoUnit))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A fraction between 0 and 1, in millionths: in TOML and on the command line `0.25` or `"25%"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fraction(pub u32);

impl Fraction {
    /// One whole: a million millionths.
    pub const ONE: u32 = 1_000_000;

    /// Parses `0.25`, `.5`, `1`, `25%`, `12.5%` (above zero, at most one whole).
    pub fn parse(text: &str) -> Result<Self, FractionError> {
        let text = text.trim();
        let (number, scale) = match text.strip_suffix('%') {
            Some(n) => (n.trim(), 100),
            None => (text, 1),
        };
        let (whole, part) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && part.is_empty()) || !digits(whole) || !digits(part) || part.len() > 9 {
            return Err(FractionError::NotANumber);
        }
        let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| FractionError::TooLarge)? };
        let part_value: u64 = if part.is_empty() { 0 } else { part.parse().map_err(|_| FractionError::NotANumber)? };
        // In billionths, then millionths of the fraction (rounded down).
        let billionths = whole
            .checked_mul(1_000_000_000)
            .and_then(|w| w.checked_add(part_value * 10u64.pow(9 - part.len() as u32)))
            .ok_or(FractionError::TooLarge)?;
        let millionths = billionths / 1_000 / scale;
        match millionths {
            0 => Err(FractionError::Zero),
            m if m > u64::from(Self::ONE) => Err(FractionError::TooLarge),
            m => Ok(Fraction(m as u32)),
        }
    }

    /// The fraction as a number.
    pub fn get(self) -> f64 {
        f64::from(self.0) / f64::from(Self::ONE)
    }
}

impl fmt::Display for Fraction {
    /// As a percentage (`25%`, `12.5%`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A percent is 10,000 millionths.
        let (whole, rest) = (self.0 / 10_000, self.0 % 10_000);
        if rest == 0 {
            write!(f, "{whole}%")
        } else {
            let digits = alloc::format!("{rest:04}");
            write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

/// Why a fraction could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FractionError {
    /// Not a decimal number, optionally with `%`.
    NotANumber,
    /// Zero (or less than a millionth): no work could ever run.
    Zero,
    /// More than one whole (100%).
    TooLarge,
}

impl fmt::Display for FractionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "a share is a decimal fraction or a percentage (0.25, \"25%\")",
            Self::Zero => "a share of zero lets no work run",
            Self::TooLarge => "a share is at most 1 (100%)",
        })
    }
}

impl core::error::Error for FractionError {}

impl core::str::FromStr for Fraction {
    type Err = FractionError;

    fn from_str(s: &str) -> Result<Self, FractionError> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Fraction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a share: a number such as 0.25 or a string such as \"25%\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Fraction, E> {
                Fraction::parse(&alloc::format!("{v}")).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Fraction, E> {
                Fraction::parse(&alloc::format!("{v}")).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Fraction, E> {
                Fraction::parse(&alloc::format!("{v}")).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fraction, E> {
                Fraction::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A number of bytes: in TOML an integer or a string of a whole number with an optional unit
/// (`"1500000"`, `"256MiB"`, `"1GiB"`; not `"1.5GB"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    /// Parses `1500000`, `64KiB`, `256MiB`, `1GiB`, `2TiB`, `500kB`, `10MB`, `1GB`, `1TB`, `512B`.
    pub fn parse(text: &str) -> Result<Self, SizeError> {
        let text = text.trim();
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let number: u64 = number.parse().map_err(|_| SizeError::NotANumber)?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => return Err(SizeError::Unit),
        };
        number.checked_mul(scale).map(Size).ok_or(SizeError::TooLarge)
    }
}

/// Why a size could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// No whole number at the start.
    NotANumber,
    /// A unit other than B, KiB, MiB, GiB, TiB, kB, MB, GB, TB.
    Unit,
    /// More than 2^64 - 1 bytes.
    TooLarge,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "a size is a whole number of bytes, optionally with a unit (1500000, 256MiB, 1GiB)",
            Self::Unit => "the unit of a size is one of B, KiB, MiB, GiB, TiB, kB, MB, GB, TB",
            Self::TooLarge => "the size is larger than 2^64 - 1 bytes",
        })
    }
}

impl core::error::Error for SizeError {}

impl core::str::FromStr for Size {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, SizeError> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size: a number of bytes or a string such as \"256MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v).map(Size).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The encoding's version; a reader rejects others.
const VERSION: u8 = 1;

/// One setting's tag in the encoding.
#[repr(u8)]
enum Tag {
    Noop = 1,
    CountCalls = 2,
    MaxMemory = 3,
    DenyFeature = 4,
    MaskAdapterInfo = 5,
    MaxBufferSize = 6,
    MaxTextureDimension = 7,
    MaxObjects = 8,
    MaxWriteSize = 9,
    MaxInFlight = 10,
    Record = 11,
    Guest = 12,
    PoolMaxMemory = 13,
    DevicePerGuest = 14,
    PoolMaxInFlight = 15,
    Weight = 16,
    LogErrors = 17,
    RecordBatched = 18,
    GpuTime = 19,
    MaxSubmissionTime = 20,
    MaxGpuShare = 21,
    MaxLoopIterations = 22,
    LogStats = 23,
}

/// The loop budget of a guest with `max-submission-time` and no `max-loop-iterations` is its
/// limit over this many nanoseconds (2 s: 31,250,000 iterations): a loop whose iteration takes
/// this long runs about as long as the limit. (A loop of two dependent storage loads and a
/// multiply-add takes 50 ns an iteration on an H200.)
pub const NS_PER_ITERATION: u64 = 64;

impl Config {
    /// Whether this configuration adds nothing to forwarding.
    pub fn is_pass_through(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the virt measures GPU time: asked for, or needed by a limit or the pool's
    /// fairness, here or for any guest of the pod.
    pub fn measures_gpu_time(&self) -> bool {
        self.gpu_time
            || self.max_submission_time.is_some()
            || self.max_gpu_share.is_some()
            || self.pool.max_in_flight.is_some()
            || self.guests.iter().any(|g| g.policy.measures_gpu_time())
    }

    /// Whether the virt needs the build that imports WASI: to record, to log errors, or for the
    /// clock that GPU time is measured with.
    pub fn needs_wasi(&self) -> bool {
        self.record.is_some() || self.log_errors || self.log_stats || self.measures_gpu_time()
    }

    /// The loop budget of this policy's shaders: `max-loop-iterations`, or with a time limit
    /// and none, the limit over [`NS_PER_ITERATION`]; `None` leaves shaders as they are.
    pub fn loop_budget(&self) -> Option<u32> {
        match (self.max_loop_iterations, self.max_submission_time) {
            (Some(n), _) => Some(n.get()),
            (None, Some(limit)) => Some(u32::try_from(limit.0 / NS_PER_ITERATION).unwrap_or(u32::MAX).max(1)),
            (None, None) => None,
        }
    }

    /// How many tenants the virt serves: one per guest of a pod, else one.
    pub fn tenants(&self) -> u32 {
        u32::try_from(self.guests.len()).unwrap_or(u32::MAX).max(1)
    }

    /// The policy of tenant `tenant`: its guest's in a pod, else this one.
    pub fn policy(&self, tenant: u32) -> &Config {
        self.guests.get(tenant as usize).map_or(self, |g| &g.policy)
    }

    /// The binary form: a version byte, then one `tag, length (LEB128), value` entry per
    /// setting that differs from its default. The default configuration is the empty encoding,
    /// so an unconfigured component and one configured with nothing are the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        if self.is_pass_through() {
            return Vec::new();
        }
        let mut out = Vec::from([VERSION]);
        let flag = |out: &mut Vec<u8>, tag: Tag, on: bool| {
            if on {
                out.extend([tag as u8, 0]);
            }
        };
        flag(&mut out, Tag::Noop, self.noop);
        flag(&mut out, Tag::CountCalls, self.count_calls);
        let number = |out: &mut Vec<u8>, tag: Tag, value: Option<u64>| {
            if let Some(v) = value {
                out.extend([tag as u8, 8]);
                out.extend(v.to_le_bytes());
            }
        };
        number(&mut out, Tag::MaxMemory, self.max_memory.map(|s| s.0));
        number(&mut out, Tag::MaxBufferSize, self.max_buffer_size.map(|s| s.0));
        number(&mut out, Tag::MaxTextureDimension, self.max_texture_dimension.map(u64::from));
        number(&mut out, Tag::MaxWriteSize, self.max_write_size.map(|s| s.0));
        number(&mut out, Tag::MaxInFlight, self.max_in_flight.map(|n| u64::from(n.get())));
        number(&mut out, Tag::PoolMaxMemory, self.pool.max_memory.map(|s| s.0));
        number(&mut out, Tag::PoolMaxInFlight, self.pool.max_in_flight.map(|n| u64::from(n.get())));
        number(&mut out, Tag::Weight, self.weight.map(|n| u64::from(n.get())));
        flag(&mut out, Tag::DevicePerGuest, self.pool.device_per_guest);
        for kind in 0..MaxObjects::KINDS.len() {
            if let Some(count) = self.max_objects.get(kind) {
                out.extend([Tag::MaxObjects as u8, 5, kind as u8]);
                out.extend(count.to_le_bytes());
            }
        }
        let text = |out: &mut Vec<u8>, tag: Tag, value: &str| {
            out.push(tag as u8);
            leb128_push(out, value.len());
            out.extend(value.as_bytes());
        };
        for name in &self.deny_features {
            text(&mut out, Tag::DenyFeature, name);
        }
        if let Some(path) = &self.record {
            text(&mut out, Tag::Record, path);
        }
        flag(&mut out, Tag::MaskAdapterInfo, self.mask_adapter_info);
        flag(&mut out, Tag::LogErrors, self.log_errors);
        flag(&mut out, Tag::LogStats, self.log_stats);
        flag(&mut out, Tag::RecordBatched, self.record_batched);
        flag(&mut out, Tag::GpuTime, self.gpu_time);
        number(&mut out, Tag::MaxSubmissionTime, self.max_submission_time.map(|d| d.0));
        number(&mut out, Tag::MaxGpuShare, self.max_gpu_share.map(|f| u64::from(f.0)));
        number(&mut out, Tag::MaxLoopIterations, self.max_loop_iterations.map(|n| u64::from(n.get())));
        // A guest: its name, then its policy's own encoding.
        for guest in &self.guests {
            let policy = guest.policy.encode();
            out.push(Tag::Guest as u8);
            leb128_push(&mut out, leb128_len(guest.name.len()) + guest.name.len() + policy.len());
            leb128_push(&mut out, guest.name.len());
            out.extend(guest.name.as_bytes());
            out.extend(policy);
        }
        out
    }

    /// Reads the binary form. An empty input is the default configuration.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut config = Self::default();
        let Some((&version, mut rest)) = bytes.split_first() else { return Ok(config) };
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        while let Some((&tag, after)) = rest.split_first() {
            let at = bytes.len() - rest.len();
            let (len, after) = leb128(after).ok_or(DecodeError::Truncated(at))?;
            let value = after.get(..len).ok_or(DecodeError::Truncated(at))?;
            rest = &after[len..];
            let malformed = DecodeError::Value { tag, at };
            let flag = |field: &mut bool| if value.is_empty() { *field = true; Ok(()) } else { Err(malformed.clone()) };
            let u64 = || value.try_into().map(u64::from_le_bytes).map_err(|_| malformed.clone());
            match tag {
                t if t == Tag::Noop as u8 => flag(&mut config.noop)?,
                t if t == Tag::CountCalls as u8 => flag(&mut config.count_calls)?,
                t if t == Tag::MaxMemory as u8 => config.max_memory = Some(Size(u64()?)),
                t if t == Tag::MaxBufferSize as u8 => config.max_buffer_size = Some(Size(u64()?)),
                t if t == Tag::MaxTextureDimension as u8 => {
                    config.max_texture_dimension = Some(u32::try_from(u64()?).map_err(|_| malformed.clone())?)
                }
                t if t == Tag::MaxWriteSize as u8 => config.max_write_size = Some(Size(u64()?)),
                t if t == Tag::MaxInFlight as u8 => {
                    let n = u32::try_from(u64()?).ok().and_then(NonZeroU32::new);
                    config.max_in_flight = Some(n.ok_or(malformed.clone())?)
                }
                t if t == Tag::MaxObjects as u8 => {
                    let (&kind, count) = value.split_first().ok_or(malformed.clone())?;
                    let count = count.try_into().map(u32::from_le_bytes).map_err(|_| malformed.clone())?;
                    *config.max_objects.slot(kind.into()).ok_or(malformed.clone())? = Some(count);
                }
                t if t == Tag::DenyFeature as u8 => {
                    let name = core::str::from_utf8(value).map_err(|_| malformed.clone())?;
                    config.deny_features.push(name.into());
                }
                t if t == Tag::Record as u8 => {
                    config.record = Some(core::str::from_utf8(value).map_err(|_| malformed.clone())?.into());
                }
                t if t == Tag::MaskAdapterInfo as u8 => flag(&mut config.mask_adapter_info)?,
                t if t == Tag::LogErrors as u8 => flag(&mut config.log_errors)?,
                t if t == Tag::LogStats as u8 => flag(&mut config.log_stats)?,
                t if t == Tag::RecordBatched as u8 => flag(&mut config.record_batched)?,
                t if t == Tag::GpuTime as u8 => flag(&mut config.gpu_time)?,
                t if t == Tag::MaxSubmissionTime as u8 => {
                    let ns = u64()?;
                    if ns == 0 {
                        return Err(malformed);
                    }
                    config.max_submission_time = Some(Duration(ns));
                }
                t if t == Tag::MaxGpuShare as u8 => {
                    let share = u32::try_from(u64()?).ok().filter(|m| (1..=Fraction::ONE).contains(m));
                    config.max_gpu_share = Some(Fraction(share.ok_or(malformed.clone())?));
                }
                t if t == Tag::MaxLoopIterations as u8 => {
                    let n = u32::try_from(u64()?).ok().and_then(NonZeroU32::new);
                    config.max_loop_iterations = Some(n.ok_or(malformed.clone())?)
                }
                t if t == Tag::PoolMaxMemory as u8 => config.pool.max_memory = Some(Size(u64()?)),
                t if t == Tag::DevicePerGuest as u8 => flag(&mut config.pool.device_per_guest)?,
                t if t == Tag::PoolMaxInFlight as u8 => {
                    let n = u32::try_from(u64()?).ok().and_then(NonZeroU32::new);
                    config.pool.max_in_flight = Some(n.ok_or(malformed.clone())?)
                }
                t if t == Tag::Weight as u8 => {
                    let n = u32::try_from(u64()?).ok().and_then(NonZeroU32::new);
                    config.weight = Some(n.ok_or(malformed.clone())?)
                }
                t if t == Tag::Guest as u8 => {
                    let (len, rest) = leb128(value).ok_or(malformed.clone())?;
                    let name = rest.get(..len).and_then(|n| core::str::from_utf8(n).ok()).ok_or(malformed.clone())?;
                    // A guest's policy is a configuration of its own: errors in it are at its offsets.
                    let policy = Config::decode(&rest[len..]).map_err(|_| malformed.clone())?;
                    if !policy.guests.is_empty() {
                        return Err(malformed);
                    }
                    config.guests.push(Guest { name: name.into(), policy });
                }
                _ => return Err(DecodeError::UnknownTag { tag, at }),
            }
        }
        Ok(config)
    }
}

/// Appends `value` as unsigned LEB128.
fn leb128_push(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The bytes of `value` as unsigned LEB128.
fn leb128_len(value: usize) -> usize {
    (usize::BITS - value.leading_zeros()).div_ceil(7).max(1) as usize
}

/// An unsigned LEB128 length (at most 32 bits) and what follows it.
fn leb128(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut value = 0u32;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value as usize, &bytes[i + 1..]));
        }
    }
    None
}

/// Why a configuration's binary form could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Written by another version of webgpu-virt.
    Version(u8),
    /// A setting this version does not know, at a byte offset.
    UnknownTag {
        /// The setting's tag.
        tag: u8,
        /// Where its entry starts.
        at: usize,
    },
    /// A setting's value is malformed.
    Value {
        /// The setting's tag.
        tag: u8,
        /// Where its entry starts.
        at: usize,
    },
    /// The entry at this byte offset runs past the end.
    Truncated(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(v) => write!(f, "configuration format {v} (this webgpu-virt reads format {VERSION})"),
            Self::UnknownTag { tag, at } => write!(f, "unknown setting {tag} at byte {at} (written by a newer webgpu-virt?)"),
            Self::Value { tag, at } => write!(f, "malformed value of setting {tag} at byte {at}"),
            Self::Truncated(at) => write!(f, "the setting at byte {at} is cut short"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// The slot in the component that holds the encoded configuration.
///
/// Layout: [`MAGIC`] (16 bytes), the encoded length (u32, little endian), then [`CAPACITY`]
/// bytes for the encoding. The component's slot is the only place its binary holds `MAGIC`.
pub mod slot {
    /// Marks the slot in the component's data.
    pub const MAGIC: [u8; 16] = *b"webgpu-virt:cfg1";
    /// Room for the encoded configuration.
    pub const CAPACITY: usize = 8192;
    /// The slot's whole size.
    pub const SIZE: usize = MAGIC.len() + 4 + CAPACITY;

    /// The slot's layout in the component's memory.
    #[repr(C)]
    pub struct Slot {
        /// [`MAGIC`].
        pub magic: [u8; 16],
        /// How many bytes of `bytes` hold the encoding.
        pub len: u32,
        /// The encoding, then zeros.
        pub bytes: [u8; CAPACITY],
    }

    /// An empty slot: the default configuration.
    pub const EMPTY: Slot = Slot { magic: MAGIC, len: 0, bytes: [0; CAPACITY] };

    /// Fills `slot` (the [`SIZE`] bytes starting at a [`MAGIC`]) with `encoded`.
    pub fn fill(slot: &mut [u8], encoded: &[u8]) -> Result<(), TooLarge> {
        assert_eq!(slot.len(), SIZE, "a slot is SIZE bytes");
        if encoded.len() > CAPACITY {
            return Err(TooLarge(encoded.len()));
        }
        slot[16..20].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
        let bytes = &mut slot[20..];
        bytes[..encoded.len()].copy_from_slice(encoded);
        bytes[encoded.len()..].fill(0);
        Ok(())
    }

    /// The encoding a slot holds, if its length is sane.
    pub fn contents(slot: &[u8]) -> Option<&[u8]> {
        let len = u32::from_le_bytes(slot.get(16..20)?.try_into().ok()?) as usize;
        slot.get(20..)?.get(..len)
    }

    /// The encoding is longer than the slot's capacity.
    #[derive(Debug)]
    pub struct TooLarge(pub usize);

    impl core::fmt::Display for TooLarge {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "the configuration takes {} bytes; the component has room for {CAPACITY}", self.0)
        }
    }

    impl core::error::Error for TooLarge {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_limit_gives_a_loop_budget_of_its_own_unless_one_is_set() {
        let limited = |ns| Config { max_submission_time: Some(Duration(ns)), ..Config::default() };
        assert_eq!(Config::default().loop_budget(), None);
        assert_eq!(limited(2_000_000_000).loop_budget(), Some(31_250_000));
        assert_eq!(limited(10).loop_budget(), Some(1));
        assert_eq!(limited(u64::MAX).loop_budget(), Some(u32::MAX));
        let set = Config { max_loop_iterations: NonZeroU32::new(7), ..limited(2_000_000_000) };
        assert_eq!(set.loop_budget(), Some(7));
    }

    #[test]
    fn round_trips() {
        for config in [
            Config::default(),
            Config { noop: true, ..Config::default() },
            Config { noop: true, count_calls: true, ..Config::default() },
            Config { deny_features: alloc::vec!["timestamp-query".into(), "x".repeat(300)], mask_adapter_info: true, log_errors: true, log_stats: true, ..Config::default() },
            Config {
                max_buffer_size: Some(Size(1 << 20)),
                max_texture_dimension: Some(4096),
                max_objects: MaxObjects { buffers: Some(10), query_sets: Some(0), bind_groups: Some(5), ..MaxObjects::default() },
                max_write_size: Some(Size(65536)),
                max_in_flight: NonZeroU32::new(2),
                record: Some("trace ✓.wgvt".into()),
                record_batched: true,
                ..Config::default()
            },
            Config { max_memory: Some(Size(0)), ..Config::default() },
            Config { gpu_time: true, max_submission_time: Some(Duration(2_000_000_000)), max_gpu_share: Some(Fraction(250_000)), max_loop_iterations: NonZeroU32::new(1000), ..Config::default() },
            Config { max_memory: Some(Size(u64::MAX)), count_calls: true, ..Config::default() },
            Config {
                count_calls: true,
                pool: Pool { max_memory: Some(Size(1 << 30)), max_in_flight: NonZeroU32::new(3), device_per_guest: true },
                guests: alloc::vec![
                    Guest { name: "a".into(), policy: Config { max_memory: Some(Size(1 << 20)), weight: NonZeroU32::new(3), ..Config::default() } },
                    Guest { name: "b".repeat(200), policy: Config::default() },
                ],
                ..Config::default()
            },
        ] {
            assert_eq!(Config::decode(&config.encode()), Ok(config));
        }
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(Config::decode(&[2]), Err(DecodeError::Version(2)));
        assert_eq!(Config::decode(&[1, 2, 0, 99, 0]), Err(DecodeError::UnknownTag { tag: 99, at: 3 }));
        assert_eq!(Config::decode(&[1, 2, 1, 7]), Err(DecodeError::Value { tag: 2, at: 1 }));
        assert_eq!(Config::decode(&[1, 2, 5]), Err(DecodeError::Truncated(1)));
        assert_eq!(Config::decode(&[1, 2, 0x80]), Err(DecodeError::Truncated(1)));
    }

    #[test]
    fn sizes() {
        for (text, bytes) in [("1500000", 1_500_000), ("256MiB", 256 << 20), ("1GiB", 1 << 30), ("1 gib", 1 << 30), ("64KiB", 65536), ("512B", 512), ("2TB", 2_000_000_000_000)] {
            assert_eq!(Size::parse(text), Ok(Size(bytes)), "{text}");
        }
        assert_eq!(Size::parse("1.5GB"), Err(SizeError::Unit));
        assert_eq!(Size::parse("MiB"), Err(SizeError::NotANumber));
        assert_eq!(Size::parse("12 parsecs"), Err(SizeError::Unit));
        assert_eq!(Size::parse("-1"), Err(SizeError::NotANumber));
        assert_eq!(Size::parse("20000000TiB"), Err(SizeError::TooLarge));
        assert_eq!(Config::decode(&[1, 3, 4, 0, 0, 0, 0]), Err(DecodeError::Value { tag: 3, at: 1 }));
    }

    #[test]
    fn durations() {
        for (text, ns) in [("2s", 2_000_000_000), ("500ms", 500_000_000), ("250us", 250_000), ("1m", 60_000_000_000), ("7 ns", 7)] {
            assert_eq!(Duration::parse(text), Ok(Duration(ns)), "{text}");
        }
        assert_eq!(Duration::parse("2"), Err(DurationError::NoUnit));
        assert_eq!(Duration::parse("1.5s"), Err(DurationError::Unit));
        assert_eq!(Duration::parse("0s"), Err(DurationError::Zero));
        assert_eq!(Duration::parse("s"), Err(DurationError::NotANumber));
        assert_eq!(Duration::parse("99999999999m"), Err(DurationError::TooLarge));
        for text in ["2s", "1500ms", "1m", "90s", "7ns"] {
            assert_eq!(alloc::format!("{}", Duration::parse(text).unwrap()), text);
        }
        // A limit of zero would lose every device at its first submission.
        assert_eq!(Config::decode(&[1, 20, 8, 0, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError::Value { tag: 20, at: 1 }));
    }

    #[test]
    fn fractions() {
        for (text, millionths) in [("0.25", 250_000), (".5", 500_000), ("1", 1_000_000), ("25%", 250_000), ("12.5%", 125_000), ("100%", 1_000_000), ("0.000001", 1)] {
            assert_eq!(Fraction::parse(text), Ok(Fraction(millionths)), "{text}");
        }
        assert_eq!(Fraction::parse("0"), Err(FractionError::Zero));
        assert_eq!(Fraction::parse("1.5"), Err(FractionError::TooLarge));
        assert_eq!(Fraction::parse("150%"), Err(FractionError::TooLarge));
        assert_eq!(Fraction::parse("half"), Err(FractionError::NotANumber));
        assert_eq!(Fraction::parse("-0.5"), Err(FractionError::NotANumber));
        for text in ["25%", "12.5%", "100%", "0.0001%"] {
            assert_eq!(alloc::format!("{}", Fraction::parse(text).unwrap()), text);
        }
        assert_eq!(Config::decode(&[1, 21, 8, 0, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError::Value { tag: 21, at: 1 }));
    }

    #[test]
    fn object_caps() {
        assert_eq!(MaxObjects::parse("buffers=1000, textures=256").unwrap(), MaxObjects { buffers: Some(1000), textures: Some(256), ..MaxObjects::default() });
        assert_eq!(MaxObjects::parse("bind-groups=7").unwrap().bind_groups, Some(7));
        assert_eq!(MaxObjects::parse("query-sets=0").unwrap().query_sets, Some(0));
        assert_eq!(MaxObjects::parse("pipelines=3").unwrap().pipelines, Some(3));
        assert_eq!(MaxObjects::parse("samplers=3").unwrap_err(), "`samplers` is not a kind of object with a cap (the kinds: buffers, textures, query-sets, shader-modules, command-encoders, bind-groups, pipelines)");
        assert_eq!(MaxObjects::parse("buffers").unwrap_err(), "`buffers` is not KIND=COUNT");
        assert_eq!(MaxObjects::parse("buffers=lots").unwrap_err(), "`lots` is not a count of objects");
        assert_eq!(Config::decode(&[1, 8, 5, 9, 0, 0, 0, 0]), Err(DecodeError::Value { tag: 8, at: 1 }));
        // No submission could ever run with a cap of 0 in flight.
        assert_eq!(Config::decode(&[1, 10, 8, 0, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError::Value { tag: 10, at: 1 }));
    }

    #[test]
    fn slots_hold_the_encoding() {
        let mut slot = alloc::vec![0xaa; slot::SIZE];
        slot[..16].copy_from_slice(&slot::MAGIC);
        let encoded = Config { count_calls: true, ..Config::default() }.encode();
        slot::fill(&mut slot, &encoded).unwrap();
        assert_eq!(slot::contents(&slot), Some(&encoded[..]));
        assert!(slot[20 + encoded.len()..].iter().all(|&b| b == 0));
        assert!(slot::fill(&mut slot, &[0; slot::CAPACITY + 1]).is_err());
    }
}
