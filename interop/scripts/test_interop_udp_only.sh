#!/usr/bin/env bash
# UDP-only interop: TCP pings and periodic push/pull off on both sides; membership and failure detection by UDP gossip and probes.
# Builds the Go peer and (if needed) installs swimlib; prints PASS or FAIL; exit 0/1; ~60 s max.
# Usage: interop/scripts/test_interop_udp_only.sh   (env: PYTHON=python3, SCENARIO_TIMEOUT=60)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
run_scenario udp-only
