"""keraslearn.utils: normalize, to_categorical, classes_from_proba, plot_history, summary."""

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn.utils import classes_from_proba, normalize, plot_history, summary, to_categorical


def test_normalize_is_keras_lp_normalization():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    out = normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [2**-0.5, -(2**-0.5)]])  # zero rows stay zero
    np.testing.assert_allclose(np.abs(normalize(x, axis=0, order=1)).sum(axis=0), [1.0, 1.0])
    assert normalize(np.array([[1, 1]])).dtype.kind == "f"  # integers become floats
    np.testing.assert_array_equal(out, keras.utils.normalize(x))
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [0.6, 0.8])  # the same shape, as documented


def test_to_categorical_and_back():
    y = np.array([0, 2, 1, 2])
    onehot = to_categorical(y, 3)
    np.testing.assert_array_equal(onehot, np.eye(3)[y])
    np.testing.assert_array_equal(classes_from_proba(onehot), y)
    assert to_categorical(y).shape == (4, 3)
    with pytest.raises(ValueError, match="integer class labels"):
        to_categorical(np.array(["a", "b"]))
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical(np.array([-1, 0]))
    with pytest.raises(ValueError, match="num_classes=2"):
        to_categorical(y, 2)
    # R's 1-based labels, an R numeric num_classes, no labels: said, not NumPy's errors
    with pytest.raises(ValueError, match=r"label 3 does not fit num_classes=3: .*R's labels 1..K are y - 1 here"):
        to_categorical([1, 2, 3], num_classes=3)
    for bad in (3.0, "3", 0, True):
        with pytest.raises(ValueError, match=r"num_classes must be a whole number >= 1"):
            to_categorical(y, bad)
    with pytest.raises(ValueError, match="got no labels; pass num_classes"):
        to_categorical([])
    assert to_categorical([], num_classes=2).shape == (0, 2)
    assert to_categorical(y, np.array(3)).shape == (4, 3)  # a 0-d array, as jnp.max(y) + 1 gives


def test_classes_from_proba_softmax_and_sigmoid():
    np.testing.assert_array_equal(classes_from_proba([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]), [1, 0])
    np.testing.assert_array_equal(classes_from_proba([[0.2], [0.9]]), [0, 1])
    np.testing.assert_array_equal(classes_from_proba([0.2, 0.9, 0.6], threshold=0.7), [0, 1, 0])
    with pytest.raises(ValueError, match="shape"):
        classes_from_proba(np.zeros((2, 2, 2)))
    # NaN was read as class 0 (argmax) or as below the threshold
    for proba in ([np.nan, 0.7], [[0.2, 0.8], [np.nan, np.nan]], np.array([[0.2, 0.8], [None, None]], dtype=object)):
        with pytest.raises(ValueError, match=r"proba holds NaN in 1 row\(s\)"):
            classes_from_proba(proba)


@pytest.fixture(scope="module")
def fitted(iris_mixed):
    X, y = iris_mixed
    return keraslearn.FFClassifier(layer_units=(8,), epochs=3, random_state=0).fit(X, y)


def _png_pixels(path):
    import matplotlib.image

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


def test_plot_history_writes_a_png_from_fit_learner_or_dict(fitted, tmp_path):
    pixels = _png_pixels(plot_history(fitted, tmp_path / "learner.png"))
    assert pixels.shape[0] > 100 and pixels.std() > 0.01  # a drawn image, not a blank one
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]}
    wide = _png_pixels(plot_history(hist, tmp_path / "sub" / "dict.png"))
    assert wide.shape[1] > pixels.shape[1]  # two metrics: two panels side by side
    with pytest.raises(ValueError, match="no metrics"):
        plot_history({}, tmp_path / "empty.png")
    # A name without a format: a PNG under that very name (matplotlib wrote NAME.png: 'No such file')
    assert plot_history(hist, tmp_path / "plain") == str(tmp_path / "plain")
    _png_pixels(tmp_path / "plain")
    with pytest.raises(ValueError, match=r"FFClassifier has no history_ \(call fit first\)"):
        plot_history(keraslearn.FFClassifier(), tmp_path / "unfitted.png")  # was: not iterable
    # No path, as R's plot(history): the Figure itself (a notebook shows it), two panels for two metrics.
    fig = plot_history(hist)
    assert len(fig.axes) == 2 and [ax.get_ylabel() for ax in fig.axes] == ["loss (log scale)", "accuracy"]
    assert fig._repr_png_().startswith(b"\x89PNG")  # what IPython shows, without pyplot's inline backend
    fig.savefig(tmp_path / "later.png")
    assert _png_pixels(tmp_path / "later.png").std() > 0.01


def test_summary_returns_the_keras_summary_text(fitted):
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    text = summary(model)
    assert "235,146" in text and "200,960" in text and "32,896" in text and "1,290" in text  # the guide's counts
    learner_text = summary(fitted)
    assert learner_text.startswith("FFClassifier (multiclass; 6 input columns)")
    assert f"{fitted.model_.count_params():,}" in learner_text
    with pytest.raises(ValueError, match="call fit first"):
        summary(keraslearn.FFClassifier())


def test_public_names_resolve_lazily():
    for name in ("normalize", "to_categorical", "plot_history", "summary", "train_loop", "export", "load_tabular"):
        assert callable(getattr(keraslearn, name)), name
    assert keraslearn.datasets.load_mnist is keraslearn.load_mnist
    assert set(keraslearn.__all__) >= {"export", "CustomLoop", "load_boston_housing", "DatasetUnavailableError"}
    # docs/datasets.md lists every loader as keraslearn.<name>
    for name in set(keraslearn.datasets.__all__) - {"boston_housing_frame"}:
        assert getattr(keraslearn, name) is getattr(keraslearn.datasets, name), name


def test_tensorflow_log_warnings_are_quiet_inside_keras_calls_only(monkeypatch):
    """tf.function's retracing warnings during keraslearn's fits and predicts (a CV loop on the
    TensorFlow backend) are not shown; the user's own TensorFlow logging is left as it was."""
    import logging
    import sys
    import types

    from keraslearn._keras_warnings import keras_warnings_ignored

    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow") or types.ModuleType("tensorflow"))
    logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(logger, "level", logging.INFO)
    with keras_warnings_ignored():
        assert not logger.isEnabledFor(logging.WARNING)
    assert logger.level == logging.INFO


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # scikit-learn's, on NaN
def test_classification_scores_match_scikit_learns_on_the_labels_themselves():
    # Scored as integer codes (scikit-learn sorted 1M text labels per metric: 3.6 of 5.8 s in evaluate),
    # the numbers must be scikit-learn's on the labels as given: unseen labels, weights, two and three classes.
    from sklearn import metrics

    from keraslearn.report.metrics import classification_scores

    rng = np.random.default_rng(0)
    for classes, labels in ((np.array(["no", "yes"], dtype=object), ["no", "yes"]),
                            (np.array(["B", "a", "c"], dtype=object), ["B", "a", "c"]),
                            (np.array(["B", "a", "c"], dtype=object), ["B", "a", "c", "unseen"])):
        y = rng.choice(labels, 500)
        proba = rng.dirichlet(np.ones(len(classes)), 500)
        pred = classes[proba.argmax(axis=1)]
        w = rng.random(500)
        got = classification_scores(y, pred, proba, classes, w)
        assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred, sample_weight=w), abs=1e-15)
        assert got["balanced_accuracy"] == pytest.approx(
            metrics.balanced_accuracy_score(y, pred, sample_weight=w), abs=1e-15)
        if "unseen" in labels:
            assert set(got) == {"accuracy", "balanced_accuracy"}  # no probability metric for a label not a class
            continue
        assert got["log_loss"] == pytest.approx(metrics.log_loss(y, proba, labels=classes, sample_weight=w))
        auc = (metrics.roc_auc_score(y == classes[1], proba[:, 1], sample_weight=w) if len(classes) == 2 else
               metrics.roc_auc_score(y, proba, multi_class="ovr", labels=classes, sample_weight=w))
        assert got["roc_auc"] == pytest.approx(auc)
    # Only text labels are coded: a missing label or labels of another type than the classes meet
    # scikit-learn's own checks (review: NaN was coded as the last class and scored as right).
    with pytest.raises(ValueError, match="NaN"):
        classification_scores(np.array([0.0, 1.0, np.nan]), np.array([0.0, 1.0, 1.0]), None, np.array([0.0, 1.0]))
    with pytest.raises((TypeError, ValueError)):
        classification_scores(np.array(["b", None], dtype=object), np.array(["b", "b"], dtype=object),
                              None, np.array(["a", "b"], dtype=object))
