//! Generates the errbot.v1 code with the vendored protoc (no system protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let files = [
        "errbot/v1/common.proto",
        "errbot/v1/plugin.proto",
        "errbot/v1/backend.proto",
        "errbot/v1/bot.proto",
        "errbot/v1/control.proto",
        "errbot/v1/storage.proto",
        "errbot/v1/testing.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&files, &["."])?;
    Ok(())
}
