use super::*;

/// Parses and validates `code` as wgpu's shader translator does.
fn valid(code: &str) {
    let module = naga::front::wgsl::parse_str(code).unwrap_or_else(|e| panic!("{}\n{code}", e.emit_to_string(code)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{e:?}\n{code}"));
}

/// Bounds `source` (valid before), checks the result is valid and keeps every line's number.
fn bounded(source: &str) -> Bounded {
    valid(source);
    let b = bound(source, 1000).unwrap();
    valid(&b.code);
    assert_eq!(b.code.lines().count(), source.lines().count(), "{}", b.code);
    b
}

/// Two nested loops bounded by values from a storage buffer (`u32::MAX` makes them endless).
const RUNAWAY: &str = "
@group(0) @binding(0) var<storage, read_write> bounds: array<u32>;
@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) l: u32) {
    var x = l;
    var i = 0u;
    while i < bounds[0] {
        for (var j = 0u; j < bounds[1]; j += 1u) { x ^= x << 13u; x ^= x >> 17u; }
        i += 1u;
    }
    bounds[2u + l] = x;
}
";

#[test]
fn a_shader_without_loops_is_left_as_it_is() {
    let source = "@compute @workgroup_size(1) fn main() { }";
    assert_eq!(bound(source, 10).unwrap(), Bounded { code: source.to_string(), loops: 0 });
}

#[test]
fn nested_loops_each_get_a_counter_of_their_own_declared_with_their_function() {
    let b = bounded(RUNAWAY);
    assert_eq!(b.loops, 2);
    assert!(b.code.contains("{ var wv_loop0: u32 = 1000u; var wv_loop1: u32 = 1000u;"), "{}", b.code);
    assert!(b.code.contains("bounds[0] { if wv_loop0 == 0u { break; } wv_loop0 -= 1u;"), "{}", b.code);
    assert!(b.code.contains("j += 1u) { if wv_loop1 == 0u { break; } wv_loop1 -= 1u;"), "{}", b.code);
}

#[test]
fn a_loop_holding_barriers_keeps_them_in_uniform_control_flow() {
    let source = "
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
var<workgroup> tile: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) l: u32) {
    var sum = 0.0;
    for (var t = 0u; t < arrayLength(&a) / 64u; t++) {
        tile[l] = a[t * 64u + l];
        workgroupBarrier();
        for (var k = 0u; k < 64u; k++) { sum += tile[k]; }
        workgroupBarrier();
    }
    c[l] = sum;
}
";
    let b = bounded(source);
    assert_eq!(b.loops, 2);
    // The counters are function-scope variables (uniform where their loops are), never a
    // module-scope one (never uniform).
    assert!(!b.code.contains("var<private>"));
}

#[test]
fn a_loop_that_only_returns_returns_when_spent() {
    let source = "
fn find(x: u32) -> vec2<u32> {
    var i = 0u;
    loop {
        switch i { case 3u: { break; } default: { } }
        if i * i > x { return vec2<u32>(i, 1u); }
        i += 1u;
    }
    return vec2<u32>(); // (naga wants a return at the end, unreachable as it is)
}
fn stop() {
    loop { }
}
@compute @workgroup_size(1) fn main() { _ = find(10u); stop(); }
";
    let b = bounded(source);
    assert!(b.code.contains("if wv_loop0 == 0u { return vec2 < u32 >(); }"), "{}", b.code);
    assert!(b.code.contains("if wv_loop1 == 0u { return; }"), "{}", b.code);
}

#[test]
fn loops_that_can_break_break_when_spent() {
    let source = "
fn f() -> u32 {
    var i = 0u;
    loop {
        i += 1u;
        continuing { break if i > 4u; }
    }
    while (i < 10u) { i += 2u; }
    return i;
}
@compute @workgroup_size(1) fn main() { _ = f(); }
";
    let b = bounded(source);
    assert_eq!(b.loops, 2);
    assert_eq!(b.code.matches("{ break; }").count(), 2, "{}", b.code);
}

#[test]
fn loops_in_comments_and_entry_points_of_every_stage_are_told_apart() {
    let source = "
// loop { for (;;) {
/* while { /* nested */ loop { */
struct Out { @builtin(position) p: vec4<f32> }
@vertex fn vs(@builtin(vertex_index) v: u32) -> Out {
    var o: Out;
    for (var i = 0u; i < v; i++) { o.p.x += 1.0; }
    return o;
}
@fragment fn fs() -> @location(0) vec4<f32> {
    var c = vec4<f32>();
    loop { c.x += 0.5; if c.x > 2.0 { break; } }
    return c;
}
";
    let b = bounded(source);
    assert_eq!(b.loops, 2);
    assert!(b.code.starts_with("\n// loop { for (;;) {\n/* while { /* nested */ loop { */\n"));
}

#[test]
fn a_shader_naming_the_counters_own_prefix_gets_other_counters() {
    let source = "
@compute @workgroup_size(1) fn main() {
    var wv_loop0 = 0u;
    for (var i = 0u; i < 3u; i++) { wv_loop0 += i; }
}
";
    let b = bounded(source);
    assert!(b.code.contains("var wv_loop_0: u32"), "{}", b.code);
}

#[test]
fn a_source_it_cannot_follow_is_refused_with_where() {
    assert_eq!(bound("fn main( {", 1), Err(Unfollowed::Unbalanced(9)));
    assert_eq!(bound("fn main() { loop; }", 1), Err(Unfollowed::NoBody(12)));
    assert_eq!(bound("fn main() ;", 1), Err(Unfollowed::NoFunctionBody(0)));
}

#[test]
fn the_budget_bounds_the_runaway_loop_in_the_code() {
    let b = bound(RUNAWAY, u32::MAX).unwrap();
    assert_eq!(b.code.matches(&format!("= {}u;", u32::MAX)).count(), 2);
    valid(&b.code);
}
