//! Where the workspace is and how child commands are run and their exit codes passed on.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::Context as _;

/// The workspace root: the parent of this crate's folder.
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo that runs us (`$CARGO`), so a pinned toolchain is used for nested builds too.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root());
    command
}

/// Runs `command` with inherited stdio, echoing it first; errors only if it cannot start.
pub fn run(command: &mut Command) -> anyhow::Result<ExitStatus> {
    let shown = display(command);
    println!("$ {shown}");
    command
        .status()
        .with_context(|| format!("cannot run `{shown}`"))
}

/// The command line as a person would type it (`$CARGO` shown as `cargo`).
pub fn display(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let program = if program.file_name().is_some_and(|name| name == "cargo") {
        "cargo".into()
    } else {
        program.to_string_lossy()
    };
    std::iter::once(program)
        .chain(command.get_args().map(|arg| arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The exit code to pass on for a child's status (1 when it was killed by a signal).
pub fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from),
        None => ExitCode::FAILURE,
    }
}

/// Whether an executable called `name` is on `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Where cargo puts binaries: `$CARGO_TARGET_DIR` or `target/` in the workspace root.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}
