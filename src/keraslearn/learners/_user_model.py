"""What the learners over a user's build function share: ``model__`` routing, build, compile, feed.

See :mod:`keraslearn.learners.generic` for the public classes.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
from sklearn.base import is_classifier

from keraslearn.training import compile_model
from keraslearn.training.host_init import host_initializers
from keraslearn.training.predict import n_rows, predict_fixed_batches

_PREFIX = "model__"


def _takes(build, name: str) -> bool:
    """Whether ``build(spec, **hp)`` takes the keyword ``name`` (True when its signature cannot be read)."""
    try:
        params = list(inspect.signature(build).parameters.values())[1:]
    except (TypeError, ValueError):
        return True
    return any(p.kind == p.VAR_KEYWORD or (p.name == name and p.kind != p.POSITIONAL_ONLY) for p in params)


def _builder_defaults(build) -> dict:
    """Keyword hyperparameters of ``build(spec, **hp)`` that have defaults."""
    try:
        params = list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):
        return {}
    if params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]  # the data spec
    return {
        p.name: p.default
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty
    }


def _build_name(build) -> str:
    return getattr(build, "__qualname__", None) or type(build).__name__


def _model_outputs_width(model):
    """Width of the model's single output, or None when the model is not built yet."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs:
        return None
    if isinstance(getattr(model, "output", None), (dict, list, tuple)):  # one output, but in a container
        raise ValueError(
            f"The model built by `model` returns a {type(model.output).__name__} of outputs; keraslearn learners "
            "need one output tensor: return it alone, e.g. keras.Model(inputs, outputs['proba'])."
        )
    if len(outputs) != 1:
        raise ValueError(
            f"The model built by `model` has {len(outputs)} outputs; keraslearn learners need exactly one."
        )
    shape = tuple(outputs[0].shape)
    if len(shape) == 1:
        return 1
    if len(shape) != 2:
        raise ValueError(f"The model's output has shape {shape}; a 2-D output (batch, units) is needed.")
    return shape[1]


def _model_input_names(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return None if not inputs else [t.name for t in inputs]


def _output_activation(model) -> str:
    """The name of the activation the model's output layer ends in ("" when it has none to read): a
    layer's ``activation=``, an ``Activation`` layer's, or a ``Softmax`` or (plain) ``ReLU`` layer.
    The output layer is a Sequential's last, or the layer that makes a functional model's one output;
    "" where an operation makes it (``keras.ops.softmax(x)``) or the model is subclassed (its layers are
    listed in the order ``__init__`` set them, not called)."""
    if isinstance(model, keras.Sequential):
        last = model.layers[-1] if model.layers else None
    else:
        outputs = getattr(model, "_outputs", None)
        history = getattr(outputs[0], "_keras_history", None) if isinstance(outputs, list) and len(outputs) == 1 \
            else None
        last = history[0] if history is not None and isinstance(history[0], keras.layers.Layer) else None
    name = getattr(getattr(last, "activation", None), "__name__", "")
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    if isinstance(last, keras.layers.ReLU) and not float(last.negative_slope):  # a leaky one gives negatives
        return "relu"
    return name


def _is_keras_loss(loss) -> bool:
    """Whether ``loss`` is one of Keras' own (by name, class or instance), not a user's function."""
    from keraslearn.learners.loss_kinds import _loss_name

    name = _loss_name(loss)
    fn = getattr(loss, "fn", loss)
    own = isinstance(loss, str) or getattr(fn, "__module__", "").startswith("keras.")
    try:
        return own and name is not None and keras.losses.get(name) is not None
    except (ValueError, TypeError):
        return False


def _one_unit_softmax(model, width) -> bool:
    """Whether the model ends in a softmax over one unit (which outputs 1 for every row)."""
    return width == 1 and _output_activation(model) == "softmax"


def _check_input_widths(model, x, spec, name):
    """Each ``keras.Input``'s width against the array fed to it: a clear error, not a Keras traceback.

    The ``"numeric"`` input is wider than the numeric columns when some have missing values (an
    indicator column each), so a model sized by ``X.shape[1]`` is the usual cause."""
    inputs = model.inputs if _model_input_names(model) else []
    fed = [x[t.name] for t in inputs] if isinstance(x, dict) else [x] * (len(inputs) == 1)
    for tensor, array in zip(inputs, fed):
        want, got = tuple(tensor.shape[1:]), tuple(np.shape(array)[1:])
        # Keras itself squeezes or adds a trailing axis of 1: (n, 1) codes into keras.Input(shape=()), and
        # (n, d) numbers into keras.Input((d, 1)), the lags of a Conv1D or GRU.
        if got[-1:] == (1,) and len(got) == len(want) + 1:
            got = got[:-1]
        elif want[-1:] == (1,) and len(want) == len(got) + 1:
            want = want[:-1]
        if len(want) == len(got) and all(w in (None, g) for w, g in zip(want, got)):
            continue
        what = f"its input {tensor.name!r} takes rows of shape {want}, but the encoded data's are {got}"
        indicators = [n for n in spec.numeric_names if n.endswith("__missing")]
        if got and got[-1] == spec.n_numeric and indicators:
            what += (f": {spec.n_numeric - len(indicators)} numeric columns and {len(indicators)} missing-value "
                     f"indicators ({', '.join(indicators[:3])}{', ...' if len(indicators) > 3 else ''})")
        raise ValueError(
            f"The model built by model={name} does not take the data: {what}. "
            "Size the inputs from the spec: keras.Input((spec.n_numeric,), name='numeric'), or "
            "keraslearn.architectures.blocks.tabular_inputs(spec), which names and sizes them all.")


class _UserModelMixin:
    """What KerasClassifier and KerasRegressor share: routed ``model__`` params, build, compile, feed."""

    _encoder_params = ("scaling", "min_frequency", "embed_size")
    _optimizer_optional = True  # None: the optimizer the user's model was compiled with

    # ------------------------------------------------- routed parameters
    def _hyperparameters(self) -> dict:
        if self.model_params is None:
            return {}
        if not isinstance(self.model_params, dict) or not all(isinstance(k, str) for k in self.model_params):
            raise TypeError(
                f"model_params must be a dict of the build function's hyperparameters, e.g. {{'units': 64}}; "
                f"got {self.model_params!r}."
            )
        return self.model_params

    def get_params(self, deep=True):
        """Parameters of this learner; ``deep=True`` adds the build function's as ``model__<name>``.

        ``model__<name>`` is the value in ``model_params``, else the build function's default.
        """
        params = super().get_params(deep=deep)
        if deep:
            hp = self.model_params if isinstance(self.model_params, dict) else {}
            for name, value in {**_builder_defaults(self.model), **hp}.items():
                params[_PREFIX + str(name)] = value
        return params

    def set_params(self, **params):
        """Set parameters; ``model__<name>=value`` sets ``model_params[name]`` (in a new dict)."""
        routed = {k[len(_PREFIX) :]: params.pop(k) for k in [k for k in params if k.startswith(_PREFIX)]}
        if "" in routed:
            raise ValueError(f"Invalid parameter {_PREFIX!r}: use {_PREFIX}<name>, e.g. model__units=64.")
        unknown = [k for k in routed if not _takes(params.get("model", self.model), k)]
        if unknown:  # as scikit-learn's set_params: at once, not at the next fit
            accepted = ", ".join(_PREFIX + n for n in _builder_defaults(params.get("model", self.model))) or "none"
            raise ValueError(f"Invalid parameter {_PREFIX + unknown[0]!r} for {type(self).__name__}: its build "
                             f"function takes no {unknown[0]!r}; its hyperparameters: {accepted}.")
        super().set_params(**params)
        if routed:
            # A new dict: the one the user passed (and clones share) is never modified.
            self.model_params = {**self._hyperparameters(), **routed}
        return self

    def __sklearn_clone__(self):
        self._check_not_a_model()  # a keras.Model would be deep-copied, which Keras cannot do
        return super().__sklearn_clone__()

    def search_space(self) -> dict:
        """Not defined: keraslearn cannot guess the hyperparameters of your build function."""
        raise ValueError(
            f"{type(self).__name__} has no default search space because the hyperparameters belong to your "
            "build function. Pass a search space dict instead, e.g. "
            "{'model__units': optuna.distributions.IntDistribution(16, 256, log=True), "
            "'learning_rate': optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}."
        )

    # ------------------------------------------------------ validation
    def _check_not_a_model(self):
        if isinstance(self.model, keras.Model):
            raise TypeError(
                f"{type(self).__name__}(model=...) takes a function that builds the model, not a keras.Model, "
                "so every fit (and every clone in a grid search) starts from fresh weights. Wrap it: "
                "def build(spec): return keras.models.clone_model(my_model)  (at module level, so it pickles)."
            )

    def _check_model_param(self):
        self._check_not_a_model()
        if self.model is None:
            raise ValueError(
                f"{type(self).__name__} needs model=build, a function build(spec, **hp) -> keras.Model; "
                "see keraslearn.architectures.blocks.tabular_inputs/output_head for the inputs and output layer. "
                "(A learner loaded from a file keeps its fitted network but not the function: "
                "set_params(model=build) before fitting it again.)"
            )
        if not callable(self.model):
            raise TypeError(f"model must be a function build(spec, **hp) -> keras.Model; got {self.model!r}.")

    def _validate_params(self):
        super()._validate_params()
        self._check_model_param()
        self._hyperparameters()
        for name in ("x_transform", "y_transform"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a function or None; got {value!r}.")

    # -------------------------------------------------------- building
    def _build_model(self, spec):
        build = self.model
        # numpy scalars (np.arange in a grid) as Python numbers: keras.layers.Dense refuses np.int64 units
        hp = {k: v.item() if isinstance(v, np.generic) else v for k, v in self._hyperparameters().items()}
        name = _build_name(build)
        try:
            inspect.signature(build).bind(spec, **hp)
        except TypeError as err:
            accepted = ", ".join(_PREFIX + n for n in _builder_defaults(build)) or "none"
            raise TypeError(
                f"model={name} cannot be called as {name}({', '.join(['spec', *(f'{k}=…' for k in hp)])}): {err}. "
                "keraslearn calls build(spec, **hyperparameters), the data spec first and each hyperparameter by "
                "name with a default (mlr3keras' build(task, pars) becomes build(spec, units=32, ...)); set them "
                f"with model_params={{...}} or set_params(model__<name>=...); it has: {accepted}."
            ) from err
        except ValueError:
            pass  # no introspectable signature (e.g. some builtins): let the call decide
        model = build(spec, **hp)
        if not isinstance(model, keras.Model):
            raise TypeError(f"model={name} returned {type(model).__name__}, not a keras.Model.")
        self._check_output_width(model, spec)
        return model

    def _effective_loss(self, model):
        """The loss the model trains with: the learner's, else the one compiled in, else the task's."""
        if self.loss is not None:
            return self.loss
        if getattr(model, "compiled", False) and getattr(model, "loss", None) is not None:
            return model.loss
        return self._default_loss(model)

    def _compile(self, model):
        """Keep the user's compile settings unless optimizer, learning_rate or loss is given."""
        if getattr(model, "compiled", False):
            if self.optimizer is None and self.learning_rate is None and self.loss is None and \
                    "_lr_override" not in self.__dict__:
                return
            optimizer = self.optimizer if self.optimizer is not None else model.optimizer
            # Metrics are not a public attribute of a compiled model; keep them when we can.
            config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
            metrics = config.get("metrics")
        else:
            optimizer = "adam" if self.optimizer is None else self.optimizer
            metrics = None
        compile_model(
            model,
            optimizer=optimizer,
            learning_rate=self._fit_learning_rate(self.learning_rate),
            loss=self._effective_loss(model),
            metrics=metrics,
        )

    # ---------------------------------------------------------- feeding
    def _model_inputs(self, model, x: dict):
        """Encoded inputs as the model takes them: x_transform(x), or matched to its input names."""
        if self.x_transform is not None:
            out = self.x_transform(x)
            names = _model_input_names(model)
            if isinstance(out, (list, tuple)) and names is not None and len(out) == len(names):
                out = dict(zip(names, out))  # positional inputs → by name, so rows can be sliced
            return out
        names = _model_input_names(model)
        if names is not None and set(names) == set(x):
            if len(x) == 1 and not isinstance(getattr(model, "_inputs_struct", None), dict):
                return next(iter(x.values()))  # one plain Input: a dict would make Keras warn
            return x
        if len(x) == 1 and (names is None or len(names) == 1):
            return next(iter(x.values()))
        if names is None:  # a subclassed model declares no inputs: it takes the dict, keyed by spec.input_names
            return x
        if isinstance(model, keras.Sequential) and len(names) == 1:  # keras.Input((spec.n_numeric,)) first
            raise self._one_input_error(x)
        raise ValueError(
            f"The model's inputs are named {names}, but keraslearn feeds {sorted(x)}. Name each keras.Input "
            "after spec.input_names (keraslearn.architectures.blocks.tabular_inputs(spec) does it), or pass "
            "x_transform=fn turning that dict into what your model takes."
        )

    def _one_input_error(self, x) -> ValueError:
        return ValueError(
            f"The model built by model={_build_name(self.model)} is a keras.Sequential, which takes one input, "
            f"but the data gives {len(x)}: {sorted(x)} (each categorical column is an input of its own). "
            "Start a functional model with keraslearn.architectures.blocks.tabular_inputs(spec), or pass "
            "x_transform=fn turning the dict into one array."
        )

    def _output_width(self, model):
        """Width of the model's one output: from ``model.outputs``, else as found by calling it."""
        return _model_outputs_width(model) or self.__dict__.get("_probed_width")

    def _prepare_fit(self, model, x, y_fit):
        self._probed_width = None
        n = n_rows(x)
        x = self._model_inputs(model, x)
        if n_rows(x) != n:
            raise ValueError(f"x_transform returned {n_rows(x)} rows for {n} input rows; it must keep every row.")
        if self.x_transform is None:
            _check_input_widths(model, x, self._model_spec(), _build_name(self.model))
        if not model.built:
            self._build_on_rows(model, x)
        y_fit = self._adapt_target(model, y_fit)
        self._check_outputs(model, x)
        if self.y_transform is not None:
            given, y_fit = y_fit, self.y_transform(y_fit)
            listed = isinstance(y_fit, (list, tuple))
            if listed:  # a list comprehension over the rows: one target array
                try:
                    y_fit = np.asarray(y_fit, dtype=np.float32)
                except (TypeError, ValueError) as err:
                    raise ValueError(f"y_transform returned a {type(y_fit).__name__} that is not one numeric "
                                     f"array of targets ({err}); return a NumPy array with a row per row.") from None
            if n_rows(y_fit) != n:
                hint = " (a list or tuple is read as one array: return the array itself)" * listed
                raise ValueError(f"y_transform returned {n_rows(y_fit)} rows for {n}; it must keep every row{hint}.")
            values = np.asarray(y_fit) if hasattr(y_fit, "dtype") else None
            # Keras' own losses cannot take NaN; a loss of the user's may mask it (missing labels of a task).
            if values is not None and values.dtype.kind in "fc" and not np.isfinite(values).all() and \
                    _is_keras_loss(self._effective_loss(model)):
                standardized = (" (a regressor's target standardized: mean 0, about half of it negative, so np.log "
                                "or np.sqrt give NaN)") if not is_classifier(self) else ""
                bad = int((~np.isfinite(values)).sum())
                raise ValueError(f"y_transform returned NaN or infinite targets for {bad} value(s); it receives the "
                                 f"encoded target{standardized}.")
            _refuse_one_hot_again(self, model, given, y_fit)
        self._x_transformed = self.x_transform is not None
        return x, y_fit

    def _check_outputs(self, model, x):
        """Refuse, before training, a model whose outputs cannot be what the learner predicts."""

    def _build_on_rows(self, model, x):
        """Create the weights of a model without ``keras.Input`` (layers in a Sequential, a subclassed
        model) by calling it on two rows, as Keras' own ``fit`` does on its first batch."""
        try:
            with host_initializers():
                out = model(keras.tree.map_structure(lambda a: a[:2], x))
        except Exception as err:
            if isinstance(model, keras.Sequential) and isinstance(x, dict) and len(x) > 1:
                raise self._one_input_error(x) from None
            raise ValueError(
                f"The model built by model={_build_name(self.model)} has no keras.Input, and calling it on two rows "
                f"of the data failed: {type(err).__name__}: {err}. Start it with keras.Input(shape=...) (see "
                "keraslearn.architectures.blocks.tabular_inputs(spec))."
            ) from err
        width = out.shape[-1] if hasattr(out, "shape") and len(out.shape) == 2 else None  # a subclassed model's
        self._probed_width = width  # a subclassed model has no model.outputs to read it from later
        self._check_output_width(model, self._model_spec(), width)

    def _predict_raw(self, X) -> np.ndarray:
        if getattr(self, "_x_transformed", False) and self.x_transform is None:
            raise ValueError(
                f"This {type(self).__name__} was trained with an x_transform, which a saved file cannot hold; "
                "set it again before predicting: learner.set_params(x_transform=fn)."
            )
        x = self._encode_X(X)  # checks that the learner is fitted
        x = self._model_inputs(self.model_, x)
        out = predict_fixed_batches(self.model_, x).astype(np.float64)
        return out.reshape(len(out), -1)

    #: Fitted flags (attribute ``_<name>``) that the artifact keeps, as booleans.
    _fitted_flags = ("x_transformed",)

    def _fitted_state(self):
        state, arrays = super()._fitted_state()
        state.update({name: bool(getattr(self, "_" + name, False)) for name in self._fitted_flags})
        return state, arrays

    def _restore_fitted_state(self, state, arrays):
        super()._restore_fitted_state(state, arrays)
        for name in self._fitted_flags:
            setattr(self, "_" + name, bool(state.get(name, False)))


def _refuse_one_hot_again(learner, model, given, made) -> None:
    """mlr3keras' ``y_transform = to_categorical``: keraslearn already gives a known classification loss the
    class codes or one-hot rows it takes, so one-hot rows of those fail inside Keras with shapes that look
    equal. Not refused for a loss keraslearn does not know (a function of the user's may want one-hot rows)."""
    from sklearn.base import is_classifier

    from keraslearn.learners.loss_kinds import _BINARY_LOSSES, _loss_name

    if not is_classifier(learner):
        return
    given, made = np.asarray(given), np.asarray(made)
    if made.ndim != given.ndim + 1 or made.dtype.kind not in "biuf" or not np.isin(made, (0, 1)).all():
        return
    codes_taken = _loss_name(learner._effective_loss(model)) in {"sparse_categorical_crossentropy", *_BINARY_LOSSES}
    one_hot_of_codes = given.ndim == 1 and made.shape[-1] == len(learner.classes_) and (made.sum(axis=-1) == 1).all()
    if given.ndim == 2 or (one_hot_of_codes and codes_taken):
        raise ValueError(
            f"y_transform turned the training target of shape {given.shape} into one-hot rows of shape "
            f"{made.shape}; keraslearn encodes a classifier's y itself (class codes, or one-hot rows where the loss "
            "is categorical_crossentropy), so drop y_transform=to_categorical (mlr3keras needed it, keraslearn "
            "does not)."
        )
