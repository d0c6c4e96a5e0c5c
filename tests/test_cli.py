"""The CLI main job: demo, fit, predict, evaluate, and one-line errors with exit code 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keraslearn.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory, iris_mixed):
    X, y = iris_mixed
    path = tmp_path_factory.mktemp("data") / "iris.csv"
    X.assign(species=y).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, iris_csv):
    out = tmp_path_factory.mktemp("model") / "iris.keraslearn"
    code = main(["fit", str(iris_csv), "--target", "species", "--epochs", "30", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_fit_writes_artifact_curve_and_metrics(fitted):
    assert fitted.exists()
    assert fitted.with_name("iris_learning_curve.png").stat().st_size > 1000
    metrics = json.loads(fitted.with_name("iris_metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.7 and "roc_auc" in metrics["test"]


def test_predict_and_evaluate(fitted, iris_csv, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    assert main(["predict", str(fitted), str(iris_csv), "--out", str(out), "--quiet"]) == 0
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert len(preds) == 150
    truth = pd.read_csv(iris_csv)["species"]
    assert (preds["prediction"] == truth).mean() > 0.7
    assert main(["evaluate", str(fitted), str(iris_csv), "--target", "species", "--json"]) == 0
    captured = capsys.readouterr()
    scores = json.loads(captured.out)  # stdout holds the JSON alone: the table is on stderr
    assert scores["accuracy"] == pytest.approx((preds["prediction"] == truth).mean())
    assert "accuracy" in captured.err
    assert main(["evaluate", str(fitted), str(iris_csv), "--target", "species"]) == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and f"{scores['accuracy']:.4f}" in captured.out  # the table, redirectable


def test_predict_keep_columns_never_collide_with_the_output(fitted, iris_csv, tmp_path, capsys, monkeypatch):
    # A repeated --keep is kept once; a kept column named like an output column is a one-line error,
    # not a file with two "prediction" columns (or pyarrow's traceback for .parquet).
    data = tmp_path / "ids.csv"
    pd.read_csv(iris_csv).assign(id=range(150), prediction="old").to_csv(data, index=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["predict", str(fitted), str(data), "--keep", "id", "--keep", "id", "--out", "~/p.csv",
                 "--quiet"]) == 0
    preds = pd.read_csv(tmp_path / "p.csv")  # "~" is the home folder, as in pandas
    assert list(preds.columns)[:2] == ["id", "prediction"] and preds["id"].tolist() == list(range(150))
    capsys.readouterr()
    assert main(["predict", str(fitted), str(data), "--keep", "prediction", "--out", str(tmp_path / "x.parquet"),
                 "--quiet"]) == 2
    assert "--keep prediction: the output has a column of that name" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_regression_parquet_and_params(tmp_path, diabetes_mixed):
    X, y = diabetes_mixed
    data = tmp_path / "d.parquet"
    X.assign(target=y.to_numpy()).to_parquet(data)
    out = tmp_path / "d.keraslearn"
    code = main(["fit", str(data), "--target", "target", "--epochs", "5", "--out", str(out), "--quiet",
                 "--param", "layer_units=(16,)"])
    assert code == 0
    import keraslearn

    model = keraslearn.load(out)
    assert type(model).__name__ == "FFRegressor" and model.layer_units == (16,)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope.csv", "--target", "y"], "no such file: nope.csv"),
        (["fit", "{iris}", "--target", "nope"], "target column 'nope' not found"),
        (["fit", "{bad}", "--target", "y"], "cannot read"),
        (["predict", "nope.keraslearn", "{iris}"], "no such model file"),
        (["predict", "{iris}", "{iris}"], "not a keraslearn artifact"),
        (["fit", "{iris}", "--target", "species", "--learner", "nope"], "Unknown learner 'nope'"),
    ],
)
def test_errors_are_one_line_exit_2(argv, message, iris_csv, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    argv = [a.format(iris=iris_csv, bad=bad) for a in argv]
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-m", "keraslearn", *argv], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr


def test_help_everywhere():
    for cmd in ([], ["fit"], ["predict"], ["evaluate"], ["demo"]):
        with pytest.raises(SystemExit) as exc:
            main([*cmd, "--help"])
        assert exc.value.code == 0


def test_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-m", "keraslearn", "demo", "--out-dir", str(tmp_path), "--epochs", "20"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "boston_ff.keraslearn").exists() and (tmp_path / "boston_ff_learning_curve.png").exists()
    assert "rmse" in r.stderr and "r2" in r.stderr
    metrics = json.loads((tmp_path / "boston_ff_metrics.json").read_text())
    assert metrics["test"]["r2"] > 0.5


def test_learning_curve_shows_a_one_epoch_fit_and_whole_epochs():
    from keraslearn.report.plots import _curve_figure

    one = _curve_figure({"loss": [0.5], "val_loss": [0.6]}, "one epoch").axes[0]
    assert all(line.get_marker() == "o" for line in one.get_lines()[:2])  # a single point is drawn
    one.figure.canvas.draw()
    assert [float(t) for t in one.get_xticks() if 0.5 <= t <= 1.5] == [1.0]  # not 0.96, 0.98, ...
    five = _curve_figure({"loss": [0.5, 0.4, 0.35, 0.3, 0.28]}, "five").axes[0]
    five.figure.canvas.draw()
    ticks = [t for t in five.get_xticks() if 1 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_a_diverged_fit_has_no_best_epoch_and_keeps_its_metric_names(iris_mixed):
    import warnings

    from keraslearn import FFClassifier
    from keraslearn.report import score_table
    from keraslearn.report.plots import _curve_figure

    nan = float("nan")
    ax = _curve_figure({"loss": [nan, nan], "val_loss": [nan, nan]}, "diverged").axes[0]
    assert not [t for t in ax.get_legend().get_texts() if "best epoch" in t.get_text()]
    ax = _curve_figure({"loss": [1.0, 0.5, nan], "val_loss": [0.9, 0.7, nan]}, "diverged late").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts() if "best epoch" in t.get_text()] == ["best epoch (2)"]
    # A classifier whose fit diverged scores NaN under the names a finite one reports (roc_auc too).
    X, y = iris_mixed
    y = (y == "setosa").map({True: "yes", False: "no"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the divergence warning
        clf = FFClassifier(learning_rate=1e15, early_stopping=False, epochs=2, random_state=0).fit(X, y)
    scores = score_table(clf, X, y)
    assert set(scores) == {"accuracy", "balanced_accuracy", "log_loss", "roc_auc"}
    assert all(v != v for v in scores.values())
