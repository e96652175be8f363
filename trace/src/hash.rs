//! The content hash that identifies a blob: 128 bits, fast on Wasm (16 bytes a step, two
//! 64-bit lanes, each step a 64x64->128-bit multiply folded back to 64 bits). It tells
//! different data apart for deduplication and for comparing traces; it is not a cryptographic
//! hash, and nothing relies on it being one.
//!
//! The definition, so that another reader can compute it: with `mul(a, b)` the 128-bit product
//! of two u64 folded as `low ^ high`, start with `a = K0 ^ len`, `b = K1`; for each 16-byte
//! chunk (the last one padded with zeros), read two little-endian u64 `x` and `y`, then
//! `a = mul(a ^ x, K2)`, `b = mul(b ^ y, K3)`, `a ^= b.rotate_left(23)`; finally
//! `a = mul(a ^ len, K3)`, `b = mul(b ^ a, K2)`. The hash is `a` then `b`, little-endian.

/// The constants of the hash.
const K: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f];

fn mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// The 128-bit content hash of `data`.
pub fn hash128(data: &[u8]) -> [u8; 16] {
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
    use super::hash128;

    #[test]
    fn tells_data_apart() {
        // Padding is not data: a trailing zero, the length and each position count.
        let samples: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"a", b"abcdefghijklmnop", b"abcdefghijklmnop\0", b"bacdefghijklmnop"];
        for (i, x) in samples.iter().enumerate() {
            for y in &samples[i + 1..] {
                assert_ne!(hash128(x), hash128(y), "{x:?} vs {y:?}");
            }
        }
        assert_eq!(hash128(b"the same"), hash128(b"the same"));
    }
}
