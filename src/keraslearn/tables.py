"""The tables the commands read and write: CSV, TSV and Parquet, chosen by the file's name."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keraslearn._user_warnings import warn_user
from keraslearn.cli import UsageError
from keraslearn.table_numbers import spreadsheet_numbers

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def needed_package(path) -> str:
    """The optional package reading or writing ``path`` needs: zstandard for .zst, otherwise pyarrow."""
    return "zstandard" if Path(path).suffix.lower() == ".zst" else "pyarrow"


def _images_hint(p: Path) -> str:
    """For an image file, or a folder holding some: how image models take them."""
    try:
        from keraslearn.preprocessing.images import _is_image_file  # imports keras
    except ImportError:  # a backend that does not load: its own error comes next
        return ""
    if p.is_dir():
        walked = itertools.islice(os.walk(p), 100)  # a glance, not a crawl of a large tree
        if not any(_is_image_file(f) for _, _, names in walked for f in names):
            return ""
    elif not _is_image_file(p.name):
        return ""
    return ("; image files are read by an image model (CNNClassifier), trained in Python (docs/cnn.md): a saved one "
            "predicts and evaluates a folder of images, or a CSV with a column of image paths, here")


def read_table(path, text=(), exact=(), keep=(), numbers=None, codes_except=None) -> pd.DataFrame:
    """Read a .csv / .tsv / .parquet file, or a dataset of :func:`keraslearn.list_tabular` by name.

    In a text file, the columns named in ``text`` are read as text (a zip code "02139" keeps its
    zero), and those in ``exact`` as the file's text itself, with no missing values (IDs). Columns in
    ``keep`` (a model's features) are never left out as row names. ``numbers`` ("comma" or "point",
    a model's training file's) reads a text file whose values show neither decimal commas nor points;
    ``df.attrs["numbers"]`` says which one the file showed (None: neither, or not a text file).
    ``codes_except`` (a training file's target, for fit and tune): every other column of whole numbers
    some of which are written with leading zeros ("02139", "007": zip codes, codes) is read as text,
    and ``df.attrs["codes"]`` names them; read as numbers, their zeros would be lost and the codes
    scaled as amounts. Such a target stays numbers, its text in ``df.attrs["target_text"].value``.
    """
    p = Path(path).expanduser()  # as pandas does: "--out=~/x.csv" reaches us unexpanded
    if str(path) == "-" and not p.exists():  # Unix's standard input: a table is read more than once here
        raise UsageError("cannot read - (standard input): save the table to a file and give its name")
    if not p.exists():
        from keraslearn.datasets.tabular import _CATALOGUE, load_tabular

        name = str(path).strip().lower()
        if listed_dataset(path) is None:
            raise UsageError(f"no such file: {path} (nor a dataset name: {', '.join(sorted(_CATALOGUE))})")
        try:
            X, y = load_tabular(name)
        except ImportError as err:
            raise UsageError(f"cannot load the dataset {name}: {err}") from None
        return X.assign(**{y.name: y})
    if p.is_dir():
        raise UsageError(f"{path} is a directory; pass a .csv, .tsv or .parquet file" + _images_hint(p))
    kind = table_kind(p)  # data.csv.gz: pandas decompresses by the name
    try:
        if kind == "parquet":
            _check_unique_parquet_names(p)
            df = _parquet_integers_kept(pd.read_parquet(p), p)  # a named index stays the index (predict --keep)
        elif kind is not None:
            columns = {"text": text, "exact": exact}
            sep = "\t" if kind == "tsv" else ","
            try:
                df, encoding = _read_text(p, sep=sep, **columns)
            except pd.errors.ParserError:  # rows with different numbers of commas: "1,5;2", a ";" file?
                df, encoding = _read_text(p, sep=sep, nrows=0, **columns)
                if not _one_column_separator(p, df):
                    raise
            if other := _one_column_separator(p, df):
                sep = other  # one column named "a;b;c": a semicolon file
                if encoding == "utf-8":  # perhaps from the header alone (nrows=0): found anew
                    df, encoding = _read_text(p, sep=sep, **columns)
                else:
                    df = _csv(p, sep=sep, encoding=encoding, **columns)
            elif sep == "," and (other := _other_separator(",".join(map(str, df.columns)))) and \
                    _splits_evenly(p, other, encoding, df.shape[1]):  # "Preis, EUR;Menge;y": Excel's unquoted comma
                sep = other
                df = _csv(p, sep=sep, encoding=encoding, **columns)
            if len(df.columns) and re.fullmatch(r"sep=.?", str(df.columns[0]).strip()):  # Excel's hint line
                line = str(df.columns[0]).strip()
                line = line + sep if line == "sep=" else line  # "sep=;" split at its ";"
                raise UsageError(f"{path} starts with Excel's separator line {line!r}: delete that first line "
                                 "(the separator is found without it).")
            df = _without_trailing_separators(df, p, sep, encoding, columns)
            if df.shape[1] == 1:  # an empty cell of a one-column sheet is a blank line, which pandas skips
                df = _blank_lines_missing(df, p, path, sep=sep, encoding=encoding, **columns)
            _check_no_repeated_header(df, path)
            own_index = not df.index.equals(pd.RangeIndex(len(df)))  # R's write.table: row names, no header
            if own_index:
                _check_row_names(df, p, path, sep, encoding)

            def read_text(cols, sep=sep, encoding=encoding):  # numbers written "1.250,70" or "1,250"?
                return df[cols] if sep == "," else _csv(p, sep=sep, encoding=encoding, text=cols, usecols=cols,
                                                        index_col=None if own_index else False)

            df, numbers = spreadsheet_numbers(df, read_text, path, sep=sep, skip={*text, *exact}, convention=numbers)
            if codes_except is not None:
                df = _zero_padded_codes_as_text(df, p, sep, encoding, skip={*text, *exact}, target=codes_except,
                                                index_col=None if own_index else False)
            _check_unique_header(df, p, sep=sep, encoding=encoding)
            df = _none_in_numbers_is_missing(df, skip={*text, *exact})
            df = _without_row_names(df, path, keep={*text, *exact, *keep})
            # A blank header over blank fields: rows ending in a separator ("a,b,"), as spreadsheets write them.
            blank = [c for c in df.columns
                     if re.fullmatch(r"Unnamed: \d+", str(c)) and df[c].isna().all() and c not in keep]
            df = df.drop(columns=blank)
            df.attrs["numbers"] = numbers
            df.attrs["header_line"] = True  # names from the file's first line (predict: a header-less file?)
        else:
            raise UsageError(f"cannot read {path}: use a .csv, .tsv or .parquet file (a .csv or .tsv optionally "
                             ".gz, .bz2, .xz, .zst or .zip compressed; Parquet compresses itself)" + _images_hint(p))
    except UsageError:
        raise
    except ImportError as err:
        raise UsageError(f"cannot read {path}: {err} (pip install {needed_package(p)})") from None
    except Exception as err:  # pandas raises many kinds for unreadable files
        raise UsageError(f"cannot read {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    if df.empty or df.shape[1] == 0:
        raise UsageError(f"{path} holds no data rows")
    return df


def _zero_padded_codes_as_text(df, p, sep, encoding, skip, target, index_col) -> pd.DataFrame:
    """``df`` with its columns of whole numbers written with leading zeros in the file as the file's text.

    The ``target`` column keeps its numbers (a regressor's amounts); where it has such numbers its
    written text is ``df.attrs["target_text"]``, for a classifier's labels ("01" and "1" are two)."""
    numeric = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c]) and (df[c].dropna() % 1 == 0).all()]  # whole numbers
    codes = []
    if numeric:
        written = _csv(p, sep=sep, encoding=encoding, text=numeric, usecols=numeric, index_col=index_col)
        padded = [c for c in numeric if written[c].str.fullmatch(r"\s*[+-]?0\d+\s*").any()]
        codes = [c for c in padded if c != target]
        if codes:  # categories: the encoder's note on numbers stored as text would say to convert them
            df = df.assign(**{str(c): pd.Categorical(written[c].str.strip()) for c in codes})
        if target in padded:
            df.attrs["target_text"] = Passed(written[target].str.strip().to_numpy())
    df.attrs["codes"] = codes
    return df


class Passed:
    """A value in a DataFrame's ``attrs`` that pandas passes on as it is: every pandas operation
    deep-copies ``attrs`` (each column taken from the frame too), which for a column's worth of
    values would cost a copy of them each time."""

    def __init__(self, value):
        self.value = value

    def __deepcopy__(self, memo):
        return self


def listed_dataset(path):
    """The :func:`keraslearn.list_tabular` entry that DATA names when no file has that name, else None."""
    from keraslearn.datasets.tabular import _CATALOGUE

    return None if Path(path).expanduser().exists() else _CATALOGUE.get(str(path).strip().lower())


def _check_row_names(df: pd.DataFrame, p, path, sep, encoding) -> None:
    """Refuse what pandas took for row names (rows with more fields than the header names) unless they
    are row names: one more field on every row, a distinct text per row. Else every column was shifted
    one to the left, silently."""
    extra = df.index.nlevels
    fix = "Check the header (a column name missing?), the separator, and fields that hold it unquoted."
    if extra > 1:
        raise UsageError(f"the data rows of {path} have {extra} fields more than its header names: read as row "
                         f"names they would shift every column to the left. {fix}")
    fields = df.shape[1] + 1  # the row names and the columns
    names, odd = [], None
    with _csv_rows(p, sep, encoding) as rows:
        for i, row in enumerate(rows):
            if i == 0 or not row:  # the header; a blank line (pandas skips it)
                continue
            if len(row) != fields and odd is None:
                odd = i
            names.append(row[0])
    if odd is not None:  # R writes a row name on every row
        raise UsageError(f"the first data row of {path} has one field more than its header names, but data row "
                         f"{odd} does not: a field holding the separator unquoted? {fix}")
    names = pd.Series(names, dtype=object)
    repeated = names[names.duplicated(keep=False)]
    if len(repeated):
        rows = np.flatnonzero(names.to_numpy() == repeated.iloc[0])[:2] + 1
        raise UsageError(f"the data rows of {path} have one field more than its header names, as R's write.table "
                         f"writes row names, but that first field repeats ({repeated.iloc[0]!r} in data rows "
                         f"{rows[0]} and {rows[1]}), so they are no row names and every column would be shifted to "
                         f"the left. {fix}")


def _without_trailing_separators(df: pd.DataFrame, path, sep, encoding, columns) -> pd.DataFrame:
    """``df``, read again if the file's rows end in a separator its header lacks ("a;b;y" over "1;2;0;"):
    pandas took the first column as the index and shifted every other one left. Rows with one more
    field that holds values keep pandas' reading: R's write.table writes row names so, unnamed."""
    rows = _first_rows(path, sep, encoding)
    fields = len(rows[0]) + 1 if rows else 0  # the header's, and one more
    if len(rows) < 2 or any(len(row) != fields or row[-1].strip() for row in rows[1:] if row):
        return df
    last = _read_csv(path, encoding=encoding, sep=sep, header=None, names=range(fields), skiprows=1, dtype=str,
                     keep_default_na=False, usecols=[fields - 1]).iloc[:, 0]
    if last.fillna("").str.strip().ne("").any():
        return df
    return _csv(path, sep=sep, encoding=encoding, index_col=False, **columns)


def _splits_evenly(path, sep, encoding, fields: int) -> bool:
    """Whether ``sep`` splits the first rows into one number of fields, more than ``fields``."""
    rows = [row for row in _first_rows(path, sep, encoding) if row]
    return len(rows) > 1 and len({len(row) for row in rows}) == 1 and len(rows[0]) > fields


def _blank_lines_missing(df: pd.DataFrame, p, path, **read) -> pd.DataFrame:
    """A one-column table with the blank lines among its rows as missing values (before the header or
    after the last value they are no rows). Read again only when the file has such lines."""
    with _open_uncompressed(p) as raw:
        data = None if raw is None else raw.read()
    text = data.strip(b"\r\n") if data is not None else b""
    if not re.search(rb"\n\r?\n", text):
        return df
    leading = len(data) - len(data.lstrip(b"\r\n"))
    skip = data[:leading].count(b"\n") + data[:leading].count(b"\r") - data[:leading].count(b"\r\n")
    full = _csv(p, skip_blank_lines=False, skiprows=skip, **read)
    filled = full.iloc[:, 0].notna().to_numpy()
    full = full.iloc[: int(filled.nonzero()[0][-1]) + 1 if filled.any() else 0]
    if len(full) == len(df):
        return df
    warn_user(f"{path} has one column and {len(full) - len(df)} blank line(s) among its rows: read as "
              "missing values (an empty cell of a one-column sheet is saved as a blank line), not skipped.")
    return full


def _check_no_repeated_header(df: pd.DataFrame, path) -> None:
    """Refuse rows that repeat the header (files joined with ``cat``): their text made every column text."""
    if df.shape[1] < 2:  # one value equal to the column's name is no evidence
        return
    names = [str(c) for c in df.columns]
    rows = np.arange(len(df))
    for j, name in enumerate(names):  # narrowed column by column: the first leaves only candidates
        col = df.iloc[rows, j]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
            return
        rows = rows[(col == name).to_numpy(dtype=bool, na_value=False)]
        if not len(rows):
            return
    shown = ", ".join(str(i + 1) for i in rows[:5]) + (" ..." if len(rows) > 5 else "")
    raise UsageError(f"{path}: data row(s) {shown} repeat the header (files joined with their headers?); "
                     "remove those lines (the first row after the header is 1)")


def _first_rows(path, sep, encoding, n=20) -> list[list[str]]:
    """The first ``n`` rows of a text table, split into fields ([] when its compression is not one we open)."""
    import itertools

    with _csv_rows(path, sep, encoding) as rows:
        return list(itertools.islice(rows, n))


@contextlib.contextmanager
def _csv_rows(path, sep, encoding):
    """Within: an iterator over a text table's rows, split into fields (empty when its compression is not
    one we open)."""
    import csv

    if isinstance(encoding, _LineDecoded):
        yield csv.reader(io.StringIO(encoding.text), delimiter=sep)
        return
    with _open_uncompressed(path) as raw:
        if raw is None:
            yield iter(())
            return
        yield csv.reader(io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=""), delimiter=sep)


def _check_unique_parquet_names(path):
    """A Parquet file naming a column twice (pyarrow writes one) is the CSV's error, not Arrow's
    "Multiple matches for FieldRef"."""
    import pyarrow.parquet as pq

    _refuse_repeated_names(path, pq.read_schema(path).names)


def _parquet_integers_kept(df: pd.DataFrame, path) -> pd.DataFrame:
    """``df`` with the file's integer columns that have missing values as pandas' nullable integers:
    pandas reads them as floats, which round integers past 2**53 (IDs, labels) apart and write 29 as
    29.0 (``predict --keep``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    integers = {f.name for f in pq.read_schema(path) if pa.types.is_integer(f.type)}
    names = [c for c in df.columns if c in integers and df[c].dtype.kind == "f"]
    index = df.index.name in integers and df.index.dtype.kind == "f"  # a named index of IDs (predict --keep)
    if names or index:
        exact = pd.read_parquet(path, columns=names, dtype_backend="numpy_nullable")
        df = df.copy(deep=False)
        for name in names:
            df[name] = exact[name].array  # by position; not assign(**...), to which a column "self" is an error
        if index:
            df.index = exact.index
    return df


def _check_unique_header(df: pd.DataFrame, path, **read):
    """A header naming a column twice is an error, as for a DataFrame: pandas would rename the second
    "age" to "age.1", a name the file does not have."""
    names = {str(c) for c in df.columns}
    renamed = [c for c in names if (m := re.fullmatch(r"(.+)\.\d+", c)) and m.group(1) in names]
    if not renamed:
        return
    _refuse_repeated_names(path, _read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                           **read).iloc[0].tolist())


def _refuse_repeated_names(path, names: list):
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"{path} names columns twice: {twice}; rename them so each column has one name")


def _without_row_names(df: pd.DataFrame, path, keep=()) -> pd.DataFrame:
    """The table without a first column that has no name and a distinct value per row: the row
    index that ``DataFrame.to_csv()`` and R's ``write.csv`` write, not a feature (it can leak the
    target's order into a model). Kept when asked for by name (``--keep``). A first column "X" of
    row numbers (R's read.csv names row names so) is said, and kept: a header names it."""
    first = df.columns[0] if df.shape[1] > 1 else None
    if first == "Unnamed: 0" and first not in keep:
        values = df[first]
        if not (pd.api.types.is_float_dtype(values) or values.isna().any() or not values.is_unique):
            warn_user(f"{path}: its first column has no name and a distinct value per row ({_examples(values)}): "
                      "row names, as DataFrame.to_csv() and R's write.csv write them, not a feature; left out "
                      "(name it in the header to use it; predict --keep 'Unnamed: 0' copies it beside the "
                      "predictions).")
            df = df.drop(columns=first)  # else distinct measurements, or repeats: a feature whose header is blank
    first = df.columns[0] if df.shape[1] > 1 else None
    if first == "X" and first not in keep and _r_row_numbers(df[first]):
        warn_user(f"{path}: its first column 'X' holds a distinct whole number per row ({_examples(df[first])}), "
                  "as R's read.csv names the row names of a write.csv file: used as a feature; if they are row "
                  "names, leave it out (--drop X), or it can leak the rows' order into the model.")
    return df


def _r_row_numbers(values: pd.Series) -> bool:
    """Whether ``values`` are distinct whole numbers from 1, as R numbers rows."""
    return (pd.api.types.is_integer_dtype(values) and values.is_unique and len(values) > 1
            and values.min() >= 1 and values.max() <= 2 * len(values))


def _examples(values: pd.Series) -> str:
    return ", ".join(map(str, values.iloc[:3])) + (", ..." if len(values) > 3 else "")


# pandas' missing-value strings, but for "None": a level in R's data (Ames' "no masonry veneer"),
# where Python writes a missing value as an empty field.
_NA = {"keep_default_na": False, "na_values": ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                                                "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan",
                                                "null"]}


def _none_in_numbers_is_missing(df: pd.DataFrame, skip=()) -> pd.DataFrame:
    """"None" among numbers or True/False is a missing value (Python's print of one), as pandas reads it;
    not in the ``skip`` columns, read as text on purpose."""
    for col in df.columns:
        if col in skip:
            continue
        values = df[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        none = values.eq("None")
        if not none.any() or none.all():
            continue
        others = values[~none & values.notna()]
        numbers = pd.to_numeric(others, errors="coerce")
        if numbers.notna().all():
            df[col] = pd.to_numeric(values.mask(none), errors="coerce")
        elif others.isin(["True", "False"]).all():
            df[col] = values.map({"True": True, "False": False})  # as pandas reads True/False with blanks
    return df


def _csv(path, text=(), exact=(), **kw) -> pd.DataFrame:
    """``pd.read_csv`` with keraslearn's missing values, ``text`` columns as text and ``exact`` ones verbatim."""
    dtype = dict.fromkeys([*text, *exact], str)
    if not exact:
        return _read_csv(path, dtype=dtype, **_NA, **kw)
    header = _read_csv(path, **{**kw, "nrows": 0}).columns  # the caller may read the header alone too
    na = {c: _NA["na_values"] for c in header if c not in set(exact)}  # per column: none for exact ones
    return _read_csv(path, dtype=dtype, keep_default_na=False, na_values=na, **kw)


def _read_csv(path, encoding=None, **kw) -> pd.DataFrame:
    """``pd.read_csv``; ``encoding`` may be a file's :class:`_LineDecoded` text."""
    if isinstance(encoding, _LineDecoded):
        return pd.read_csv(io.StringIO(encoding.text), **kw)
    return pd.read_csv(path, encoding=encoding, **kw)


@dataclass(frozen=True)
class _LineDecoded:
    """A UTF-8 file with a few lines in another encoding (one edited by two programs), decoded line by
    line: as one cp1252 file, each "ü" of its UTF-8 lines would read "Ã¼"."""

    text: str
    foreign: list  # line numbers (from 1) read as cp1252

    @classmethod
    def of(cls, path) -> "_LineDecoded | None":
        """The file decoded line by line, or None unless some non-ASCII line is UTF-8 (which text in
        another encoding almost never is by chance) or the file is compressed in a way we cannot open."""
        with _open_uncompressed(path) as raw:
            data = None if raw is None else raw.read()
        # No byte pair that starts a UTF-8 character: a whole file in another encoding, at C speed.
        if data is None or re.search(rb"[\xc2-\xf4][\x80-\xbf]", data) is None:
            return None
        lines, foreign, utf8 = [], [], 0
        for number, raw in enumerate(data.splitlines(keepends=True), start=1):
            try:
                lines.append(raw.decode("utf-8"))
                utf8 += not raw.isascii()
            except UnicodeDecodeError:
                foreign.append(number)
                lines.append(raw.decode("cp1252", errors="replace"))
        return cls("".join(lines), foreign) if utf8 else None


@contextlib.contextmanager
def _open_uncompressed(path):
    """A plain or .gz/.bz2/.xz/.zip (one member) file open for reading its bytes, uncompressed; None
    for another compression (.zst: pandas opens it with a package of its own)."""
    import bz2
    import gzip
    import lzma

    suffix = Path(path).suffix.lower()
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    if suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if len(names) != 1:
                yield None
                return
            with z.open(names[0]) as f:
                yield f
        return
    if suffix in COMPRESSED and suffix not in openers:
        yield None
        return
    with openers.get(suffix, open)(path, "rb") as f:
        yield f


def _read_text(path, **kw) -> tuple[pd.DataFrame, str]:
    """``(_csv(path), encoding)``: a file that is not UTF-8 is read as UTF-16 when it starts with
    UTF-16's byte-order mark (Excel's "Unicode text"), else as Windows-1252 (or Latin-1)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    plain = uncompressed(Path(path)) == Path(path)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") and plain:
        return _csv(path, encoding="utf-16", **kw), "utf-16"
    if plain and b"\x00" in head:  # latin-1 would read any bytes as a table of garbage
        raise UsageError(f"cannot read {path}: it holds binary data, not text; give a .csv, .tsv or .parquet table")
    try:
        return _csv(path, **kw), "utf-8"
    except UnicodeDecodeError as err:
        if (lines := _LineDecoded.of(path)) is not None:
            shown = ", ".join(map(str, lines.foreign[:5])) + (", ..." if len(lines.foreign) > 5 else "")
            warn_user(f"{path} is UTF-8 but for {len(lines.foreign)} line(s) that are not ({err.reason}); "
                      f"read those as cp1252: line(s) {shown}.")
            return _csv(path, encoding=lines, **kw), lines
        for encoding in ("cp1252", "latin-1"):  # latin-1 decodes any byte
            try:
                df = _csv(path, encoding=encoding, **kw)
            except UnicodeDecodeError:
                continue
            warn_user(f"{path} is not UTF-8 ({err.reason}); read it as {encoding}.")
            return df, encoding
        raise


_TABLE_KINDS = {".parquet": "parquet", ".tsv": "tsv", ".csv": "csv", ".txt": "csv"}


def table_kind(path) -> str | None:
    """"parquet", "tsv" or "csv" by a file's name (past a compression suffix, but for Parquet), or None."""
    kind = _TABLE_KINDS.get(uncompressed(Path(path)).suffix.lower())
    return None if kind == "parquet" and Path(path).suffix.lower() in COMPRESSED else kind


def uncompressed(path: Path) -> Path:
    """``path`` without a compression suffix: data.csv.gz -> data.csv."""
    return path.with_suffix("") if path.suffix.lower() in COMPRESSED else path


def _one_column_separator(path, df: pd.DataFrame) -> str | None:
    """The separator of a file that pandas read as one column: ";", tab or "|" in its name, or R's spaces."""
    if df.shape[1] != 1:
        return None
    return _other_separator(str(df.columns[0])) or _r_write_table(path, df.columns[0])


def _r_write_table(path, name) -> str | None:
    """" " for R's write.table(): a header of quoted names between spaces ("a" "b" "y"), which pandas read
    as one column ``name``; else None. The file's first line is read only when ``name`` shows such quotes."""
    if ' "' not in str(name):
        return None
    with _open_uncompressed(path) as raw:
        line = raw.readline(1 << 16) if raw is not None else b""
    header = line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    return " " if re.fullmatch(r'"[^"]*"( "[^"]*")+', header) else None


def _other_separator(header: str) -> str | None:
    for sep in (";", "\t", "|"):
        if sep in header:
            return sep
    return None
