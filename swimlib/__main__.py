"""``python -m swimlib ...``: the same command line as the ``swimlib`` console script."""

from __future__ import annotations

import sys

from swimlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
