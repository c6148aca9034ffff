"""``python -m skrhythm.cli``: the ``skrhythm`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
