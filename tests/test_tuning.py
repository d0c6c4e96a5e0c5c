"""keraslearn.tune: holdout and CV scoring, pruning, resume after a kill, the CLI, sklearn searches."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

import keraslearn  # noqa: E402
from keraslearn import FFClassifier, FFRegressor, KerasClassifier  # noqa: E402
from keraslearn.cli import UsageError, build_parser  # noqa: E402
from keraslearn.preprocessing import ColumnWarning  # noqa: E402
from keraslearn.tuning.storage import WORKER_ATTR  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
# Small networks and few epochs: each trial is dominated by Keras' compile time.
SPACE = {
    "n_layers": IntDistribution(1, 2),
    "units": IntDistribution(4, 16, log=True),
    "learning_rate": FloatDistribution(1e-3, 3e-2, log=True),
}


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("KERAS_BACKEND", "jax")
    # Less XLA optimisation: compiling dominates these tiny fits.
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    return env


def test_holdout_tune_refits_resumes_and_reports(tmp_path, iris_mixed):
    # One test, so that parallel test workers never run these three trials twice.
    X, y = iris_mixed
    db = tmp_path / "study.db"
    learner = FFClassifier(epochs=4, batch_size=32, patience=2)
    best, study = keraslearn.tune(  # a numpy seed, as np.arange gives: stored with the trials as JSON
        learner, X, y, space=SPACE, n_trials=3, validation_fraction=0.3, storage=db, random_state=np.int64(0)
    )
    assert learner.get_params()["callbacks"] is None  # the user's learner is untouched
    _check_refit(best, study, X, y)
    _check_resume(learner, study, db, X, y)
    _check_report(best, study, X, tmp_path / "report")


def _check_refit(best, study, X, y):
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3
    assert study.best_value == max(t.value for t in trials)
    p = study.best_trial.params
    # Derived names are combined into the learner's own parameter.
    assert best.layer_units == (p["units"],) * p["n_layers"]
    assert best.learning_rate == pytest.approx(p["learning_rate"])
    # Refitted on all rows, and the fixed parameters are kept.
    assert best.epochs == 4 and best.n_features_in_ == X.shape[1]
    assert set(best.predict(X)) <= set(y)
    # best_params gives back the seed tune gave the trial's fits (without it a refit scored otherwise).
    params = keraslearn.tuning.best_params(FFClassifier(epochs=4), study)
    assert params["random_state"] == 0 and best.random_state == 0
    # Pruning saw each epoch's validation score (-val_loss) of every trial.
    for t in trials:
        assert len(t.intermediate_values) == t.user_attrs["epochs"][0]
        assert all(v < 0 for v in t.intermediate_values.values())


def _check_resume(learner, study, db, X, y):
    # The derived study name is stable: a second identical call finds 3 finished trials and runs none.
    _, again = keraslearn.tune(
        learner, X, y, space=SPACE, n_trials=3, validation_fraction=0.3, storage=db, random_state=0, refit=False
    )
    assert again.study_name == study.study_name
    assert len(again.trials) == 3
    # Same study name with other settings is refused, not mixed in.
    with pytest.raises(ValueError, match="created with other settings"):
        keraslearn.tune(
            learner, X, y, space=SPACE, n_trials=3, validation_fraction=0.3, storage=db,
            study_name=study.study_name, scoring="balanced_accuracy",
        )


def _check_report(best, study, X, directory):
    from keraslearn.tuning.report import trials_frame, write_report

    written = write_report(study, directory, best)
    assert written["skipped"] == {}
    for name in ("optimization_history", "param_importances", "learning_curves"):
        assert Path(written[name]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    frame = trials_frame(study)
    assert list(frame["trial"]) == [0, 1, 2] and set(frame["state"]) == {"COMPLETE"}
    assert {"learning_rate", "units", "n_layers", "worker"} <= set(frame.columns)
    np.testing.assert_array_equal(keraslearn.load(written["best_model"]).predict(X), best.predict(X))


def test_cv_mode_scores_every_fold(tmp_path, diabetes_mixed):
    X, y = diabetes_mixed
    X, y = X.iloc[:160].assign(patient=[f"p{i}" for i in range(160)]), y.iloc[:160]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        best, study = keraslearn.tune(
            FFRegressor(epochs=3, batch_size=32, validation_fraction=0.0), X, y,
            space={"learning_rate": SPACE["learning_rate"]},
            n_trials=2, cv=2, scoring="neg_mean_absolute_error", storage=tmp_path / "cv.db", random_state=1,
            refit=False,
        )
    assert best is None
    # Every fold of every trial fits an encoder that finds the identifier; the study says it once.
    ids = [w for w in said if issubclass(w.category, ColumnWarning)]
    assert len(ids) == 1 and str(ids[0].message).startswith("Categorical column 'patient' has 80 levels in 80 rows")
    assert ids[0].filename == __file__  # the user's tune line, not Optuna's loop or a contextlib wrapper
    with warnings.catch_warnings(record=True) as said:  # after tune, said again by every fit
        warnings.simplefilter("always")
        for _ in range(2):
            keraslearn.TabularEncoder().fit(X)
    assert len([w for w in said if issubclass(w.category, ColumnWarning)]) == 2
    for t in study.trials:
        folds = t.user_attrs["fold_scores"]
        assert len(folds) == 2 and all(f < 0 for f in folds)
        assert t.value == pytest.approx(np.mean(folds))
        # Only the first fold's learning curve (here the training loss: no validation rows) is reported.
        assert len(t.intermediate_values) == t.user_attrs["epochs"][0] == 3
    from io import StringIO

    from rich.console import Console

    from keraslearn.tuning.report import print_trials

    out = StringIO()
    print_trials(Console(file=out, width=200), study)
    assert "epochs, all folds" in out.getvalue()  # QA: "epochs 6" after tune --epochs 3 read as a bug


def test_the_trial_table_keeps_its_numbers_whole_on_a_narrow_terminal():
    """QA: a narrow terminal showed the scores as "-3371.…"; the parameters fold instead."""
    from io import StringIO

    from rich.console import Console

    from keraslearn.console import score
    from keraslearn.tuning.report import print_trials

    study = optuna.create_study(direction="maximize")
    for i in range(3):
        trial = study.ask({"learning_rate": FloatDistribution(1e-4, 1e-1, log=True)})
        trial.set_user_attr("epochs", [12, 13])
        study.tell(trial, -3371.912345 + i / 10)
    narrow = StringIO()
    print_trials(Console(file=narrow, width=30), study)
    assert all(score(t.value) in narrow.getvalue() for t in study.trials), narrow.getvalue()


NOTEBOOK_IMPORT = textwrap.dedent(
    """
    import sys, types, warnings
    ipython = types.ModuleType("IPython")  # a Jupyter kernel, as tqdm.auto sees one, without ipywidgets
    class ZMQInteractiveShell: pass
    ipython.get_ipython = lambda: ZMQInteractiveShell()
    sys.modules["IPython"] = ipython
    sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        if sys.argv[1] == "keraslearn":
            import keraslearn
            keraslearn.tuning.search_space(keraslearn.FFClassifier())
        else:
            import optuna
    print(sum("IProgress not found" in str(w.message) for w in said))
    """
)


def test_optuna_s_notebook_warning_is_not_shown_by_keraslearn():
    """QA in a Jupyter kernel without ipywidgets: tune(verbose=0) showed tqdm's "IProgress not found" warning,
    which optuna's import of tqdm.auto gives (keraslearn draws its own bars)."""
    counts = {}
    for who in ("optuna", "keraslearn"):
        r = subprocess.run([sys.executable, "-c", NOTEBOOK_IMPORT, who], capture_output=True, text=True,
                           env=_env(), timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        counts[who] = int(r.stdout.strip().splitlines()[-1])
    assert counts == {"optuna": 1, "keraslearn": 0}  # the kernel is one where the warning is given


def test_pruner_stops_a_bad_trial(tmp_path, iris_mixed):
    X, y = iris_mixed
    storage = f"sqlite:///{tmp_path / 'prune.db'}"
    study = optuna.create_study(storage=storage, study_name="prune", direction="maximize")
    # A good learning rate first, then two that barely move the weights.
    for lr in (3e-2, 1e-6, 1e-6):
        study.enqueue_trial({"learning_rate": lr})
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    _, study = keraslearn.tune(
        FFClassifier(layer_units=(16,), epochs=8, batch_size=16, early_stopping=False), X, y,
        space={"learning_rate": FloatDistribution(1e-6, 1e-1, log=True)}, n_trials=3, validation_fraction=0.3,
        storage=storage, study_name="prune", pruner=pruner, random_state=0, refit=False,
    )
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED]
    assert len(study.trials[0].intermediate_values) == 8
    assert all(len(t.intermediate_values) < 8 for t in study.trials[1:])
    # Optuna keeps a pruned trial's last epoch value (minus the loss) as its value: not a score.
    from io import StringIO

    from rich.console import Console

    from keraslearn.tuning.report import print_trials, trials_frame

    frame = trials_frame(study)
    assert frame["score"].notna().tolist() == [True, False, False]
    out = StringIO()
    print_trials(Console(file=out, width=200), study)
    assert "the top 1 of 3 trials" in out.getvalue() and "all folds" not in out.getvalue()  # one fit a trial


def test_pruner_choices():
    from keraslearn.tuning.study import _make_pruner

    assert isinstance(_make_pruner("median", FFClassifier()), optuna.pruners.MedianPruner)
    hyperband = _make_pruner("hyperband", FFClassifier(epochs=7))
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner) and hyperband._max_resource == 7
    assert isinstance(_make_pruner(None, FFClassifier()), optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="pruner must be"):
        _make_pruner("asha", FFClassifier())


def test_bad_arguments_fail_before_any_trial(tmp_path, iris_mixed):
    X, y = iris_mixed
    db = tmp_path / "bad.db"
    with pytest.raises(TypeError, match=r"space\['units'\]"):
        keraslearn.tune(FFClassifier(), X, y, space={"units": [8, 16]}, storage=db)
    with pytest.raises(ValueError, match="no parameter"):
        keraslearn.tune(FFClassifier(), X, y, space={"n_estimators": IntDistribution(1, 5)}, storage=db)
    with pytest.raises(ValueError, match="either cv or validation_fraction"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, cv=3, validation_fraction=0.2, storage=db)
    with pytest.raises(ValueError, match="n_trials"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, n_trials=0, storage=db)
    for timeout in (0, -1, "60"):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            keraslearn.tune(FFClassifier(), X, y, space=SPACE, n_trials=None, timeout=timeout, storage=db)
    # A derived name alone names its partner instead of "no parameter n_layers".
    with pytest.raises(ValueError, match="n_layers make layer_units together with units: add units"):
        keraslearn.tune(FFClassifier(), X, y, space={"n_layers": IntDistribution(1, 3)}, storage=db)
    with pytest.raises(ValueError, match="rows"):
        keraslearn.tune(FFClassifier(), X, y[:-1], space=SPACE, storage=db)
    # Both ends of each distribution and every choice are checked, not only the lowest value / first choice.
    with pytest.raises(ValueError, match=r"space\['dropout'\]'s upper end 1.5 is refused.*dropout must be < 1"):
        keraslearn.tune(FFClassifier(), X, y, space={"dropout": FloatDistribution(0.5, 1.5)}, storage=db)
    with pytest.raises(ValueError, match=r"space\['activation'\]'s choice 'no_such' is refused"):
        keraslearn.tune(FFClassifier(), X, y, space={"activation": CategoricalDistribution(["relu", "no_such", "elu"])},
                        storage=db)  # a middle choice too: a sampler may reach it only after hours of trials
    # A target fit would refuse, refused with fit's words before the folds sort its labels (a TypeError from
    # comparing NaN with "yes" before) and before a trial fails on sklearn's bare "Input contains NaN".
    labels = pd.Series(np.asarray(y).astype(str), dtype=object)
    labels[5] = np.nan
    with pytest.raises(ValueError, match="y contains missing labels; drop those rows"):
        keraslearn.tune(FFClassifier(), X, labels, space=SPACE, storage=db)
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(1 row\(s\), at position\(s\) 3\)"):
        keraslearn.tune(FFRegressor(), X, np.where(np.arange(len(y)) == 3, np.nan, 1.0), space=SPACE, storage=db)
    assert not db.exists() or not optuna.get_all_study_names(f"sqlite:///{db}")


def test_folds_too_small_to_hold_validation_rows_prune_on_the_training_loss(tmp_path):
    """A training fold of 5 rows holds out no validation rows: the study's pruning callback, made to watch
    val_loss, was refused by fit's monitor check although it falls back to the training loss itself."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    space = {"units": IntDistribution(4, 8), "n_layers": IntDistribution(1, 1)}
    best, study = keraslearn.tune(FFRegressor(epochs=2), X, X[:, 0], space=space, cv=2, n_trials=1,
                                  storage=tmp_path / "t.db")
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE and trial.user_attrs["reported"] == "loss"
    assert np.isfinite(best.predict(X)).all()


@pytest.mark.filterwarnings("ignore:Choices for a categorical distribution")  # the test's own tuples
def test_bad_learner_scoring_space_or_storage_fail_early_naming_the_cause(tmp_path, iris_mixed, diabetes_mixed):
    X, y = iris_mixed
    db = tmp_path / "bad.db"
    # The learner's own parameter is named as the cause, not the search space.
    with pytest.raises(ValueError, match=r"^FFClassifier refuses its parameters: epochs must be") as err:
        keraslearn.tune(FFClassifier(epochs=0), X, y, space=SPACE, storage=db)
    assert "search space" not in str(err.value)
    # A scorer that cannot score the task fails now, naming scoring and scorers that can.
    with pytest.raises(ValueError, match=r"scoring='roc_auc' cannot score this classification target .*roc_auc_ovr"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, scoring="roc_auc", storage=db)
    Xr, yr = diabetes_mixed
    with pytest.raises(ValueError, match=r"scoring='accuracy' cannot score this regression target .*'r2'"):
        keraslearn.tune(FFRegressor(), Xr, yr, space=SPACE, scoring="accuracy", storage=db)
    # A probability scorer on a regressor was DummyRegressor's AttributeError (a traceback in the CLI). (A
    # regression scorer on numeric labels stays allowed: MAE between ordinal classes is a real metric.)
    with pytest.raises(ValueError, match=r"scoring='roc_auc' cannot score this regression target \(it needs class "
                                         r"probabilities or decision scores, which a regressor has not\)"):
        keraslearn.tune(FFRegressor(), Xr, yr, space=SPACE, scoring="roc_auc", storage=db)
    with pytest.raises(TypeError, match="scoring must be one scorer"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, scoring=["accuracy", "f1_macro"], storage=db)
    with pytest.raises(ValueError, match=r"KerasClassifier has no parameter\(s\) \['units'\] \(a build function's own: "
                                         r"model__units\)"):
        keraslearn.tune(KerasClassifier(_build_units, model_params={"units": 8}), X, y,
                        space={"units": IntDistribution(4, 16)}, storage=db)
    # layer_units beside n_layers and units: its samples were overwritten, yet reported as tuned.
    with pytest.raises(ValueError, match=r"has layer_units and also n_layers and units, which make layer_units"):
        keraslearn.tune(FFClassifier(), X, y, space={**SPACE, "layer_units": CategoricalDistribution([8])},
                        storage=db)
    # Optuna would store tuple choices as lists (and warn); the error says what to use instead.
    with pytest.raises(TypeError, match=r"space\['layer_units'\] has tuple or list choices.*n_layers and units"):
        keraslearn.tune(FFClassifier(), X, y, space={"layer_units": CategoricalDistribution([(8,), (8, 8)])},
                        storage=db)
    assert not db.exists() or not optuna.get_all_study_names(f"sqlite:///{db}")
    # A SQLite file in a folder that does not exist fails at once (SQLite's own error came after retries).
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"folder '.*no_such_dir' does not exist"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, storage=tmp_path / "no_such_dir" / "s.db")
    assert time.monotonic() - start < 5
    # A URL missing slashes was read as a file in a folder named 'sqlite:'.
    with pytest.raises(ValueError, match=r"storage 'sqlite:/x.db' looks like a URL with slashes missing"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, storage="sqlite:/x.db")
    with pytest.raises(TypeError, match=r"storage must be None .* or an optuna storage object; got 5"):
        keraslearn.tune(FFClassifier(), X, y, space=SPACE, storage=5)


def test_trials_with_a_nan_score_are_replaced_and_reported(tmp_path, iris_mixed):
    X, y = iris_mixed
    calls = []

    def first_is_nan(estimator, X, y):
        calls.append(1)
        return float("nan") if len(calls) == 1 else estimator.score(X, y)

    learner = FFClassifier(layer_units=(8,), epochs=2, batch_size=32, early_stopping=False)
    with pytest.warns(UserWarning, match=r"1 trial\(s\) of study .* failed: their score was not a finite number"):
        _, study = keraslearn.tune(learner, X, y, space={"learning_rate": SPACE["learning_rate"]}, n_trials=2,
                                   validation_fraction=0.3, scoring=first_is_nan, storage=tmp_path / "nan.db",
                                   refit=False, random_state=0)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


def test_a_fit_that_diverges_fails_its_trial_not_the_study(tmp_path):
    """fit raises on a model that predicts NaN; without the pruning callback (a Pipeline has no callbacks
    parameter, and later folds are not pruned) that error is the trial's NaN score, not the study's end."""
    from optuna.distributions import CategoricalDistribution
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    pipe = make_pipeline(StandardScaler(), FFRegressor(epochs=2, optimizer="sgd", early_stopping=False,
                                                       layer_units=(8,)))
    with pytest.warns(UserWarning, match=r"2 trial\(s\) of study .* failed: their score was not a finite number"):
        _, study = keraslearn.tune(pipe, X, X["a"] * 2, space={"ffregressor__learning_rate": CategoricalDistribution(
            [1e30])}, n_trials=2, cv=2, storage=tmp_path / "d.db", refit=False, random_state=0)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2


def test_an_interrupted_study_says_once_what_it_kept(tmp_path, iris_mixed, capsys):
    X, y = iris_mixed
    calls = []

    def ctrl_c_in_second_trial(estimator, X, y):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return estimator.score(X, y)

    learner = FFClassifier(layer_units=(8,), epochs=2, batch_size=32, early_stopping=False)
    with pytest.raises(KeyboardInterrupt, match=r"^interrupted: 1 finished trial\(s\) of study .* are saved; run it"):
        keraslearn.tune(learner, X, y, space={"learning_rate": SPACE["learning_rate"]}, n_trials=3,
                        validation_fraction=0.3, scoring=ctrl_c_in_second_trial, storage=tmp_path / "int.db",
                        refit=False, random_state=0, verbose=1)
    assert "interrupted" not in capsys.readouterr().err  # the CLI prints the exception's message, once
    keraslearn.tune(learner, X, y, space={"learning_rate": SPACE["learning_rate"]}, n_trials=3,
                    validation_fraction=0.3, scoring=ctrl_c_in_second_trial, storage=tmp_path / "int.db",
                    refit=False, random_state=0, verbose=1)
    resumed = r"resuming study 'FFClassifier-\w+': 1 finished trial\(s\) kept, 2 to run"
    assert re.search(resumed, capsys.readouterr().err)
    # QA: a Ctrl-C in the refit printed a bare "interrupted", and a timeout ended the call without a word
    from keraslearn.tuning import study as study_module

    def ctrl_c(*args):
        raise KeyboardInterrupt

    args = dict(space={"learning_rate": SPACE["learning_rate"]}, validation_fraction=0.3, storage=tmp_path / "int.db",
                scoring=ctrl_c_in_second_trial, random_state=0, verbose=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(study_module, "_refit", ctrl_c)
        with pytest.raises(KeyboardInterrupt, match=r"^interrupted while refitting the best trial, no model written: "
                                                    r"3 finished trial\(s\) of study .* are saved; run it again to "
                                                    r"refit it\.$"):
            keraslearn.tune(learner, X, y, n_trials=3, **args)
    assert re.search(r"refitting the best trial \(\d\) on all 150 rows", capsys.readouterr().err)
    # one trial, then the timeout (or none: 0.01 s may pass in reading the study on a busy machine)
    keraslearn.tune(learner, X, y, n_trials=9, timeout=0.01, refit=False, **args)
    assert re.search(r"timeout of 0.01 s reached: study 'FFClassifier-\w+' holds [34] of 9 finished trials; run the "
                     r"same call again to continue it", capsys.readouterr().err)


def test_a_study_of_an_earlier_release_is_named_not_silently_passed_over():
    """Upgrade QA: a study recorded before studies held their data (its folds drawn otherwise) was passed over
    in silence by the same call, which started another; named, it was refused with a fix no call could apply."""
    from keraslearn.tuning.storage import CONFIG_ATTR, check_config, data_fingerprint, study_config
    from keraslearn.tuning.study import _derived_name

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    config = study_config(FFRegressor(epochs=3), None, "validation_fraction=0.3; rows 5d27", SPACE,
                          data_fingerprint(X, y))
    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(storage=storage, study_name="FFRegressor-3169370492d1", direction="maximize")
    old.set_user_attr(CONFIG_ATTR, {"learner": "FFRegressor", "scoring": None, "space": sorted(SPACE),
                                    "evaluation": "validation_fraction=0.3"})
    old.add_trial(optuna.trial.create_trial(value=0.5))
    with pytest.warns(UserWarning, match=r"holds study 'FFRegressor-3169370492d1' of FFRegressor \(1 trials\), made "
                                         r"by a keraslearn before 2026-11-22, .*This call starts study "
                                         r"'FFRegressor-new'"):
        assert _derived_name(storage, "FFRegressor-new", config) == "FFRegressor-new"
    with pytest.raises(ValueError, match=r"It was made by a keraslearn before 2026-11-22, which drew its folds "
                                         r"otherwise, so this one cannot resume it"):
        check_config(old, config)


def test_a_named_study_refuses_other_data_and_other_fixed_parameters():
    from keraslearn.tuning.storage import check_config, data_fingerprint, default_study_name, study_config

    rng = np.random.default_rng(0)
    X1, X2, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), rng.normal(size=30)
    one, other = data_fingerprint(X1, y), data_fingerprint(X2, y)
    assert one == data_fingerprint(X1.copy(), y) and one != other
    study = optuna.create_study(direction="maximize")
    check_config(study, study_config(FFRegressor(epochs=3), None, "cv=5", SPACE, one))
    # The same settings resume; so do another seed, verbosity, and values the space samples anyway.
    check_config(study, study_config(FFRegressor(epochs=3, random_state=7, verbose=1, learning_rate=0.1,
                                                 layer_units=(4,)), None, "cv=5", SPACE, one))
    with pytest.raises(ValueError, match="fixed epochs: study has 3, this call 2"):
        check_config(study, study_config(FFRegressor(epochs=2), None, "cv=5", SPACE, one))
    with pytest.raises(ValueError, match="data: the study was scored on other data"):
        check_config(study, study_config(FFRegressor(epochs=3), None, "cv=5", SPACE, other))
    # A study of an earlier release recorded its default batch of 256 (QA: the message named no way back)
    before = optuna.create_study(direction="maximize")
    check_config(before, study_config(FFRegressor(epochs=3, batch_size=256), None, "cv=5", SPACE, one))
    with pytest.raises(ValueError, match=r"fixed batch_size: study has 256, this call 'auto' \(256 was the tabular "
                                         r"learners' default before \"auto\": pass batch_size=256"):
        check_config(before, study_config(FFRegressor(epochs=3), None, "cv=5", SPACE, one))
    # Another learner: a parameter it lacks is named as absent, not as None.
    from keraslearn import SMLPRegressor

    with pytest.raises(ValueError, match=r"fixed numeric_embedding: study has None, this call \(no such parameter\)"):
        check_config(study, study_config(SMLPRegressor(epochs=3), None, "cv=5", SPACE, one))
    # A parameter the study tuned and this call fixes is named as tuned (it was "no such parameter").
    layers_only = {k: SPACE[k] for k in ("n_layers", "units")}
    with pytest.raises(ValueError, match=r"fixed learning_rate: study has \(tuned\), this call 0.001"):
        check_config(study, study_config(FFRegressor(epochs=3), None, "cv=5", layers_only, one))
    # Other ranges of the same names are another study (QA: units 200-400 continued a study of 8-16, mixing
    # both, and best_params could lie outside the space given), named or found by the settings alone.
    wider = {**SPACE, "units": IntDistribution(4, 64, log=True)}
    with pytest.raises(ValueError, match=r"range of units: study has IntDistribution\(high=16, log=True, low=4, "
                                         r"step=1\), this call IntDistribution\(high=64"):
        check_config(study, study_config(FFRegressor(epochs=3), None, "cv=5", wider, one))
    from keraslearn.tuning.storage import same_task_studies

    storage = optuna.storages.InMemoryStorage()
    found = optuna.create_study(storage=storage, study_name="by-an-earlier-release", direction="maximize")
    check_config(found, study_config(FFRegressor(epochs=3), None, "cv=5", SPACE, one))
    found.add_trial(optuna.trial.create_trial(value=0.5))
    assert same_task_studies(storage, "new", study_config(FFRegressor(epochs=3), None, "cv=5", SPACE, one)) == [
        ("by-an-earlier-release", [])]
    assert same_task_studies(storage, "new", study_config(FFRegressor(epochs=3), None, "cv=5", wider, one)) == []
    # A study recorded by an earlier keraslearn (no data or fixed parameters) still resumes.
    old = optuna.create_study(direction="maximize")
    old.set_user_attr("keraslearn", {"learner": "FFRegressor", "scoring": None, "evaluation": "cv=5",
                                     "space": sorted(SPACE)})
    check_config(old, study_config(FFRegressor(epochs=2), None, "cv=5", SPACE, other))
    # Two lambdas are two scorings: their default study names and recorded names differ.
    f1, f2 = (lambda e, X, y: e.score(X, y)), (lambda e, X, y: -e.score(X, y))
    names = {default_study_name(FFRegressor(), one, SPACE, "cv=5", f) for f in (f1, f2)}
    assert len(names) == 2
    # Another seed or device resumes the same default study (it started a second one, silently).
    assert default_study_name(FFRegressor(random_state=7, devices="cpu"), one, SPACE, "cv=5", None) == \
        default_study_name(FFRegressor(random_state=0), one, SPACE, "cv=5", None)
    assert study_config(FFRegressor(), f1, "cv=5", SPACE)["scoring"] != study_config(FFRegressor(), f2, "cv=5",
                                                                                        SPACE)["scoring"]


def test_folds_are_fixed_and_a_study_never_resumes_on_other_folds(tmp_path, iris_mixed):
    """The folds do not follow random_state (workers with their own sampler seeds score the same
    rows), and a call on other folds never continues a study scored on these."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from keraslearn.tuning.folds import splits_for as _splits

    X, y = iris_mixed
    for cv, validation_fraction in ((None, 0.3), (3, None)):
        first, label = _splits(FFClassifier(), X, y, cv, validation_fraction)
        again, label_again = _splits(FFClassifier(), X, y, cv, validation_fraction)
        assert label == label_again
        for (train, test), (train2, test2) in zip(first, again):
            np.testing.assert_array_equal(train, train2)
            np.testing.assert_array_equal(test, test2)
    labels = {_splits(FFClassifier(), X, y, KFold(k, shuffle=True, random_state=seed), None)[1]
              for k, seed in ((3, 0), (5, 0), (3, 7))}
    assert len(labels) == 3
    with pytest.warns(UserWarning, match="other folds each time it splits"):
        _splits(FFClassifier(), X, y, KFold(3, shuffle=True), None)

    db = tmp_path / "folds.db"
    learner = FFClassifier(layer_units=(8,), epochs=2, batch_size=32)
    space = {"dropout": FloatDistribution(0.0, 0.3)}
    _, study = keraslearn.tune(learner, X, y, space=space, n_trials=1, cv=2, storage=db, random_state=0, refit=False)
    _, joined = keraslearn.tune(learner, X, y, space=space, n_trials=2, cv=2, storage=db, random_state=1, refit=False)
    assert joined.study_name == study.study_name and len(joined.trials) == 2  # another seed, same folds
    named = dict(space=space, n_trials=2, storage=db, study_name="named", refit=False)
    keraslearn.tune(learner, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0), **named)
    with pytest.raises(ValueError, match="created with other settings"):
        keraslearn.tune(learner, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=7), **named)


def _scorer_named_acc():
    def acc(estimator, X, y):
        return estimator.score(X, y)

    return acc


def test_a_scoring_function_resumes_in_another_process():
    """The stored scoring is the function's name, not its repr (whose address differs per process)."""
    from keraslearn.tuning.storage import check_config, study_config

    one, other = _scorer_named_acc(), _scorer_named_acc()  # the same function, as a new process has it
    assert one is not other and repr(one) != repr(other)
    config = study_config(FFClassifier(), one, "cv=5", SPACE)
    assert config == study_config(FFClassifier(), other, "cv=5", SPACE)
    assert config["scoring"] == f"{__name__}._scorer_named_acc.<locals>.acc"
    study = optuna.create_study(direction="maximize")
    check_config(study, config)
    check_config(study, study_config(FFClassifier(), other, "cv=5", SPACE))  # resumes: no error
    with pytest.raises(ValueError, match="created with other settings"):
        check_config(study, study_config(FFClassifier(), "accuracy", "cv=5", SPACE))


def test_default_storage_is_a_sqlite_file_in_the_working_directory(tmp_path, monkeypatch):
    from keraslearn.tuning.storage import open_storage, storage_url

    monkeypatch.chdir(tmp_path)
    assert storage_url(None) == "sqlite:///keraslearn_tuning.db"
    assert storage_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    storage = open_storage(None)
    assert (tmp_path / "keraslearn_tuning.db").exists()
    assert storage.get_heartbeat_interval() is not None  # stale trials of dead workers get failed


def test_a_storage_path_is_the_file_named_whatever_its_characters(tmp_path, monkeypatch):
    """A plain path is not read as a URL: "%20" is not a space and "?" does not end the name (two paths
    that differ after a "?" shared one study), and messages show the path as written."""
    from keraslearn.tuning.storage import open_storage, redact, storage_url

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a #b%41").mkdir()
    names = ["run%202.db", "x?1.db", "x?2.db", "h #é 日本&'+.db", "a #b%41/s.db"]
    for name in names:
        open_storage(name)
        assert redact(storage_url(name)) == f"{tmp_path / name} (SQLite)"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(names[:4])
    assert [p.name for p in (tmp_path / "a #b%41").iterdir()] == ["s.db"]
    with pytest.raises(ValueError, match=r"the folder '.*/no%20such' does not exist"):
        open_storage("no%20such/s.db")
    # A study file an earlier version made for such a name (decoded, cut at "?") is pointed to, not lost.
    (tmp_path / "old y.db").write_bytes((tmp_path / "run%202.db").read_bytes())
    with pytest.warns(UserWarning, match=r"storage '\S*/old%20y.db' does not exist, but '\S*/old y.db' does: earlier "
                                         r"keraslearn versions read this storage as that file"):
        storage_url("old%20y.db")


RESUME_CHILD = textwrap.dedent(
    """
    import sys
    import time
    import keraslearn
    import keras
    from sklearn.datasets import load_iris
    from optuna.distributions import FloatDistribution

    class Slow(keras.callbacks.Callback):
        # A trial takes >= 1.5 s, so the parent sees trial 3 RUNNING and kills it there (a trial
        # of shared compiled steps takes ~0.1 s: it could finish between the parent's poll and kill).
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.25)

    X, y = load_iris(return_X_y=True, as_frame=True)
    keraslearn.tune(
        keraslearn.FFClassifier(layer_units=(8,), epochs=6, batch_size=16, validation_fraction=0.0,
                                callbacks=[Slow()]),
        X, y, space={"learning_rate": FloatDistribution(1e-3, 3e-2, log=True)}, n_trials=4,
        validation_fraction=0.3, storage=sys.argv[1], study_name="resume", random_state=0, refit=False,
    )
    """
)


def _trials(url):
    try:
        study = optuna.load_study(study_name="resume", storage=url)
        return study.get_trials(deepcopy=False)
    except Exception:  # not created yet, or the child is creating its tables or holds the write lock
        return []  # the caller's deadline and child checks catch a storage that never comes up


@pytest.mark.slow
def test_a_killed_study_resumes_where_it_stopped(tmp_path):
    db = tmp_path / "resume.db"
    url = f"sqlite:///{db}"
    child = subprocess.Popen([sys.executable, "-c", RESUME_CHILD, str(db)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        # Kill it while trial 3 runs, after two trials finished.
        while True:
            trials = _trials(url)
            states = [t.state for t in trials]
            # ... and has recorded its worker: a trial killed between its creation and that record
            # cannot be told from one running elsewhere.
            if (states.count(TrialState.COMPLETE) >= 2 and len(states) >= 3 and states[-1] == TrialState.RUNNING
                    and WORKER_ATTR in trials[-1].user_attrs):
                break
            assert child.poll() is None, child.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the tuning child made no progress"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    before = optuna.load_study(study_name="resume", storage=url).trials
    finished = {t.number: (t.params, t.value) for t in before if t.state == TrialState.COMPLETE}
    assert len(finished) >= 2
    assert TrialState.RUNNING in [t.state for t in before]  # the killed trial

    _, study = keraslearn.tune(
        FFClassifier(layer_units=(8,), epochs=6, batch_size=16, validation_fraction=0.0),
        *_iris(), space={"learning_rate": FloatDistribution(1e-3, 3e-2, log=True)}, n_trials=4,
        validation_fraction=0.3, storage=db, study_name="resume", random_state=0, refit=False,
    )
    trials = study.trials
    # The finished trials are kept as they were, the killed one is FAIL (not counted, not blocking),
    # and exactly the missing trials ran.
    for number, (params, value) in finished.items():
        assert trials[number].params == params and trials[number].value == value
    states = [t.state for t in trials]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) == 4
    assert states.count(TrialState.FAIL) == 1
    assert len(trials) == len(before) + (4 - len(finished))


def test_default_batch_sizes_are_those_that_fill_eight_steps_of_the_training_rows():
    from keraslearn.tuning.spaces import for_rows

    tabnet, ff = keraslearn.TabNetClassifier().search_space(), FFClassifier().search_space()
    assert for_rows(tabnet, 300)["batch_size"].choices == ("auto",)  # 1024 trained 1 step an epoch: near chance
    assert for_rows(tabnet, 8 * 512)["batch_size"].choices == ("auto", 256, 512)
    assert for_rows(tabnet, 100_000) == tabnet
    assert for_rows(ff, 2000)["batch_size"].choices == (32, 64, 128)
    assert for_rows(ff, 100)["batch_size"].choices == (32,)  # no "auto": the smallest stays
    assert {k: v for k, v in for_rows(ff, 100).items() if k != "batch_size"} == \
        {k: v for k, v in ff.items() if k != "batch_size"}


def test_each_column_warning_once_reads_past_a_folds_numbers_and_examples_and_keeps_to_its_thread():
    import threading

    from keraslearn._user_warnings import each_column_warning_once, warn_user

    def say(rows, examples, column="v"):
        warn_user(f"Column {column!r} holds numbers except in {rows} row(s), which hold {examples}; ...", column=column)

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with each_column_warning_once():
            say(3, "'?', 'abc', 'n/a'")
            say(1, "'?'")  # another fold: other rows, other examples
            say(2, "\"it's\"")
            say(3, "'?'", column="w")  # another column: said
            other = threading.Thread(target=say, args=(5, "'x'"))  # another thread is not inside the block
            other.start()
            other.join()
        say(3, "'?'")  # after the block: said again
    assert [(w.message.column, w.filename) for w in said] == [("v", __file__), ("w", __file__), ("v", __file__),
                                                             ("v", __file__)]


def test_a_default_space_study_started_before_the_batch_cut_resumes_with_its_own_batch_sizes(
        tmp_path, iris_mixed, monkeypatch):
    from keraslearn.tuning import study as tuning_study

    X, y = iris_mixed
    db, learner = tmp_path / "old.db", FFClassifier(epochs=1)
    with monkeypatch.context() as old:  # as tune ran before it cut the batch sizes
        old.setattr(tuning_study, "for_rows", lambda space, rows: space)
        _, first = keraslearn.tune(learner, X, y, n_trials=1, cv=2, storage=db, random_state=0, refit=False)
    _, study = keraslearn.tune(learner, X, y, n_trials=2, cv=2, storage=db, random_state=0, refit=False)
    assert study.study_name == first.study_name and len(study.trials) == 2
    assert {t.distributions["batch_size"].choices for t in study.trials} == {(32, 64, 128, 256, 512)}
    _, fresh = keraslearn.tune(learner, X, y, n_trials=1, cv=2, storage=tmp_path / "new.db", random_state=0,
                               refit=False)
    assert fresh.study_name == first.study_name  # the name is the uncut space's
    assert fresh.trials[0].distributions["batch_size"].choices == (32,)  # 67 training rows


def _iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True, as_frame=True)


def test_cli_tune_writes_a_report(tmp_path, iris_mixed, capsys):
    from keraslearn.cli import main

    X, y = iris_mixed
    data = tmp_path / "iris.csv"
    X.assign(species=y, w=np.arange(len(y)) % 2 + 1.0).to_csv(data, index=False)  # rows weighing 1 and 2
    report = tmp_path / "report"
    args = ["tune", str(data), "--target", "species", "--n-trials", "1", "--epochs", "3", "--validation-fraction",
            "0.3", "--storage", str(tmp_path / "cli.db"), "--study", "cli", "--quiet", "--weight", "w",
            "--param", "layer_units=(8,)", "--param", "dropout=0.0"]
    assert main([*args, "--report", str(report)]) == 0
    assert not (report / "param_importances.png").exists()  # one trial: nothing to estimate from
    for name in ("optimization_history.png", "learning_curves.png", "trials.csv", "best.keraslearn"):
        assert (report / name).stat().st_size > 0, name
    model = keraslearn.load(report / "best.keraslearn")
    study = optuna.load_study(study_name="cli", storage=f"sqlite:///{tmp_path / 'cli.db'}")
    assert len(study.trials) == 1
    assert model.learning_rate == pytest.approx(study.best_params["learning_rate"])
    # What --param fixes is not tuned: not sampled, and not overwritten (layer_units by n_layers × units).
    assert not {"dropout", "n_layers", "units"} & set(study.best_params)
    assert model.layer_units == (8,) and model.dropout == 0.0
    # 94 rows train each trial (105 less the learner's validation_fraction): only batch size 32 fills 8 steps
    assert study.trials[0].distributions["batch_size"].choices == (32,) and model.batch_size == 32
    assert model.predict(X).shape == (len(X),)
    assert model.target_name_ == "species"  # evaluate's default --target
    # The same command again: the study already holds its trial, so nothing more runs; without
    # --out or --report it says how to get the best model.
    capsys.readouterr()
    assert main([a for a in args if a != "--quiet"]) == 0
    assert len(study.trials) == 1
    err = capsys.readouterr().err
    assert "to save the best model, run the same command with --out best.keraslearn" in err
    assert "trials (1 complete); scores weighted by 'w'" in err  # the trials table says its scores are weighted
    assert list(model.feature_names_in_) == list(X.columns)  # the weight column is not learned from
    from keraslearn.tuning.report import score_name

    assert score_name(study) == "accuracy"  # the trials table and the history plot name the score
    assert score_name(optuna.create_study(study_name="r", storage=f"sqlite:///{tmp_path / 'cli.db'}")) == "score"


def test_cli_tune_usage_errors(tmp_path, capsys):
    from keraslearn.cli import main

    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    assert main(["tune", str(data), "--target", "zzz"]) == 2
    assert "target column 'zzz' not found" in capsys.readouterr().err
    assert main(["tune", str(data), "--target", "b", "--cv", "3", "--validation-fraction", "0.2"]) == 2
    capsys.readouterr()
    assert main(["tune", str(data), "--target", "b", "--n-trials", "0", "--storage", str(tmp_path / "t.db")]) == 2
    err = capsys.readouterr().err
    assert "--n-trials must be a positive integer" in err and "None" not in err  # the CLI cannot pass None
    assert main(["tune", str(data), "--target", "b", "--top", "-1", "--storage", str(tmp_path / "t.db")]) == 2
    assert "--top must be a positive integer" in capsys.readouterr().err
    table = tmp_path / "e.csv"
    table.write_text("a,b\n" + "".join(f"{i},{i * 0.5}\n" for i in range(20)))
    assert main(["tune", str(table), "--target", "b", "--scoring", "rmse", "--storage", str(tmp_path / "t.db")]) == 2
    assert "scoring='rmse' is not a scikit-learn scorer name; did you mean 'neg_root_mean_squared_error'?" in \
        capsys.readouterr().err
    # A misspelt alias is still found; a regression scorer is not offered for classes.
    assert main(["tune", str(table), "--target", "b", "--scoring", "rsme", "--storage", str(tmp_path / "t.db")]) == 2
    assert "did you mean 'neg_root_mean_squared_error'?" in capsys.readouterr().err
    classes = tmp_path / "c.csv"
    classes.write_text("a,b\n" + "".join(f"{i},{'xy'[i % 2]}\n" for i in range(20)))
    assert main(["tune", str(classes), "--target", "b", "--scoring", "rmse", "--storage", str(tmp_path / "t.db")]) == 2
    err = capsys.readouterr().err
    assert "for this classification target use e.g. 'accuracy'" in err and "neg_root" not in err
    assert main(["tune", str(data), "--target", "b", "--timeout", "0", "--storage", str(tmp_path / "t.db")]) == 2
    assert "--timeout must be a positive number of seconds; got 0" in capsys.readouterr().err
    assert main(["tune", str(data), "--target", "b", "--storage", "sqlite:/x.db"]) == 2  # a traceback, exit 1
    assert "storage 'sqlite:/x.db' looks like a URL with slashes missing" in capsys.readouterr().err
    # QA: an empty --storage and a folder were both "unable to open database file"
    assert main(["tune", str(data), "--target", "b", "--storage="]) == 2
    assert "storage is empty; give a SQLite file path" in capsys.readouterr().err
    assert main(["tune", str(data), "--target", "b", "--storage", str(tmp_path)]) == 2
    assert f"storage {str(tmp_path)!r} is a folder; give a SQLite file in it, e.g. {tmp_path / 'study.db'}" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tnue", str(data)])
    err = capsys.readouterr().err
    assert "invalid choice: 'tnue'" in err and err.rstrip().endswith("; did you mean tune?")  # as a mistyped option
    assert build_parser().parse_args(["tune", "d.csv", "--task", "Classification"]).task == "classification"
    # The CLI's own flag names, not tune()'s argument names; a mistyped flag is named by tune's parser.
    assert main(["tune", str(data), "--target", "b", "--cv", "1"]) == 2
    assert "--cv must be 2 folds or more" in capsys.readouterr().err
    assert main(["tune", str(data), "--target", "b", "--validation-fraction", "1"]) == 2
    assert "--validation-fraction must be in (0, 1); got 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune", str(data), "--target", "b", "--trials", "2"])
    err = capsys.readouterr().err
    assert err.startswith("usage: keraslearn tune")
    assert "unrecognized arguments: --trials 2; did you mean --n-trials?" in err
    # A learner's parameter typed as an option (QA: --dropout was "did you mean --drop?", which drops a column)
    for flag, said in (("--dropout", "dropout is a learner parameter: give it as --param dropout=VALUE"),
                       ("--learning-rate", "learning_rate is a learner parameter: give it as --param learning_rate"),
                       ("--seed", "did you mean --random-state?"),
                       ("--random_state", "did you mean --random-state?"),  # review: not the --param hint
                       ("--model", "did you mean --learner?"),  # review: model is only the Python learner's
                       ("--n_d", "unrecognized arguments: --n_d 1\n")):  # TabNet's, not ff's (the default)
        for command in ("tune", "fit"):
            with pytest.raises(SystemExit):
                main([command, str(data), "--target", "b", flag, "1"])
            assert said in capsys.readouterr().err
    from keraslearn.tasks import parse_params

    assert parse_params(["fmt={x:.2f}", "x={1: a}"]) == {"fmt": "{x:.2f}", "x": "{1: a}"}  # text, no dict advice
    with pytest.raises(SystemExit):  # install and doctor take --backend; the others run on KERAS_BACKEND
        main(["tune", str(data), "--target", "b", "--backend", "torch"])
    assert "the backend comes from the environment: KERAS_BACKEND=torch keraslearn tune" in capsys.readouterr().err
    for before in (["--backend", "torch"], ["--backend=torch"]):  # was "invalid choice: 'torch'" for COMMAND
        with pytest.raises(SystemExit):
            main([*before, "tune", str(data), "--target", "b"])
        assert "environment's backend: KERAS_BACKEND=torch keraslearn fit ..." in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--foo", "tune", str(data), "--target", "b"])  # before the command: the top level's
    err = capsys.readouterr().err
    assert err.startswith("usage: keraslearn [-h]") and "keraslearn: error: unrecognized arguments: --foo" in err
    # An output that cannot be written fails before any trial, not after the refit.
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    for flag, value in (("--out", "a-file/best.keraslearn"), ("--report", "a-file/report"), ("--out", "a-folder")):
        assert main(["tune", str(data), "--target", "b", flag, str(tmp_path / value),
                     "--storage", str(tmp_path / "u.db")]) == 2
        assert f"cannot write {tmp_path / value}" in capsys.readouterr().err
    assert not (tmp_path / "u.db").exists()


def test_cli_params_are_left_out_of_the_search_space(capsys):
    from keraslearn.console import console as _console
    from keraslearn.tuning.commands import _space_without

    learner = FFClassifier(layer_units=(8,), dropout=0.0)
    space = _space_without(learner, {"layer_units": (8,), "dropout": 0.0, "patience": 3}, _console())
    # layer_units is derived from n_layers × units: fixing it drops both.
    assert not {"layer_units", "n_layers", "units", "dropout"} & set(space) and "learning_rate" in space
    assert "not tuned (fixed with --param): n_layers, units, dropout" in capsys.readouterr().err
    with pytest.raises(UsageError, match="nothing is left to tune"):
        _space_without(learner, dict.fromkeys(learner.search_space(), 1), None)


@pytest.mark.slow
def test_grid_search_with_two_jobs(iris_mixed):
    from sklearn.model_selection import GridSearchCV

    X, y = iris_mixed
    learner = FFClassifier(epochs=3, batch_size=32, validation_fraction=0.0, random_state=0)
    # Learners are pickled to the workers (loky processes) and fitted there.
    grid = GridSearchCV(learner, {"layer_units": [(4,), (16,)]}, cv=2, n_jobs=2).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.layer_units == grid.best_params_["layer_units"]
    assert grid.best_estimator_.score(X, y) > 0.3


def test_a_failure_is_blamed_on_the_score_only_for_this_calls_own_non_finite_trials(tmp_path):
    """A trial another worker failed, or the heartbeat failed for a killed worker, is not this call's NaN score."""
    import warnings

    from keraslearn.tuning.storage import worker_id
    from keraslearn.tuning.study import _optimize

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'w.db'}", study_name="w", direction="maximize")

    def objective(trial):
        trial.set_user_attr(WORKER_ATTR, worker_id())
        # Meanwhile another worker's trial fails (or a killed worker's is failed by the heartbeat).
        study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={WORKER_ATTR: "elsewhere:1"}))
        trial.set_user_attr("fold_scores", [1.0])
        return 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _optimize(study, objective, 2, None, None)

    def nan_objective(trial):
        trial.set_user_attr(WORKER_ATTR, worker_id())
        trial.set_user_attr("fold_scores", [float("nan")])
        return float("nan") if trial.number == 4 else 1.0

    with pytest.warns(UserWarning, match=r"^1 trial\(s\) of study 'w' failed: their score was not a finite"):
        _optimize(study, nan_objective, 3, None, None)


def test_group_folds_take_groups_and_a_rare_class_says_the_folds_are_not_stratified(iris_mixed):
    from sklearn.model_selection import GroupKFold

    from keraslearn.tuning.folds import splits_for

    X, y = iris_mixed
    groups = np.arange(len(y)) // 10
    splits, _ = splits_for(FFClassifier(), X, y, GroupKFold(3), None, groups)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match=r"cv=GroupKFold splits by groups: pass tune\(\.\.\., groups=\.\.\.\)"):
        splits_for(FFClassifier(), X, y, GroupKFold(3), None)
    with pytest.raises(ValueError, match="with validation_fraction they would be ignored"):
        splits_for(FFClassifier(), X, y, None, 0.3, groups)
    with pytest.raises(ValueError, match=r"with cv=3 they would be ignored. Pass cv=GroupKFold\(n_splits=3\)"):
        splits_for(FFClassifier(), X, y, 3, None, groups)  # StratifiedKFold would mix the groups across folds
    with pytest.raises(ValueError, match="cv must be a number of folds"):
        splits_for(FFClassifier(), X, y, True, None)
    rare = np.asarray(y).copy()
    rare[:2] = "rare"
    with pytest.warns(UserWarning, match="rarest class of y has 2 row"):
        splits_for(FFClassifier(), X, rare, 3, None)
    with pytest.warns(UserWarning, match="rarest class of 'species' has 2 row"):  # a named target, as the CLI's
        splits_for(FFClassifier(), X, pd.Series(rare, name="species"), 3, None)


def test_a_class_too_small_for_the_folds_leaves_the_others_stratified():
    # QA: a class of 3 rows among 500 made cv=5 plain KFold, so one test fold got none of the 15 positives
    # (scikit-learn's StratifiedKFold only warns, and keeps the other classes balanced); with
    # validation_fraction, a class of one row switched stratification off for every class.
    from keraslearn.tuning.folds import splits_for

    X = np.zeros((500, 2))
    y = np.r_[np.zeros(482), np.ones(15), np.full(3, 2)].astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits, _ = splits_for(FFClassifier(), X, y, 5, None)
    assert [int((y[test] == 1).sum()) for _, test in splits] == [3] * 5
    assert [str(w.message) for w in caught] == [  # ours alone, not also StratifiedKFold's
        "the rarest class of y has 3 row(s), fewer than cv=5 folds (the other classes are stratified): some test "
        "folds lack it, and scorers such as roc_auc_ovr may fail there (neg_log_loss where a fold's training rows "
        "lack a class its test rows hold). Use fewer folds, or validation_fraction."]
    y = np.r_[np.zeros(90), np.ones(10), 2].astype(int)  # 101 rows; one of class 2
    for seed_row in range(3):
        y_shift = np.roll(y, seed_row)
        (train, test), = splits_for(FFClassifier(), np.zeros((101, 1)), y_shift, None, 0.2)[0]
        assert (y_shift[test] == 1).sum() == 2 and (y_shift[test] == 0).sum() == 18  # 20 rows, stratified
        assert np.flatnonzero(y_shift == 2)[0] in train and len(train) == 81
    # Too few rows on one side for a row of every class: not stratified (scikit-learn's own error before)
    (train, test), = splits_for(FFClassifier(), np.zeros((11, 1)), np.r_[np.repeat(np.arange(5), 2), 9], None, 0.8)[0]
    assert len(test) == 8 and 10 in train


def _build_units(spec, units=8):
    raise AssertionError("never built: the space is checked first")


def test_the_tuning_modules_the_docs_name_work_after_import_keraslearn():
    code = ("import keraslearn\n"
            "assert callable(keraslearn.tuning.storage.open_storage)\n"
            "assert keraslearn.tuning.callbacks.OptunaPruning.__name__ == 'OptunaPruning'\n"
            "print(keraslearn.tuning.spaces.without_fixed(keraslearn.FFClassifier().search_space(), ['dropout'])[1])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "['dropout']", r.stderr[-2000:]


def test_neg_log_loss_scores_rows_that_lack_some_of_the_models_classes(iris_mixed):
    """A rare class missing from the validation rows: scikit-learn's scorer failed ('y_true and y_prob contain
    different number of classes') after the trial trained; a class the model never saw is said plainly."""
    from sklearn.metrics import log_loss

    from keraslearn.tuning.checks import check_scoring

    X, y = iris_mixed
    clf = FFClassifier(layer_units=(4,), epochs=1, random_state=0).fit(X, y)
    scorer = check_scoring(clf, "neg_log_loss", y)
    two = np.asarray(y) != "setosa"
    score = scorer(clf, X[two], y[two])
    assert score == pytest.approx(-log_loss(y[two], clf.predict_proba(X[two]), labels=clf.classes_))
    with pytest.raises(ValueError, match=r"hold class\(es\) \['rare'\] that the trial's model never trained on"):
        scorer(clf, X[:3], np.array(["rare", "setosa", "setosa"]))


def test_a_trial_that_raises_names_its_number_and_settings(tmp_path, iris_mixed):
    X, y = iris_mixed

    def build(spec, units=8):
        raise ValueError(f"units={units} is not supported by my build")

    learner = keraslearn.KerasClassifier(build, epochs=1)
    with pytest.raises(ValueError, match="not supported by my build") as caught:
        keraslearn.tune(learner, X, y, space={"model__units": IntDistribution(8, 32)}, n_trials=1, cv=2,
                        storage=tmp_path / "raise.db", refit=False)
    assert any(re.match(r"\(in trial 0 of study '.*', fold 1 of 2, with \{'model__units': \d+\}\)", note)
               for note in caught.value.__notes__)


def test_the_default_space_warns_about_the_learners_own_settings_it_samples_anyway():
    import warnings

    from keraslearn.tuning.checks import check_space

    with pytest.warns(UserWarning, match=r"FFClassifier\(layer_units=\(8,\)\): the default search space samples "
                                         r"layer_units in every trial, overriding what is set here.*"
                                         r"without_fixed\(learner.search_space\(\), \['layer_units'\]\)\[0\]"):
        check_space(FFClassifier(layer_units=(8,), epochs=1), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_space(FFClassifier(epochs=1, patience=3), None)  # set, but not in the space: kept, nothing to say
        check_space(FFClassifier(layer_units=(8,)), {"learning_rate": optuna.distributions.FloatDistribution(0.1, 1)})


def test_report_draws_losses_as_losses_marks_the_best_trial_and_gives_pruned_trials_no_score(tmp_path, monkeypatch):
    """A CLI user's reading: the curves were minus the loss (−2.0 to −0.2) in unlabelled lines, pruned trials sat at
    the lowest score as if they had scored it, and the best-so-far line stopped at the last completed trial."""
    from keraslearn.tuning import report
    from keraslearn.tuning.callbacks import OptunaPruning

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    for number, (scale, state) in enumerate([(1.0, 0.5), (0.5, 0.7), (2.0, None)]):
        trial = study.ask({"units": IntDistribution(2, 16)})
        callback = OptunaPruning(trial, monitor="val_loss")
        for epoch in range(3):
            callback.on_epoch_end(epoch, {"val_loss": scale / (epoch + 1)})
        study.tell(trial, state, state=None if state else optuna.trial.TrialState.PRUNED)
    figures = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    report.plot_intermediate_values(study, tmp_path / "curves.png")
    ax = figures[-1].axes[0]
    assert ax.get_ylabel() == "validation loss"
    assert [line.get_label() for line in ax.get_lines()] == ["other trials", "best trial (1)", "pruned trials"]
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx([0.5, 0.25, 0.5 / 3])  # the loss, not minus it
    report.plot_optimization_history(study, tmp_path / "history.png")
    ax = figures[-1].axes[0]
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    assert list(best.get_xdata()) == [0, 1, 2] and list(best.get_ydata()) == [0.5, 0.7, 0.7]  # to the last trial
    assert "pruned (no score)" in [text.get_text() for text in ax.get_legend().get_texts()]
    assert 0.5 not in [y for c in ax.collections[1:] for y in c.get_offsets()[:, 1]]  # not at the lowest score


def test_report_names_the_loss_its_curves_show_and_skips_importances_of_equal_scores(tmp_path, monkeypatch):
    """With validation_fraction=0 the pruning callback reports minus the training loss, which the
    curves' axis called the validation loss; equal scores drew equal importance bars, with a warning."""
    from keraslearn.tuning import report
    from keraslearn.tuning.callbacks import OptunaPruning

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    for units in (4, 8):
        trial = study.ask({"units": IntDistribution(2, 16)})
        callback = OptunaPruning(trial, monitor="val_loss")
        for epoch in range(3):
            callback.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})  # no val_loss: no validation rows
        study.tell(trial, 0.5)
    labels = []
    monkeypatch.setattr(report, "_save", lambda fig, path: labels.append(fig.axes[0].get_ylabel()) or path)
    report.plot_intermediate_values(study, tmp_path / "curves.png")
    assert labels == ["training loss"]
    with pytest.raises(ValueError, match=r"every completed trial scored 0.5000: no parameter made a difference"):
        report.plot_param_importances(study, tmp_path / "importances.png")
    # A plot skipped in a report folder used before is removed, not left beside this study's files.
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "param_importances.png").write_bytes(b"an earlier study's plot")
    written = report.write_report(study, tmp_path / "r")
    assert "param_importances" in written["skipped"] and not (tmp_path / "r" / "param_importances.png").exists()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_silent_trial_is_failed_when_the_study_is_opened_with_nothing_left_to_run(tmp_path):
    """Optuna fails a trial past its heartbeat's grace period only when a trial starts: a worker killed on
    another machine (no process to check) left a trial RUNNING for good in a study resumed with nothing left
    to run, or only reported."""
    from keraslearn.tuning.storage import open_storage

    storage = open_storage(tmp_path / "stale.db", heartbeat_interval=1, grace_period=1)
    kwargs = dict(space={"learning_rate": FloatDistribution(1e-3, 3e-2, log=True)}, n_trials=1,
                  validation_fraction=0.3, storage=storage, study_name="stale", random_state=0, refit=False)
    learner = FFClassifier(layer_units=(4,), epochs=1, validation_fraction=0.0)
    _, study = keraslearn.tune(learner, *_iris(), **kwargs)
    lost = study.ask()  # a worker elsewhere: it started a trial, beat once, then went silent
    storage.record_heartbeat(lost._trial_id)
    time.sleep(2.5)
    _, again = keraslearn.tune(learner, *_iris(), **kwargs)  # 1 finished trial: nothing to run
    states = [t.state for t in again.get_trials(deepcopy=False)]
    assert states == [TrialState.COMPLETE, TrialState.FAIL]


def test_sample_weight_weights_every_trials_fits_and_scores_and_names_another_study(tmp_path, diabetes_mixed):
    from sklearn.base import clone
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    from keraslearn.tuning.storage import data_fingerprint

    X, y = diabetes_mixed
    X, y = X.iloc[:120], y[:120]
    w = np.random.default_rng(0).choice([0.0, 1.0, 4.0], len(y))
    learner = FFRegressor(layer_units=(8,), epochs=2, batch_size=32, random_state=0)
    space = {"learning_rate": FloatDistribution(1e-3, 1e-2, log=True)}
    cv = KFold(2, shuffle=True, random_state=0)
    best, study = keraslearn.tune(learner, X, y, sample_weight=w, space=space, n_trials=1, cv=cv,
                                  scoring="r2", storage=f"sqlite:///{tmp_path / 's.db'}", random_state=0)
    trial = study.best_trial
    fitted = clone(learner).set_params(learning_rate=trial.params["learning_rate"])
    expected = []
    for train, test in cv.split(X, y):
        fitted.fit(X.iloc[train], y[train], sample_weight=w[train])
        expected.append(r2_score(y[test], fitted.predict(X.iloc[test]), sample_weight=w[test]))
    assert trial.user_attrs["fold_scores"] == pytest.approx(expected, rel=1e-5)
    again = clone(learner).set_params(learning_rate=trial.params["learning_rate"]).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(best.predict(X), again.predict(X), rtol=1e-5, atol=1e-6)  # the refit is weighted
    # Without weights the study's data digest is the one it always was; with them another study is named.
    assert data_fingerprint(X, y, None) == data_fingerprint(X, y) != data_fingerprint(X, y, w)
    # What would stop the study in its first trial, after a fit, is said before any trial.
    half = np.r_[np.zeros(60), np.ones(60)]
    with pytest.raises(ValueError, match="sample_weight is 0 for every scored row of split 1 of 2"):
        keraslearn.tune(learner, X, y, sample_weight=half, space=space, n_trials=1, cv=KFold(2),
                        storage=f"sqlite:///{tmp_path / 'u.db'}")

    def unweighted_score(estimator, X, y):
        return 0.0

    with pytest.raises(TypeError, match="takes no sample_weight"):
        keraslearn.tune(learner, X, y, sample_weight=w, space=space, n_trials=1, cv=cv, scoring=unweighted_score,
                        storage=f"sqlite:///{tmp_path / 'u.db'}")
    with pytest.raises(ValueError, match="sample_weight has shape"):
        keraslearn.tune(learner, X, y, sample_weight=w[:-1], space=space, n_trials=1,
                        storage=f"sqlite:///{tmp_path / 't.db'}")


def test_the_same_call_resumes_a_study_whose_name_an_earlier_version_derived(tmp_path, iris_mixed):
    # A study's default name hashes the learner's parameters: a release that adds one derives another name.
    X, y = iris_mixed
    X, y = X.iloc[:60], y[:60]
    storage = f"sqlite:///{tmp_path / 's.db'}"
    space = {"learning_rate": FloatDistribution(1e-3, 1e-2, log=True)}
    kw = dict(space=space, validation_fraction=0.3, storage=storage, refit=False, random_state=0)
    learner = FFClassifier(layer_units=(4,), epochs=1, random_state=0)
    keraslearn.tune(learner, X, y, n_trials=2, study_name="FFClassifier-written-by-an-earlier-version", **kw)
    _, study = keraslearn.tune(learner, X, y, n_trials=3, **kw)
    assert study.study_name == "FFClassifier-written-by-an-earlier-version" and len(study.trials) == 3
    with pytest.warns(UserWarning, match=r"holds study 'FFClassifier-written-by-an-earlier-version' .*fixed epochs: "
                                         r"study has 1, this call 2"):
        _, other = keraslearn.tune(learner.set_params(epochs=2), X, y, n_trials=1, **kw)
    assert other.study_name != study.study_name and len(other.trials) == 1


def test_a_pipeline_without_a_space_is_told_to_give_one(iris_mixed):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris_mixed
    with pytest.raises(TypeError, match="Pipeline has no default search space.*'ffclassifier__dropout'"):
        keraslearn.tune(make_pipeline(FunctionTransformer(), FFClassifier()), X, y, n_trials=1)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_worker_sharing_a_study_counts_every_workers_trials_and_says_what_running_means(tmp_path):
    """Each worker's bar counted its own trials only, so three workers on --n-trials 6 each ended at '3/6' while
    the study held 8; and a summary listing a trial as running (another worker's, or a killed one's inside
    the grace period) did not say which."""
    import io

    from rich.console import Console

    from keraslearn.tuning.callbacks import TrialProgress
    from keraslearn.tuning.report import print_trials

    from keraslearn.tuning.storage import open_storage

    storage = open_storage(tmp_path / "shared.db", grace_period=45)
    study = optuna.create_study(direction="maximize", study_name="shared", storage=storage)
    for value in (0.5, 0.6, 0.7):  # two finished by other workers, then one by this one
        trial = study.ask()
        study.tell(trial, value)
    study.ask()  # another worker's, running
    finished = len(study.get_trials(states=(TrialState.COMPLETE,)))
    bar = TrialProgress(6, "tuning", lambda: len(study.get_trials(states=(TrialState.COMPLETE,))))
    bar(study, study.trials[2])
    (task,) = bar._progress.tasks
    assert task.completed == finished == 3 and "this worker: 1 complete; 3 finished by all" in task.fields["status"]
    assert "best 0.7000 (trial 2)" in task.fields["status"]  # four decimals, as the table prints it (was "0.7")
    over = TrialProgress(2, "tuning", lambda: 3)  # workers together finish a few more than n_trials
    over(study, study.trials[2])
    assert over._progress.tasks[0].completed == 2
    out = io.StringIO()
    print_trials(Console(file=out, width=200), study)
    text = " ".join(out.getvalue().split())  # rich wraps the title and caption to the table's width
    assert "(3 complete, 1 running)" in text and "running: trials of other workers, or of a worker that stopped " \
        "(a worker that opens the study fails those 45 s after their last heartbeat)" in text


def test_a_trial_leaves_out_parameters_that_cannot_act_in_it(iris_mixed, monkeypatch):
    # QA: frequency_scale was drawn in trials without the periodic embedding, TabM's n_bins with no piecewise one,
    # embed_dropout on data without categorical columns and TabNet's virtual_batch_size for batches it cannot
    # split: each an extra dimension for TPE that changed nothing (bitwise the same fits).
    from optuna.trial import FixedTrial

    from keraslearn.tuning.study import _Objective

    X, y = iris_mixed  # has a categorical column
    numeric = X.select_dtypes("number")

    def drawn(learner, data, params, rows=1000, space=None):
        space = learner.search_space() if space is None else space
        objective = _Objective(learner, data, y, space, [], None, 0, rows=rows)
        return set(objective.sample(FixedTrial(params)))

    realmlp = {"n_hidden_layers": 1, "hidden_width": 64, "activation": "relu", "dropout": 0.0,
               "learning_rate": 0.1, "weight_decay": 0.0, "frequency_scale": 0.1}
    assert "frequency_scale" not in drawn(keraslearn.RealMLPClassifier(), X, {**realmlp, "numeric_embedding": None})
    assert "frequency_scale" in drawn(keraslearn.RealMLPClassifier(), X, {**realmlp, "numeric_embedding": "pbld"})
    tabm = {"n_blocks": 1, "d_block": 64, "dropout": 0.0, "n_bins": 8, "numeric_embed_dim": 8,
            "learning_rate": 1e-3, "weight_decay": 1e-3}
    assert {"n_bins", "numeric_embed_dim"} <= drawn(keraslearn.TabMClassifier(), X, tabm)  # piecewise by default
    assert not {"n_bins", "numeric_embed_dim"} & drawn(keraslearn.TabMClassifier(numeric_embedding=None), X, tabm)
    assert drawn(keraslearn.TabMClassifier(numeric_embedding="periodic"), X, tabm) & {"n_bins", "numeric_embed_dim"} \
        == {"numeric_embed_dim"}
    ff = {"n_layers": 1, "units": 16, "activation": "relu", "dropout": 0.0, "input_dropout": 0.0,
          "use_batchnorm": False, "embed_dropout": 0.1, "learning_rate": 1e-3, "batch_size": 32}
    assert "embed_dropout" in drawn(FFClassifier(), X, ff)
    assert "embed_dropout" not in drawn(FFClassifier(), numeric, ff)  # nothing embedded
    assert "embed_dropout" not in drawn(FFClassifier(use_embedding=False), X, ff)
    tabnet = {"n_d": 8, "n_a": 8, "n_steps": 3, "gamma": 1.3, "n_independent": 1, "n_shared": 1,
              "lambda_sparse": 1e-3, "momentum": 0.02, "virtual_batch_size": 128, "learning_rate": 0.02}
    tabnet_clf = keraslearn.TabNetClassifier()
    assert "virtual_batch_size" not in drawn(tabnet_clf, X, {**tabnet, "batch_size": "auto"}, rows=500)  # 32 rows
    assert "virtual_batch_size" not in drawn(tabnet_clf, X, {**tabnet, "batch_size": "auto"}, rows=1100)  # 128
    assert "virtual_batch_size" in drawn(tabnet_clf, X, {**tabnet, "batch_size": "auto"}, rows=5000)  # 512 rows
    assert "virtual_batch_size" in drawn(tabnet_clf, X, {**tabnet, "batch_size": 256}, rows=500)
    # Folds of unequal size: virtual_batch_size is left out only if even the largest fit's batch cannot use it
    # (review: the smallest fold decided, and TimeSeriesSplit's later folds trained 256- and 512-row batches).
    from sklearn.model_selection import TimeSeriesSplit

    seen = []
    monkeypatch.setattr(_Objective, "__call__", lambda self, trial: seen.append(self.rows) or 0.5)  # no fits
    keraslearn.tune(tabnet_clf, np.zeros((6000, 2)), np.arange(6000) % 2, cv=TimeSeriesSplit(5), n_trials=1,
                    storage=optuna.storages.InMemoryStorage(), refit=False)
    assert seen == [int(5000 * 0.9)]  # the largest fold's 5,000 rows, less the learner's validation_fraction
    monkeypatch.undo()
    # A whole study: its trials hold no embed_dropout on numeric data, and best_params refit as usual.
    space = {"embed_dropout": FloatDistribution(0.0, 0.3), "units": IntDistribution(4, 8),
             "n_layers": IntDistribution(1, 1)}
    best, study = keraslearn.tune(FFClassifier(epochs=1), numeric, y, space=space, n_trials=2, random_state=0,
                                  validation_fraction=0.3, storage=optuna.storages.InMemoryStorage())
    assert all(set(t.params) == {"units", "n_layers"} for t in study.trials) and best.n_iter_ == 1
