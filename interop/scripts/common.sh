#!/usr/bin/env bash
# Shared by test_interop*.sh: build what is needed, run one scenario, print PASS or FAIL.
#
#   source common.sh; run_scenario <basic|encrypted|udp-only|go-joins>
#
# Builds the Go peer into interop/bin/peer (go build; modules from the Go module proxy),
# installs swimlib with `pip install -e .` only if this checkout is not importable, then runs
# interop/scripts/scenario.py under a time limit. Exit status 0 = PASS, 1 = FAIL. Every process
# started here is stopped on exit, including on Ctrl-C.

set -uo pipefail

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INTEROP_DIR="$(dirname "$SCRIPTS_DIR")"
ROOT_DIR="$(dirname "$INTEROP_DIR")"
PYTHON="${PYTHON:-python3}"
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-60}"
DRIVER_PID=""
SCENARIO=""

fail() {
    echo "FAIL ${SCENARIO}: $*"
    exit 1
}

cleanup() {
    if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
        kill -TERM "$DRIVER_PID" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$DRIVER_PID" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$DRIVER_PID" 2>/dev/null
    fi
    DRIVER_PID=""
}

build_go_peer() {
    local go
    go="$(command -v go || true)"
    if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then
        go=/usr/local/go/bin/go
    fi
    [ -n "$go" ] || fail "Go is not installed (needed to build the memberlist peer)"
    echo "building the Go memberlist peer: interop/bin/peer"
    (cd "$INTEROP_DIR" && "$go" build -o bin/peer .) || fail "go build of interop/ failed"
}

ensure_swimlib() {
    if (cd "$ROOT_DIR" && "$PYTHON" -c "import swimlib, msgpack, Crypto") 2>/dev/null; then
        return
    fi
    echo "installing swimlib from $ROOT_DIR (pip install -e .)"
    "$PYTHON" -m pip install -q -e "$ROOT_DIR" || fail "pip install -e . failed"
}

run_scenario() {
    SCENARIO="$1"
    trap cleanup EXIT
    trap 'cleanup; echo "FAIL ${SCENARIO}: interrupted"; exit 1' INT TERM
    local start=$SECONDS
    build_go_peer
    ensure_swimlib
    PYTHONPATH="$ROOT_DIR${PYTHONPATH:+:$PYTHONPATH}" \
        timeout --kill-after=5 "$SCENARIO_TIMEOUT" \
        "$PYTHON" "$SCRIPTS_DIR/scenario.py" "$SCENARIO" --peer "$INTEROP_DIR/bin/peer" &
    DRIVER_PID=$!
    wait "$DRIVER_PID"
    local code=$?
    DRIVER_PID=""
    case "$code" in
        0) ;;
        1) ;;  # the driver printed FAIL and its reason
        124|137) echo "FAIL ${SCENARIO}: no result within ${SCENARIO_TIMEOUT} s" ;;
        *) echo "FAIL ${SCENARIO}: scenario driver exited with status $code" ;;
    esac
    echo "(${SCENARIO}: $((SECONDS - start)) s including the build)"
    [ "$code" -eq 0 ]
    exit $?
}
