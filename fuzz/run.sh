#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 15): `fuzz/run.sh 600` fuzzes longer.
# Installs cargo-fuzz when missing, builds all targets once, then runs them one by one; the
# first crash stops the run with its reproducer in fuzz/artifacts/<target>/ (reproduce with
# `cargo +nightly fuzz run -s none <target> fuzz/artifacts/<target>/<file>`). Corpus entries
# the runs find go to fuzz/target/corpus/<target>/ (not committed); fuzz/corpus/<target>/ holds
# the committed seeds, read but never written.
set -euo pipefail

seconds="${1:-15}"
cd "$(dirname "${BASH_SOURCE[0]}")"

# cargo-fuzz needs a nightly toolchain; rustup installs the pinned one if it is missing.
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.1
fi

# Rust code under `forbid(unsafe_code)` gains little from AddressSanitizer and builds much
# faster without it; overflow checks and debug assertions stay on.
flags=(--sanitizer none --codegen-units 16)
# Short runs (CI) build unoptimised, in half the time; long ones run ~7x faster optimised.
if ((seconds >= 120)); then
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
fi
targets=$(cargo "+$toolchain" fuzz list)
cargo "+$toolchain" fuzz build "${flags[@]}"
mkdir -p target/logs
for target in $targets; do
    echo "-- $target: ${seconds}s"
    mkdir -p "target/corpus/$target" "corpus/$target"
    log="target/logs/$target.log"
    if ! cargo "+$toolchain" fuzz run "${flags[@]}" "$target" "target/corpus/$target" \
        "corpus/$target" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed: its reproducer is in fuzz/artifacts/$target/"
        exit 1
    fi
    grep -E '^(Done|stat::(number_of_executed_units|peak_rss_mb))' "$log" || true
done
echo "fuzzed ${seconds}s per target: $targets" | tr '\n' ' '
echo
