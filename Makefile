# Two set-up commands for a fresh machine (see README.md): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# pytest workers: the suite is CPU-bound; 2 workers on the 2-core CI machine.
WORKERS ?= 2

.PHONY: demo test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

install: $(BIN)/python
	$(PIP) install -e .

# The export extra (onnx, jax2onnx, tensorflow-cpu, ai-edge-litert, onnxruntime) is needed by
# tests/test_export.py and examples/save_load_export.py: about +90 s and +1.7 GB.
# torch==2.13.0 for the torch smoke subset: keraslearn's installer takes its CPU build (from pip's
# find-links when a wheel lies there, else PyTorch's CPU index), where `pip install torch` on Linux
# would take PyPI's multi-GB CUDA build; where PyTorch's index cannot be reached, PyPI's build.
install-test: $(BIN)/python
	$(PIP) install -e ".[test,export]"
	$(BIN)/keraslearn install --backend torch --gpu no || $(PIP) install "torch==2.13.0"

demo: install
	$(BIN)/keraslearn demo

# Full suite on JAX (the default backend), then the torch smoke subset.
test: install-test
	$(BIN)/python -m pytest -n $(WORKERS) -q
	KERAS_BACKEND=torch $(BIN)/python -m pytest -n $(WORKERS) -q -m torch

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info keraslearn-demo
