use anyhow::Context as _;
use std::path::PathBuf;
use webgpu_virt::trace::{Catalog, Choice, Decoded, Ending, compress, decode, diff, slice};

/// Read a trace that a recording virt wrote (`configure --record`).
#[derive(clap::Subcommand)]
pub enum Trace {
    /// Print one call per line, with its arguments and result.
    Dump {
        /// The trace.
        trace: PathBuf,
    },
    /// Print what the trace holds: calls by function, data, objects, size, memory over time (per
    /// guest, for a pod's trace).
    Stats {
        /// The trace.
        trace: PathBuf,
        /// Also draw the GPU memory held over time (per guest, for a pod) as an SVG chart, and
        /// under it the GPU time, when the trace records it.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
    },
    /// Compress a trace's records (DEFLATE): every trace tool reads it as it read the original.
    Compress {
        /// The trace.
        trace: PathBuf,
        /// Where to write the compressed trace.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Cut a trace down to chosen calls and every earlier call they depend on: a trace that
    /// every tool reads and `replay` verifies.
    #[command(group = clap::ArgGroup::new("choice").required(true))]
    Slice {
        /// The trace.
        trace: PathBuf,
        /// The call to keep, by number (as `trace dump` numbers them).
        #[arg(long, group = "choice", value_name = "N")]
        call: Option<u64>,
        /// The calls to keep: `A..B` (B left out) or `A..=B`.
        #[arg(long, group = "choice", value_name = "A..B", value_parser = parse_calls)]
        calls: Option<(u64, u64)>,
        /// The first call whose error was reported: in an error scope, to an uncaptured-error
        /// listener, or as an error result.
        #[arg(long, group = "choice")]
        first_error: bool,
        /// In a pod's trace, slice within this guest's calls.
        #[arg(long, value_name = "NAME")]
        guest: Option<String>,
        /// Where to write the slice.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Compare two traces call by call: the first difference and how many calls differ (exit
    /// status 1 when they differ).
    Diff {
        /// One trace.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
}

/// `A..B` (B left out) or `A..=B`, as call numbers: the first and last call.
fn parse_calls(text: &str) -> Result<(u64, u64), String> {
    let (a, b, inclusive) = match (text.split_once("..="), text.split_once("..")) {
        (Some((a, b)), _) => (a, b, true),
        (None, Some((a, b))) => (a, b, false),
        _ => return Err(format!("`{text}` is not a range of calls: write A..B or A..=B")),
    };
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("`{s}` in `{text}` is not a call number: {e}"));
    let (a, b) = (number(a)?, number(b)?);
    match inclusive {
        true => Ok((a, b)),
        false if b > a => Ok((a, b - 1)),
        false => Err(format!("`{text}` holds no call")),
    }
}

fn read(path: &PathBuf) -> anyhow::Result<Decoded> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    decode(&Catalog::built_in(), &bytes).with_context(|| format!("reading the trace {}", path.display()))
}

/// At most 16 points of memory over time (calls made: bytes held).
fn over_time(m: &webgpu_virt::trace::Memory) -> String {
    let points: Vec<String> = m.over_time(16).iter().map(|(calls, bytes)| format!("{calls}: {bytes}")).collect();
    if points.is_empty() { "none".into() } else { points.join(", ") }
}

/// Nanoseconds as milliseconds, `12.345 ms`.
fn millis(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// At most 16 points of GPU time as it grew (calls made: milliseconds in all).
fn gpu_over_time(g: &webgpu_virt::trace::GpuTime) -> String {
    g.over_time(16).iter().map(|(calls, ns)| format!("{calls}: {:.3}", *ns as f64 / 1e6)).collect::<Vec<_>>().join(", ")
}

/// Says where a cut trace ends (its records up to there were read), and whether the
/// application finished.
fn cut_note(decoded: &Decoded) {
    if let Some(cut) = &decoded.cut {
        eprintln!("note: {cut}; what comes before was read");
    }
    if !matches!(decoded.ending, Ending::Finished { .. }) {
        eprintln!("note: {}", decoded.ending);
    }
}

/// Writes `text` to stdout; a reader that stopped reading (`| head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

impl Trace {
    pub fn exec(self) -> anyhow::Result<i32> {
        match self {
            Trace::Dump { trace } => {
                let decoded = read(&trace)?;
                let mut text = decoded.lines.join("\n");
                text.push('\n');
                print(&text)?;
                cut_note(&decoded);
            }
            Trace::Stats { trace, plot } => {
                let d = read(&trace)?;
                if let Some(svg) = &plot {
                    let title = trace.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    webgpu_virt::trace::plot(&d, &title, svg).map_err(|e| anyhow::anyhow!("drawing {}: {e}", svg.display()))?;
                }
                let calls: u64 = d.calls.values().sum();
                let mut text = format!("calls: {calls}\nend: {}\nobjects: {}\n", d.ending, d.objects);
                let blob_bytes: usize = d.blobs.iter().map(|(len, _)| len).sum();
                text += &format!("blobs: {} ({blob_bytes} bytes)\n", d.blobs.len());
                text += &format!("data carried by calls and results: {} bytes\ntrace: {} bytes\n", d.data_bytes, d.bytes);
                let m = &d.memory;
                text += &format!(
                    "memory (buffers, textures, query sets, as the quota counts them): peak {} bytes after {} calls, {} bytes held at the end\n",
                    m.peak.0, m.peak.1, m.held
                );
                text += &format!("memory over time (calls made: bytes held): {}\n", over_time(m));
                if d.gpu.operations > 0 {
                    text += &format!("gpu time (as the virt measured it): {} in {} queue operations\n", millis(d.gpu.ns), d.gpu.operations);
                    text += &format!("gpu time over time (calls made: ms in all): {}\n", gpu_over_time(&d.gpu));
                }
                for g in &d.guests {
                    text += &format!(
                        "guest {}: {} calls, {} bytes of data, memory peak {} bytes after {} calls, {} bytes held at the end\n  memory over time: {}\n",
                        g.name,
                        g.calls,
                        g.data_bytes,
                        g.memory.peak.0,
                        g.memory.peak.1,
                        g.memory.held,
                        over_time(&g.memory)
                    );
                    if g.gpu.operations > 0 {
                        text += &format!("  gpu time: {} in {} queue operations; over time: {}\n", millis(g.gpu.ns), g.gpu.operations, gpu_over_time(&g.gpu));
                    }
                }
                text += "calls by function:\n";
                let mut by_count: Vec<_> = d.calls.iter().collect();
                by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                for (name, n) in by_count {
                    text += &format!("  {n:>10}  {name}\n");
                }
                print(&text)?;
                cut_note(&d);
            }
            Trace::Compress { trace, output } => {
                let bytes = std::fs::read(&trace).with_context(|| format!("reading {}", trace.display()))?;
                let packed = compress(&bytes).with_context(|| format!("compressing {}", trace.display()))?;
                std::fs::write(&output, &packed).with_context(|| format!("writing {}", output.display()))?;
                println!("{} bytes -> {} bytes", bytes.len(), packed.len());
            }
            Trace::Slice { trace, call, calls, first_error, guest, output } => {
                let choice = match (call, calls) {
                    (Some(n), _) => Choice::Call(n),
                    (_, Some((a, b))) => Choice::Calls(a, b),
                    _ if first_error => Choice::FirstError,
                    _ => unreachable!("clap requires one of --call, --calls, --first-error"),
                };
                let bytes = std::fs::read(&trace).with_context(|| format!("reading {}", trace.display()))?;
                let started = std::time::Instant::now();
                let s = slice(&Catalog::built_in(), &bytes, &choice, guest.as_deref()).with_context(|| format!("slicing the trace {}", trace.display()))?;
                let took = started.elapsed();
                std::fs::write(&output, &s.trace).with_context(|| format!("writing {}", output.display()))?;
                let share = 100.0 * s.kept as f64 / s.of.max(1) as f64;
                println!("{}: {}", output.display(), s.chosen);
                println!("kept {} of {} calls ({share:.1}%), {} bytes of {}, in {:.3} s", s.kept, s.of, s.trace.len(), bytes.len(), took.as_secs_f64());
            }
            Trace::Diff { a, b } => {
                let bytes = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
                let d = diff(&Catalog::built_in(), &bytes(&a)?, &bytes(&b)?).context("comparing the traces")?;
                let Some((call, x, y)) = d.first else {
                    println!("the traces agree: {} calls", d.calls.0);
                    return Ok(0);
                };
                let none = || "(no such call)".to_string();
                println!("{} of the calls differ ({} calls in {}, {} in {}); the first, call #{call}:", d.count, d.calls.0, a.display(), d.calls.1, b.display());
                println!("  {}: {}", a.display(), x.unwrap_or_else(none));
                println!("  {}: {}", b.display(), y.unwrap_or_else(none));
                return Ok(1);
            }
        }
        Ok(0)
    }
}
