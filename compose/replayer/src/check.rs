//! Checking a replayed result against the recorded one: values compared where the calls decide
//! them, objects bound to their recorded ids, futures and streams kept for their `Resolve`
//! records.

use crate::table::{Objects, Resource};
use crate::{Checker, Stop, gpu};
use futures::future::LocalBoxFuture;
use hashbrown::HashMap;
use std::fmt::Display;
use webgpu_virt_trace::value::{Decoder, StringRef};

/// A future or stream of the replay (made in `crate::sources`).
pub trait Source {
    /// Its next value, as a check against the recorded one; `None` when it has no more.
    fn next(&mut self) -> LocalBoxFuture<'_, Option<Checker>>;
}

/// Where a divergence is in a result, and what differs.
#[derive(Debug)]
pub struct Mismatch {
    /// The path from the result to the value (`ok`, `some`, field names), outermost first.
    pub path: Vec<String>,
    pub expected: String,
    pub got: String,
}

/// What checking a result reads and changes.
pub struct Check<'r> {
    pub objects: &'r mut Objects,
    pub sources: &'r mut HashMap<u64, Box<dyn Source>>,
    pub blobs: &'r [&'r [u8]],
    /// Whether values are compared (else only objects are bound).
    pub verify: bool,
    /// Values compared, and bytes of data among them.
    pub compared: u64,
    pub data_bytes: u64,
}

impl<'r> Check<'r> {
    fn differ(&self, expected: impl Display, got: impl Display) -> Stop {
        Stop::Diverged(Mismatch { path: Vec::new(), expected: expected.to_string(), got: got.to_string() })
    }

    /// A value the calls decide: it must be what was recorded.
    pub fn same<T: PartialEq + Display>(&mut self, expected: T, got: T) -> Result<(), Stop> {
        if !self.verify {
            return Ok(());
        }
        self.compared += 1;
        if expected == got { Ok(()) } else { Err(self.differ(expected, got)) }
    }

    /// A float, by its bits (so that NaN is itself).
    pub fn same_float(&mut self, expected: f64, got: f64) -> Result<(), Stop> {
        if !self.verify || expected.to_bits() == got.to_bits() {
            self.compared += u64::from(self.verify);
            return Ok(());
        }
        Err(self.differ(expected, got))
    }

    /// Flags, by their bits.
    pub fn flags(&mut self, expected: u64, got: u64) -> Result<(), Stop> {
        if !self.verify {
            return Ok(());
        }
        self.compared += 1;
        if expected == got { Ok(()) } else { Err(self.differ(format_args!("{expected:#x}"), format_args!("{got:#x}"))) }
    }

    /// An enum's case (uleb), shown by name.
    pub fn name(&mut self, d: &mut Decoder<'_>, got: u64, names: &[&str]) -> Result<(), Stop> {
        let expected = d.uleb()?;
        if !self.verify {
            return Ok(());
        }
        self.compared += 1;
        let name = |i: u64| names.get(i as usize).copied().unwrap_or("?");
        if expected == got { Ok(()) } else { Err(self.differ(name(expected), name(got))) }
    }

    /// The shape of the value: a variant's case (uleb). What follows depends on it, so a
    /// different case ends the check even when values are not compared.
    pub fn case(&mut self, d: &mut Decoder<'_>, got: u64, names: &[&str]) -> Result<(), Stop> {
        let expected = d.uleb()?;
        self.shape(expected, got, names)
    }

    /// The shape of the value: an option's or result's tag (a byte).
    pub fn tag(&mut self, d: &mut Decoder<'_>, got: u64, names: &[&str]) -> Result<(), Stop> {
        let expected = u64::from(d.byte()?);
        self.shape(expected, got, names)
    }

    fn shape(&mut self, expected: u64, got: u64, names: &[&str]) -> Result<(), Stop> {
        self.compared += u64::from(self.verify);
        if expected == got {
            return Ok(());
        }
        if !self.verify {
            return Err(Stop::Unverified);
        }
        let name = |i: u64| names.get(i as usize).copied().unwrap_or("?");
        Err(self.differ(name(expected), name(got)))
    }

    /// A list's length: the shape too.
    pub fn count(&mut self, d: &mut Decoder<'_>, got: usize) -> Result<(), Stop> {
        let expected = d.uleb()?;
        self.compared += u64::from(self.verify);
        match (expected == got as u64, self.verify) {
            (true, _) => Ok(()),
            (false, false) => Err(Stop::Unverified),
            (false, true) => Err(self.differ(format_args!("{expected} elements"), format_args!("{got} elements"))),
        }
    }

    /// A string.
    pub fn string(&mut self, d: &mut Decoder<'_>, got: &str) -> Result<(), Stop> {
        let at = d.offset();
        let expected = match d.string()? {
            StringRef::Inline(s) => s,
            StringRef::Blob(n) => std::str::from_utf8(self.blob(n, at)?).map_err(|_| Stop::corrupt(at, "a string blob that is not UTF-8"))?,
        };
        if !self.verify {
            return Ok(());
        }
        self.compared += 1;
        if expected == got { Ok(()) } else { Err(self.differ(format_args!("{expected:?}"), format_args!("{got:?}"))) }
    }

    /// Bulk data (read back from the GPU): the first byte that differs is named.
    pub fn data(&mut self, d: &mut Decoder<'_>, got: &[u8]) -> Result<(), Stop> {
        let at = d.offset();
        let n = d.uleb()?;
        let expected = self.blob(n, at)?;
        if !self.verify {
            return Ok(());
        }
        self.compared += 1;
        self.data_bytes += got.len() as u64;
        if expected == got {
            return Ok(());
        }
        let (e, g) = (expected.len(), got.len());
        Err(match expected.iter().zip(got).position(|(a, b)| a != b) {
            Some(i) => self.differ(
                format_args!("{:#04x} at byte {i} of {e}", expected[i]),
                format_args!("{:#04x} (the first byte that differs)", got[i]),
            ),
            None => self.differ(format_args!("{e} bytes"), format_args!("{g} bytes (the first {} agree)", e.min(g))),
        })
    }

    fn blob(&self, n: u64, at: usize) -> Result<&'r [u8], Stop> {
        crate::table::blob(self.blobs, n, at)
    }

    /// An object the call made: from now on, the recorded id names it.
    pub fn bind<T: Resource>(&mut self, d: &mut Decoder<'_>, got: T) -> Result<(), Stop> {
        let id = d.uleb()?;
        self.objects.insert(id, T::share(std::rc::Rc::new(got)));
        Ok(())
    }

    /// A future or stream the call returned, kept for the values the trace says it produced.
    pub fn source(&mut self, d: &mut Decoder<'_>, got: Box<dyn Source>) -> Result<(), Stop> {
        let handle = d.uleb()?;
        self.sources.insert(handle, got);
        Ok(())
    }

    /// Checks a record's field, naming it in a divergence.
    pub fn within(&mut self, field: &str, d: &mut Decoder<'_>, f: impl FnOnce(&mut Self, &mut Decoder<'_>) -> Result<(), Stop>) -> Result<(), Stop> {
        f(self, d).map_err(|e| e.within(field))
    }

    /// Checks a list's element `i`, naming it in a divergence.
    pub fn element(&mut self, i: usize, d: &mut Decoder<'_>, f: impl FnOnce(&mut Self, &mut Decoder<'_>) -> Result<(), Stop>) -> Result<(), Stop> {
        f(self, d).map_err(|e| e.within(&format!("[{i}]")))
    }

    /// Checks a value that depends on the host, binding its objects but comparing nothing.
    pub fn unverified(&mut self, d: &mut Decoder<'_>, f: impl FnOnce(&mut Self, &mut Decoder<'_>) -> Result<(), Stop>) -> Result<(), Stop> {
        let verify = std::mem::replace(&mut self.verify, false);
        let r = f(self, d);
        self.verify = verify;
        match r {
            Err(Stop::Unverified) => Ok(()),
            r => r,
        }
    }
}

/// `gpu-error`, recorded as its kind's case and its message: the kind must agree.
pub fn gpu_error(k: &mut Check<'_>, d: &mut Decoder<'_>, got: gpu::GpuError) -> Result<(), Stop> {
    let kind = match got.kind() {
        gpu::GpuErrorKind::ValidationError => 0,
        gpu::GpuErrorKind::OutOfMemoryError => 1,
        gpu::GpuErrorKind::InternalError => 2,
    };
    k.within("kind", d, |k, d| k.case(d, kind, &["validation-error", "out-of-memory-error", "internal-error"]))?;
    let message = got.message();
    k.unverified(d, |k, d| k.string(d, &message))
}

/// `gpu-device-lost-info`, recorded as its reason and its message: the reason must agree.
pub fn gpu_device_lost_info(k: &mut Check<'_>, d: &mut Decoder<'_>, got: gpu::GpuDeviceLostInfo) -> Result<(), Stop> {
    let reason = got.reason() as u64;
    k.within("reason", d, |k, d| k.name(d, reason, &["unknown", "destroyed"]))?;
    let message = got.message();
    k.unverified(d, |k, d| k.string(d, &message))
}

/// Runs `checker` on a recorded value; values that depend on the host may make a check stop
/// early, which is not a divergence.
pub fn run(checker: Checker, k: &mut Check<'_>, value: &[u8]) -> Result<(), Stop> {
    let mut d = Decoder::new(value);
    match checker(k, &mut d) {
        Err(Stop::Unverified) => Ok(()),
        Err(e) => Err(e),
        Ok(()) if k.verify && !d.is_empty() => Err(Stop::corrupt(d.offset(), "bytes after the recorded value")),
        Ok(()) => Ok(()),
    }
}
