"""Make the studies package (``studies/`` at the repository root) importable.

tox runs pytest against the installed swimlib, so the repository root is not on sys.path;
it is appended, not prepended, so ``import swimlib`` still finds the installed package."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)
