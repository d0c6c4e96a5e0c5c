"""Architectures: pure functions ``build(spec, **hp) -> keras.Model``."""
