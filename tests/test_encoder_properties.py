"""Property-based tests of TabularEncoder: any mixed-type table encodes without error or lost rows.

Tables mix float (with NaN), int, bool, nullable Int64, object strings (with None), pandas
category, pandas string, datetime (with NaT) and mixed-type object columns. Datetimes and
mixed objects are categorical: their levels are ``str(value)``.
"""

import datetime
import os
import warnings

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keraslearn.preprocessing import TabularEncoder  # noqa: E402
from keraslearn.preprocessing.encoder import MISSING_CODE, N_RESERVED, SCALINGS, UNKNOWN_CODE  # noqa: E402

# 50 examples keep the file at a few seconds; raise KERASLEARN_HYPOTHESIS_EXAMPLES to search harder.
SETTINGS = settings(
    max_examples=int(os.environ.get("KERASLEARN_HYPOTHESIS_EXAMPLES", 50)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_words = st.one_of(st.sampled_from(["a", "b", "c", "", "é", "1", "2.5"]), st.text(max_size=3), st.none())
KINDS = {
    "float": (st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), lambda v: pd.Series(v, dtype=float)),
    "int": (st.integers(-(10**6), 10**6), lambda v: pd.Series(v, dtype=np.int64)),
    "bool": (st.booleans(), lambda v: pd.Series(v, dtype=bool)),
    "Int64": (st.one_of(st.integers(-100, 100), st.none()), lambda v: pd.Series(v, dtype="Int64")),
    "str": (_words, lambda v: pd.Series(v, dtype=object)),
    "category": (st.one_of(st.sampled_from(["x", "y", "z"]), st.none()), lambda v: pd.Series(v, dtype="category")),
    "string": (_words, lambda v: pd.Series(v, dtype="string")),
    "datetime": (
        st.one_of(st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2030, 1, 1)), st.none()),
        lambda v: pd.Series(pd.to_datetime(pd.Series(v, dtype=object))),
    ),
    "mixed": (
        st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"]), st.floats(-5, 5), st.none(), st.booleans()),
        lambda v: pd.Series(v, dtype=object),
    ),
}


@st.composite
def frame(draw, kinds, n):
    return pd.DataFrame(
        {f"c{j}_{kind}": KINDS[kind][1](draw(st.lists(KINDS[kind][0], min_size=n, max_size=n)))
         for j, kind in enumerate(kinds)}
    )


@st.composite
def two_frames(draw):
    """A training frame and a second frame with the same columns (new values, other row count)."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=5))
    n_fit = draw(st.integers(1, 90))  # > 64 rows takes the factorize path of category_codes
    n_new = draw(st.integers(1, 90))
    return draw(frame(kinds, n_fit)), draw(frame(kinds, n_new))


def _levels(col: pd.Series) -> list:
    """The reference: a level is ``str(value)``; missing values (and an empty text, as read_csv reads it)
    are not levels."""
    return [None if pd.isna(v) or (isinstance(v, str) and v == "") else str(v) for v in col.astype(object)]


def check_encoded(enc, X, out):
    spec = enc.spec_
    expected = ({"numeric"} if spec.n_numeric else set()) | {c.input_name for c in spec.categorical}
    assert set(out) == expected
    if spec.n_numeric:
        num = out["numeric"]
        assert num.dtype == np.float32 and num.shape == (len(X), spec.n_numeric)
        assert np.all(np.isfinite(num))
        for j, col in enumerate(enc.indicator_columns_):  # indicators: 1 exactly where missing
            ind = num[:, len(enc.numeric_columns_) + j]
            np.testing.assert_array_equal(ind, X[col].isna().to_numpy(dtype=np.float32))
    for cspec, col, levels, stand_in in zip(spec.categorical, enc.categorical_columns_, enc.categories_,
                                            enc.stand_in_codes_):
        codes = out[cspec.input_name]
        assert codes.dtype == np.int32 and codes.shape == (len(X), 1)
        assert codes.min() >= 0 and codes.max() < cspec.n_codes
        lookup = {lvl: i + N_RESERVED for i, lvl in enumerate(levels)}
        ref = [MISSING_CODE if v is None else lookup.get(v, _other_spelling(raw, lookup))
               for v, raw in zip(_levels(X[col]), X[col].astype(object))]
        ref = [{MISSING_CODE: stand_in[0], UNKNOWN_CODE: stand_in[1]}.get(r, r) for r in ref]
        np.testing.assert_array_equal(codes.ravel(), ref)


def check_stand_ins(enc, X):
    """A reserved code no training row had is read as the most frequent level (the first in sorted
    order in a tie); the encoder's min_frequency=1 pools no level, so unseen levels always are."""
    for col, levels, stand_in in zip(enc.categorical_columns_, enc.categories_, enc.stand_in_codes_):
        values = pd.Series([v for v in _levels(X[col]) if v is not None], dtype=object)
        if values.empty:
            assert stand_in == [MISSING_CODE, MISSING_CODE]
            continue
        counts = values.value_counts()
        mode = N_RESERVED + levels.index(min(counts.index[counts == counts.max()]))
        has_missing = len(values) < len(X)
        assert stand_in == [MISSING_CODE if has_missing else mode, mode]


def _other_spelling(raw, lookup):
    """An unseen number may be a seen level in its other spelling: 1.0 for "1", 1 for "1.0"."""
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, float, np.integer, np.floating)):
        return UNKNOWN_CODE
    if isinstance(raw, (float, np.floating)):
        return lookup.get(str(int(raw)), UNKNOWN_CODE) if float(raw).is_integer() else UNKNOWN_CODE
    return lookup.get(str(float(raw)), UNKNOWN_CODE)


def _non_numeric(col: pd.Series) -> bool:
    """Values that cannot be read as numbers (only possible in object / string columns)."""
    if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
        return False
    return bool((pd.to_numeric(col, errors="coerce").isna() & col.notna()).any())


@SETTINGS
@given(frames=two_frames(), scaling=st.sampled_from(SCALINGS))
def test_any_mixed_frame_round_trips(frames, scaling):
    X, X_new = frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numbers-as-strings / identifier hints
        enc = TabularEncoder(scaling=scaling).fit(X)
    # no column dropped, but a numeric one missing in every row while another column is left
    dropped = set(X.columns) - set(enc.numeric_columns_) - set(enc.categorical_columns_)
    assert len(enc.numeric_columns_) + len(enc.categorical_columns_) + len(dropped) == X.shape[1]
    assert all(X[c].isna().all() for c in dropped) and (not dropped or len(dropped) < X.shape[1])
    for col, levels in zip(enc.categorical_columns_, enc.categories_):
        assert levels == sorted({v for v in _levels(X[col]) if v is not None})
    check_stand_ins(enc, X)
    out = enc.transform(X)
    check_encoded(enc, X, out)
    event(f"categorical columns: {len(enc.categorical_columns_)}, rows > 64: {len(X) > 64}")
    # Rows are encoded independently: one row alone gives the same as within the table.
    for i in {0, len(X) - 1}:
        one = enc.transform(X.iloc[[i]])
        for key, arr in out.items():
            np.testing.assert_allclose(one[key], arr[i : i + 1], rtol=0, atol=1e-6)

    # A new frame: unseen levels get the unknown code, missing values the missing code.
    bad = [c for c in enc.numeric_columns_ if _non_numeric(X_new[c])]
    event(f"text in a numeric column at transform: {bool(bad)}")
    if bad:
        # Text in a column that was numeric at fit (e.g. all missing then) is an error naming it.
        with pytest.raises(ValueError, match=f"Numeric column {bad[0]!r} holds non-numeric values"):
            enc.transform(X_new)
        X_new = X_new.assign(**{c: pd.Series([None] * len(X_new), dtype=object) for c in bad})  # blank them
    try:
        new = enc.transform(X_new)
    except ValueError as err:
        # Training values that vary by less than 1e-32 (0 and 1e-35), a new value of 1e6: scaled, beyond float32
        assert "too far from the training data to scale into float32" in str(err)
        assert scaling in ("standard", "robust") and (np.asarray(enc.scale_) < 1e-32).any()
        return
    check_encoded(enc, X_new, new)


@SETTINGS
@given(frames=two_frames(), data=st.data())
def test_infinity_in_a_numeric_column_is_named(frames, data):
    X, _ = frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        enc = TabularEncoder().fit(X)
    float_cols = [c for c in enc.numeric_columns_ if X[c].dtype == float]
    if not float_cols:
        return
    col = data.draw(st.sampled_from(float_cols))
    row = data.draw(st.integers(0, len(X) - 1))
    X_inf = X.copy()
    X_inf.loc[X_inf.index[row], col] = data.draw(st.sampled_from([np.inf, -np.inf]))
    with pytest.raises(ValueError, match=rf"infinity.*\[{col!r}\]"):
        enc.transform(X_inf)
    with pytest.raises(ValueError, match=rf"infinity.*\[{col!r}\]"):
        TabularEncoder().fit(X_inf)
