"""``python -m keraslearn``: the same as the ``keraslearn`` command."""

from keraslearn.cli import run

run()
