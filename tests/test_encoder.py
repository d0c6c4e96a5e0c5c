"""TabularEncoder and DataSpec: column kinds, imputation, codes, scaling, errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from keraslearn.preprocessing import DataSpec, TabularEncoder, embedding_size
from keraslearn.preprocessing.encoder import MISSING_CODE, UNKNOWN_CODE
from keraslearn.preprocessing.coding import CONSTANT_SCALE


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "age": [20.0, np.nan, 40.0, 50.0, 60.0, 30.0],
            "income": [1, 2, 3, 4, 5, 6],
            "member": [True, False, True, True, False, False],
            "city": ["a", "b", "a", None, "c", "a"],
            "size": pd.Categorical(["s", "m", "l", "m", "s", "s"]),
        }
    )


def test_column_kinds_and_spec(frame):
    enc = TabularEncoder().fit(frame)
    assert enc.numeric_columns_ == ["age", "income", "member"]
    assert enc.categorical_columns_ == ["city", "size"]
    assert enc.indicator_columns_ == ["age"]
    spec = enc.spec_
    assert spec.n_numeric == 4  # 3 numeric + 1 missing indicator
    assert [c.input_name for c in spec.categorical] == ["cat_city", "cat_size"]
    assert [c.n_codes for c in spec.categorical] == [3 + 2, 3 + 2]
    assert spec.categorical[0].embed_dim == embedding_size(5)


def test_transform_imputes_scales_and_codes(frame):
    enc = TabularEncoder().fit(frame)
    out = enc.transform(frame)
    num = out["numeric"]
    assert num.dtype == np.float32 and num.flags["C_CONTIGUOUS"] and num.shape == (6, 4)
    # age imputed with the median of the observed values (40), indicator set on row 1
    age = np.array([20, 40, 40, 50, 60, 30.0])
    np.testing.assert_allclose(num[:, 0], (age - age.mean()) / age.std(), rtol=1e-5)
    np.testing.assert_array_equal(num[:, 3], [0, 1, 0, 0, 0, 0])
    # codes: 0 missing, 1 unseen, 2.. sorted kept levels ("a", "b", "c")
    np.testing.assert_array_equal(out["cat_city"].ravel(), [2, 3, 2, 0, 4, 2])
    assert out["cat_city"].dtype == np.int32 and out["cat_city"].shape == (6, 1)


def test_unseen_and_rare_levels(frame):
    enc = TabularEncoder(min_frequency=2).fit(frame)
    assert enc.categories_[0] == ["a"]  # b and c are rare
    new = frame.head(3).assign(city=["a", "zzz", None])
    np.testing.assert_array_equal(enc.transform(new)["cat_city"].ravel(), [2, 1, 0])


def test_embed_size_override(frame):
    enc = TabularEncoder(embed_size={"city": 7}).fit(frame)
    assert [c.embed_dim for c in enc.spec_.categorical] == [7, embedding_size(5)]
    assert [c.embed_dim for c in TabularEncoder(embed_size=3).fit(frame).spec_.categorical] == [3, 3]
    with pytest.raises(ValueError, match="not categorical.*'age'"):
        TabularEncoder(embed_size={"age": 3}).fit(frame)


def test_embedding_size_rule():
    assert embedding_size(2) == round(1.6 * 2**0.56)
    assert embedding_size(10**6) == 600
    assert all(2 <= embedding_size(n) <= 600 for n in (2, 10, 1000, 10**5))


@pytest.mark.parametrize("scaling", ["quantile", "robust", "none", None])
def test_other_scalings(frame, scaling):  # None: off, as "none" (scikit-learn's word for off)
    enc = TabularEncoder(scaling=scaling).fit(frame)
    num = enc.transform(frame)["numeric"]
    if scaling == "quantile":
        # monotone in the input, centred near 0 (normal output)
        assert np.all(np.diff(num[np.argsort(frame["income"].to_numpy()), 1]) > 0)
        assert abs(np.median(num[:, 1])) < 0.5
    elif scaling in ("none", None):
        np.testing.assert_allclose(num[:, 1], frame["income"])
    else:
        assert np.median(num[:, 1]) == pytest.approx(0, abs=1e-6)


def test_quantile_scaling_reads_values_beyond_the_training_range_as_its_extremes():
    # QA on R's `cars`: 4 of 40 training rows at the largest speed (24) were encoded at +1.8 sd (ties to the middle),
    # any larger speed at +5.2 sd (the clip), a step the network never saw: ResNet predicted 96 at 24, 305 at 24.5.
    x = np.r_[np.linspace(0.0, 20.0, 36), [24.0] * 4]
    enc = TabularEncoder(scaling="quantile").fit(pd.DataFrame({"speed": x}))
    at = enc.transform(pd.DataFrame({"speed": [23.9, 24.0, 24.5, 30.0, 0.0, -5.0]}))["numeric"][:, 0]
    assert at[0] < at[1] and at[1] == at[2] == at[3] < 2.0  # beyond the largest: as the largest
    assert at[4] == at[5]  # below the smallest: as the smallest
    trained = enc.transform(pd.DataFrame({"speed": x}))["numeric"][:, 0]
    assert trained.max() == at[1] and trained.min() == at[4]


def test_inf_names_the_column(frame):
    bad = frame.assign(income=[1, 2, np.inf, 4, 5, 6])
    with pytest.raises(ValueError, match=r"infinity.*\['income'\]"):
        TabularEncoder().fit(bad)
    enc = TabularEncoder().fit(frame)
    with pytest.raises(ValueError, match=r"infinity.*\['income'\]"):
        enc.transform(bad)


def test_values_beyond_float32_after_scaling_name_the_column(frame):
    enc = TabularEncoder().fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error, not numpy's overflow warning before it
        with pytest.raises(ValueError, match=r"\['income'\] hold values too far from the training data to scale into "
                                             r"float32: 'income' = 1e\+300 is .* times the column's training scale"):
            enc.transform(frame.assign(income=[1, 2, 1e300, 4, 5, 6]))
    assert np.isfinite(enc.transform(frame.assign(income=[1, 2, 1e30, 4, 5, 6]))["numeric"]).all()
    # The property tests, robust scaling: an IQR of 1e-308 (mostly zeros) beside a training value of 1 could not
    # encode the training rows themselves; such a column is scaled by its standard deviation, as a zero IQR is
    robust = pd.DataFrame({"x": [0.0, 0.0, 1e-308, 2e-308, 3e-308, 0.0, 1.0, 0.0], "a": np.arange(8.0)})
    enc = TabularEncoder(scaling="robust").fit(robust)
    assert enc.scale_[0] == pytest.approx(robust["x"].std(ddof=0))
    assert np.isfinite(enc.transform(robust)["numeric"]).all()
    # The property tests: training values 0 and 5e-54 met 1 at transform: "too large to scale (up to 1)". A column
    # in tiny units is scaled (test_a_column_in_small_units_...), so 1 is far from it, and the error says so.
    tiny = pd.DataFrame({"x": [0.0] * 17 + [5.4e-54], "a": np.arange(18.0)})
    with pytest.raises(ValueError, match=r"'x' = 1 is 8.*e\+53 times the column's training scale \(1.*e-54\) from "
                                         r"its training centre \(3.*e-55\)"):
        TabularEncoder().fit(tiny).transform(tiny.assign(x=1.0))


def test_list_cells_are_one_level_whatever_the_frame_holds_them_in():
    """QA: an object column of lists gave levels '[0, 1]', the same values as an Arrow or polars list column
    '[0 1]' (their cells are NumPy arrays), so a model fitted on one read the other as unseen, silently; and a
    polars frame's list cells at predict raised NumPy's "truth value of an array is ambiguous"."""
    import polars as pl
    import pyarrow as pa

    lists = pd.DataFrame({"x": np.arange(6.0), "l": pd.Series([[0, 1], [1, 2], []] * 2, dtype=object)})
    arrow = lists.assign(l=pd.Series(pa.array(lists["l"].tolist(), pa.list_(pa.int64())),
                                     dtype=pd.ArrowDtype(pa.list_(pa.int64()))))
    for fitted_on in (lists, arrow, pl.from_pandas(lists)):
        enc = TabularEncoder().fit(fitted_on)
        assert enc.categories_ == [["[0, 1]", "[1, 2]", "[]"]]
        for other in (lists, arrow, pl.from_pandas(lists)):
            codes = enc.transform(other)["cat_l"].ravel()
            assert not np.isin(codes, [UNKNOWN_CODE, MISSING_CODE]).any() and codes.tolist() == codes[:3].tolist() * 2
    unseen = enc.transform(pl.DataFrame({"x": [1.0, 1.0], "l": [[5, 6], [0, 1]]}))["cat_l"].ravel()
    assert unseen.tolist() == enc.transform(lists.assign(l="zzz"))["cat_l"].ravel()[:1].tolist() + [codes[0]]


def test_arrow_view_columns_are_read_as_their_plain_types():
    """QA: an Arrow string_view column (polars' text type, through Arrow) raised pandas' bare
    "NotImplementedError: string_view"; an Arrow type pandas cannot handle at all is named."""
    import pyarrow as pa

    def arrow(values, kind):
        return pd.Series(pa.array(values, type=kind), dtype=pd.ArrowDtype(kind))

    levels = ["a", "b", "c", "a", None, "c"]
    X = pd.DataFrame({"x": np.arange(6.0), "self": levels})  # "self": a column assign(**{...}) cannot set
    viewed = X.assign(x=X["x"])
    viewed["self"] = arrow(levels, pa.string_view())
    enc = TabularEncoder().fit(viewed)
    assert enc.categories_ == [["a", "b", "c"]]
    np.testing.assert_array_equal(enc.transform(viewed)["cat_self"], enc.transform(X)["cat_self"])
    assert enc.transform(viewed)["cat_self"][4, 0] == MISSING_CODE
    X["self"] = arrow([[1]] * 6, pa.list_view(pa.int64()))
    with pytest.raises(TypeError, match=r"cannot read column 'self' \(list_view<item: int64>\[pyarrow\]\): pandas"):
        TabularEncoder().fit(X)


def test_column_mismatch_errors_name_columns(frame):
    enc = TabularEncoder().fit(frame)
    with pytest.raises(ValueError, match=r"missing columns \['city'\]"):
        enc.transform(frame.drop(columns="city"))
    with pytest.raises(ValueError, match=r"unexpected columns \['extra'\]"):
        enc.transform(frame.assign(extra=1))
    # column order does not matter for DataFrames
    shuffled = frame[frame.columns[::-1]]
    np.testing.assert_array_equal(enc.transform(shuffled)["numeric"], enc.transform(frame)["numeric"])


def test_numpy_and_polars_inputs(frame):
    import polars as pl

    arr = np.random.default_rng(0).normal(size=(20, 3))
    enc = TabularEncoder().fit(arr)
    assert not hasattr(enc, "feature_names_in_") and enc.spec_.n_numeric == 3
    with pytest.raises(ValueError, match="X has 2 features, but TabularEncoder is expecting 3"):
        enc.transform(arr[:, :2])
    pdf = frame.drop(columns="size")
    from_pl = TabularEncoder().fit(pl.from_pandas(pdf)).transform(pl.from_pandas(pdf))
    from_pd = TabularEncoder().fit(pdf).transform(pdf)
    for key in from_pd:
        np.testing.assert_array_equal(from_pl[key], from_pd[key])
    import pyarrow as pa

    table = pa.Table.from_pandas(pdf, preserve_index=False)
    enc = TabularEncoder().fit(table)  # names kept, so columns are matched by name
    assert list(enc.feature_names_in_) == list(pdf.columns)
    reordered = enc.transform(table.select(list(pdf.columns[::-1])))
    for key in from_pd:
        np.testing.assert_array_equal(reordered[key], from_pd[key])
    wide = pl.DataFrame({"id": pl.Series(range(5), dtype=pl.Int128), "x": np.arange(5.0)})
    with pytest.raises(TypeError, match=r"cannot read polars column\(s\) 'id' \(Int128\).*cast\(pl.Int64\)"):
        TabularEncoder().fit(wide)  # pyarrow's own error named a format string, '_pli128'


def test_a_pipeline_of_the_encoder_and_a_learner_says_to_drop_the_encoder(frame):
    from sklearn.pipeline import make_pipeline

    from keraslearn import FFRegressor

    tags = TabularEncoder().__sklearn_tags__().input_tags  # it imputes, and codes text and categories
    assert tags.allow_nan and tags.string and tags.categorical
    with pytest.raises(TypeError, match="got TabularEncoder's output .* drop TabularEncoder from the pipeline"):
        make_pipeline(TabularEncoder(), FFRegressor(epochs=1)).fit(frame, np.arange(len(frame), dtype=float))


def test_a_time_level_is_met_however_the_time_is_written():
    """A datetime column's levels print as '2024-01-02 00:00:00'; a CSV or JSON writes '2024-01-02', a polars
    Date gives date objects, a time zone may be added: each was 'unknown' (accuracy 0.95 -> 0.40), silently."""
    days = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])
    X = pd.DataFrame({"day": days[np.arange(30) % 3], "x": np.arange(30.0)})
    enc = TabularEncoder().fit(X)
    codes = enc.transform(X)["cat_day"]
    assert len(set(codes.ravel())) == 3
    for other in (X["day"].dt.strftime("%Y-%m-%d"), X["day"].dt.date, X["day"].dt.tz_localize("UTC"),
                  X["day"].dt.strftime("%Y/%m/%d"), X["day"].dt.strftime("%Y.%m.%d %H:%M")):  # year first
        np.testing.assert_array_equal(enc.transform(X.assign(day=other))["cat_day"], codes)
    for ambiguous in ("%d.%m.%Y", "%m/%d/%Y", "%Y/%m-%d"):  # day or month first, mixed separators: not read
        assert set(enc.transform(X.assign(day=X["day"].dt.strftime(ambiguous)))["cat_day"].ravel()) == {
            enc.stand_in_codes_[0][1]}
    as_text = X.assign(day=X["day"].dt.strftime("%Y-%m-%d"))
    enc = TabularEncoder().fit(as_text)  # and back: text levels met by datetimes
    np.testing.assert_array_equal(enc.transform(X)["cat_day"], enc.transform(as_text)["cat_day"])
    unseen = enc.transform(X.head(3).assign(day=["2025-01-01", "2024-01-02T00:00:00Z", "Jan 2"]))["cat_day"]
    lost = enc.stand_in_codes_[0][1]  # an unseen value's code: the first of the equally frequent days
    assert unseen.ravel().tolist() == [lost, codes[1, 0], lost] and lost != codes[1, 0]
    words = TabularEncoder().fit(pd.DataFrame({"c": ["2024-01-02", "red", "red"] * 5}))  # not all times: text
    red = words.transform(pd.DataFrame({"c": ["red"]}))["cat_c"].item()
    assert words.transform(pd.DataFrame({"c": ["2024-01-02 00:00:00"]}))["cat_c"].item() == red  # unseen
    # 9999-12-31 ("no end date") is beyond nanoseconds: as a level, as an unseen value, with rare levels pooled
    ends = pd.DataFrame({"end": ["2024-01-01", "2024-06-30", "9999-12-31"] * 4 + ["2025-03-01"]})
    enc = TabularEncoder(min_frequency=2).fit(ends)
    codes = enc.transform(pd.DataFrame({"end": ["2025-01-01", "9999-12-31 00:00:00", "0001-01-01"]}))["cat_end"]
    assert codes.ravel().tolist() == [UNKNOWN_CODE, enc.transform(ends.iloc[[2]])["cat_end"].item(), UNKNOWN_CODE]
    # zoned levels meet zoned values at the same instant, not the same wall-clock time
    hours = pd.DataFrame({"t": pd.date_range("2024-03-01", periods=6, freq="h", tz="Europe/Paris")})
    enc = TabularEncoder().fit(hours)
    np.testing.assert_array_equal(enc.transform(hours.assign(t=hours["t"].dt.tz_convert("UTC")))["cat_t"],
                                  enc.transform(hours)["cat_t"])


def test_object_array_of_numbers_is_numeric():
    X = np.random.default_rng(0).uniform(size=(10, 2)).astype(object)
    enc = TabularEncoder().fit(X)
    assert enc.numeric_columns_ == ["x0", "x1"] and enc.categorical_columns_ == []


def test_state_round_trip(frame):
    enc = TabularEncoder(scaling="quantile", min_frequency=2).fit(frame)
    state, arrays = enc.get_state()
    import json

    again = TabularEncoder.from_state(json.loads(json.dumps(state)), arrays)
    # city: missing values and rare levels in training; size: a rare level ("l"), no missing value
    new = frame.assign(city=["zzz", None, "a", "c", "b", "a"], size=["xl", None, "s", "m", "l", "s"])
    for X in (frame, new):
        a, b = enc.transform(X), again.transform(X)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    s_code = enc.transform(frame)["cat_size"][0, 0]  # missing in "size": read as its most frequent level, "s"
    assert enc.transform(new)["cat_size"].ravel()[:3].tolist() == [UNKNOWN_CODE, s_code, s_code]
    assert DataSpec.from_dict(enc.spec_.to_dict()) == enc.spec_
    del state["stand_in_codes"]  # an artifact written before they existed: the reserved codes, as then
    assert TabularEncoder.from_state(state, arrays).stand_in_codes_ == [[MISSING_CODE, UNKNOWN_CODE]] * 2
    unpickled = TabularEncoder().fit(frame)  # as an encoder pickled before they existed: saved as then
    del unpickled.stand_in_codes_
    assert unpickled.get_state()[0]["stand_in_codes"] == [[MISSING_CODE, UNKNOWN_CODE]] * 2
    bad = {**state, "stand_in_codes": [[0, 1], [0, 9]]}  # beyond the codes of "size"
    with pytest.raises(ValueError, match=r"stand-in codes"):
        TabularEncoder.from_state(bad, arrays)


def test_fit_transform_encodes_once_and_equals_fit_then_transform(frame, monkeypatch):
    from keraslearn.learners import FFRegressor

    calls = []
    transform = TabularEncoder._transform_frame

    def counting(self, f):
        calls.append(len(f))
        return transform(self, f)

    reference = TabularEncoder().fit(frame)
    expected = reference.transform(frame)
    monkeypatch.setattr(TabularEncoder, "_transform_frame", counting)
    enc = TabularEncoder()
    encoded = enc.fit_transform(frame)
    assert calls == [len(frame)]  # the quantiles of the spec come from the same encoding
    assert enc.spec_ == reference.spec_
    assert encoded.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(encoded[key], expected[key])
    calls.clear()
    FFRegressor(epochs=1, random_state=0).fit(frame, np.arange(len(frame), dtype=float))
    assert calls == [len(frame)]  # a learner's fit encodes its training rows once


def test_numeric_quantiles_by_column_equal_the_whole_table_and_need_column_sized_memory():
    import tracemalloc

    from keraslearn.preprocessing.spec import N_QUANTILES, numeric_quantiles

    rng = np.random.default_rng(0)
    arr = np.concatenate([rng.standard_normal((50_000, 3)), rng.integers(0, 4, (50_000, 2))], axis=1)
    arr = arr.astype(np.float32)
    whole = np.quantile(arr.astype(np.float64), np.linspace(0.0, 1.0, N_QUANTILES), axis=0)
    assert numeric_quantiles(arr) == tuple(tuple(float(f"{v:.7g}") for v in col) for col in whole.T)
    tracemalloc.start()
    try:
        numeric_quantiles(arr)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Two float64 copies of one column at a time; of the whole table they were 4 times the input.
    assert peak < 3 * len(arr) * 8, peak


def test_encoding_a_numeric_array_needs_little_more_than_its_float32_result():
    import tracemalloc

    from keraslearn.preprocessing.validation import to_frame

    X = np.random.default_rng(1).standard_normal((100_000, 10))  # float64, 8 MB
    frame, _ = to_frame(X, estimator_name="test")  # as a learner's fit wraps an array: no copy
    enc = TabularEncoder()
    tracemalloc.start()
    try:
        encoded = enc._fit_transform_frame(frame, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = encoded["numeric"].nbytes  # float32: half of X
    assert result == X.nbytes // 2
    # Fitting once needed float64 copies of the whole table (about 2.5 times X at its peak);
    # now the result plus a few chunk- and column-sized temporaries.
    assert peak < 1.25 * X.nbytes, (peak, result)


def _fit_transform_peak(X):
    """The encoding of X by a fitted-on-X encoder, and the peak traced memory of fitting."""
    import tracemalloc

    from keraslearn.preprocessing.validation import to_frame

    frame, has_names = to_frame(X, estimator_name="test")  # as a learner's fit wraps X: no copy
    tracemalloc.start()
    try:
        encoded = TabularEncoder(scaling="quantile")._fit_transform_frame(frame, has_names)
        return encoded, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("as_frame", [False, True])
def test_a_float32_table_is_encoded_as_its_float64_values_without_a_float64_copy(as_frame):
    X = np.random.default_rng(2).standard_normal((200_000, 10)).astype(np.float32)  # 8 MB
    X[::7, 3] = np.nan
    numbers = X.nbytes
    wide = X.astype(np.float64)
    if as_frame:  # float columns and a string column: the numbers are taken column by column
        text = np.where(X[:, 0] > 0, "a", "b")
        X = pd.DataFrame(X, columns=[f"c{j}" for j in range(10)]).assign(s=text)
        wide = pd.DataFrame(wide, columns=X.columns[:10]).assign(s=text)
    encoded, peak = _fit_transform_peak(X)
    expected, peak_wide = _fit_transform_peak(wide)
    for name in expected:
        np.testing.assert_array_equal(encoded[name], expected[name])
    if as_frame:  # the float64 table's columns are stacked into a float64 copy, the float32 ones into float32
        assert peak < peak_wide - 0.5 * numbers, (peak, peak_wide, numbers)
    else:  # the float64 array is read as it is; the float32 one too, not through a float64 copy (2x numbers)
        assert peak < peak_wide + 0.4 * numbers, (peak, peak_wide, numbers)


def test_quantile_scaling_of_subnormal_values_stays_finite_and_ordered():
    # Found by the property test: quantiles a subnormal apart (here -1e-300 interpolated towards 0
    # and 5e-324) overflowed np.interp's slope (NaN), which then read as "values too large to scale".
    values = [5e-324, 0.0, -8.3e-297, -8.3e-297, -1.0, -1.0, -1.0, -1e-300, 1e-59, 5e-324]
    enc = TabularEncoder(scaling="quantile").fit(pd.DataFrame({"x": values}))
    probe = [-1.0, -8.3e-297, -1e-300, 0.0, 5e-324, 1e-59]
    out = enc.transform(pd.DataFrame({"x": probe}))["numeric"][:, 0]
    assert np.isfinite(out).all()
    assert np.all(np.diff(out[np.argsort(probe, kind="stable")]) >= 0)  # order kept
    whole = enc.transform(pd.DataFrame({"x": values}))["numeric"][:, 0]
    assert np.isfinite(whole).all()


def test_an_empty_text_is_a_missing_value_as_read_csv_reads_it():
    """pd.read_csv (the command line's CSV reader) reads an empty field as missing, a Parquet file keeps "":
    the same data gave a level in one and a missing value in the other, and predictions 0.1 apart."""
    note = pd.Series(["", "late", None, "ok", "", "late"] * 20)
    X = pd.DataFrame({"x": np.arange(120.0), "note": note})
    enc = TabularEncoder().fit(X)
    assert enc.categorical_columns_ == ["note"] and enc.categories_ == [["late", "ok"]]
    as_none = X.assign(note=note.replace("", None))
    for kind in (object, "string", "category"):
        for got, want in zip(enc.transform(X.assign(note=note.astype(kind))).values(), enc.transform(as_none).values()):
            np.testing.assert_array_equal(got, want)
    assert (enc.transform(X)["cat_note"].ravel()[note.eq("").to_numpy()] == MISSING_CODE).all()  # trained


@pytest.mark.parametrize("missing", [pd.NaT, np.datetime64("NaT"), pd.NA, None])
def test_numbers_with_any_missing_marker_are_numeric(missing):
    """An object column of floats with NaT for missing was categorical (each number a level, with a warning
    about "numbers stored as strings"); with np.datetime64("NaT") the frame's conversion read -9.2e18."""
    x = np.random.default_rng(0).normal(size=100)
    marked = pd.Series([missing if i % 10 == 0 else v for i, v in enumerate(x)], dtype=object)
    blanked = pd.Series(np.where(np.arange(100) % 10, x, np.nan))
    X, plain = (pd.DataFrame({"x": col, "z": x}) for col in (marked, blanked))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = TabularEncoder().fit(X)
    assert enc.numeric_columns_ == ["x", "z"] and enc.indicator_columns_ == ["x"]
    np.testing.assert_array_equal(enc.transform(X)["numeric"], TabularEncoder().fit(plain).transform(plain)["numeric"])


def test_bytes_levels_are_their_text():
    """A Parquet binary column of text (older Spark files) gave levels "b'a'": the same data as text (a CSV)
    was unseen in every row, silently."""
    c = pd.Series(list("abc") * 40)
    X = pd.DataFrame({"x": np.arange(120.0), "c": c})
    as_bytes = X.assign(c=c.map(str.encode))
    enc = TabularEncoder().fit(as_bytes)
    assert enc.categories_ == [["a", "b", "c"]]
    np.testing.assert_array_equal(enc.transform(X)["cat_c"], enc.transform(as_bytes)["cat_c"])
    assert set(enc.transform(X)["cat_c"].ravel()) == {2, 3, 4}


@pytest.mark.parametrize("scaling", ["standard", "robust", "quantile"])
def test_a_constant_column_is_ignored_at_predict_as_in_training(scaling):
    """A column constant in training (a CV fold's all-0 indicator, a year column of one year) taught the
    network nothing, yet a new value went through weights that never learned: 5 → 50 moved an FFRegressor's
    predictions by 1.5 standard deviations of y. It is 0 whatever the value, as in training."""
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=200), "k": 5.0})
    enc = TabularEncoder(scaling=scaling).fit(X)
    for value in (5.0, 6.0, 50.0, -1e6):
        np.testing.assert_allclose(enc.transform(X.assign(k=value))["numeric"][:, 1], 0.0, atol=1e-20)
    assert np.isfinite(enc.scale_).all()  # exports fold it into float32: finite


@pytest.mark.parametrize("scaling", ["standard", "robust"])
def test_a_column_in_small_units_is_scaled_not_taken_for_constant(scaling):
    """A fixed cut-off (a spread of at most 1e-12) zeroed varying columns in small units (capacitances in
    farads): test R² 0.97 -> 0.81, silently. Constant is rounding error of the column's own size, as
    scikit-learn's StandardScaler judges it: a constant 0.1 or 1e6 (whose mean is not exact) still is."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"farads": rng.normal(size=300) * 1e-12, "tiny": rng.normal(size=300) * 1e-100,
                      "point_one": 0.1, "million": 1e6 + 0.0, "zero": 0.0})
    enc = TabularEncoder(scaling=scaling).fit(X)
    spread = enc.transform(X)["numeric"].std(axis=0)
    assert spread[0] > 0.5 and spread[1] > 0.5
    np.testing.assert_array_equal(spread[2:], 0.0)
    np.testing.assert_array_equal(enc.scale_[2:], CONSTANT_SCALE)
