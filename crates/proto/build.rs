//! Generates Rust code and one descriptor set (for gRPC reflection) from `proto/`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let files: Vec<PathBuf> = ["graph", "post", "fanout", "feed", "logs"]
        .iter()
        .map(|area| root.join(format!("feedline/{area}/v1/{area}.proto")))
        .collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    // protoc comes from a registry crate, so a fresh machine needs nothing installed.
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        // Field-naming INVALID_ARGUMENT instead of INTERNAL for undecodable requests.
        .codec_path("crate::codec::ProtoCodec")
        .file_descriptor_set_path(out_dir.join("feedline_descriptor.bin"))
        .compile_with_config(
            config,
            &files,
            &[root, protoc_bin_vendored::include_path()?],
        )?;
    Ok(())
}
