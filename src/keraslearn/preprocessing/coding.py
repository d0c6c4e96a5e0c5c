"""Column conversions for TabularEncoder that avoid needless pandas work and copies.

Each function gives exactly what the straightforward pandas code would (the encoder's
``_as_levels`` semantics: a level is ``str(value)``, missing values are missing), but

- numbers are taken column by column (``frame[list]`` costs a copy and ~1 ms even for one
  row), or as a view when the frame holds only the numeric columns; float32 stays float32
  (a float64 copy of a float32 table would cost twice the table);
- statistics are computed one column at a time, in float64, so fitting needs a few
  column-sized temporaries instead of several copies of the whole table;
- transforms run in row chunks (converted to float64 chunk by chunk) into one preallocated
  float32 array;
- categorical codes come from a dict lookup for a few rows, from ``pd.factorize`` (codes
  of the distinct values, then one lookup per distinct value) for string columns, and from
  the category codes for ``category`` columns.
"""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

#: Rows converted at a time: bounds the float64 temporaries of a transform (a few of
#: 16384 x columns x 8 bytes: 1.3 MiB each for 10 columns; larger chunks ran no faster).
CHUNK_ROWS = 16_384
#: Up to this many rows, categorical values are looked up one by one.
SMALL_ROWS = 64
MISSING_CODE = 0
UNKNOWN_CODE = 1  # unseen at fit time, or rarer than min_frequency
N_RESERVED = 2  # codes before the levels'
#: Float dtypes kept as they are (every float32 and float64 value is exact in float64).
_KEPT_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# A date or time as a Timestamp prints and ISO 8601 writes it: "2024-01-02", "2024-01-02 08:30:00+01:00";
# the year first with "/" or "." ("2024/01/02", "2024.01.02") is the same day. Day- or month-first dates
# ("02.01.2024", "01/02/2024") are not read: which is the month depends on the writer.
_ISO_TIME = re.compile(r"\d{4}([-/.])\d{2}\1\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?")


# ------------------------------------------------------------------------ numbers
def _is_time(dtype) -> bool:
    """Datetimes, durations and periods, which numpy and pandas would turn into nanosecond counts."""
    return pd.api.types.is_datetime64_any_dtype(dtype) or _is_duration(dtype) or isinstance(dtype, pd.PeriodDtype)


def _is_duration(dtype) -> bool:
    """numpy's timedelta64 and Arrow's duration (pandas' timedelta check misses the latter)."""
    return pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.ArrowDtype) and dtype.kind == "m"


def _column_float(col: pd.Series) -> np.ndarray:
    if col.dtype in _KEPT_FLOATS:
        return col.to_numpy()
    if _is_time(col.dtype):
        raise ValueError(
            f"Numeric column {col.name!r} holds {col.dtype} values; it was numeric when the encoder was fitted. "
            "Pass the numbers it was trained on."
        )
    try:
        try:
            return col.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            pass
        arr = pd.to_numeric(col, errors="coerce").to_numpy(np.float64, copy=True)
        text = col.dtype == object or pd.api.types.is_string_dtype(col.dtype)
        if text:
            _read_truth_values(col, arr)
    except OverflowError:  # a Python int beyond float64 (10**400) in an object column
        raise ValueError(
            f"Numeric column {col.name!r} holds integers too large for a float (beyond ±1.8e308); rescale "
            "it (divide by a constant, or take a log) first."
        ) from None
    # Numbers stored as strings ("1.5") convert; anything else would silently become a missing
    # value (and be imputed), so it is an error that names the column and the values.
    bad = np.isnan(arr) & ~col.isna().to_numpy()
    if bad.any() and text:  # an empty text is a missing value, as read_csv reads an empty field (a web form's blank)
        bad &= ~col.astype(str).str.strip().eq("").to_numpy()
    if bad.any():
        shown = list(dict.fromkeys(col[bad].astype(str).tolist()))[:5]
        raise ValueError(
            f"Numeric column {col.name!r} holds non-numeric values {shown}; it was numeric when the "
            "encoder was fitted. Fix those values, or make them missing (None or NaN: missing values are imputed)."
        )
    return arr


def _read_truth_values(col: pd.Series, arr: np.ndarray) -> None:
    """Truth words (:data:`_TRUTH_WORDS`, any case: "True"/"False", "yes"/"no", ...) as 1/0 in ``arr``,
    where the column's numbers are all 0 or 1: a True/False column that a CSV reader left as text because
    of one stray value, or written "yes"/"no" where training had True/False."""
    if not np.isin(arr[~np.isnan(arr)], (0.0, 1.0)).all():
        return
    words = col.astype(str).str.strip().str.lower()
    for yes, no in _TRUTH_WORDS:
        truth = words.isin([yes, no]).to_numpy()
        arr[truth] = (words[truth] == yes).to_numpy(np.float64)


def numeric_matrix(frame: pd.DataFrame, columns: list) -> np.ndarray:
    """``frame[columns]`` as a float32 or float64 (n, d) array: a view when possible; read-only.

    The values are those of ``frame[columns].astype(float64)``; float32 columns stay float32,
    and the consumers below convert a column or a chunk of rows at a time.
    """
    if list(frame.columns) == list(columns):
        dtypes = set(frame.dtypes)
        if len(dtypes) == 1 and dtypes <= set(_KEPT_FLOATS):
            return frame.to_numpy()
        # Not with object columns: the frame's na_value reads np.datetime64("NaT") among numbers as -9.2e18.
        if not any(_is_time(t) or t == object for t in dtypes):
            try:
                return frame.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError, OverflowError):  # per column below, which names the column
                pass
    if len(columns) == 1:
        return _column_float(frame[columns[0]]).reshape(-1, 1)
    return np.column_stack([_column_float(frame[c]) for c in columns])


CONSTANT_SCALE = 1e30  # a constant column's scale: finite, and in float32 too


def column_stats(arr: np.ndarray, scaling: str):
    """Per-column median (NaN-ignoring), has-NaN flag, and the scaling's centre/scale/quantiles.

    Same values as ``np.nanmedian(arr, 0)``, ``np.where(nan, med, arr).mean(0)`` etc. (up to
    summation order), with column-sized temporaries only.
    """
    n, d = arr.shape
    med, has_nan = np.zeros(d), np.zeros(d, dtype=bool)
    center, scale = np.zeros(d), np.ones(d)
    n_q = int(min(1000, max(n, 2)))
    quantiles = np.empty((n_q, d)) if scaling == "quantile" else None
    for j in range(d):
        col = np.asarray(arr[:, j], dtype=np.float64)
        nan = np.isnan(col)
        has_nan[j] = nan.any()
        if has_nan[j]:
            seen = col[~nan]
            med[j] = np.median(seen) if seen.size else 0.0
            col = np.where(nan, med[j], col)
        else:
            med[j] = np.median(col)
        if scaling == "standard":
            center[j], scale[j] = col.mean(), col.std()
        elif scaling == "robust":
            q25, center[j], q75 = np.percentile(col, [25, 50, 75])
            iqr = q75 - q25
            # The standard deviation where the IQR is 0 or so small that a training value would scale past
            # float32 (mostly 0 and 1e-308, and a 1: the encoder could not encode its own training rows)
            inside = np.abs(col - center[j]).max() / iqr <= np.finfo(np.float32).max if iqr > 0 else False
            scale[j] = iqr if inside and not _constant(iqr, center[j], n) else col.std()
        elif scaling == "quantile":
            quantiles[:, j] = np.percentile(col, np.linspace(0, 100, n_q))
    if scaling in ("standard", "robust"):
        # A constant column teaches the network nothing, yet a new value at predict went through weights that
        # never learned (the scale was 1: predictions moved by 1.5 standard deviations of y for 5 → 50). Scaled
        # by 1e30, every value is 0, as in training: the column is ignored, as gradient boosting ignores it.
        scale = np.where(_constant(scale, center, n), CONSTANT_SCALE, scale)
    return np.nan_to_num(med), has_nan, center, scale, quantiles


def _constant(spread, center, n: int):
    """Whether a column's ``spread`` (standard deviation or IQR) is rounding error of its ``center`` over
    ``n`` rows, as scikit-learn's StandardScaler judges a column constant: not a fixed cut-off, under
    which a varying column in small units (capacitances of 1e-12 farads) was zeroed."""
    return np.asarray(spread) <= n * np.finfo(np.float64).eps * np.abs(center)


def transform_numeric(arr: np.ndarray, medians, indicator_idx, scale_fn) -> np.ndarray:
    """Impute, scale (``scale_fn`` on float64 rows) and append missing indicators, in chunks."""
    n, d = arr.shape
    out = np.empty((n, d + len(indicator_idx)), dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        part = np.asarray(arr[start:stop], dtype=np.float64)
        nan = np.isnan(part)
        with np.errstate(over="ignore"):  # values beyond float32: the caller names their columns
            out[start:stop, :d] = scale_fn(np.where(nan, medians, part) if nan.any() else part)
        if indicator_idx:
            out[start:stop, d:] = nan[:, indicator_idx]
    return out


# ------------------------------------------------------------------- categories
def _is_string_column(col: pd.Series) -> bool:
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    if dtype != object and pd.api.types.is_string_dtype(dtype):
        return True
    return dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string"


def level_counts(col: pd.Series, as_levels) -> pd.Series:
    """Row counts per level (missing dropped), as ``as_levels(col).value_counts()``."""
    if _is_string_column(col):
        return col.value_counts(dropna=True)
    return as_levels(col).value_counts(dropna=True)


def number_code(v, lookup, unknown):
    """``lookup[str(v)]`` for a number, else its other spelling: "1" for 1.0, "1.0" for 1.

    Integer category codes come back as floats when a CSV column has blanks (and the reverse),
    and both spellings are the same level.
    """
    code = lookup.get(str(v))
    if code is None and not isinstance(v, (bool, np.bool_)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            code = lookup.get(str(int(v)))
        elif isinstance(v, (int, np.integer)):
            code = lookup.get(str(float(v)))
    return unknown if code is None else code


def number_spelled_apart(level) -> bool:
    """Whether a text level is a number that a number's print would not spell the same ("02139")."""
    if not isinstance(level, str):
        return False
    try:
        value = float(level)
    except ValueError:
        return False
    return level not in {str(value), str(int(value)) if value.is_integer() else None}


def as_time(v):
    """``v`` as a ``pd.Timestamp`` if it is a date or a time (a Timestamp, datetime, date, numpy
    datetime64, or ISO 8601 text), else None.

    A level of a column of times is the time's print ("2024-01-02 00:00:00"); a file or JSON
    writes the same day "2024-01-02", a polars Date column gives ``date(2024, 1, 2)``: one time.
    """
    if isinstance(v, str):
        if not _ISO_TIME.fullmatch(v):
            return None
    elif not isinstance(v, (datetime.date, np.datetime64)):  # Timestamp and datetime are dates too
        return None
    try:
        t = pd.Timestamp(v)  # keys compare across units: 9999-12-31 (seconds) needs no nanoseconds
    except (ValueError, OverflowError):  # "2024-13-45", or beyond pandas' range
        return None
    return None if t is pd.NaT else t


def _wall(t):
    return t.tz_localize(None) if t.tzinfo is not None else t


def time_codes(levels: list, first_code: int) -> tuple:
    """``({wall-clock time: code}, {UTC instant: code})`` when every level is a time (codes from
    ``first_code``; instants of the levels with a time zone), else ``()``."""
    walls, instants = {}, {}
    for code, level in enumerate(levels, first_code):
        t = as_time(level)
        if t is None:
            return ()
        walls.setdefault(_wall(t), code)
        if t.tzinfo is not None:
            instants.setdefault(_wall(t.tz_convert("UTC")), code)
    return walls, instants


#: Pairs of words for True and False that a column of levels may hold, in any case.
_TRUTH_WORDS = (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"))


def truth_codes(levels: list, first_code: int) -> dict:
    """``{True: code, False: code}`` when the levels (codes from ``first_code``) are one pair of truth
    words in any case ("yes"/"no", "TRUE"/"FALSE", "Y"/"N", or one of them), else ``{}``."""
    words = {str(level).strip().lower(): code for code, level in enumerate(levels, first_code)}
    if not levels or len(words) != len(levels):
        return {}
    for yes, no in _TRUTH_WORDS:
        if set(words) <= {yes, no}:
            return {flag: words[w] for flag, w in ((True, yes), (False, no)) if w in words}
    return {}


def match_truths(col: pd.Series, codes: np.ndarray, is_unknown: np.ndarray, table: dict) -> np.ndarray:
    """``codes`` of ``col``'s unknown True/False values set from ``table`` (:func:`truth_codes`); the new
    unknown mask."""
    rows = np.flatnonzero(is_unknown)
    if pd.api.types.is_bool_dtype(col.dtype):  # the unknown rows are not missing: plain booleans
        flags, is_bool = col.iloc[rows].to_numpy(dtype=bool), np.ones(len(rows), dtype=bool)
    else:
        values = col.iloc[rows].to_numpy(dtype=object)
        is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in values], dtype=bool)
        flags = np.array([bool(v) and b for v, b in zip(values, is_bool)], dtype=bool)
    mapped = np.array([table.get(True, -1), table.get(False, -1)], dtype=np.int32)[np.where(flags, 0, 1)]
    hit = rows[is_bool & (mapped >= 0)]
    codes[hit] = mapped[is_bool & (mapped >= 0)]
    is_unknown = is_unknown.copy()
    is_unknown[hit] = False
    return is_unknown


def time_code(v, table: tuple, unknown: int) -> int:
    """The code of the level ``v`` is the time of (``table`` from :func:`time_codes`), else ``unknown``.

    Zoned values meet zoned levels at the same instant (the same moment written in UTC); otherwise
    the wall-clock time is compared, as training times often have no zone.
    """
    t = as_time(v)
    if t is None:
        return unknown
    walls, instants = table
    if t.tzinfo is not None and instants:
        return instants.get(_wall(t.tz_convert("UTC")), unknown)
    return walls.get(_wall(t), unknown)


def match_times(col: pd.Series, codes: np.ndarray, is_unknown: np.ndarray, table: tuple, unknown: int) -> np.ndarray:
    """``codes`` of ``col``'s unknown rows set by :func:`time_code`, once per distinct value; the new unknown mask."""
    rows = np.flatnonzero(is_unknown)
    try:
        idx, uniques = pd.factorize(col.iloc[rows].to_numpy(dtype=object))
    except TypeError:  # unhashable values (lists): not times
        return is_unknown
    codes[rows] = np.array([time_code(v, table, unknown) for v in uniques], dtype=np.int32)[idx]
    return codes == unknown


def _small_codes(values, lookup, unknown, missing):
    codes = np.empty(len(values), dtype=np.int32)
    for i, v in enumerate(values):
        if type(v) is str:
            codes[i] = lookup.get(v, unknown)
        elif v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and v != v):
            codes[i] = missing
        elif isinstance(v, (bool, int, float, np.integer, np.floating, np.bool_)):
            codes[i] = number_code(v, lookup, unknown)
        else:
            return None  # dates, decimals, anything unusual: the general path decides
    return codes


def category_codes(col: pd.Series, lookup: dict, unknown: int, missing: int, general, cache=None) -> np.ndarray:
    """int32 codes of ``col``: ``lookup[str(value)]``, ``unknown`` if absent, ``missing`` if missing.

    ``general(col)`` is the plain pandas implementation, used for anything unusual. ``cache``, a
    dict, keeps a ``category`` column's code table for the next call with the same dtype object
    (rows of one frame share it): one row of a 2,000-category column then costs no Python loop.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        kept = cache.get("table") if cache is not None else None
        if kept is not None and kept[0] is dtype:
            lut = kept[1]
        else:
            lut = np.array([number_code(c, lookup, unknown) for c in dtype.categories] + [missing], dtype=np.int32)
            if cache is not None:
                cache["table"] = (dtype, lut)  # one assignment: safe with predicts from several threads
        return lut[col.cat.codes.to_numpy()]  # code -1 (missing) picks the last entry
    if dtype == object or pd.api.types.is_string_dtype(dtype):
        if len(col) <= SMALL_ROWS:
            codes = _small_codes(col.to_numpy(dtype=object), lookup, unknown, missing)
            if codes is not None:
                return codes
        else:
            # Factorize first and check the few distinct values, rather than scanning every row
            # for its type (pandas' infer_dtype) beforehand: all strings is the common case.
            try:
                idx, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
            except TypeError:  # unhashable values (lists, dicts, arrays): levels are str(value)
                return general(col)
            if all(isinstance(u, str) for u in uniques):
                lut = np.array([lookup.get(u, unknown) for u in uniques] + [missing], dtype=np.int32)
                return lut[idx]
    return general(col)


def stand_in_codes(n_missing: int, n_pooled: int, kept_counts: list) -> list:
    """``[code of a missing value, code of an unseen level]`` for a column whose training rows
    held ``n_missing`` missing values, ``n_pooled`` rare (pooled) values and ``kept_counts``
    rows of each kept level (codes from ``N_RESERVED``).

    A reserved code that no training row had is an embedding row (or one-hot weight) that never
    got a gradient: its random initial values would move predictions arbitrarily. Such a value is
    read as the most frequent level instead (the first in sorted order in a tie).
    HistGradientBoosting likewise sends a missing value that training never had to the side of
    each split with more training rows.
    """
    if kept_counts:
        mode = N_RESERVED + int(np.argmax(kept_counts))  # ties: the first level in sorted order
    else:
        mode = UNKNOWN_CODE if n_pooled else MISSING_CODE
    return [MISSING_CODE if n_missing else mode, UNKNOWN_CODE if n_pooled else mode]


def use_stand_ins(codes: np.ndarray, stand_ins) -> np.ndarray:
    """``codes`` (changed in place) with the missing and unknown codes replaced by their ``stand_ins``."""
    masks = [(codes == code, to) for code, to in zip((MISSING_CODE, UNKNOWN_CODE), stand_ins) if to != code]
    for mask, to in masks:
        codes[mask] = to
    return codes
