#!/usr/bin/env bash
# Encrypted interop: the basic scenario with one AES-256 key on every node; keyless nodes are refused.
# Builds the Go peer and (if needed) installs swimlib; prints PASS or FAIL; exit 0/1; ~60 s max.
# Usage: interop/scripts/test_interop_encrypted.sh   (env: PYTHON=python3, SCENARIO_TIMEOUT=60)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
run_scenario encrypted
