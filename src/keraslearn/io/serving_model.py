"""A fitted learner as one serving model: its network with preprocessing and output folded in.

The model takes the raw numeric columns (NaN for missing; imputation, scaling and missing
indicators happen inside it) plus one int32 code column per categorical column, and returns
what ``predict_proba`` (classifiers) or ``predict`` (regressors) return. :func:`export_inputs`
builds that input dict from a DataFrame; :func:`input_description` says what each input holds.
:mod:`keraslearn.io.export` writes the model to ONNX, LiteRT or a SavedModel.
"""

from __future__ import annotations

import numpy as np

from keraslearn._user_warnings import warn_user


def _tabular_encoder(learner):
    """The learner's fitted TabularEncoder, or None (e.g. image learners)."""
    from keraslearn.preprocessing.encoder import TabularEncoder

    enc = getattr(learner, "encoder_", None)
    return enc if isinstance(enc, TabularEncoder) else None


def _folds_numeric(learner) -> bool:
    enc = _tabular_encoder(learner)
    return enc is not None and enc.spec_.n_numeric > 0 and enc.quantiles_ is None


# |centre| / scale above which a raw float32 input (a relative rounding of 2**-24) rounds a column by
# more than about 1e-3 of its spread: timestamps to the second over a day, large identifiers. A
# year column (2008 ± 0.8: 2.5e3) rounds by 1.5e-4 of its spread, and predictions by about 2e-6.
_FLOAT32_OFFSET = 1e4


def _warn_if_float32_rounds(enc) -> None:
    center, scale = np.abs(np.asarray(enc.center_, float)), np.asarray(enc.scale_, float)
    ratio = np.divide(center, scale, out=np.zeros_like(center), where=scale > 0)
    far = [str(c) for c, r in zip(enc.numeric_columns_, ratio) if r > _FLOAT32_OFFSET]
    if far:
        warn_user(
            f"numeric column(s) {far[:5]} hold values far from 0 for their spread (e.g. timestamps); the export's "
            "raw float32 'numeric' input rounds them, so its predictions differ from predict's. Export with "
            "fold_preprocessing=False (its input is the encoder's output, centred in float64) to keep them.")


def learner_model(learner, fold_preprocessing=True):
    """The Keras model a learner exports: its network with preprocessing and output folded in.

    Inputs: ``"numeric"`` (the raw numeric columns, NaN for missing, when
    ``fold_preprocessing`` and the scaling allows; else the encoder's output) and one
    ``"cat_<column>"`` int32 code input per categorical column. Output: class
    probabilities (one column per class, as ``predict_proba``) or predictions in the
    target's units (as ``predict``).
    """
    import keras
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils.validation import check_is_fitted

    from keraslearn.preprocessing.encoder import MISSING_CODE, UNKNOWN_CODE
    from keraslearn.preprocessing.layers import ImputeScale, StandInCodes

    check_is_fitted(learner, "model_")
    net = learner.model_
    enc = _tabular_encoder(learner)
    if enc is None:
        inputs = keras.tree.map_structure(lambda t: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name), net.input)
        feed = inputs
        if hasattr(learner, "_image_inputs") and not isinstance(inputs, dict):
            inputs = {inputs.name: inputs}  # as export_inputs gives: a SavedModel's serve takes that dict too
    else:
        inputs, feed = {}, {}
        if enc.spec_.n_numeric:
            if fold_preprocessing and _folds_numeric(learner):
                _warn_if_float32_rounds(enc)
                raw = keras.Input((len(enc.numeric_columns_),), name="numeric", dtype="float32")
                idx = [enc.numeric_columns_.index(c) for c in enc.indicator_columns_]
                inputs["numeric"] = raw
                feed["numeric"] = ImputeScale(enc.medians_, enc.center_, enc.scale_, idx, name="impute_scale")(raw)
            else:
                encoded = keras.Input((enc.spec_.n_numeric,), name="numeric", dtype="float32")
                inputs["numeric"] = feed["numeric"] = encoded
        for cat, (missing, unknown) in zip(enc.spec_.categorical, enc._stand_ins()):
            inputs[cat.input_name] = feed[cat.input_name] = keras.Input((1,), name=cat.input_name, dtype="int32")
            if (missing, unknown) != (MISSING_CODE, UNKNOWN_CODE):  # the reserved codes fed as such: read as predict
                feed[cat.input_name] = StandInCodes(missing, unknown, name=f"stand_in_{cat.input_name}")(
                    inputs[cat.input_name])
    if hasattr(learner, "_model_inputs"):  # the generic learners: the user's model takes inputs its own way
        if getattr(learner, "_x_transformed", False) or getattr(learner, "x_transform", None) is not None:
            raise ValueError(
                f"This {type(learner).__name__} feeds its model through x_transform, a Python function that an "
                "export cannot hold. Export learner.model_ itself, and apply x_transform to "
                "export_inputs(learner, X, fold_preprocessing=False) before feeding it."
            )
        feed = learner._model_inputs(net, feed)
    out = net(feed)
    if getattr(learner, "_from_logits", False):  # trained with from_logits=True: predict_proba's activation
        out = keras.layers.Activation("sigmoid" if out.shape[-1] == 1 else "softmax", name="logits_to_proba")(out)
    if is_regressor(learner) and hasattr(learner, "y_scale_"):
        # float32 keeps ~7 digits: y_mean_ 1e9 with y_scale_ 1 leaves every prediction the same value.
        # (Not a constant target, whose scale is a tiny 1e-6 of its value: its predictions are that value.)
        scale, mean = np.asarray(learner.y_scale_), np.abs(learner.y_mean_)
        coarse = (mean * 2.0**-23 > 1e-3 * scale) & ~np.isclose(scale, 1e-6 * mean, rtol=1e-6)
        if coarse.any():
            around = float(mean.max())
            warn_user(f"The export returns float32 predictions around {around:.3g} with a spread of "
                      f"{float(scale.min()):.3g}: rounded to steps of {around * 2.0**-23:.3g}, far "
                      "coarser than predict's. Subtract a constant from y before fitting (and add it back to the "
                      "export's predictions).")
        out = keras.layers.Rescaling(
            scale=[float(v) for v in learner.y_scale_], offset=[float(v) for v in learner.y_mean_], name="target_units"
        )(out)
        if getattr(learner, "y_log1p_", False):  # trained on log1p(y) (loss msle): predict's max(expm1(p), 0)
            out = keras.layers.Activation("exponential", name="expm1_exp")(out)
            out = keras.layers.Rescaling(1.0, offset=-1.0, name="expm1_minus_one")(out)
            out = keras.layers.ReLU(name="msle_floor")(out)
    elif is_classifier(learner) and out.shape[-1] == 1:
        # One sigmoid column → [P(classes_[0]), P(classes_[1])], as predict_proba.
        out = keras.layers.Concatenate(name="proba")([keras.layers.Rescaling(-1.0, 1.0, name="complement")(out), out])
    return keras.Model(inputs, out, name=f"{type(learner).__name__}_export")


def export_inputs(learner, X, fold_preprocessing=True) -> dict:
    """The input dict an exported learner takes, built from ``X`` (e.g. a DataFrame).

    ``{"numeric": float32[n, d], "cat_<column>": int32[n, 1], ...}``: the raw numeric
    columns (NaN for missing) when the preprocessing is folded, the encoder's output
    otherwise. Feed it to onnxruntime (``session.run(None, inputs)``), a LiteRT signature
    runner (``runner(**inputs)``) or a SavedModel (``loaded.serve(inputs)``). For an image
    learner: ``{"image": float32[n, height, width, 3]}``, resized and preprocessed.

    Parameters
    ----------
    learner : fitted keraslearn learner
        The learner that was exported.
    X : DataFrame, array-like or images
        Rows with the columns of fit (images for an image learner).
    fold_preprocessing : bool, default=True
        As given to :func:`keraslearn.export`: False gives the encoder's output instead of raw columns.

    Returns
    -------
    dict
        Input name → array.
    """
    from sklearn.utils.validation import check_is_fitted

    if hasattr(learner, "_image_inputs"):
        return learner._image_inputs(X)
    check_is_fitted(learner, "model_")
    frame = learner._matched_frame(X)  # once: its column warnings once, and the raw numbers below come from it
    encoded = learner.encoder_._transform_frame(frame)
    if fold_preprocessing and _folds_numeric(learner):
        encoded["numeric"] = np.ascontiguousarray(learner.encoder_._numeric_array(frame), dtype=np.float32)
    return encoded


def input_description(learner, fold_preprocessing=True) -> dict:
    """What each input of an exported learner holds, and what its output is (JSON-safe)."""
    from sklearn.base import is_classifier

    from keraslearn import __version__
    from keraslearn.preprocessing.encoder import N_RESERVED

    enc = learner.encoder_
    folded = fold_preprocessing and _folds_numeric(learner)
    inputs = {}
    if enc.spec_.n_numeric:
        inputs["numeric"] = {
            "dtype": "float32",
            "shape": [None, len(enc.numeric_columns_) if folded else enc.spec_.n_numeric],
            "columns": [str(c) for c in enc.numeric_columns_] if folded else list(enc.spec_.numeric_names),
            "holds": "raw values, NaN for missing" if folded else "TabularEncoder.transform(X)['numeric']",
        }
    for col, levels, cat, (missing, unknown) in zip(
        enc.categorical_columns_, enc.categories_, enc.spec_.categorical, enc._stand_ins()
    ):
        inputs[cat.input_name] = {
            "dtype": "int32",
            "shape": [None, 1],
            "column": str(col),
            "codes": {str(level): i + N_RESERVED for i, level in enumerate(levels)},
            "missing_code": missing,  # the code training had for it (see TabularEncoder)
            "unknown_code": unknown,
        }
    if is_classifier(learner):
        output = {"holds": "class probabilities, as predict_proba", "classes": [str(c) for c in learner.classes_]}
    else:
        output = {"holds": "predictions in the target's units, as predict",
                  "n_outputs": int(learner.spec_.n_outputs)}  # the columns of a multi-output y, in its order
    return {
        "learner": type(learner).__name__,
        "keraslearn_version": __version__,
        "preprocessing_folded": folded,
        "inputs": inputs,
        "output": output,
    }
