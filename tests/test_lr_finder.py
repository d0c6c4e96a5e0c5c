"""The learning-rate range test (mlr3keras' find_lr): a copy of the learner trains with a growing learning rate."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import keraslearn
from keraslearn import FFRegressor, SMLPClassifier


@pytest.fixture(scope="module")
def rows():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X.iloc[:256], y.iloc[:256]


@pytest.mark.torch
def test_the_rate_grows_every_batch_and_the_learner_is_left_alone(rows, tmp_path):
    X, y = rows
    learner = FFRegressor(layer_units=(16,), batch_size=32)
    result = keraslearn.find_learning_rate(learner, X, y, lr_min=1e-5, lr_max=3.0, steps=60, plot=tmp_path / "lr.png")
    assert not hasattr(learner, "model_") and learner.get_params() == FFRegressor(layer_units=(16,),
                                                                                   batch_size=32).get_params()
    # the growing rate makes the loss diverge before the 60th batch (at 1e-5 throughout, all 60 ran)
    assert list(result.columns) == ["learning_rate", "loss", "smoothed_loss"] and 10 < len(result) < 60
    rates = result["learning_rate"].to_numpy()
    np.testing.assert_allclose(rates[0], 1e-5)
    np.testing.assert_allclose(rates[1:] / rates[:-1], (3.0 / 1e-5) ** (1 / 59))  # one rate per batch
    smoothed = result["smoothed_loss"].to_numpy()
    assert np.nanargmin(smoothed) > 10  # the loss is lowest where the rate is useful, not at 1e-5
    suggestion = result.attrs["suggestion"]
    assert rates[np.nanargmin(smoothed)] == pytest.approx(10 * suggestion) and 1e-5 < 10 * suggestion < 3.0
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_a_diverging_loss_ends_the_test_early(rows):
    X, y = rows
    result = keraslearn.find_learning_rate(FFRegressor(layer_units=(16,), batch_size=32), X, y, lr_min=1e-3,
                                           lr_max=1e4, steps=80)
    assert len(result) < 80  # stopped once a batch's loss passed 4 times the lowest
    last = result["loss"].iloc[-1]
    assert not np.isfinite(last) or last > 4 * result["loss"].iloc[:-1].min()


def test_a_learner_with_its_own_schedule_is_tested_at_the_growing_rate(rows):
    X, y = rows
    result = keraslearn.find_learning_rate(SMLPClassifier(n_max=16, batch_size=32), X, y > y.median(), steps=20)
    assert len(result) == 20 and np.isfinite(result["loss"]).all()  # cosine schedule replaced, no error


def test_bad_arguments_are_named(rows):
    X, y = rows
    with pytest.raises(ValueError, match="0 < lr_min < lr_max"):
        keraslearn.find_learning_rate(FFRegressor(), X, y, lr_min=1.0, lr_max=0.1)
    with pytest.raises(ValueError, match="steps must be an int of at least 2"):
        keraslearn.find_learning_rate(FFRegressor(), X, y, steps=1)
    with pytest.raises(TypeError, match="takes a keraslearn tabular learner"):
        keraslearn.find_learning_rate(keraslearn.CNNClassifier(), X, y)


def test_each_batch_loss_weighs_its_rows_as_keras_running_mean_does(rows, monkeypatch):
    """Frozen weights (a rate of 1e-12): every epoch's batches hold every row once, so the row-weighted sum of
    their losses is the same each epoch. With 100 rows in batches of 32 the last holds 4 rows; read as a batch
    of equal weight (the first version), its loss was pulled towards the epoch's mean."""
    from keraslearn.training import lr_finder

    monkeypatch.setattr(lr_finder, "DIVERGED", np.inf)  # the batches' losses differ: none is a divergence
    X, y = rows
    result = keraslearn.find_learning_rate(FFRegressor(layer_units=(16,), batch_size=32, random_state=0),
                                           X.iloc[:100], y.iloc[:100], lr_min=1e-12, lr_max=2e-12, steps=12)
    per_epoch = (result["loss"].to_numpy().reshape(3, 4) * [32, 32, 32, 4]).sum(axis=1)
    np.testing.assert_allclose(per_epoch, per_epoch[0], rtol=1e-4)


def test_the_copy_trains_with_the_learners_optimizer_and_without_its_callbacks(rows, monkeypatch, tmp_path):
    """RealMLP's Adam has beta_2=0.95 and TabNet clips gradients: the test keeps them (the first version swapped
    in a default optimizer). A user's CSVLogger would have been overwritten by the test's epochs."""
    import keras

    from keraslearn.training import lr_finder

    seen = []

    class Watching(lr_finder._RangeTest):
        def on_train_begin(self, logs=None):
            seen.append(self.model.optimizer)

    monkeypatch.setattr(lr_finder, "_RangeTest", lambda steps, rows: Watching(steps, rows))
    X, y = rows
    log = tmp_path / "user.csv"
    learner = keraslearn.RealMLPRegressor(hidden_sizes=(8,), callbacks=[keras.callbacks.CSVLogger(str(log))])
    keraslearn.find_learning_rate(learner, X, y, steps=5)
    keraslearn.find_learning_rate(keraslearn.TabNetRegressor(n_steps=1), X, y, steps=5)
    assert not log.exists()
    assert seen[0].beta_2 == 0.95 and seen[1].global_clipnorm == 1.0
    assert all(isinstance(opt._learning_rate, keras.optimizers.schedules.ExponentialDecay) for opt in seen)
