//! Compiles the contracts in `proto/` with protox (pure Rust, so no `protoc`
//! on the build machine), writes the encoded descriptor set for reflection,
//! and generates prost messages and tonic clients and servers from it.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the encoded `FileDescriptorSet` in `OUT_DIR`; `lib.rs` includes it.
const DESCRIPTOR_SET_FILE: &str = "complaints_descriptor.binpb";

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // Cargo scans a directory given here recursively, so adding, removing or
    // editing any file under proto/ reruns this script. Relative to this
    // package, not absolute: clones share one target directory, and an
    // absolute path would have cargo watch the clone that last ran this
    // script instead of the one being built.
    println!("cargo:rerun-if-changed=../../proto");
    let mut protos = Vec::new();
    collect_protos(&proto_root, &mut protos)?;
    protos.sort();

    // Source info keeps the comments: prost turns them into rustdoc, and
    // reflection clients show them. Imports (the well-known types) are kept
    // so that reflection can resolve every type from this one set.
    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&protos)?;
    fs::write(
        out_dir.join(DESCRIPTOR_SET_FILE),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// Appends every `.proto` file under `dir`, recursively, to `protos`.
fn collect_protos(dir: &Path, protos: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, protos)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            protos.push(path);
        }
    }
    Ok(())
}
