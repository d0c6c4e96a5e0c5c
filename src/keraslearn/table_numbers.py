"""Numbers as spreadsheets write them in text tables: "1.250,70" or "1,250.70".

A German or French Excel writes decimal commas and a "." between thousands, in files separated
by ";" (the comma is taken); an English one writes "," between thousands, quoted in a comma
file. pandas reads neither: "12,50" stays text and "1.250" becomes 1.25, a thousandth of what
the file means. :func:`spreadsheet_numbers` reads such columns as numbers, where the file's
values leave no doubt which convention it follows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslearn._user_warnings import warn_user

# Every value of a column, one way or the other: "1.250,70" / "12,5" / "999", or "1,250.70" / "1,250";
# an exponent as pandas writes tiny values with decimal=",": "7,9e-05". A group never starts with 0:
# "0.125", "01.234" and "030.123.456" are a decimal, an ID, a phone number.
_EXPONENT = r"(?:[eE][-+]?\d+)?"
_COMMA_DECIMAL = r"[-+]?(?:[1-9]\d{0,2}(?:\.\d{3})+|\d+)(?:,\d+)?" + _EXPONENT
_COMMA_THOUSANDS = r"[-+]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?" + _EXPONENT
# Values only one convention writes: a decimal comma or point not followed by three digits, "."
# then "," (or "," then "."), two groups. "1,250" and "1.250" alone could be either.
_SURELY_COMMA_DECIMAL = r",(?:\d{1,2}|\d{4,})" + _EXPONENT + r"$|\.\d{3},|\.\d{3}\.\d{3}"
_SURELY_POINT_DECIMAL = r"\.(?:\d{1,2}|\d{4,})" + _EXPONENT + r"$|,\d{3}\.|,\d{3},\d{3}"


def _stray_free(values: pd.Series, pattern: str) -> pd.Series | None:
    """``values`` that match ``pattern`` when all do but a few strays ("Inf", a typo: at most 3, or 5%,
    and a fifth of the matches), else None. The strays stay text, so the column reads as a comma file's
    would: an infinity or a stray word is then named as there, not hidden in a column of levels "5,1"."""
    ok = values.str.fullmatch(pattern)
    strays = int((~ok).sum())
    if strays > max(3, 0.05 * len(values)) or 5 * strays > int(ok.sum()):
        return None
    return values[ok]


def _written(raw: pd.DataFrame) -> tuple[dict, dict]:
    """The ``raw`` columns whose every value (but a few strays) matches ``_COMMA_DECIMAL``, and those
    matching ``_COMMA_THOUSANDS``, as {column: its matching values}; only columns where some value
    holds a "," or "." (whole numbers alone are pandas' own)."""
    decimal, thousands = {}, {}
    for col in raw.columns:
        values = raw[col].dropna().astype(str).str.strip()
        if not len(values) or not values.str.contains(r"[.,]").any():
            continue
        if (matched := _stray_free(values, _COMMA_DECIMAL)) is not None:
            decimal[col] = matched
        if (matched := _stray_free(values, _COMMA_THOUSANDS)) is not None:
            thousands[col] = matched
    return decimal, thousands


def _any(columns, pattern: str) -> bool:
    return any(values.str.contains(pattern).any() for values in columns)


def spreadsheet_numbers(df: pd.DataFrame, read_text, path, sep: str, skip=(), convention=None):
    """``df`` (pandas' reading of the file at ``path``) with spreadsheet-written numbers read as numbers.

    ``read_text(columns)`` reads those columns of the file as text. In a comma file, quoted "1,250"
    is a thousand and a quarter. In a file separated by ";", tab or "|", a value that only decimal
    commas write ("12,5", "1.250,7", "3.400.000") makes every column of such numbers numbers, "1.250"
    and "45.000" a thousand and a quarter and 45,000 (said in a warning where pandas read 1.25 and
    45); one that only decimal points write ("3.14159", "1,250.5") makes the file's commas
    thousands marks; with both, only the columns that show decimal commas themselves are read so;
    with neither, the ``convention`` given stands (a model's training file's: a predict file of
    "1.250" alone reads as its training file did), else pandas' reading. Columns in ``skip`` (read
    as text on purpose) are left alone.

    Returns ``(df, convention)``: "comma" or "point" where the file showed one, else None.
    """
    texts = [c for c in df.columns if c not in skip and not pd.api.types.is_numeric_dtype(df[c].dtype)]
    raw = read_text(texts) if texts else pd.DataFrame(index=df.index)
    comma_decimal, comma_thousands = _written(raw)
    surely_commas = _any(comma_decimal.values(), _SURELY_COMMA_DECIMAL)
    surely_points = _any(comma_thousands.values(), _SURELY_POINT_DECIMAL)
    floats = [c for c in df.columns if c not in skip and pd.api.types.is_float_dtype(df[c].dtype)]
    if sep != "," and (surely_commas or convention == "comma") and floats:  # pandas' floats: "1.250"? "3.14159"?
        more = read_text(floats)
        more_decimal, more_thousands = _written(more)
        comma_decimal.update(more_decimal)
        surely_points = surely_points or _any(more_thousands.values(), _SURELY_POINT_DECIMAL)
        raw = pd.concat([raw, more], axis=1)
    own = "point" if sep == "," or (surely_points and not surely_commas) else \
        "comma" if surely_commas and not surely_points else "both" if surely_commas else None
    use = own or convention
    if use == "point":
        marks, found = {",": ""}, {c: v for c, v in comma_thousands.items() if not pd.api.types.is_numeric_dtype(df[c])}
    elif use in ("comma", "both"):
        marks, found = {".": "", ",": "."}, comma_decimal
        if use == "both":  # both in one file: only the columns that say so themselves ("2,5" beside "1.5")
            found = {c: v for c, v in found.items() if _any([v], _SURELY_COMMA_DECIMAL)}
    else:
        return df, None
    changed = []
    for col, values in found.items():
        written = raw[col].astype(object)
        written[values.index] = values.map(lambda v: _unmarked(v, marks))  # the strays stay as written
        try:
            numbers = pd.to_numeric(written)  # "Inf" too
        except (ValueError, TypeError):  # a stray word: text, as pandas reads a comma file's column
            df[col] = written.to_numpy()
            continue
        if pd.api.types.is_numeric_dtype(df[col]) and not np.allclose(numbers, df[col], equal_nan=True):
            changed.append(f"{col!r} ({values.iloc[0]!r} is {numbers[values.index[0]]:g})")
        df[col] = numbers.to_numpy()
    if changed:
        how = "its numbers are written" if own else "read as the model's training file wrote its numbers,"
        warn_user(f"{path}: {how} with decimal commas, so a '.' separates thousands: read {', '.join(changed)}")
    return df, own if own in ("comma", "point") else None


def _unmarked(value: str, marks: dict) -> str:
    for mark, by in marks.items():
        value = value.replace(mark, by)
    return value.strip()
