"""``python -m keraslearn …``: the ``keraslearn`` command (see :mod:`keraslearn.cli`)."""

import sys

from keraslearn.cli import main

sys.exit(main())
