//! A service binary of another package of the workspace, for a process test: found beside the
//! running test's own executable, where `cargo test --workspace` built it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};

/// `target/<profile>/NAME`, the profile being the running test's (`target/<profile>/deps/` holds
/// the test). `cargo test --workspace` (what `cargo xtask test` runs) builds every member's
/// binaries; `env!("CARGO_BIN_EXE_..")` names only the test's own package's. Fails, saying how
/// to build it, when it is missing.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("the test's own executable")?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("no target folder above {}", exe.display()))?;
    let path = dir.join(name);
    ensure!(
        path.is_file(),
        "{} is missing: run the suite with `cargo xtask test` (or `cargo build --bin {name}` first)",
        path.display()
    );
    Ok(path)
}
