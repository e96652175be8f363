//! Baking a configuration into the virt component, and reading configurations.
//!
//! The component holds a slot for its configuration (see [`webgpu_virt_config::slot`]) in one of
//! its core module's data segments. Configuring overwrites the slot's bytes in place, in a copy
//! of the component: the sizes of every section stay the same, so nothing else in the binary
//! changes.

use std::ops::Range;
use std::path::{Path, PathBuf};
use webgpu_virt_config::{Config, DecodeError, slot};

/// Why a virt could not be configured or its configuration read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    /// The bytes are not a component.
    #[error("the virt is not a WebAssembly component")]
    NotComponent,
    /// The component could not be parsed.
    #[error("the virt is not a valid component: {0}")]
    Invalid(#[from] wasmparser::BinaryReaderError),
    /// The component has no configuration slot (it is not a webgpu-virt virt).
    #[error("the component has no configuration slot: it is not a webgpu-virt virt")]
    NoSlot,
    /// More than one slot: the component holds several virts (it is a composition).
    #[error("the component has {0} configuration slots: configure the virt itself, not a composition")]
    ManySlots(usize),
    /// The slot's contents cannot be read by this version.
    #[error("the virt's baked configuration is unreadable: {0}")]
    Unreadable(DecodeError),
    /// The configuration does not fit in the slot.
    #[error(transparent)]
    TooLarge(#[from] slot::TooLarge),
    /// A trace asked of a virt built without recording.
    #[error("this virt cannot record (it does not import wasi:filesystem): use the built-in virt, which `configure --record` picks")]
    CannotRecord,
    /// A feature to deny that wasi:webgpu does not have.
    #[error("`{0}` is not a feature of wasi:webgpu (its features: {features})", features = crate::FEATURES.join(", "))]
    UnknownFeature(String),
}

/// Where the slots are in `component`: the byte ranges of every [`slot::SIZE`] bytes starting
/// with [`slot::MAGIC`] in a data segment of one of its core modules.
fn slots(component: &[u8]) -> Result<Vec<Range<usize>>, ConfigureError> {
    if !wasmparser::Parser::is_component(component) {
        return Err(ConfigureError::NotComponent);
    }
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let wasmparser::Payload::DataSection(reader) = payload? else { continue };
        for data in reader {
            let data = data?.data;
            // `data` borrows from `component`: its offset there is the pointers' difference.
            let start = data.as_ptr() as usize - component.as_ptr() as usize;
            let mut at = 0;
            while let Some(i) = data[at..].windows(slot::MAGIC.len()).position(|w| w == slot::MAGIC) {
                let offset = at + i;
                if data.len() - offset >= slot::SIZE {
                    found.push(start + offset..start + offset + slot::SIZE);
                }
                at = offset + 1;
            }
        }
    }
    Ok(found)
}

/// The one slot of a virt.
fn the_slot(component: &[u8]) -> Result<Range<usize>, ConfigureError> {
    let mut slots = slots(component)?;
    match slots.len() {
        0 => Err(ConfigureError::NoSlot),
        1 => Ok(slots.remove(0)),
        n => Err(ConfigureError::ManySlots(n)),
    }
}

/// A copy of `virt` with `config` baked in (replacing what it held).
pub fn configure(virt: &[u8], config: &Config) -> Result<Vec<u8>, ConfigureError> {
    if let Some(unknown) = config.deny_features.iter().find(|f| !crate::FEATURES.contains(&f.as_str())) {
        return Err(ConfigureError::UnknownFeature(unknown.clone()));
    }
    if config.record.is_some() && !crate::imports(virt).map_err(|_| ConfigureError::NotComponent)?.iter().any(|i| i.starts_with("wasi:filesystem/")) {
        return Err(ConfigureError::CannotRecord);
    }
    let range = the_slot(virt)?;
    let mut out = virt.to_vec();
    slot::fill(&mut out[range], &config.encode())?;
    debug_assert_eq!(configuration(&out).ok().as_ref(), Some(config));
    Ok(out)
}

/// The configuration baked into `virt`.
pub fn configuration(virt: &[u8]) -> Result<Config, ConfigureError> {
    let range = the_slot(virt)?;
    let encoded = slot::contents(&virt[range]).ok_or(ConfigureError::Unreadable(DecodeError::Truncated(0)))?;
    Config::decode(encoded).map_err(ConfigureError::Unreadable)
}

/// A configuration file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration: where and why, on one line.
    #[error("{path}:{line}:{column}: {message} (at `{text}`)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The offending line.
        text: String,
        /// What is wrong, as the TOML reader says it.
        message: String,
    },
}

/// Reads a configuration file (TOML; its keys are the names of `configure`'s flags).
pub fn read_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    parse_config(&text).map_err(|(at, message)| {
        let before = &text[..at.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        let text = text.lines().nth(line - 1).unwrap_or("").trim().to_string();
        ConfigError::Invalid { path: path.into(), line, column, text, message }
    })
}

/// Parses TOML into a configuration; on error, the byte offset and the message.
fn parse_config(text: &str) -> Result<Config, (usize, String)> {
    toml::from_str(text).map_err(|e: toml::de::Error| (e.span().map_or(0, |s| s.start), e.message().trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_virt_has_one_empty_slot() {
        assert_eq!(slots(crate::VIRT).unwrap().len(), 1);
        assert_eq!(configuration(crate::VIRT).unwrap(), Config::default());
    }

    #[test]
    fn configuring_changes_only_the_slot() {
        let config = Config {
            count_calls: true,
            noop: true,
            max_memory: Some(crate::Size(1 << 20)),
            max_objects: crate::MaxObjects { textures: Some(3), ..Default::default() },
            deny_features: vec!["subgroups".into()],
            mask_adapter_info: true,
            ..Config::default()
        };
        let virt = configure(crate::VIRT, &config).unwrap();
        assert_eq!(virt.len(), crate::VIRT.len());
        assert_eq!(configuration(&virt).unwrap(), config);
        let range = the_slot(&virt).unwrap();
        assert_eq!(virt[..range.start], crate::VIRT[..range.start]);
        assert_eq!(virt[range.end..], crate::VIRT[range.end..]);
        // Configuring again replaces what was baked.
        let again = configure(&virt, &Config::default()).unwrap();
        assert_eq!(again, crate::VIRT);
    }

    #[test]
    fn compositions_and_strangers_are_refused() {
        let two = crate::wac_plug(crate::VIRT, crate::VIRT).unwrap();
        assert_eq!(configure(&two, &Config::default()).unwrap_err().to_string(), "the component has 2 configuration slots: configure the virt itself, not a composition");
        assert!(matches!(configure(b"\0asm\x01\0\0\0", &Config::default()), Err(ConfigureError::NotComponent)));
    }

    #[test]
    fn config_errors_name_the_place_and_the_reason() {
        assert_eq!(parse_config("count-calls = true\n").unwrap(), Config { count_calls: true, ..Config::default() });
        assert_eq!(parse_config("").unwrap(), Config::default());
        let (at, message) = parse_config("noop = true\ncount-cals = true\n").unwrap_err();
        assert_eq!(at, 12);
        assert_eq!(message, "unknown field `count-cals`, expected one of `noop`, `count-calls`, `max-memory`, `max-buffer-size`, `max-texture-dimension`, `max-objects`, `max-write-size`, `max-in-flight`, `record`, `record-batched`, `weight`, `deny-features`, `mask-adapter-info`, `log-errors`, `log-stats`, `gpu-time`, `max-submission-time`, `max-gpu-share`, `max-loop-iterations`, `pool`, `guests`");
        let (at, message) = parse_config("count-calls = 3").unwrap_err();
        assert_eq!((at, message.as_str()), (14, "invalid type: integer `3`, expected a boolean"));
        let (_, message) = parse_config("max-in-flight = 0").unwrap_err();
        assert_eq!(message, "invalid value: integer `0`, expected a nonzero u32");
    }
}
