"""Entry point: ``python3 -m parallax_profiler``."""

import sys

from .profile import main

if __name__ == "__main__":
    sys.exit(main())
