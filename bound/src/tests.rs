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
    assert_eq!(bound(source, 10).unwrap(), Bounded { code: source.to_string(), loops: 0, exempt: 0 });
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
    assert_eq!((b.loops, b.exempt), (1, 1));
    // The counter is a function-scope variable (uniform where its loop is), never a module-scope
    // one (never uniform); each round runs the inner loop's 64 iterations, so the outer loop
    // gets a budget of 1000 / 64 rounds.
    assert!(!b.code.contains("var<private>"));
    assert!(b.code.contains("var wv_loop0: u32 = 15u;"), "{}", b.code);
    assert!(b.code.contains("t++) { if wv_loop0 == 0u { break; } wv_loop0 -= 1u;"), "{}", b.code);
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
    var wv_loop0 = 3u;
    for (var i = 0u; i < wv_loop0; i++) { }
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

/// The tiled matmul of the benchmarks: its inner loop's bound is a module constant.
const TILED: &str = "
override n: u32;
const TILE: u32 = 0x10u;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
var<workgroup> ta: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    var sum = 0.0;
    for (var t = 0u; t < n / TILE; t++) {
        ta[l.y][l.x] = a[g.y * n + t * TILE + l.x];
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) { sum += ta[l.y][k] * ta[k][l.x]; }
        workgroupBarrier();
    }
    c[g.y * n + g.x] = sum;
}
";

#[test]
fn a_loop_with_a_constant_trip_count_has_no_counter_and_charges_the_loop_around_it() {
    let b = bounded(TILED);
    assert_eq!((b.loops, b.exempt), (1, 1));
    assert!(b.code.contains("var wv_loop0: u32 = 62u;"), "{}", b.code);
    assert!(b.code.contains("t++) { if wv_loop0 == 0u { break; } wv_loop0 -= 1u;"), "{}", b.code);
    assert!(b.code.contains("k++) { sum"), "{}", b.code);
}

#[test]
fn a_nest_of_constant_loops_charges_its_largest_product_and_fits_the_budget_or_is_counted() {
    let source = "
@group(0) @binding(0) var<storage, read_write> data: array<u32>;
const SIDE = 8;
@compute @workgroup_size(1)
fn main() {
    var x = 0u;
    while x < data[0] {
        for (var i: i32 = 0; i <= 3; i = i + 1) {
            for (var j = 2; j < SIDE; j += 1i) { x += 1u; }
        }
        for (var k = 0u; k < 20u; k++) { x ^= k; }
    }
    for (var i = 0u; i < 30u; i++) { for (var j = 0u; j < 30u; j++) { x += j & i; } }
    data[1] = x;
}
";
    // Per round of the `while`: 4 rounds of 6, and 20: the step is the largest, 24, and the
    // `while` gets 1000 / 24 rounds.
    let b = bounded(source);
    assert_eq!((b.loops, b.exempt), (1, 5));
    assert!(b.code.contains("var wv_loop0: u32 = 41u;"), "{}", b.code);
    assert!(b.code.contains("data[0] { if wv_loop0 == 0u { break; } wv_loop0 -= 1u;"), "{}", b.code);
    // The nest at the end runs 900 iterations: above a budget of 800, every loop is counted.
    let b = bound(source, 800).unwrap();
    valid(&b.code);
    assert_eq!((b.loops, b.exempt), (6, 0));
    assert_eq!(b.code.matches("u32 = 800u;").count(), 6, "{}", b.code);
    assert!(b.code.contains("data[0] { if wv_loop0 == 0u { break; } wv_loop0 -= 1u;"), "{}", b.code);
    // A step above the budget (24 > 20) counts every loop too.
    assert_eq!(bound(source, 20).unwrap().exempt, 0);
}

#[test]
fn a_loop_whose_trip_count_may_change_keeps_its_counter() {
    let each = [
        // Its variable written in the body, in every way WGSL can.
        "for (var i = 0u; i < 8u; i++) { i = i + 1u; }",
        "for (var i = 0u; i < 8u; i++) { i *= 2u; }",
        "for (var i = 0u; i < 8u; i++) { i <<= 1u; }",
        "for (var i = 0u; i < 8u; i++) { (i)++; }",
        "for (var i = 0u; i < 8u; i++) { i--; }",
        "for (var i = 0u; i < 8u; i++) { let p = &i; *p = 0u; }",
        "for (var i = 0u; i < 8u; i++) { reset(&i); }",
        // Its bound or start not a constant of the source, or too large to be sure of.
        "for (var i = 0u; i < m; i++) { }",
        "for (var i = 0u; i < N; i++) { let N = 1u; _ = N; }",
        "for (var i = 0u; i < 8u + 1u; i++) { }",
        "for (var i = v; i < 8u; i++) { }",
        "for (var i = 0u; i <= 0x40000000u; i++) { }",
        // A header of another shape.
        "for (var i = 8u; i > 0u; i--) { }",
        "for (var i = 0u; i < 8u; i += 2u) { }",
        "for (var i = 0u; 8u > i; i++) { }",
        "for (var i = 0u; i < 8u; ) { i++; }",
    ];
    for body in each {
        let source = format!(
            "override m: u32 = 4u;\nconst N = 8u;\nfn reset(p: ptr<function, u32>) {{ *p = 0u; }}\n\
             @compute @workgroup_size(1) fn main() {{ var v = 0u; {body} }}"
        );
        let b = bounded(&source);
        assert_eq!((b.loops, b.exempt), (1, 0), "{body}");
    }
    // Read, compared, and used with a binary `&` only: no counter.
    let b = bounded("@compute @workgroup_size(1) fn main() { var x = 0u; for (var i = 0u; i <= 7u; i++) { x += x & i; if i <= x { x = (i); } } }");
    assert_eq!((b.loops, b.exempt), (0, 1));
    assert!(!b.code.contains("wv_loop"));
}

/// Chunks `source` (valid before) with the place in group 3, checks the result is valid and
/// that every line keeps its number (the place is declared after the last).
fn chunked3(source: &str) -> Chunked {
    valid(source);
    let c = chunked(source, 3).unwrap();
    valid(&c.code);
    assert_eq!(c.code.lines().take(source.lines().count()).count(), source.lines().count());
    for (before, after) in source.lines().zip(c.code.lines()) {
        // A line's text before its first edit is the same.
        let same = before.chars().zip(after.chars()).take_while(|(a, b)| a == b).count();
        assert!(same > 0 || before.is_empty(), "{before}\n{after}");
    }
    c
}

/// The place's group and binding, as naga reads them, and which entry points use it.
fn place_users(code: &str) -> Vec<String> {
    let module = naga::front::wgsl::parse_str(code).unwrap();
    let (place, _) = module
        .global_variables
        .iter()
        .find(|(_, g)| g.binding.as_ref().is_some_and(|b| b.group == 3 && b.binding == PLACE_BINDING))
        .expect("the chunk's place at group 3");
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .unwrap();
    module
        .entry_points
        .iter()
        .enumerate()
        .filter(|(i, _)| !info.get_entry_point(*i)[place].is_empty())
        .map(|(_, e)| e.name.clone())
        .collect()
}

#[test]
fn an_entry_point_reading_no_dispatch_wide_builtin_is_left_as_it_is() {
    let source = "@compute @workgroup_size(8) fn main(@builtin(local_invocation_index) l: u32) { _ = l; }";
    let c = chunked(source, 3).unwrap();
    assert_eq!(c.code, source);
    assert_eq!(c.entries, [Entry { name: "main".into(), reads_place: false }]);
}

#[test]
fn the_global_invocation_id_adds_the_chunks_start_times_the_workgroup_size() {
    let c = chunked3(RUNAWAY.replace("local_invocation_index) l: u32", "global_invocation_id) id: vec3<u32>").replace("bounds[2u + l]", "bounds[2u + id.x]").replace("var x = l", "var x = id.y").as_str());
    assert!(c.code.contains("@builtin(global_invocation_id) wv_chunk_id: vec3<u32>"), "{}", c.code);
    assert!(c.code.contains("{ let id = wv_chunk_id + wv_chunk[0].xyz * vec3<u32>(u32(32), 1u, 1u);"), "{}", c.code);
    assert!(c.code.ends_with("\n@group(3) @binding(0) var<uniform> wv_chunk: array<vec4<u32>, 2>;\n"), "{}", c.code);
    assert_eq!(place_users(&c.code), ["main"]);
}

#[test]
fn all_three_builtins_with_an_overridable_workgroup_size_in_a_bounded_barrier_loop() {
    let source = "
override side: u32 = 8;
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
var<workgroup> tile: array<u32, 64>;
@compute @workgroup_size(side, side / 2u)
fn main(
    @builtin(local_invocation_index) l: u32,
    @builtin(workgroup_id) group: vec3<u32>, // a comment
    @builtin(num_workgroups) n: vec3u,
    @builtin(global_invocation_id) g: vec3<u32>,
) {
    for (var t = 0u; t < n.x; t++) {
        tile[l] = group.x + t;
        workgroupBarrier();
        out[g.x + g.y * n.x * side] += tile[(l + 1u) % 32u];
        workgroupBarrier();
    }
}
";
    let bounded = bound(source, 100).unwrap();
    let c = chunked3(&bounded.code);
    assert!(c.code.contains(
        "let group = wv_chunk_group + wv_chunk[0].xyz; let n = max(wv_chunk_n, wv_chunk[1].xyz); \
         let g = wv_chunk_g + wv_chunk[0].xyz * vec3<u32>(u32(side), u32(side / 2u), 1u);"
    ), "{}", c.code);
    assert_eq!(place_users(&c.code), ["main"]);
}

#[test]
fn only_the_entry_points_that_read_a_dispatch_wide_builtin_use_the_place() {
    let source = "
struct Out { @builtin(position) p: vec4<f32> }
@vertex fn vs(@builtin(vertex_index) v: u32) -> Out { var o: Out; o.p.x = f32(v); return o; }
@compute @workgroup_size(4) fn plain() { }
@workgroup_size(2, 2, 2) @compute fn wide(@builtin(workgroup_id) w: vec3<u32>) { _ = w; }
";
    let c = chunked3(source);
    let entries: Vec<_> = c.entries.iter().map(|e| (e.name.as_str(), e.reads_place)).collect();
    assert_eq!(entries, [("plain", false), ("wide", true)]);
    assert_eq!(place_users(&c.code), ["wide"]);
}

#[test]
fn a_dispatch_wide_builtin_in_a_structure_is_not_followed() {
    let source = "struct In { @builtin(workgroup_id) w: vec3<u32> }\n@compute @workgroup_size(1) fn main(i: In) { _ = i.w; }";
    assert_eq!(chunked(source, 3), Err(Unfollowed::BuiltinInStruct(12)));
}

#[test]
fn a_shader_naming_the_places_prefix_gets_another_name() {
    let source = "@compute @workgroup_size(1) fn main(@builtin(workgroup_id) wv_chunk: vec3<u32>) { _ = wv_chunk; }";
    let c = chunked3(source);
    assert!(c.code.contains("let wv_chunk = wv_chunk__wv_chunk + wv_chunk_[0].xyz;"), "{}", c.code);
}
