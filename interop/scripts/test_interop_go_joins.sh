#!/usr/bin/env bash
# Go joins Python: a Go node joins a Python seed, messages both ways, then leaves gracefully.
# Builds the Go peer and (if needed) installs swimlib; prints PASS or FAIL; exit 0/1; ~60 s max.
# Usage: interop/scripts/test_interop_go_joins.sh   (env: PYTHON=python3, SCENARIO_TIMEOUT=60)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
run_scenario go-joins
