//! What the loop-budget rewrite costs the virt: microseconds per shader module, for the shapes
//! the guests use and for a large module (200 functions of nested loops, about 60 KB).
//! `cargo bench -p webgpu-virt-bound`.

use std::time::Instant;

const TILED: &str = "
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
const TILE = 16u;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    let n = 1024u;
    var sum = 0.0;
    for (var t = 0u; t < n / TILE; t++) {
        ta[l.y][l.x] = a[g.y * n + t * TILE + l.x];
        tb[l.y][l.x] = b[(t * TILE + l.y) * n + g.x];
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) { sum += ta[l.y][k] * tb[k][l.x]; }
        workgroupBarrier();
    }
    c[g.y * n + g.x] = sum;
}
";

fn large() -> String {
    let mut code = String::from("@group(0) @binding(0) var<storage, read_write> data: array<u32>;\n");
    for f in 0..200 {
        code += &format!(
            "fn f{f}(x: u32) -> u32 {{
    // Function {f}: two loops, one nested, and a loop that returns.
    var acc = x;
    for (var i = 0u; i < data[0]; i++) {{
        for (var j = 0u; j < data[1]; j++) {{ acc = acc * 1664525u + 1013904223u + j; }}
    }}
    loop {{ if acc > 7u {{ return acc; }} acc += 1u; }}
    return acc;
}}
"
        );
    }
    code += "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) { data[id.x] = f0(id.x); }\n";
    code
}

fn main() {
    let large = large();
    for (name, code) in [("tiled matmul", TILED), ("200 functions, 600 loops", large.as_str())] {
        let rounds = 2000;
        let started = Instant::now();
        let (mut loops, mut exempt) = (0, 0);
        for _ in 0..rounds {
            let bounded = webgpu_virt_bound::bound(std::hint::black_box(code), 1 << 30).unwrap();
            (loops, exempt) = (bounded.loops, bounded.exempt);
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        let kb = code.len() as f64 / 1024.0;
        println!("{name}: {} bytes, {loops} loops bounded and {exempt} of constant trip count in {us:.1} us ({:.2} us/KB)", code.len(), us / kb);
    }
}
