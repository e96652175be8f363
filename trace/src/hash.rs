//! The content hash that identifies a blob: 128 bits. It tells different data apart for
//! deduplication and for comparing traces; nothing relies on it being cryptographic.
//!
//! From format version 3 it is XXH3-128 ([`hash128`]: the published definition, default secret,
//! seed 0), computed by `xxhash-rust`. Versions 1 and 2 used [`legacy128`], this project's own.

/// The blob hash of format version 3 and later: XXH3-128 of `data`, as the little-endian bytes of
/// its 128-bit value.
pub fn hash128(data: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(data).to_le_bytes()
}

/// The blob hash of `version`'s traces.
pub fn for_version(version: u16) -> fn(&[u8]) -> [u8; 16] {
    if version >= 3 { hash128 } else { legacy128 }
}

// The hash of format versions 1 and 2 (16 bytes a step, two 64-bit lanes, each step a
// 64x64->128-bit multiply folded back to 64 bits), kept to read their traces.
//
// Its definition: with `mul(a, b)` the 128-bit product of two u64 folded as `low ^ high`,
// start with `a = K0 ^ len`, `b = K1`; for each 16-byte chunk (the last one padded with zeros),
// read two little-endian u64 `x` and `y`, then `a = mul(a ^ x, K2)`, `b = mul(b ^ y, K3)`,
// `a ^= b.rotate_left(23)`; finally `a = mul(a ^ len, K3)`, `b = mul(b ^ a, K2)`. The hash is
// `a` then `b`, little-endian.

/// The constants of the hash.
const K: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f];

fn mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// The blob hash of format versions 1 and 2.
pub fn legacy128(data: &[u8]) -> [u8; 16] {
    let len = data.len() as u64;
    let (mut a, mut b) = (K[0] ^ len, K[1]);
    let mut chunks = data.chunks_exact(16);
    let mut step = |x: u64, y: u64| {
        a = mul(a ^ x, K[2]);
        b = mul(b ^ y, K[3]);
        a ^= b.rotate_left(23);
    };
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
    for chunk in &mut chunks {
        step(word(&chunk[..8]), word(&chunk[8..]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 16];
        last[..rest.len()].copy_from_slice(rest);
        step(word(&last[..8]), word(&last[8..]));
    }
    a = mul(a ^ len, K[3]);
    b = mul(b ^ a, K[2]);
    let mut out = [0; 16];
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&b.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::{hash128, legacy128};

    #[test]
    fn xxh3_128_as_published() {
        // XXH3-128 of the empty input and of one zero byte, seed 0, from the reference
        // implementation's test vectors.
        assert_eq!(u128::from_le_bytes(hash128(b"")), 0x99aa_06d3_0147_98d8_6001_c324_468d_497f);
        assert_ne!(hash128(b"\0"), hash128(b""));
    }

    #[test]
    fn tells_data_apart() {
        // Padding is not data: a trailing zero, the length and each position count.
        let samples: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"a", b"abcdefghijklmnop", b"abcdefghijklmnop\0", b"bacdefghijklmnop"];
        for hash in [hash128, legacy128] {
            for (i, x) in samples.iter().enumerate() {
                for y in &samples[i + 1..] {
                    assert_ne!(hash(x), hash(y), "{x:?} vs {y:?}");
                }
            }
            assert_eq!(hash(b"the same"), hash(b"the same"));
        }
    }
}
