"""``python -m keraslearn``: the same as the ``keraslearn`` command."""

import sys

from keraslearn.cli import main

sys.exit(main())
