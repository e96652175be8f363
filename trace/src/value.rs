//! How WIT values are encoded in records. The encoding is not self-describing: a reader walks
//! the WIT types of the function to decode it.
//!
//! | WIT type | encoding |
//! |---|---|
//! | `bool`, `u8` | one byte |
//! | `u16`, `u32`, `u64`, `char` | uleb |
//! | `s8` .. `s64` | zigzag, then uleb |
//! | `f32`, `f64` | IEEE 754 bits, little-endian (4 or 8 bytes) |
//! | `string` | uleb `n`; if `n` is even, `n / 2` bytes of UTF-8 follow; if odd, the string is blob number `(n - 1) / 2` (long strings, such as shader source) |
//! | `list<u8>` | uleb: the number of a blob |
//! | `list<T>` | uleb count, then each element |
//! | `option<T>` | 0, or 1 then the value |
//! | `result<T, E>` | 0 then `T`, or 1 then `E` (a missing type is nothing) |
//! | record, tuple | the fields in order |
//! | variant | uleb case index, then the case's payload if it has one |
//! | enum | uleb case index |
//! | flags | uleb of the bits (flag `i` is bit `i`) |
//! | `own<R>`, `borrow<R>` | uleb object id (0: none) |
//! | `future<T>`, `stream<T>` | uleb handle |

use alloc::vec::Vec;

/// Appends encoded values to a buffer.
#[derive(Default, Debug)]
pub struct Encoder {
    /// What was encoded so far.
    pub bytes: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unsigned LEB128 number.
    pub fn uleb(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.bytes.push(byte);
                return;
            }
            self.bytes.push(byte | 0x80);
        }
    }

    /// A signed number: zigzag, then LEB128.
    pub fn sleb(&mut self, value: i64) {
        self.uleb(((value << 1) ^ (value >> 63)) as u64);
    }

    /// One byte (`bool`, `u8`, option and result tags).
    pub fn byte(&mut self, value: u8) {
        self.bytes.push(value);
    }

    /// An `f32`.
    pub fn f32(&mut self, value: f32) {
        self.bytes.extend(value.to_bits().to_le_bytes());
    }

    /// An `f64`.
    pub fn f64(&mut self, value: f64) {
        self.bytes.extend(value.to_bits().to_le_bytes());
    }

    /// Bytes kept in the record itself: length, then the bytes (the header's strings).
    pub fn str(&mut self, value: &str) {
        self.uleb(value.len() as u64);
        self.bytes.extend_from_slice(value.as_bytes());
    }

    /// A WIT `string` kept in the record.
    pub fn string_inline(&mut self, value: &str) {
        self.uleb(value.len() as u64 * 2);
        self.bytes.extend_from_slice(value.as_bytes());
    }

    /// A WIT `string` kept in blob number `blob`.
    pub fn string_blob(&mut self, blob: u64) {
        self.uleb(blob * 2 + 1);
    }
}

/// A WIT `string` as a record holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringRef<'a> {
    /// In the record.
    Inline(&'a str),
    /// In a blob, by number.
    Blob(u64),
}

/// Why a value cannot be decoded, at which offset of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Where, from the start of the payload.
    pub at: usize,
    /// What was expected there.
    pub why: &'static str,
}

/// Reads encoded values from a payload.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Where the decoder is, from the start of the payload.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    fn error(&self, why: &'static str) -> DecodeError {
        DecodeError { at: self.at, why }
    }

    /// `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or(self.error("the data ends early"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned LEB128 number (at most 64 bits).
    pub fn uleb(&mut self) -> Result<u64, DecodeError> {
        let start = self.at;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                self.at = start;
                return Err(self.error("a number larger than 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.at = start;
        Err(self.error("a number larger than 64 bits"))
    }

    /// An unsigned number that must fit `T` (`u16`, `u32`, `usize`...).
    pub fn uleb_as<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        let start = self.at;
        let value = self.uleb()?;
        T::try_from(value).map_err(|_| DecodeError { at: start, why: "a number out of range for its type" })
    }

    /// A signed (zigzag) number.
    pub fn sleb(&mut self) -> Result<i64, DecodeError> {
        let v = self.uleb()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// An `f32`.
    pub fn f32(&mut self) -> Result<f32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(f32::from_bits(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])))
    }

    /// An `f64`.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let mut bits = [0u8; 8];
        bits.copy_from_slice(self.take(8)?);
        Ok(f64::from_bits(u64::from_le_bytes(bits)))
    }

    /// A WIT `string`: in the record, or a blob's number.
    pub fn string(&mut self) -> Result<StringRef<'a>, DecodeError> {
        let start = self.at;
        let n = self.uleb()?;
        if n % 2 == 1 {
            return Ok(StringRef::Blob(n / 2));
        }
        let len = usize::try_from(n / 2).map_err(|_| DecodeError { at: start, why: "a number out of range for its type" })?;
        let at = self.at;
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map(StringRef::Inline).map_err(|_| DecodeError { at, why: "a string that is not UTF-8" })
    }

    /// Length-prefixed UTF-8 (the header's strings).
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.uleb_as::<usize>()?;
        let start = self.at;
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError { at: start, why: "a string that is not UTF-8" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut e = Encoder::new();
        let numbers = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        let signed = [0, -1, 1, i64::MIN, i64::MAX, -300];
        for n in numbers {
            e.uleb(n);
        }
        for n in signed {
            e.sleb(n);
        }
        e.f32(-1.5);
        e.f64(f64::NAN);
        e.str("gpu ✓");
        e.byte(7);
        e.string_inline("inline");
        e.string_blob(5);
        let mut d = Decoder::new(&e.bytes);
        for n in numbers {
            assert_eq!(d.uleb(), Ok(n));
        }
        for n in signed {
            assert_eq!(d.sleb(), Ok(n));
        }
        assert_eq!(d.f32(), Ok(-1.5));
        assert!(d.f64().unwrap().is_nan());
        assert_eq!(d.str(), Ok("gpu ✓"));
        assert_eq!(d.byte(), Ok(7));
        assert_eq!(d.string(), Ok(StringRef::Inline("inline")));
        assert_eq!(d.string(), Ok(StringRef::Blob(5)));
        assert!(d.is_empty());
    }

    #[test]
    fn bad_values_say_where() {
        assert_eq!(Decoder::new(&[0x80, 0x80]).uleb(), Err(DecodeError { at: 2, why: "the data ends early" }));
        let eleven = [0xff; 11];
        assert_eq!(Decoder::new(&eleven).uleb(), Err(DecodeError { at: 0, why: "a number larger than 64 bits" }));
        assert_eq!(Decoder::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).uleb_as::<u32>(), Err(DecodeError { at: 0, why: "a number out of range for its type" }));
        assert_eq!(Decoder::new(&[2, 0xff, 0xfe]).str(), Err(DecodeError { at: 1, why: "a string that is not UTF-8" }));
        assert_eq!(Decoder::new(&[5, b'a']).str(), Err(DecodeError { at: 1, why: "the data ends early" }));
    }
}
