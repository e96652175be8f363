//! The reader against whole, cut and damaged traces.

use webgpu_virt_trace::{BlobIds, Header, MAGIC, Reader, Record, TraceError, header, push};

fn sample() -> (Vec<u8>, Vec<Record<'static>>) {
    let head = Header { package: "wasi:webgpu/webgpu@0.3.0-rc.2".into(), wit_hash: [7; 32] };
    let mut bytes = header(&head);
    let mut blobs = BlobIds::default();
    let data: &'static [u8] = b"sixteen bytes!!!and more";
    assert_eq!(blobs.id(data, &mut bytes), 0);
    assert_eq!(blobs.id(b"other", &mut bytes), 1);
    assert_eq!(blobs.id(data, &mut bytes), 0, "data seen before is not written again");
    assert_eq!(blobs.len(), 2);
    let records = vec![
        Record::Guest { name: "a" },
        Record::Guest { name: "bé" },
        Record::Call { function: 3, args: &[1, 2, 3] },
        Record::Tenant { guest: 1 },
        Record::Return { call: 0, value: &[9] },
        Record::Call { function: 200, args: &[] },
        Record::Resolve { handle: 5, value: &[0, 1] },
        Record::Drop { object: 300 },
    ];
    for r in &records {
        push(&mut bytes, r);
    }
    let mut expected = vec![
        Record::Blob { hash: webgpu_virt_trace::hash::hash128(data), data },
        Record::Blob { hash: webgpu_virt_trace::hash::hash128(b"other"), data: b"other" },
    ];
    expected.extend(records);
    (bytes, expected)
}

fn read_all(bytes: &[u8]) -> Result<Vec<Record<'_>>, TraceError> {
    Reader::new(bytes)?.records().map(|r| r.map(|(_, r)| r)).collect()
}

#[test]
fn records_read_back_as_written() {
    let (bytes, expected) = sample();
    let reader = Reader::new(&bytes).unwrap();
    assert_eq!(reader.header.package, "wasi:webgpu/webgpu@0.3.0-rc.2");
    assert_eq!(reader.header.wit_hash, [7; 32]);
    assert_eq!(read_all(&bytes).unwrap(), expected);
}

#[test]
fn a_cut_trace_reads_up_to_the_cut_and_says_where() {
    let (bytes, expected) = sample();
    let starts: Vec<u64> = Reader::new(&bytes).unwrap().records().map(|r| r.unwrap().0).collect();
    let header_len = starts[0] as usize;
    for cut in 0..bytes.len() {
        let prefix = &bytes[..cut];
        if cut < header_len {
            assert!(matches!(Reader::new(prefix), Err(TraceError::Truncated { offset: 0 })), "cut at {cut}");
            continue;
        }
        let whole = starts.iter().filter(|s| (**s as usize) < cut).count();
        let read: Vec<_> = Reader::new(prefix).unwrap().records().collect();
        let (good, bad): (Vec<_>, Vec<_>) = read.into_iter().partition(Result::is_ok);
        let last_start = starts.iter().rev().find(|s| **s as usize <= cut).copied().unwrap();
        if starts.contains(&(cut as u64)) {
            // Cut between records: every record before is whole, nothing is wrong.
            assert!(bad.is_empty(), "cut at {cut}");
            assert_eq!(good.len(), whole);
        } else {
            assert_eq!(good.len(), whole - 1, "cut at {cut}");
            assert_eq!(bad, [Err(TraceError::Truncated { offset: last_start })], "cut at {cut}");
        }
        let good: Vec<_> = good.into_iter().map(|r| r.unwrap().1).collect();
        assert_eq!(good, expected[..good.len()]);
    }
}

#[test]
fn damage_is_named_with_its_offset() {
    let (bytes, _) = sample();
    let first = Reader::new(&bytes).unwrap().records().next().unwrap().unwrap().0 as usize;
    assert_eq!(Reader::new(b"not a trace at all").unwrap_err(), TraceError::BadMagic);
    assert_eq!(Reader::new(b"WGV").unwrap_err(), TraceError::Truncated { offset: 0 });
    assert_eq!(Reader::new(b"XGV").unwrap_err(), TraceError::BadMagic);
    let mut v9 = bytes.clone();
    v9[8] = 9;
    assert_eq!(Reader::new(&v9).unwrap_err(), TraceError::UnsupportedVersion(9));
    let mut flagged = bytes.clone();
    flagged[10] = 2;
    assert_eq!(Reader::new(&flagged).unwrap_err(), TraceError::UnknownFlags(2));
    let mut kind = bytes.clone();
    kind[first] = 99;
    assert_eq!(read_all(&kind).unwrap_err(), TraceError::Corrupt { offset: first as u64, why: "an unknown kind of record" });
    // A flipped byte inside the first blob's data.
    let mut blob = bytes.clone();
    blob[first + 2 + 16] ^= 1;
    assert_eq!(read_all(&blob).unwrap_err(), TraceError::Corrupt { offset: first as u64 + 2, why: "a blob whose data does not match its hash" });
    assert!(TraceError::Truncated { offset: 42 }.to_string().contains("byte 42"));
    assert_eq!(&bytes[..8], &MAGIC);
}

/// A small deterministic generator (xorshift) for the fuzzing below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The reader on damaged traces: flipped, inserted, removed and random bytes. It must never
/// panic or loop, and every record it yields before an error is one that was written.
#[test]
fn fuzzed_traces_never_panic() {
    let (bytes, expected) = sample();
    let rounds: u64 = std::env::var("TRACE_FUZZ_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..rounds {
        let mut damaged = bytes.clone();
        for _ in 0..=rng.next() % 4 {
            let at = (rng.next() as usize) % damaged.len();
            match rng.next() % 4 {
                0 => damaged[at] ^= 1 << (rng.next() % 8),
                1 => damaged.insert(at, rng.next() as u8),
                2 => {
                    damaged.remove(at);
                }
                _ => damaged[at] = rng.next() as u8,
            }
        }
        let Ok(reader) = Reader::new(&damaged) else { continue };
        let mut count = 0;
        for record in reader.records() {
            let Ok((_, record)) = record else { break };
            count += 1;
            assert!(count <= damaged.len(), "more records than bytes");
            // Framing can survive damage to a payload: what it yields is still a well-formed
            // record of a known kind (and a blob still matches its hash).
            if let Record::Blob { hash, data } = record {
                assert_eq!(hash, webgpu_virt_trace::hash::hash128(data));
            }
        }
    }
    assert_eq!(read_all(&bytes).unwrap(), expected);
}

/// A stand-in for DEFLATE (the crate takes the codec from its caller): reversing the bytes.
fn reverse(data: &[u8]) -> Vec<u8> {
    data.iter().rev().copied().collect()
}

#[test]
fn compressed_records_read_back_through_inflated() {
    use webgpu_virt_trace::{deflated, inflated};
    let (bytes, expected) = sample();
    let packed = deflated(&bytes, reverse).unwrap();
    assert_eq!(packed[10], 1, "the flag is set");
    assert_eq!(Reader::new(&packed).unwrap_err(), TraceError::Compressed);
    let unpacked = inflated(&packed, |d| Ok(reverse(d))).unwrap();
    assert_eq!(&*unpacked, &bytes[..]);
    assert_eq!(read_all(&unpacked).unwrap(), expected);
    // An uncompressed trace is read as it is; compressing twice changes nothing.
    assert!(matches!(inflated(&bytes, |_| unreachable!()).unwrap(), std::borrow::Cow::Borrowed(_)));
    assert_eq!(deflated(&packed, |_| unreachable!()).unwrap(), packed);
    let header = Reader::new(&bytes).unwrap().records().next().unwrap().unwrap().0;
    assert_eq!(inflated(&packed, |_| Err("bad stream")).unwrap_err(), TraceError::Corrupt { offset: header, why: "bad stream" });
}

#[test]
fn older_versions_still_read_with_their_hash() {
    // A version 2 trace names its blobs by the hash of its time.
    let head = Header { package: "wasi:webgpu/webgpu@0.3.0-rc.2".into(), wit_hash: [7; 32] };
    let mut bytes = header(&head);
    let data: &[u8] = b"data of an older trace";
    push(&mut bytes, &Record::Blob { hash: webgpu_virt_trace::hash::legacy128(data), data });
    push(&mut bytes, &Record::Call { function: 1, args: &[0] });
    for version in [1u16, 2] {
        bytes[8..10].copy_from_slice(&version.to_le_bytes());
        let reader = Reader::new(&bytes).unwrap();
        assert_eq!(reader.version, version);
        assert_eq!(read_all(&bytes).unwrap().len(), 2, "version {version}");
    }
    // Read as version 3, the same blob fails its check.
    bytes[8..10].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(read_all(&bytes), Err(TraceError::Corrupt { why: "a blob whose data does not match its hash", .. })));
    bytes[8..10].copy_from_slice(&5u16.to_le_bytes());
    assert_eq!(Reader::new(&bytes).unwrap_err(), TraceError::UnsupportedVersion(5));
    assert_eq!(TraceError::UnsupportedVersion(5).to_string(), "trace format version 5 is not supported (this reader reads versions 1 to 4)");
}

#[test]
fn gpu_time_is_read_from_version_4_and_never_ends_a_run() {
    let (mut bytes, mut expected) = sample();
    push(&mut bytes, &Record::End { calls: 2 });
    push(&mut bytes, &Record::GpuTime { call: 1, ns: 123_456 });
    expected.extend([Record::End { calls: 2 }, Record::GpuTime { call: 1, ns: 123_456 }]);
    assert_eq!(read_all(&bytes).unwrap(), expected);
    // Work the last calls left on the GPU may be timed after the end: the run still finished.
    let mut end = webgpu_virt_trace::EndWatch::default();
    for (offset, record) in Reader::new(&bytes).unwrap().records().map(Result::unwrap) {
        end.see(offset, &record).unwrap();
    }
    assert_eq!(end.ending(4), webgpu_virt_trace::Ending::Finished { calls: 2 });
    // No GPU time in a trace of version 3; nothing after its two numbers.
    let mut old = header(&Header { package: "p".into(), wit_hash: [0; 32] });
    push(&mut old, &Record::GpuTime { call: 0, ns: 1 });
    old[8..10].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(read_all(&old), Err(TraceError::Corrupt { why: "a GPU time record in a trace of a version before 4", .. })));
    let mut long = header(&Header { package: "p".into(), wit_hash: [0; 32] });
    long.extend([9, 3, 0, 1, 7]);
    assert!(matches!(read_all(&long), Err(TraceError::Corrupt { why: "bytes after the end of a GPU time record", .. })));
}

#[test]
fn a_finished_run_ends_with_its_count_and_a_gap_ends_a_trace() {
    let (mut bytes, mut expected) = sample();
    push(&mut bytes, &Record::End { calls: 2 });
    expected.push(Record::End { calls: 2 });
    assert_eq!(read_all(&bytes).unwrap(), expected);
    // An end record is no record of version 2.
    let mut old = header(&Header { package: "p".into(), wit_hash: [0; 32] });
    push(&mut old, &Record::End { calls: 0 });
    old[8..10].copy_from_slice(&2u16.to_le_bytes());
    assert!(matches!(read_all(&old), Err(TraceError::Corrupt { why: "an end record in a trace of a version before 3", .. })));
    // A write that never reached the file leaves zeros, and records may follow them: the trace
    // ends at the gap, whole before it.
    let (mut gapped, expected) = sample();
    let gap = gapped.len();
    gapped.extend([0; 7]);
    push(&mut gapped, &Record::Drop { object: 1 });
    let read: Vec<_> = Reader::new(&gapped).unwrap().records().collect();
    assert_eq!(read.len(), expected.len() + 1);
    assert_eq!(read.last().unwrap().clone().unwrap_err(), TraceError::Truncated { offset: gap as u64 });
}
