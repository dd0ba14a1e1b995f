"""``python -m einsql``: the command line."""

from __future__ import annotations

import sys

from einsql.cli import main

if __name__ == "__main__":
    sys.exit(main())
