//! The virt's layers, read from its source: plumbing, then the virtual-device layer, then the
//! policies, each using only those below it (`virt-component/src/lib.rs` states it). No module
//! of the virt, and no file of its device layer or of the replayer, imports another that
//! imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of each of the virt's top-level modules.
const LAYERS: [(&str, u8); 12] = [
    ("config", 1),
    ("ids", 1),
    ("encode", 1),
    ("hooks", 1),
    ("bridge", 1),
    ("console", 1),
    ("clock", 1),
    ("tenant", 2),
    ("device", 2),
    ("mapping", 2),
    ("policy", 3),
    ("bindings", 0),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names a file reaches through `prefix` (`crate::` or `super::`), outside comments: the first
/// segment of each path, and each name of a `prefix{a, b::c}` group.
fn reached(source: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in source.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
            match rest.strip_prefix('{') {
                Some(group) => {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    names.extend(group.split(',').map(|item| ident(item.trim())).filter(|n| !n.is_empty()));
                }
                None => {
                    let name = ident(rest);
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            }
        }
    }
    names
}

/// A cycle in `edges`, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            return Some(path[at..].iter().cloned().chain([n.to_string()]).collect());
        }
        if !done.insert(n.to_string()) {
            return None;
        }
        path.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn source_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[test]
fn the_virts_layers_use_only_those_below_them() {
    let src = source_dir("../virt-component/src");
    let layer = |module: &str| LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut device_files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if relative == "lib.rs" {
            continue; // the root: the generated forwarding wires the layers
        }
        let module = relative.split(['/', '.']).next().unwrap().to_string();
        let own = layer(&module).unwrap_or_else(|| panic!("{relative}: module `{module}` has no layer in this test"));
        let source = std::fs::read_to_string(file).unwrap();
        for used in reached(&source, "crate::") {
            let Some(theirs) = layer(&used) else { continue }; // the root's types
            assert!(theirs <= own, "{relative} (layer {own}) uses `{used}` (layer {theirs}), a layer above it");
            if used != module {
                modules.entry(module.clone()).or_default().insert(used);
            }
        }
        if module == "device" {
            let name = relative.trim_start_matches("device/").trim_end_matches(".rs").to_string();
            // `super::file::item` reaches that file; any other `super::item`, `mod.rs`.
            let siblings = reached(&source, "super::").into_iter().map(|s| if src.join("device").join(format!("{s}.rs")).is_file() { s } else { "mod".into() });
            device_files.entry(name).or_default().extend(siblings);
            assert!(!source.contains("crate::device::"), "{relative} reaches its own layer through `crate::device`: use `super::`");
        }
    }
    assert_eq!(cycle(&modules), None, "the virt's modules import each other in a circle");
    // Within the device layer, each file uses only those before it (`mod.rs` uses them all).
    assert_eq!(cycle(&device_files), None, "the device layer's files import each other in a circle");
    // No policy reaches into another: only the chain (`policy/mod.rs`) names them.
    for file in files.iter().filter(|f| f.starts_with(src.join("policy"))) {
        let relative = file.strip_prefix(src.join("policy")).unwrap().to_string_lossy().into_owned();
        let own = relative.split(['/', '.']).next().unwrap();
        let source = std::fs::read_to_string(file).unwrap();
        for other in ["quota", "record", "calls", "noop"].iter().filter(|p| **p != own) {
            assert!(!source.contains(&format!("policy::{other}")), "policy/{relative} reaches into the `{other}` policy");
        }
    }
}

#[test]
fn the_replayers_files_import_no_circle() {
    let src = source_dir("replayer/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let names: BTreeSet<String> = files.iter().map(|f| f.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        let uses = reached(&source, "crate::").into_iter().filter(|u| names.contains(u) && *u != name).collect();
        edges.insert(name, uses);
    }
    assert_eq!(cycle(&edges), None, "the replayer's files import each other in a circle");
}
