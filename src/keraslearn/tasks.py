"""A table becomes a learning task: the target split off, columns dropped, the task inferred."""

from __future__ import annotations

import argparse
import ast
import decimal
import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from keraslearn.cli import UsageError
from keraslearn.console import say as _say
from keraslearn.tables import listed_dataset, read_table

TASKS = ("auto", "classification", "regression")


def split_target(df: pd.DataFrame, target: str, console=None):
    """Split off the target column; rows with a missing target are dropped and reported.

    They are named by their data row, counted from 1 (the first row after a CSV's header): not by
    file line, which blank lines and quoted line breaks would shift.
    """
    if target not in df.columns:
        raise UsageError(f"target column {target!r} not found; {columns_hint(target, df.columns)}")
    missing = df[target].isna()
    if missing.all():
        raise UsageError(f"target column {target!r} is empty")
    if pd.api.types.is_float_dtype(df[target]):  # "inf" in a CSV: refused by the learner without a column or row
        infinite = np.isinf(df[target].to_numpy(dtype=float, na_value=np.nan))
        if infinite.any():
            raise UsageError(f"target column {target!r} holds infinity in {_data_rows(infinite)}: fix or blank those "
                             "values (rows with a blank target are left out)")
    if missing.any():
        rows = _data_rows(missing.to_numpy())
        _say(console, f"dropped {int(missing.sum())} row(s) with a missing {target!r} ({rows}; "
             "the first row after the header is 1)", style="yellow", always=True)
        df = df.loc[~missing]
    if df.shape[1] < 2:
        raise UsageError("the data has no feature columns besides the target (after --drop, if given)")
    return df.drop(columns=[target]), _without_missing_dtype(df[target], missing.any())


def _data_rows(mask: np.ndarray) -> str:
    """"data rows 3, 7, …": the rows ``mask`` marks, counted from 1, the first five."""
    rows = np.flatnonzero(mask)
    return "data rows " + ", ".join(str(r + 1) for r in rows[:5]) + (" …" if len(rows) > 5 else "")


def _meant(name: str, names: list[str]) -> str | None:
    """The column ``name`` was probably meant to be: the same but for case, else the closest spelling."""
    same = [c for c in names if c.strip().lower() == name.strip().lower()]
    close = same or difflib.get_close_matches(name, names, n=1, cutoff=0.7)  # 0.6 offers "income" for "nope"
    return close[0] if close else None


def missing_columns(flag: str, wanted: list, df: pd.DataFrame) -> None:
    """Refuse the columns ``flag`` names that ``df`` lacks, suggesting the meant one and listing them all."""
    absent = [c for c in wanted if c not in df.columns]
    if absent:
        raise UsageError(f"{flag} names columns DATA lacks: {', '.join(absent)}; {columns_hint(absent, df.columns)}")


def columns_hint(wanted, columns) -> str:
    """For an error about the column(s) ``wanted`` (a name or a list) the data lacks: the ones they probably
    meant, and the data's columns (quoted: a name's leading space shows), the first 20 of them."""
    names = [str(c) for c in columns]
    wanted = wanted[:5] if isinstance(wanted, list) else [wanted]  # a wrong file of 1,500 columns: not 1,500 searches
    close = dict.fromkeys(m for w in wanted if (m := _meant(str(w), names)))
    shown = ", ".join(map(repr, names[:20])) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    return (f"did you mean {', '.join(map(repr, close))}? " if close else "") + f"columns are: {shown}"


def _without_missing_dtype(y: pd.Series, had_missing: bool) -> pd.Series:
    """The type the target's values have once its missing cells are gone.

    A column with blanks reads as object (True/False) or float (1/2); without the blanks
    its labels are bools or ints again, as in the same file without blanks. A Parquet decimal
    column (amounts: ``decimal128(10, 2)``) reads as Python Decimals: numbers, as for the learners.
    """
    if y.dtype == object:
        y = y.infer_objects()
        if y.dtype == object and len(y) and all(isinstance(v, decimal.Decimal) for v in y):
            return y.astype(np.float64)
        return y
    if had_missing and y.dtype.kind == "f" and np.all(np.mod(y.to_numpy(), 1) == 0):
        return y.astype(np.int64)
    return y


def infer_task(y: pd.Series) -> tuple[str, str]:
    """('classification' | 'regression', why) from the target's type and distinct values."""
    n_unique = y.nunique()
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        kind = "true/false" if pd.api.types.is_bool_dtype(y) else "non-numeric"
        return "classification", f"{kind} target with {n_unique} class{'es' * (n_unique != 1)}"
    is_int = pd.api.types.is_integer_dtype(y) or bool(np.all(np.mod(y.to_numpy(float), 1) == 0))
    if is_int and n_unique <= 10:
        return "classification", f"integer target with {n_unique} distinct value{'s' * (n_unique != 1)}"
    return "regression", f"numeric target with {n_unique} distinct value{'s' * (n_unique != 1)}"


def load_task(args, console):
    """``args.data`` read and split at ``args.target``; the task is ``args.task`` or inferred (and said).

    ``args.drop``: columns left out of the features (an ID, a leak of the target). ``args.weight``: a column of
    row weights, checked here and left in X for the caller to split off with :func:`pop_weight` (after
    holding out test rows, which take their weights along). Without ``--target``, a dataset of
    :func:`keraslearn.list_tabular` named as DATA brings its own."""
    if args.target is None:
        args.target = listed_target(args.data)
    drop = list(dict.fromkeys(getattr(args, "drop", None) or []))
    weight = getattr(args, "weight", None)
    # --drop 'Unnamed: 0' or X: asked for by name, not said as row names
    df = read_table(args.data, keep=drop + ([weight] if weight is not None else []), codes_except=args.target)
    written = df.attrs.pop("target_text", None)  # whole numbers, some written with leading zeros: "01", "007"
    codes = [c for c in df.attrs.get("codes", ()) if c not in drop and c != weight]
    if codes:
        _say(console, f"read as text (categories), as whole numbers written with leading zeros: "
                      f"{', '.join(map(repr, codes))} (zip codes, codes); if they are amounts, write them without "
                      "the zeros", style="yellow", always=True)
    missing_columns("--drop", drop, df)
    if args.target in drop:
        raise UsageError(f"--drop {args.target}: that is the --target column")
    check_weight_column(df, weight, args.target, drop)
    X, y = split_target(df.drop(columns=drop), args.target, console)
    written = None if written is None else pd.Series(written.value, index=df.index, dtype=object).loc[y.index]
    if weight is not None and X.shape[1] < 2:
        raise UsageError(f"the data has no feature columns besides the target and --weight {weight}")
    n_unique = y.nunique()
    if n_unique == 1:  # a number trained to R² 0; a class was the learner's "needs at least 2 classes"
        value = y.iloc[0]
        value = repr(value) if isinstance(value, str) else value
        raise UsageError(f"target {args.target!r} holds {value} in every row: there is nothing to learn")
    task, named = args.task, None
    if task == "auto":
        from keraslearn.learners.registry import task_of

        named = task_of(getattr(args, "learner", ""))
    commas = _numbers_with_commas(y)
    said = task if task != "auto" else named or "auto"
    if commas is not None and (said == "regression" or said == "auto" and n_unique > 10):
        # Text labels with a comma (grades "1,3", "2,7") stay classes: with --task classification, a classification
        # learner, or a few of them.
        instead = "name a classification learner (e.g. classif.ff)" if named else "use --task classification"
        raise UsageError(f"target {args.target!r} holds numbers written with a comma (e.g. {commas!r}), read as text; "
                         "write them with a decimal point and no thousands separator (or save the file with ';' "
                         "between fields, as spreadsheets set to decimal commas do), or "
                         f"{instead} to make every value a class")
    as_written = None  # classes as the file writes them (said with a pair numbers would merge), not numbers
    if written is not None and (task == "classification" or task == "auto" and named != "regression"):
        spellings = written.groupby(y.to_numpy()).unique()  # "01" and "1": two labels, one number
        merged = [sorted(texts) for texts in spellings if len(texts) > 1]
        if task != "auto" or named is not None or merged or infer_task(y)[0] == "classification":
            y = written.rename(y.name)
            as_written = f" ({merged[0][0]!r} and {merged[0][1]!r} are two)" if merged else ""
    if task == "auto":
        if named is not None:  # 'classif.ff' on 1..39 ratings: the user said which task
            task, why = named, f"--learner {args.learner} is a {named} learner"
        elif as_written is not None:
            task, why = "classification", (f"{y.nunique()} classes, whole numbers written with leading zeros, "
                                           f"kept as written{as_written}")
        else:
            task, why = infer_task(y)
            stray = stray_text(df[args.target])
            if stray and infer_task(pd.to_numeric(y, errors="coerce").dropna())[0] == "regression":
                raise UsageError(f"target {args.target!r} {stray}, or use --task classification to make every "
                                 "value a class")
        counts = task == "classification" and pd.api.types.is_integer_dtype(y) and n_unique > 2
        _say(console, f"task: {task} ({why}); " + ("name a learner of the other task to change it" if named else
                                                   "use --task to override" + (
                                                       " (--task regression for counts or amounts)" * counts)))

    def other(kind):  # the learner sets the task: --task would contradict it
        key = "regr" if kind == "regression" else "classif"
        return f"name a {kind} learner (e.g. {key}.ff)" if named else f"use --task {kind}"

    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        stray = stray_text(df[args.target])
        if stray:
            raise UsageError(f"target {args.target!r} {stray}")
        raise UsageError(f"target {args.target!r} is not numeric; {other('classification')}")
    fractional = y[np.mod(y, 1) != 0] if task == "classification" and pd.api.types.is_float_dtype(y) else ()
    if len(fractional):
        classes = ", or write each class as a word or a whole number" * (n_unique <= 20 and not named)
        raise UsageError(f"target {args.target!r} holds fractional numbers ({n_unique} distinct values, e.g. "
                         f"{fractional.iloc[0]:g}), which scikit-learn's classifiers do not take as classes; "
                         f"{other('regression')}{classes}")
    return X, y, task


def check_weight_column(df: pd.DataFrame, weight, target, drop=()) -> None:
    """Refuse a ``--weight`` column that cannot weight every row: absent, the target or a dropped column,
    or holding text, blanks, negative or infinite numbers (named by their data rows: no row is left out)."""
    if weight is None:
        return
    missing_columns("--weight", [weight], df)
    if weight == target:
        raise UsageError(f"--weight {weight}: that is the --target column")
    if weight in drop:
        raise UsageError(f"--weight {weight} and --drop {weight}: a weight column is not learned from; give it as "
                         "--weight only")
    column = df[weight]
    types = pd.api.types
    real = types.is_numeric_dtype(column) and not types.is_complex_dtype(column)  # bools too
    if not (real or types.is_object_dtype(column) or types.is_string_dtype(column)):  # not dates, not categories
        raise UsageError(f"--weight column {weight!r} holds {column.dtype} values, not numbers")
    values = pd.to_numeric(column.astype(float) if types.is_bool_dtype(column) else column, errors="coerce")
    present = column.notna().to_numpy()
    text = present & values.isna().to_numpy()
    if text.any():
        shown = ", ".join(map(repr, dict.fromkeys(column.to_numpy()[text][:3].tolist())))
        raise UsageError(f"--weight column {weight!r} must hold numbers; it holds {shown} in {_data_rows(text)}")
    if not present.all():
        raise UsageError(f"--weight column {weight!r} is blank in {int((~present).sum())} row(s) "
                         f"({_data_rows(~present)}); give every row a weight (0 leaves a row out of training and "
                         "the metrics)")
    numbers = values.to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0)
    if bad.any():
        raise UsageError(f"--weight column {weight!r} holds negative or infinite weights in {_data_rows(bad)}; "
                         "weights are numbers of 0 or more")
    if not numbers.any():
        raise UsageError(f"--weight column {weight!r} is 0 in every row; at least one row must weigh")


def pop_weight(X: pd.DataFrame, weight):
    """``(X without the --weight column, its weights as floats)``; ``(X, None)`` without ``--weight``."""
    if weight is None or X is None:
        return X, None
    return X.drop(columns=[weight]), X[weight].to_numpy(dtype=float)


def _numbers_with_commas(y: pd.Series) -> str | None:
    """A value of a text target whose every value is a number written with a decimal comma ("0,691"), as
    a comma-separated file quotes them; None for any other target."""
    if pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y) or not len(y):
        return None
    from keraslearn.preprocessing.column_warnings import _DECIMAL_COMMA  # the encoder's reading of such features

    text = y.astype(str).str.strip()
    if not text.str.fullmatch(_DECIMAL_COMMA).all():
        return None
    commas = text[text.str.contains(",", regex=False)]
    return commas.iloc[0] if len(commas) else None


def stray_text(column: pd.Series) -> str | None:
    """Where a target of numbers holds a few text cells (a typo): what they hold, their data rows (counted
    from 1 as :func:`split_target` counts them) and the fix; None for numbers, or a column of text labels."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    present = column.notna().to_numpy()
    bad = present & pd.to_numeric(column, errors="coerce").isna().to_numpy()
    if not bad.any() or bad.sum() > max(3, 0.05 * present.sum()):
        return None  # labels such as "low"/"high", perhaps with some numbers among them
    rows = np.flatnonzero(bad)
    values = ", ".join(map(repr, dict.fromkeys(column.to_numpy()[rows][:5].tolist())))
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (" …" if len(rows) > 5 else "")
    return (f"holds numbers except in {len(rows)} row(s), which hold {values} (data row{'s' * (len(rows) > 1)} "
            f"{shown}; the first row after the header is 1); fix or blank those cells (rows with a blank target "
            "are dropped and said)")


def listed_target(data) -> str:
    """The target of the listed dataset ``data`` names (when no file has that name), else the usage error."""
    entry = listed_dataset(data)
    if entry is None and Path(data).is_dir():
        read_table(data)  # its error: a folder is no table (of images: how image models take them)
    if entry is None:
        raise UsageError("the following arguments are required: --target (the column to predict)")
    return entry.target


def seed(text: str) -> int:
    """``--random-state``: an int NumPy can seed with, said by argparse before anything is read."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 4294967295]; got {text!r}")
    return value


def check_epochs(epochs) -> None:
    if epochs is not None and epochs < 1:  # before reading the data and saying "training ..."
        raise UsageError(f"--epochs must be a positive integer; got {epochs}")


_WORDS = {"true": True, "false": False, "none": None, "null": None}  # in any case: the shell's and R's spellings


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


def parse_params(items) -> dict:
    """``name=value`` pairs; values are Python literals (``(64, 64)``, ``0.1``), true/false and none in
    any case (the shell's or R's spelling: ``numeric_embedding=none`` is None, as ``scaling=none`` means),
    or plain strings."""
    params = {}
    for item in items or ():
        key, _, raw = item.partition("=")
        key = key.strip()
        if "=" not in item or not key:
            raise UsageError(f"--param expects name=value, got {item!r}")
        if key in params:  # as --target or --weight given twice
            raise UsageError(f"--param {key} is given twice; give each parameter once")
        word = raw.strip().lower()
        if word in _WORDS:
            params[key] = _WORDS[word]
            continue
        try:
            params[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            params[key] = raw  # text
            quoted = re.sub(r"([{,]\s*)([A-Za-z_][\w .-]*?)(\s*:)", r"\1'\2'\3", raw)  # {neg: 1, pos: 5}
            if quoted != raw and _literal(quoted):  # a dict but for its keys' quotes
                raise UsageError(f"--param {key}={raw} is not a Python dict; write text keys in quotes: "
                                 f"--param \"{key}={quoted}\"") from None
    return params
