"""Saving and loading learners (one-file artifacts)."""

from keraslearn.io.artifact import load, read_meta, save

__all__ = ["load", "save", "read_meta"]
