"""Entry point for ``python3 -m studies.failure_detection`` (see cli.py)."""

import sys

from studies.failure_detection.cli import main

if __name__ == "__main__":
    sys.exit(main())
