#!/usr/bin/env bash
# Basic interop: a Python node joins a Go memberlist cluster; broadcasts and direct UDP/TCP messages both ways.
# Builds the Go peer and (if needed) installs swimlib; prints PASS or FAIL; exit 0/1; ~60 s max.
# Usage: interop/scripts/test_interop.sh   (env: PYTHON=python3, SCENARIO_TIMEOUT=60)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
run_scenario basic
