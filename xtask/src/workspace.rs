//! Where the workspace is and how child commands are run and their exit codes passed on.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::Context as _;

/// The workspace root: the parent of this crate's folder.
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo that runs us (`$CARGO`), so a pinned toolchain is used for nested builds too,
/// without the variables `cargo run` set for us (see [`set_by_cargo_run`]).
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    command
}

/// Whether `name` is one of the variables `cargo run` describes xtask's package with
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...). A nested cargo must not see them: ring's
/// build script reruns when they differ from the last build's, and everything above ring
/// (rustls, tonic, sqlx, sea-orm, the services) then compiles again, minutes on 2 cores,
/// as if a plain `cargo build` and `cargo xtask up` wanted different features.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_cargo_does_not_see_our_package() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
        ] {
            assert!(set_by_cargo_run(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "PATH",
        ] {
            assert!(!set_by_cargo_run(name), "{name}");
        }
        // `cargo test` sets them for us, as `cargo run` does.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let cargo = cargo();
        let removed: Vec<_> = cargo
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert!(
            removed.contains(&"CARGO_MANIFEST_DIR".to_owned()),
            "{removed:?}"
        );
        assert!(
            removed.contains(&"CARGO_PKG_NAME".to_owned()),
            "{removed:?}"
        );
    }
}
