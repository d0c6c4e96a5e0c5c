"""Numbers as spreadsheets write them in text tables: "1.250,70" or "1,250.70".

A German or French Excel writes decimal commas and a "." between thousands, in files separated
by ";" (the comma is taken); an English one writes "," between thousands, quoted in a comma
file. pandas reads neither: "12,50" stays text and "1.250" becomes 1.25, a thousandth of what
the file means. :func:`spreadsheet_numbers` reads such columns as numbers, by the file's
convention, and only where its values leave no doubt which one it is.
"""

from __future__ import annotations

import re

import pandas as pd

from keraslearn._user_warnings import warn_user

# Every value of a column, one way or the other: "1.250,70" / "12,5" / "999", or "1,250.70" / "1,250".
# A group never starts with 0: "0.125", "01.234" and "030.123.456" are a decimal, an ID, a phone number.
# An exponent as pandas writes tiny values with decimal=",": "7,9e-05".
_COMMA_DECIMAL = r"[-+]?(?:[1-9]\d{0,2}(?:\.\d{3})+|\d+)(?:,\d+)?(?:[eE][-+]?\d+)?"
_COMMA_THOUSANDS = r"[-+]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
# Values only one convention writes: a decimal comma not followed by three digits, "." then ",",
# or two "." groups; and the other way round. "1,250" and "1.250" alone could be either.
_SURELY_COMMA_DECIMAL = re.compile(r",(?:\d{1,2}|\d{4,})(?:[eE][-+]?\d+)?$|\.\d{3},|\.\d{3}\.\d{3}")
_SURELY_COMMA_THOUSANDS = re.compile(r",\d{3}\.|,\d{3},\d{3}")


def _columns(raw: pd.DataFrame, pattern: str, skip) -> dict:
    """{column: its non-missing values} for the columns of ``raw`` whose every value matches ``pattern``
    and some value holds a "," or "." (whole numbers alone are pandas' own)."""
    out = {}
    for col in raw.columns:
        if col in skip:
            continue
        values = raw[col].dropna().astype(str).str.strip()
        if len(values) and values.str.fullmatch(pattern).all() and values.str.contains(r"[.,]").any():
            out[col] = values
    return out


def _sure(columns: dict, pattern: re.Pattern) -> bool:
    return any(values.map(lambda v: pattern.search(v) is not None).any() for values in columns.values())


def _unmarked(value: str, marks: dict) -> str:
    for mark, by in marks.items():
        value = value.replace(mark, by)
    return value.strip()


def spreadsheet_numbers(df: pd.DataFrame, raw: pd.DataFrame, path, sep: str, skip=()) -> pd.DataFrame:
    """``df`` (pandas' reading of the file at ``path``) with spreadsheet-written numbers read as numbers.

    ``raw`` is the same file read as text. The convention is the file's:

    - ``sep=";"``: decimal commas (a ";" file comes from a spreadsheet that uses the comma for
      decimals), so "1.250" is 1250 in training and predict files alike; unless a value such as
      "1,250.5" or "1,250,000" shows commas between thousands.
    - tab or "|": whichever convention a value shows for sure ("12,5", "1.250,7" / "1,250.5");
      none, or both: pandas' reading stands.
    - ``sep=","``: quoted "1,250" is a thousand and a quarter.

    Columns in ``skip`` (read as text on purpose) are left alone. A number that pandas read
    otherwise ("1.250" as 1.25) is said in a warning.
    """
    decimal, thousands = _columns(raw, _COMMA_DECIMAL, skip), _columns(raw, _COMMA_THOUSANDS, skip)
    surely_decimal, surely_thousands = _sure(decimal, _SURELY_COMMA_DECIMAL), _sure(thousands, _SURELY_COMMA_THOUSANDS)
    if sep == "," or (surely_thousands and not surely_decimal):
        marks = {",": ""}
        found = {c: v for c, v in thousands.items() if not pd.api.types.is_numeric_dtype(df[c])}
    elif (sep == ";" and not surely_thousands) or (surely_decimal and not surely_thousands):
        marks, found = {".": "", ",": "."}, decimal
    else:
        return df
    changed = []
    for col, values in found.items():
        numbers = pd.to_numeric(raw[col].map(lambda v: v if pd.isna(v) else _unmarked(str(v), marks)))
        if pd.api.types.is_numeric_dtype(df[col]) and not numbers.equals(df[col]):
            changed.append(f"{col!r} ({values.iloc[0]!r} is {numbers[values.index[0]]:g})")
        df[col] = numbers
    if changed:
        warn_user(f"{path}: a '.' separates thousands in its numbers (decimal commas, as spreadsheets write "
                  f"them in ';' files): read {', '.join(changed)}")
    return df
