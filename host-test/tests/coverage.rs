//! Proves that the host implements every function of `wasi:webgpu/webgpu`: a component that
//! imports the whole interface (made from the WIT itself) links against [`host_test::add_to_linker`]
//! with nothing missing, and the count matches the WIT's.

use wit_parser::{Resolve, WorldItem};

/// Every function of the interface: free functions, constructors, methods, static functions.
fn webgpu_functions(resolve: &Resolve) -> Vec<String> {
    let (_, iface) = resolve
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("webgpu"))
        .expect("the webgpu interface");
    iface.functions.keys().cloned().collect()
}

fn resolve() -> (Resolve, wit_parser::WorldId) {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(webgpu_virt_wit::WIT_DIR).expect("parsing wit/");
    let world = resolve.select_world(&[pkg], Some("webgpu-host")).expect("the webgpu-host world");
    (resolve, world)
}

/// The functions that are not constructors: what "227 functions" counts.
fn non_constructors(functions: &[String]) -> usize {
    functions.iter().filter(|f| !f.starts_with("[constructor]")).count()
}

#[test]
fn the_wit_has_227_functions_and_2_constructors_in_33_resources() {
    let (resolve, world) = resolve();
    let functions = webgpu_functions(&resolve);
    assert_eq!(non_constructors(&functions), 227, "functions: {functions:?}");
    assert_eq!(functions.len() - 227, 2, "constructors");
    let imports = &resolve.worlds[world].imports;
    assert!(imports.values().any(|i| matches!(i, WorldItem::Interface { .. })));
    let (_, iface) = resolve.interfaces.iter().find(|(_, i)| i.name.as_deref() == Some("webgpu")).unwrap();
    let resources = iface
        .types
        .values()
        .filter(|t| matches!(resolve.types[**t].kind, wit_parser::TypeDefKind::Resource))
        .count();
    assert_eq!(resources, 33);
}

#[test]
fn the_host_implements_every_function() {
    let (resolve, world) = resolve();
    let mut module = wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)
        .expect("embedding the world");
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("the dummy module")
        .validate(true)
        .encode()
        .expect("encoding a component importing all of wasi:webgpu");

    let engine = host_test::run::engine().expect("engine");
    let component = wasmtime::component::Component::new(&engine, &component).expect("compiling");
    // Every import the component has must be satisfied by the linker: `instantiate_pre` fails
    // naming the first one that is not.
    let imported: usize = component
        .component_type()
        .imports(&engine)
        .map(|(_, item)| match item.ty {
            wasmtime::component::types::ComponentItem::ComponentInstance(i) => i
                .exports(&engine)
                .filter(|(_, e)| matches!(e.ty, wasmtime::component::types::ComponentItem::ComponentFunc(_)))
                .count(),
            _ => 0,
        })
        .sum();
    let linker = host_test::run::linker(&engine).expect("linker");
    linker.instantiate_pre(&component).expect("every wasi:webgpu function is linked");
    let functions = webgpu_functions(&resolve);
    assert_eq!(imported, functions.len(), "linked items vs the WIT's functions");
    let constructors = functions.len() - non_constructors(&functions);
    println!("host functions: {}/{} (and {constructors}/{constructors} constructors)", non_constructors(&functions), non_constructors(&functions));
}

#[test]
fn the_host_source_has_no_stubs() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        // Spelt in two pieces so that this file does not contain what it looks for.
        for stub in [concat!("todo", "!("), concat!("unimplemented", "!(")] {
            assert!(!text.contains(stub), "{} contains {stub}", entry.path().display());
        }
    }
}
