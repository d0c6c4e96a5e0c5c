"""The main job's sub-commands: ``fit``, ``predict``, ``evaluate`` and ``demo``."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from keraslearn.cli import Once, UsageError
from keraslearn._atomic import check_writable, interrupts_deferred
from keraslearn.console import console as _console
from keraslearn.console import print_metrics, write_stdout
from keraslearn.console import say as _say
from keraslearn.console import to_json as _json
from keraslearn.outputs import (check_outputs, model_out, not_the_input, out_kind, plot_out, predictions_out,
                                save_or_keep, side_files, write_table)
from keraslearn.holdout import held_out
from keraslearn.tables import read_table, uncompressed
from keraslearn.scoring_notes import labels_as_classes, say_roc_auc_left_out, say_unseen_labels, some
from keraslearn.seen_rows import remember_rows, say_if_trained_on
from keraslearn.tasks import (TASKS, check_epochs, check_weight_column, columns_hint, listed_target, load_task,
                              missing_columns, parse_params, pop_weight, seed, split_target, stray_text)


# ------------------------------------------------------------ commands
# Learners the command line cannot give what they need.
_PYTHON_ONLY = {
    "KerasClassifier": "trains the model your Python build function makes (docs/custom-architectures.md)",
    "KerasRegressor": "trains the model your Python build function makes (docs/custom-architectures.md)",
    "CNNClassifier": "learns from images, not a table (docs/cnn.md)",
}


def check_cli_learner(args) -> None:
    """Refuse, before reading the data, a learner the command line cannot drive, or clashing epochs."""
    from keraslearn.learners.registry import resolve

    for task in ("classification", "regression"):
        try:
            cls = resolve(args.learner, task)
        except ValueError:
            continue  # an unknown name: said by _make_learner, with the known ones
        if cls.__name__ in _PYTHON_ONLY:
            raise UsageError(f"learner {args.learner!r} ({cls.__name__}) {_PYTHON_ONLY[cls.__name__]}; "
                             "use it from Python")
    check_epochs(args.epochs)
    params = parse_params(args.param)
    for flag, name in (("--epochs", "epochs"), ("--random-state", "random_state")):
        value, given = getattr(args, name), params.get(name)
        if value is not None and given is not None and given != value:
            raise UsageError(f"{flag} {value} and --param {name}={given} disagree; give one")


def _make_learner(name, task, params):
    from keraslearn.learners.registry import resolve, task_of

    try:
        cls = resolve(name, task if task_of(name) is None else None)  # a full name's task: checked below
    except ValueError as err:
        raise UsageError(str(err)) from None
    kind = "classification" if hasattr(cls, "predict_proba") else "regression"
    if kind != task:
        raise UsageError(f"learner {name!r} is a {kind} learner but the task is {task}; pass --task {kind}, or "
                         f"name a {task} learner")
    try:
        return cls(**params)
    except TypeError as err:
        from keraslearn.learners.registry import check_parameters
        from keraslearn.tuning.spaces import _DERIVED

        hint = "".join(f"; {', '.join(names)} are search-space names: give {target}=(...) instead"
                       for names, (target, _) in _DERIVED.items() if set(names) & set(params))
        if not hint:
            try:
                check_parameters(cls, params)
            except TypeError as unknown:
                raise UsageError(f"bad --param: {unknown}") from None
        raise UsageError(f"bad --param for {cls.__name__}: {err}{hint}") from None


def remember_table(learner, X: pd.DataFrame, y: pd.Series, weight=None) -> None:
    """Keep on a model the CLI trained what its training file said: how it wrote its numbers
    (``X.attrs["numbers"]``, from :func:`~keraslearn.tables.read_table`), so predict and evaluate read a
    file that does not show it the same way, the target's name (evaluate's default ``--target``) and the
    ``--weight`` column's (evaluate says whether its metrics are weighted by it)."""
    if X.attrs.get("numbers"):
        learner.table_numbers_ = X.attrs["numbers"]
    learner.target_name_ = str(y.name)
    if weight is not None:
        learner.weight_name_ = str(weight)


def train_and_report(X, y, learner, *, test_fraction, random_state, out, console, title, weight=None):
    """Hold out a test split, fit, print metrics, save the artifact and the learning curve.

    ``weight``: the column of X holding the row weights (``--weight``): split off after the test rows are
    held out, it weights the fit and the metrics. The artifact keeps what :func:`remember_table` keeps."""
    from keraslearn.report import plot_learning_curve, plot_predictions, score_table
    from keraslearn.training.fit import DivergedError

    classes = hasattr(learner, "predict_proba")
    X_tr, X_te, y_tr, y_te, held = held_out(X, y, test_fraction, random_state, classes=classes)
    (X_tr, w_tr), (X_te, w_te) = pop_weight(X_tr, weight), pop_weight(X_te, weight)
    weighted = "" if weight is None else f" weighted by {weight!r}"  # the rows, in training and the metrics
    weighing = ""  # rows of weight 0 take no part in the fit
    if w_tr is not None and (n_weighed := int(np.count_nonzero(np.asarray(w_tr)))) < len(w_tr):
        weighing = f" ({n_weighed} with weight > 0)"
    _say(console, f"training {type(learner).__name__} on {len(X_tr)} rows × {X_tr.shape[1]} columns"
                  f"{weighted and ','}{weighted}{weighing}; {held}")
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' own lines (--param verbose=2) are not results
            learner.fit(X_tr, y_tr, **({} if w_tr is None else {"sample_weight": w_tr}))
    except DivergedError as err:
        raise UsageError(f"{err} No model was written to {out}.") from None
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted after {time.perf_counter() - start:.0f} s of training; "
                                f"no model was written to {out}") from None
    seconds = time.perf_counter() - start
    validation_rows = _say_validation_rows(console, learner)
    remember_table(learner, X, y, weight)
    remember_rows(learner, X_tr, y_tr)
    if "verbose" in learner.get_params(deep=False):  # the command's progress display is not the saved learner's:
        learner.set_params(verbose=0)  # reused in Python (cross_validate), it fits quietly, as by default
    try:
        rows = {"train": score_table(learner, X_tr, y_tr, w_tr)}
        if X_te is not None:
            say_unseen_labels(console, learner, y_te, "the test rows")
            try:
                rows["test"] = score_table(learner, X_te, y_te, w_te)
            except ValueError as err:  # values the training rows were spared (an inf among the test rows)
                raise UsageError(f"{err} (in the rows --test-fraction held out for testing; no model was "
                                 f"written to {out})") from None
            say_roc_auc_left_out(console, learner, y_te, rows["test"], "the test rows hold", w_te)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted while scoring the trained model, before saving it; "
                                f"nothing was written to {out}") from None
    epochs = f"{learner.n_iter_} epoch{'s' * (learner.n_iter_ != 1)}, batches of {learner.batch_size_}"
    print_metrics(console, rows, title=f"{title} ({epochs}, {seconds:.1f} s)" + (weighted and f"; metrics{weighted}"))
    if X_te is not None:
        _say_few_rows(console, len(X_te), "test metrics", "another split (rerun with another --random-state to see "
                      "how much); a larger --test-fraction or more data steadies them, as does cross-validation in "
                      "Python (sklearn.model_selection.cross_validate)")
    out = Path(out)
    curve, metrics_path, plot = side_files(out)
    labels = {"classes": learner.classes_.tolist()} if classes else {}
    task = getattr(getattr(learner, "spec_", None), "task", None) or ("classification" if classes else "regression")
    report = _json({"learner": re.sub(r",\n\s+", ", ", repr(learner)),  # on one line: scikit-learn's repr wraps
                    "task": task, **labels, "features": [str(c) for c in X_tr.columns],
                    "target": str(y.name), **({} if weight is None else {"weight": str(weight)}),
                    "train_rows": len(X_tr),
                    **({} if validation_rows is None else {"validation_rows": validation_rows}),
                    "test_rows": 0 if X_te is None else len(X_te),
                    "random_state": random_state, "seconds": seconds, "epochs": learner.n_iter_,
                    "batch_size": learner.batch_size_, **rows}, indent=2)
    rows_shown, X_shown, y_shown, w_shown = ("test", X_te, y_te, w_te) if X_te is not None else \
        ("training", X_tr, y_tr, w_tr)
    with interrupts_deferred(f"the model, its curve, metrics and plot ({out}, {curve.name}, {metrics_path.name}, "
                             f"{plot.name})"):
        save_or_keep(learner, out, [
            (curve, lambda tmp: plot_learning_curve(learner, tmp, title=f"{title}: learning curve",
                                                    loss_label=_loss_label(learner))),
            (metrics_path, lambda tmp: Path(tmp).write_text(report)),
            (plot, lambda tmp: plot_predictions(learner, X_shown, y_shown, tmp, sample_weight=w_shown,
                                                title=f"{title}: the {len(X_shown)} {rows_shown} rows{weighted}")),
        ])
    _say(console, f"model    → {out}\ncurve    → {curve}\nmetrics  → {metrics_path}\nplot     → {plot} "
                  f"({rows_shown} rows)")
    return rows


# Below 30 test rows a metric rests on too few rows to compare models by: one row moves accuracy by more than
# 3 points, and accuracy's standard error (up to 0.5/sqrt(n)) is 9 points at 30 rows and more below; R² and ROC
# AUC vary more still.
_FEW_TEST_ROWS = 30


def _say_few_rows(console, n, what, other, unit="row"):
    """A note that ``what`` (metrics) from ``n`` rows (``unit``), fewer than :data:`_FEW_TEST_ROWS`, would differ
    on ``other``."""
    if n < _FEW_TEST_ROWS:
        _say(console, f"the {what} come from {n} {unit}{'s' * (n != 1)}, so they would differ a lot on {other}",
             style="yellow")


def _say_validation_rows(console, learner):
    """Say how many of the rows that took part in the fit the learner held out for validation (early stopping),
    as it counted them; return that number, or None for a learner that does not count them (images)."""
    trained, held = getattr(learner, "_n_train_rows", None), getattr(learner, "_n_validation_rows", None)
    if trained is None or held is None:
        return None
    n_fit = trained + held  # rows of weight 0 (--weight, or a class_weight of 0) took no part
    if held:
        why, off = ("for early stopping", "") if getattr(learner, "early_stopping", True) else \
            ("to report val_loss", "; early_stopping is off")
        _say(console, f"{held} of the {n_fit} training rows held out {why} (validation_fraction="
                      f"{learner.validation_fraction:g}{off}): the model learned from {trained}")
    return held


def _loss_label(learner) -> str:
    """The learning curve's loss axis: which loss, and on what a regressor's is measured."""
    from keraslearn.learners.loss_kinds import _loss_name

    name = _loss_name(learner.loss) or ("cross-entropy" if hasattr(learner, "classes_") else "mse")
    scaled = np.any(getattr(learner, "y_scale_", 1) != 1)  # a regressor's loss on the standardized target
    return f"loss: {name}" + (" (target standardized)" if scaled else "")


def cmd_fit(args):
    from keraslearn.learners.registry import known_names, unknown_learner

    if args.learner.strip().lower() not in known_names():
        raise UsageError(unknown_learner(args.learner))
    if not 0 <= args.test_fraction < 1:
        raise UsageError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    not_the_input(args.out, args.data)
    console = _console(args.quiet)
    check_cli_learner(args)
    given = parse_params(args.param)
    if args.random_state is None:  # --param random_state=2 seeds the split too, and the metrics say so
        args.random_state = given.get("random_state", 0)
    params = {"random_state": args.random_state, "verbose": 1, **given}
    if args.quiet:  # over --param verbose=2 too: Keras' epoch lines were still printed
        params["verbose"] = 0
    X, y, task = load_task(args, console)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    learner = _make_learner(args.learner, task, params)
    out = args.out or uncompressed(Path(args.data)).with_suffix(".keraslearn").name
    if Path(out).is_dir() or out.endswith(("/", os.sep)):  # "runs/": a folder, even one not made yet
        raise UsageError(f"--out {out} is a directory; give a file name, e.g. {Path(out) / 'model.keraslearn'}")
    model_out(out)
    check_outputs(out)
    if args.out is None and Path(out).is_file():  # named after the data: a fit of another --target replaces it
        _say(console, f"{out} exists: this fit replaces it and its curve and metrics (--out NAME writes "
                      "elsewhere)", style="yellow")
    train_and_report(
        X, y, learner, test_fraction=args.test_fraction, random_state=args.random_state, out=out, console=console,
        title=f"{args.target} ~ {type(learner).__name__}", weight=args.weight,
    )
    return 0


def _load_model(path):
    from keraslearn.io import load

    if not Path(path).expanduser().exists():
        raise UsageError(f"no such model file: {path}")
    try:
        return load(path)
    except ValueError as err:
        from keraslearn.tables import table_kind

        order = "; the model comes first: keraslearn predict MODEL DATA" * (table_kind(Path(path)) is not None)
        raise UsageError(f"{str(err).rstrip('.')}{order}") from None
    except OSError as err:  # a directory, no permission
        raise UsageError(f"cannot read model {path}: {err.strerror or err}") from None


def _features_for(model, df: pd.DataFrame, console, kept=()) -> pd.DataFrame:
    names = getattr(model, "feature_names_in_", None)
    if names is None and hasattr(model, "path_column"):
        return df  # an image model: it finds its column of file paths, kept with --keep or not
    if names is None:
        return _refuse_number_header(df.drop(columns=list(kept)))
    missing = [c for c in names if c not in df.columns]
    encoder = getattr(model, "encoder_", None)
    used = {*encoder.numeric_columns_, *encoder.categorical_columns_} if encoder is not None else set(names)
    unused = [c for c in missing if c not in used]  # missing in every training row: left out, values ignored
    if unused:
        df = df.assign(**{str(c): np.nan for c in unused})
        missing = [c for c in missing if c in used]
    if missing:
        shown = ", ".join(map(repr, missing[:20]))
        if len(missing) > 20:
            shown += f", ... ({len(missing)} of {len(names)})"
        raise UsageError(f"the data lacks the model's columns: {shown}; "
                         f"{columns_hint(missing, df.columns)}")
    extra = [c for c in df.columns if c not in set(names) and c not in kept]
    if extra:
        _say(console, f"ignoring columns the model was not trained on: {', '.join(map(str, extra))}")
    return df[list(names)]


def _refuse_number_header(df: pd.DataFrame) -> pd.DataFrame:
    """A text file without a header, for a model fitted without column names: pandas took its first row for
    the names, and that row was lost. Refused when the names are numbers and some are not whole numbers
    (3.67): whole numbers are names too (pandas' 0, 1, 2; years), and a blank field is "Unnamed: 0"."""
    if not df.attrs.get("header_line"):
        return df
    names = [str(c) for c in df.columns]
    blank = [bool(re.fullmatch(r"Unnamed: \d+", n)) for n in names]
    numeric = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce").notna().to_numpy()
    whole = np.array([bool(re.fullmatch(r"[-+]?\d+", n.strip())) for n in names], dtype=bool)
    if all(numeric | blank) and any(numeric & ~whole):
        raise UsageError(f"the first line holds numbers only ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}"
                         "): a file without a header, whose first row would be taken for column names and lost; "
                         "add a header line (any names, in the training order)")
    return df


def _feature_names(model) -> list:
    names = getattr(model, "feature_names_in_", None)
    return [] if names is None else [str(c) for c in names]


def _text_columns(model) -> list:
    """The model's categorical columns to read from a CSV as text: those with a level that reading
    it as a number would not give back ("02139", "1.50"), so "02139" stays the level it was at fit.
    Other levels ("1.0", "2139", "red") meet their values as pandas reads them, as at fit."""
    from keraslearn.preprocessing.coding import number_spelled_apart  # loaded with the model already

    encoder = getattr(model, "encoder_", None)
    if encoder is None or not _feature_names(model):
        return []
    return [str(c) for c, levels in zip(encoder.categorical_columns_, encoder.categories_)
            if any(number_spelled_apart(level) for level in levels)]


def cmd_predict(args):
    console = _console(args.quiet)
    if args.out:
        not_the_input(args.out, args.data)
        out_kind(args.out)  # before predicting: a name it cannot write is a one-line error
        predictions_out(args.out)
        check_writable(args.out)
    model = _load_model(args.model)
    keep = list(dict.fromkeys(args.keep))
    features = set(_feature_names(model))
    if hasattr(model, "path_column") and os.path.isdir(os.path.expanduser(args.data)):  # as predict takes
        from keraslearn.preprocessing.images import image_source  # the folder's files, named in a "path" column

        try:
            df = pd.DataFrame({"path": image_source(os.path.expanduser(args.data), None, "predict",
                                                     labelled=False)[0].paths})
        except ValueError as err:
            raise UsageError(str(err)) from None
        keep = list(dict.fromkeys(["path", *keep]))
    else:
        df = read_table(args.data, text=_text_columns(model), exact=[c for c in keep if c not in features],
                        keep=features, numbers=getattr(model, "table_numbers_", None))
    indexed = [c for c in keep if c not in df.columns and c in df.index.names]  # a Parquet file's named index
    if indexed:
        df = df.reset_index(level=indexed)
    missing_columns("--keep", keep, df)
    X = _features_for(model, df, console, kept=keep)
    try:
        # A classifier's labels from its probabilities, as its predict finds them: one pass, each warning once.
        proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
        pred = model.predict(X) if proba is None else model.classes_[np.argmax(proba, axis=1)]
        out = pd.DataFrame({"prediction": pred} if np.ndim(pred) == 1 else
                           {f"prediction_{i}": pred[:, i] for i in range(pred.shape[1])})
        if proba is not None:  # one frame: a column at a time fragments it (pandas warns)
            out = pd.concat([out, pd.DataFrame(proba, columns=[f"proba_{c}" for c in model.classes_])], axis=1)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    clash = [c for c in keep if c in set(out.columns)]
    if clash:
        raise UsageError(f"--keep {', '.join(clash)}: the output has a column of that name; rename it in DATA")
    kept = df[keep].reset_index(drop=True)
    if args.out and out_kind(args.out) == "parquet" and df.attrs.get("header_line"):
        # A typed table: an ID a text file writes as plain whole numbers (read verbatim) is one there.
        kept = kept.assign(**{str(c): pd.to_numeric(kept[c]) for c in keep
                              if c not in features and _plain_integers(kept[c])})
    out = pd.concat([kept, out], axis=1)  # e.g. an ID, to join the rows back
    if args.out:
        try:
            write_table(out, args.out)  # the file system's refusals are WriteErrors naming the file
        except ValueError as err:  # a table the format cannot hold
            raise UsageError(f"cannot write {args.out}: {err}") from None
        _say(console, f"{len(out)} predictions → {args.out}")
    else:
        write_stdout(out.to_csv(index=False))
    return 0


def _plain_integers(column: pd.Series) -> bool:
    """Whether a column read as the file's text holds whole numbers written as int64 writes them ("42",
    "-7": not "007", "+7" or "1e3", which the text keeps)."""
    return bool(len(column) and pd.api.types.infer_dtype(column, skipna=False) == "string"
                and column.str.fullmatch(r"0|-?[1-9]\d{0,17}").all())


# Written out, not read from the registry: importing keraslearn.learners imports Keras, which `--help`,
# `doctor` and `install` must not need (a test checks the list against the registry's families).
LEARNER_FAMILIES = ("ff", "smlp", "smlp2", "deep_wide", "tabnet", "cnn", "resnet", "ft_transformer", "realmlp", "tabm")
LEARNER_HELP = (f"learner name: a family ({', '.join(LEARNER_FAMILIES)}; the task picks classifier or regressor), "
                "an mlr3keras key (classif.kerasff) or a class (FFRegressor); default: ff")


def cmd_evaluate(args):
    from keraslearn.report import score_table

    console = _console(False)
    if args.plot is not None:
        plot_out(args.plot)
    model = _load_model(args.model)
    n_targets = getattr(getattr(model, "spec_", None), "n_targets", 1) or 1
    if n_targets > 1:  # its predictions have a column per target; the data's one --target cannot score them
        raise UsageError(f"the model predicts {n_targets} targets; evaluate scores models of one target column "
                         "(score this one in Python: model.score(X, Y) with Y's columns in fit's order)")
    unit = "row"
    if hasattr(model, "path_column") and os.path.isdir(os.path.expanduser(args.data)):
        X, y, weights = _labelled_images(args)
        unit = "image"
    else:
        X, y, weights = _labelled_rows(args, model, console)
        say_if_trained_on(console, model, X, y)
    if hasattr(model, "classes_"):
        y = labels_as_classes(y, model.classes_)
        if not y.isin(model.classes_.tolist()).any():
            if args.target is None:  # a folder's images, labelled by their sub-folders
                raise UsageError(f"none of the sub-folders of {args.data} ({some(y.unique())}) is named after a "
                                 f"class of the model ({some(model.classes_)}); evaluate a folder with one "
                                 "sub-folder of images per class")
            raise UsageError(f"none of the values of {args.target!r} ({some(y.unique())}) is a class of the model "
                             f"({some(model.classes_)}); is {args.target!r} the target the model learned?")
        say_unseen_labels(console, model, y)
    try:
        scores = score_table(model, X, y, weights)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    say_roc_auc_left_out(console, model, y, scores, "the data holds", weights)
    weighted = "" if args.weight is None else f", weighted by {args.weight!r}"
    if args.plot is not None:
        from keraslearn.report import plot_predictions

        plot_predictions(model, X, y, args.plot, sample_weight=weights,
                         title=f"{type(model).__name__} on {args.data}: {len(y)} rows{weighted}")
        _say(console, f"plot → {args.plot}")
    # The metrics are what evaluate is run for: its table goes to stdout (`> metrics.txt` keeps it),
    # unless --json puts the JSON there; notes stay on stderr.
    title = f"{type(model).__name__} on {args.data}{weighted}"
    if args.json:
        print_metrics(console, {Path(args.data).name: scores}, title=title)
    else:
        table = _console(stderr=False)
        with table.capture() as shown:  # then UTF-8, as predict writes: a cp1252 stdout cannot hold every name
            print_metrics(table, {Path(args.data).name: scores}, title=title)
        write_stdout(shown.get())
    _say_few_rows(console, len(y), "metrics", f"other {unit}s; evaluating more {unit}s steadies them", unit)
    if args.json:
        print(_json(scores))
    return 0


def _labelled_rows(args, model, console):
    """``(X, y, weights)`` of a table for evaluate: the model's features, --target and --weight."""
    if args.target is None:  # the column fit or tune trained the model to predict, else a dataset's own
        args.target = getattr(model, "target_name_", None) or listed_target(args.data)
    if args.target in _feature_names(model):  # else "the data lacks the model's columns: <target>"
        raise UsageError(f"--target {args.target!r} is one of the model's features, not what it predicts; "
                         "name the column the model was trained to predict")
    if args.weight is not None and args.weight in _feature_names(model):
        raise UsageError(f"--weight {args.weight!r} is one of the model's features; name a column of row weights")
    weight_column = [] if args.weight is None else [args.weight]
    from keraslearn.preprocessing.coding import number_spelled_apart

    # Labels trained as written with leading zeros ("01" and "1"): read as text, as fit kept them.
    spelled = any(number_spelled_apart(c) for c in getattr(model, "classes_", ()))
    df = read_table(args.data, text=_text_columns(model) + [args.target] * spelled,
                    keep=_feature_names(model) + weight_column,
                    numbers=getattr(model, "table_numbers_", None))
    check_weight_column(df, args.weight, args.target)
    trained = getattr(model, "weight_name_", None)
    if args.weight is None and trained is not None and trained in df.columns:
        _say(console, f"the model was trained with rows weighted by {trained!r}; these metrics are not "
                      f"(--weight {shlex.quote(trained)} weights them)", style="yellow", always=True)
    stray = None if hasattr(model, "classes_") or args.target not in df.columns else stray_text(df[args.target])
    if stray:  # a regressor's target with a typo: where, as fit says it (before split_target drops blank rows)
        raise UsageError(f"target {args.target!r} {stray}")
    X, y = split_target(df, args.target, console)
    if spelled:  # as fit read them: " 02" is the class "02"
        y = y.astype(str).str.strip()
    X, weights = pop_weight(X, args.weight)
    return _features_for(model, X, console), y, weights


def _labelled_images(args):
    """``(X, y, None)`` of a folder with one sub-folder of images per class, for evaluating an image model."""
    from keraslearn.preprocessing.images import image_source

    if args.target is not None or args.weight is not None:
        raise UsageError(f"{args.data} is a folder: its images' labels are their sub-folders' names, so --target "
                         "and --weight do not apply (for weights, evaluate a CSV of paths, labels and weights)")
    try:
        source, labels = image_source(os.path.expanduser(args.data), None, "evaluate")
    except ValueError as err:
        raise UsageError(str(err)) from None
    if labels is None:
        raise UsageError(f"{args.data} has no class sub-folders, so its images have no labels to score against: "
                         "evaluate a folder with one sub-folder of images per class, or a CSV of image paths and "
                         "labels with --target COL")
    return pd.DataFrame({"path": source.paths}), pd.Series(labels, name="label"), None


def cmd_demo(args):
    from keraslearn.datasets.bundled import BOSTON_TARGET, boston_housing_frame
    from keraslearn.learners.ff import FFRegressor

    check_epochs(args.epochs)
    console = _console(args.quiet)
    df = boston_housing_frame()
    from rich.text import Text

    _say(console, Text.assemble(("keraslearn demo", "bold"), ": Boston housing (506 rows, 13 features; "
                                "'chas' and 'rad' categorical) → median home value 'medv'"))
    X, y = split_target(df, BOSTON_TARGET, console)
    learner = FFRegressor(
        layer_units=(64, 64), epochs=args.epochs, batch_size=32, patience=20, random_state=args.random_state,
        verbose=0 if args.quiet else 1,
    )
    out = Path(args.out_dir) / "boston_ff.keraslearn"
    model_out(out)
    check_outputs(out)
    train_and_report(
        X, y, learner, test_fraction=0.2, random_state=args.random_state, out=out, console=console,
        title="medv ~ FFRegressor",
    )
    return 0


def add_weight_option(p) -> None:
    """``--weight COL`` of fit and tune (mlr3's weights role)."""
    p.add_argument("--weight", action=Once, metavar="COL",
                   help="a column of row weights (numbers of 0 or more; not learned from): they weight the "
                   "training loss and the metrics, as sample_weight does in Python")


def register(sub):
    p = sub.add_parser("fit", help="train a learner on a table and save it",
                       description="Train a learner on DATA (.csv/.tsv/.parquet) to predict --target; "
                       "prints metrics on a held-out test split and writes the model, a learning curve "
                       "PNG and a metrics JSON.")
    p.add_argument("data", help="training data: .csv, .tsv or .parquet, or a dataset name (penguins, titanic, …: "
                   "keraslearn.list_tabular())")
    p.add_argument("--target", action=Once, help="name of the column to predict (a dataset named as DATA has its own)")
    p.add_argument("--learner", default="ff", help=LEARNER_HELP)
    p.add_argument("--task", choices=TASKS, default="auto", type=str.lower,
                   help="default: auto (from the target's type, or from a learner named for one task)")
    p.add_argument("--epochs", type=int, default=None,
                   help="maximum epochs (default: the learner's; early stopping may stop sooner)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="any learner parameter, e.g. --param layer_units='(64, 64)' (repeatable; values are "
                   "Python literals, true/false and none in any case, or text)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out share for test metrics (default 0.2)")
    p.add_argument("--random-state", type=seed, default=None, help="seed for the split and the fit (default 0)")
    p.add_argument("--drop", action="append", metavar="COL", default=[],
                   help="a column not to learn from, e.g. an ID (repeatable)")
    add_weight_option(p)
    p.add_argument("--out", default=None,
                   help="artifact path (default: DATA's file name with .keraslearn, in the current folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Predict DATA with MODEL; writes a CSV (to stdout without --out).")
    p.add_argument("model", help="a .keraslearn file written by fit")
    p.add_argument("data", help=".csv, .tsv or .parquet with the model's feature columns (or a dataset name)")
    p.add_argument("--out", default=None,
                   help="file to write, as its name says: .csv or .txt (comma-separated; may end in .gz etc.), "
                        ".tsv or .parquet (default: CSV on stdout)")
    p.add_argument("--keep", action="append", metavar="COL", default=[],
                   help="a column of DATA to copy into the output before the predictions, e.g. an ID (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no notes on stderr (e.g. about ignored columns)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="score a saved model on labelled data",
                       description="Print metrics of MODEL on DATA with its --target column.")
    p.add_argument("model", help="a .keraslearn file written by fit")
    p.add_argument("data", help=".csv, .tsv or .parquet with the model's feature columns and the target "
                   "(or a dataset name)")
    p.add_argument("--target", action=Once,
                   help="name of the column holding the true values (default: the column `keraslearn fit` or `tune` "
                   "trained MODEL to predict; a dataset named as DATA has its own)")
    p.add_argument("--weight", action=Once, metavar="COL",
                   help="a column of row weights (numbers of 0 or more) that weight the metrics")
    p.add_argument("--json", action="store_true",
                   help="print the metrics as JSON on stdout (the table then goes to stderr)")
    p.add_argument("--plot", action=Once, metavar="FILE",
                   help="also draw the predictions against the true values to FILE (.png, .pdf or .svg): a "
                   "confusion matrix (and ROC curve for two classes), or predicted against actual values")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="train the FF learner on the bundled Boston housing data",
                       description="Train FFRegressor on Boston housing (shipped inside the package), "
                       "show progress and metrics, and write the model, its metrics (JSON) and a learning-curve PNG.")
    p.add_argument("--out-dir", default="keraslearn-demo", help="where to write outputs (default ./keraslearn-demo)")
    p.add_argument("--epochs", type=int, default=300,
                   help="maximum epochs (early stopping may stop sooner; default 300)")
    p.add_argument("--random-state", type=seed, default=0, help="seed for the split and the fit (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.set_defaults(func=cmd_demo)
