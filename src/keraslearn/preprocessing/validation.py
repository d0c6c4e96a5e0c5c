"""Input checks at the boundary: turn what users pass into a pandas DataFrame, or fail clearly."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from keraslearn._user_warnings import warn_user


def _package(X) -> str:
    """The top-level package of X's type ("polars", "pyarrow", "pandas", ...)."""
    return type(X).__module__.split(".")[0]


@functools.lru_cache(maxsize=64)
def _default_columns(d: int) -> pd.Index:
    # One shared object Index per width: building x0..x{d-1} (pandas 3 makes an Arrow string
    # index of a list) costs more than the rest of a one-row prediction.
    return pd.Index([f"x{i}" for i in range(d)], dtype=object)


def _ragged() -> ValueError:
    return ValueError(
        "X holds sequences of different lengths (e.g. word indexes, as keras.datasets.imdb gives), not rows of "
        "a table. Pad them to one length first (keras.utils.pad_sequences(X, maxlen=200)), or multi-hot encode "
        "them (one column per word)."
    )


def _polars_unconvertible(X, estimator_name: str) -> TypeError:
    bad = []
    for name in X.columns:
        try:
            X[[name]].head(1).to_pandas()
        except Exception:
            bad.append(f"{name!r} ({X.schema[name]})")
    return TypeError(
        f"{estimator_name} cannot read polars column(s) {', '.join(bad) or '(unknown)'}: they do not convert to "
        "pandas. Cast them first, e.g. X.with_columns(pl.col(name).cast(pl.Int64)) (or pl.String for identifiers)."
    )


def _arrow_viewed(frame: pd.DataFrame, col, dtype, estimator_name) -> pd.DataFrame:
    """``frame`` with its Arrow ``string_view``/``binary_view`` column ``col`` as Arrow ``string``/``binary``
    (the same values, which pandas can read), or a TypeError naming the column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = getattr(dtype, "pyarrow_dtype", None)
    plain = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}.get(kind)
    if plain is None:
        raise TypeError(f"{estimator_name} cannot read column {col!r} ({dtype}): pandas has no operations for that "
                        "Arrow type. Cast it to a type pandas handles (a number, string or category) first.")
    values = pd.arrays.ArrowExtensionArray(pc.cast(pa.array(frame[col].array), plain))  # missing values kept
    frame = frame.copy(deep=False)
    frame[col] = values  # not assign(**{col: ...}): a column named "self" is assign's own argument
    return frame


def to_frame(X, *, estimator_name: str = "This estimator") -> tuple[pd.DataFrame, bool]:
    """Return ``(frame, has_names)``: X as a DataFrame, and whether X carried column names.

    Accepts pandas and polars DataFrames, pyarrow Tables, numpy arrays and nested lists. Sparse input,
    complex numbers, 1-D input and empty input raise with a message saying what to do.
    """
    if _package(X) == "polars":
        if type(X).__name__ == "LazyFrame":
            X = X.collect()
        if type(X).__name__ != "DataFrame":
            raise TypeError(f"{estimator_name} expects a polars DataFrame, got {type(X).__name__}.")
        try:
            X = X.to_pandas()
        except ImportError as err:
            raise ImportError(f"Reading a polars DataFrame needs pyarrow: pip install pyarrow ({err}).") from err
        except Exception as err:  # a dtype pyarrow cannot take (Int128): name the columns, not pyarrow's format
            raise _polars_unconvertible(X, estimator_name) from err
    if _package(X) == "pyarrow" and type(X).__name__ in ("Table", "RecordBatch"):
        X = X.to_pandas()  # its column names, matched by name like a DataFrame's (np.asarray drops them)
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(
            f"{estimator_name} does not accept sparse input (Sparse data was passed); "
            "convert it with X.toarray() first (in a Pipeline: OneHotEncoder(sparse_output=False), or leave "
            "categorical columns to keraslearn, which embeds them itself; after a TfidfVectorizer or another "
            "sparse step: FunctionTransformer(operator.methodcaller('toarray'), accept_sparse=True))."
        )
    if isinstance(X, np.ndarray) and X.dtype.names:  # reshape(-1, 1), the 1-D advice, fails on fields
        raise ValueError(
            f"{estimator_name} got a NumPy structured array (fields {list(X.dtype.names)[:5]}); pass it as "
            "a table: pd.DataFrame(X).")
    if isinstance(X, pd.Series):
        raise ValueError(
            f"{estimator_name} expects 2D input, got a Series. Reshape your data either using "
            "X.to_frame() if your data has a single feature or X.to_frame().T if it contains a "
            "single sample."
        )
    if isinstance(X, pd.DataFrame):
        if not X.columns.is_unique:
            dups = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
            raise ValueError(f"X has duplicate column names {dups}; rename or drop them so each column has one name.")
        is_str = [isinstance(c, str) for c in X.columns]
        frame, has_names = X, all(is_str)
        if any(is_str) and not has_names:  # as scikit-learn: half the names cannot be matched by name
            kinds = sorted({type(c).__name__ for c in X.columns})
            raise TypeError(
                f"X's column names mix types {kinds}, so columns cannot be matched by name; make them all strings "
                "(X.columns = X.columns.astype(str)) or all non-strings (matched by position)."
            )
        if not has_names:
            frame = X.set_axis(_default_columns(X.shape[1]), axis=1)
        for col, dtype in frame.dtypes.items():  # one dtypes Series, not a column lookup each
            try:
                complex_ = pd.api.types.is_complex_dtype(dtype)
            except NotImplementedError:  # an Arrow type pandas has no operations for (string_view: polars' text)
                frame = _arrow_viewed(frame, col, dtype, estimator_name)
                continue
            if complex_:
                raise ValueError(f"Complex data not supported (column {col!r}).")
    else:
        try:
            arr = np.asarray(X)
        except ValueError as err:  # lists of different lengths: numpy's "inhomogeneous shape"
            if "inhomogeneous" in str(err):
                raise _ragged() from None
            raise
        if arr.dtype.kind in "US" and not isinstance(X, np.ndarray):
            arr = np.asarray(X, dtype=object)  # rows mixing numbers and text: the numbers stay numbers
        elif arr.dtype.kind == "S":
            arr = arr.astype(object)  # bytes: categorical levels, as in an object column
        if arr.dtype.kind == "c":
            raise ValueError("Complex data not supported; pass real numbers.")
        if arr.ndim == 1 and arr.dtype == object and len(arr) and isinstance(arr[0], (list, tuple, np.ndarray)):
            raise _ragged()  # keras.datasets.imdb's arrays of lists
        if isinstance(X, dict) and X and all(isinstance(v, np.ndarray) and v.ndim == 2 for v in X.values()):
            raise TypeError(
                f"{estimator_name} got TabularEncoder's output (a dict of encoded arrays): keraslearn's learners "
                "encode the table themselves, so pass the table and drop TabularEncoder from the pipeline."
            )
        if isinstance(X, dict) or arr.ndim == 1 and len(arr) and isinstance(arr[0], dict):
            raise TypeError(
                f"{estimator_name} got {'a dict of columns' if isinstance(X, dict) else 'a list of records (dicts)'}; "
                "make it a table first: pd.DataFrame(X)."
            )
        if arr.ndim == 0 or arr.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got {'scalar' if arr.ndim == 0 else '1D'} array instead. "
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if arr.ndim > 2:
            raise ValueError(f"Expected 2D array, got an array with shape {arr.shape}.")
        # copy=False: the frame is a transient view (pandas 3 would copy the array by default)
        frame, has_names = pd.DataFrame(arr, columns=_default_columns(arr.shape[1]), copy=False), False
    n, d = frame.shape
    if n == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required."
        )
    if d == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required."
        )
    return frame, has_names


def match_columns(
    frame: pd.DataFrame,
    has_names: bool,
    feature_names_in,
    n_features_in: int,
    estimator_name: str,
    warn_unnamed: bool = True,
) -> pd.DataFrame:
    """Line ``frame`` up with the columns seen in ``fit``: by name for DataFrames, by width otherwise.

    ``warn_unnamed=False``: an array given to an estimator fitted on named columns is matched by position
    without a warning (a tool cleared the estimator's ``feature_names_in_`` to that end)."""
    if feature_names_in is not None and has_names:
        expected = list(feature_names_in)
        missing = [c for c in expected if c not in frame.columns]
        unexpected = [c for c in frame.columns if c not in set(expected)]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing columns {missing}")
            if unexpected:
                parts.append(f"unexpected columns {unexpected}")
            raise ValueError(
                "The feature names should match those that were passed during fit: "
                + "; ".join(parts)
                + f". {estimator_name} was fitted on columns {expected}."
            )
        return frame[expected] if list(frame.columns) != expected else frame
    if frame.shape[1] != n_features_in:
        raise ValueError(
            f"X has {frame.shape[1]} features, but {estimator_name} is expecting "
            f"{n_features_in} features as input."
        )
    if feature_names_in is not None and not has_names:
        if warn_unnamed:
            warn_user(
                f"X does not have valid feature names, but {estimator_name} was fitted with "
                "feature names; columns are matched by position.")
        return frame.set_axis(list(feature_names_in), axis=1)
    if feature_names_in is None and has_names:
        warn_user(
            f"X has feature names, but {estimator_name} was fitted without feature names; "
            "columns are matched by position.")
    cols = _default_columns(frame.shape[1])
    return frame if frame.columns.equals(cols) else frame.set_axis(cols, axis=1)
