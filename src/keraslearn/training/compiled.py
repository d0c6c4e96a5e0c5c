"""Compile once: reuse traced training steps between fits, run many steps per XLA call.

Keras traces and compiles a model's train / test / predict steps on its first ``fit``.
scikit-learn fits a fresh clone for every CV fold and every tuning trial, so a plain Keras
model pays that compilation again and again. On JAX, keraslearn instead

- **shares compiled steps between models of the same structure**: the first fitted model
  of a structure becomes its *template*; later models with the same Keras config, compile
  config and backend run the template's jitted functions on their own state (a Keras JAX
  step is a pure function of ``state`` and the data, so the template's compiled code
  computes exactly what the new model's own trace would). The learning rate is an optimizer
  variable, i.e. state, so trials that differ only in it share one compilation;
- **runs up to** :data:`STEPS_PER_EXECUTION` **steps per XLA call**: a ``lax.scan`` over
  Keras' own ``train_step``, with unused slots of the last group skipped by ``lax.cond``,
  so the shape (and the compilation) does not depend on the number of rows;
- **keeps a persistent compilation cache** on disk (see :func:`enable_compilation_cache`),
  so a new Python process does not compile again what an earlier one did.

On TensorFlow, Keras' own ``steps_per_execution`` does the grouping; on torch it must
stay 1 and nothing is shared (torch does not compile).
"""

from __future__ import annotations

import collections
import dis
import hashlib
import inspect
import json
import os
import threading
import warnings

import keras
import numpy as np

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn._tensorflow import no_tensorflow_import
from keraslearn._user_warnings import warn_user
from keraslearn.training import xla

#: Training steps run per XLA call on JAX (and Keras' ``steps_per_execution`` on TensorFlow).
STEPS_PER_EXECUTION = 32
#: Training calls dispatched ahead of the one being prepared (each holds its stacked batches).
IN_FLIGHT = 2
#: Templates (compiled step sets) kept per process; the least recently used is dropped.
MAX_TEMPLATES = 8
#: The kept templates' parameters together: a template holds its model, weights and optimizer slots (Adam:
#: 12 bytes a parameter in float32, about 190 MB here); a model with more is not kept, and the least recently
#: used go first to make room.
MAX_TEMPLATE_PARAMS = 16_000_000
#: Environment variable: a folder for the persistent compilation cache, or "0" to turn it off.
CACHE_ENV = "KERASLEARN_COMPILATION_CACHE"
#: Compilations faster than this are not written to the persistent cache. Zero: a fresh
#: process pays ~30 small compilations (weight initializers, steps) before the first epoch.
MIN_CACHED_COMPILE_SECONDS = 0.0

#: A fit planned for at most this many training steps (epochs x batches) compiles its train
#: and test steps with its learner family's ``_short_fit_compiler_options`` (e.g. xla.QUICK_COMPILE).
#: For a 256-128 MLP the compile time they save equals the step time they cost at about
#: 4000 (100k rows, 27 columns) to 8000 steps (diamonds); early stopping often ends fits sooner.
SHORT_FIT_STEPS = 2000

_LOCK = threading.Lock()
_TEMPLATES: collections.OrderedDict = collections.OrderedDict()  # key -> _Template
# Each prepared model carries ``(key, template)`` in this attribute (set with
# object.__setattr__ so Keras' attribute tracking leaves it alone; an attribute rather than a
# weak-keyed dict because the template may hold the model itself).
_LINK = "_keraslearn_compiled"
_cache_state = {"done": False, "dir": None}


# ----------------------------------------------------------------- persistent cache
def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keraslearn", "jax")


_OFF = ("0", "off", "false", "no", "none")
_JAX_MIN_COMPILE_SECONDS = 1.0  # JAX's default: longer than most of keraslearn's compilations


def _cache_opened() -> bool:
    """Whether JAX has opened its persistent cache in this process (it does at the first compilation, and
    keeps that folder); True when this JAX does not say."""
    try:
        from jax._src import compilation_cache
    except ImportError:
        return True
    return bool(getattr(compilation_cache, "_cache_initialized", True))


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache (once per process); return its folder.

    The folder is ``path``, else ``$KERASLEARN_COMPILATION_CACHE``, else
    ``~/.cache/keraslearn/jax``; ``KERASLEARN_COMPILATION_CACHE=0`` turns it off. A cache
    folder the user already configured in JAX is left as it is. Compilations shorter than
    :data:`MIN_CACHED_COMPILE_SECONDS` are not stored.

    Parameters
    ----------
    path : str or None, default=None
        The cache folder; None: ``$KERASLEARN_COMPILATION_CACHE``, else ``~/.cache/keraslearn/jax``.
    """
    if path is not None and (not os.fspath(path).strip() or os.fspath(path).strip().lower() in _OFF):
        raise ValueError(f"enable_compilation_cache({path!r}): give a folder. To run without the cache, set "
                         f"{CACHE_ENV}=0 (also os.environ[{CACHE_ENV!r}] = '0') before the first fit.")
    if _cache_state["done"] and path is None:
        return _cache_state["dir"]
    if _cache_state["dir"] and path is not None and _cache_opened() and \
            os.path.abspath(os.path.expanduser(os.fspath(path))) != os.path.abspath(_cache_state["dir"]):
        warn_user(f"enable_compilation_cache({os.fspath(path)!r}) comes after this process' first compilation, "
                  f"which opened the cache in {_cache_state['dir']}: JAX keeps that folder until the process ends. "
                  f"Call it (or set {CACHE_ENV}) before the first fit.")
        return _cache_state["dir"]
    _cache_state["done"] = True
    if keras.backend.backend() != "jax":
        return None
    import jax

    setting = os.environ.get(CACHE_ENV, "")
    if path is None and setting.strip().lower() in _OFF:
        return None
    current = jax.config.jax_compilation_cache_dir
    if current and path is None:
        _cache_state["dir"] = current
        return current
    explicit = path is not None
    path = os.path.expanduser(os.fspath(path or setting or default_cache_dir()))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        if explicit:  # the folder asked for: say why not
            raise ValueError(f"enable_compilation_cache({path!r}): cannot use that folder "
                             f"({err.strerror or err}).") from None
        return None  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", path)
    if jax.config.jax_persistent_cache_min_compile_time_secs == _JAX_MIN_COMPILE_SECONDS:  # else the user's
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_SECONDS)
    # The cache only saves time: its read/write hiccups (e.g. another process pruning the
    # folder) are not the user's problem.
    warnings.filterwarnings("ignore", message="Error (reading|writing) persistent compilation cache")
    _cache_state["dir"] = path
    return path


# --------------------------------------------------------------------------- keys
def _frozen(obj):
    """A hashable, order-independent stand-in for a JSON-like value (see :func:`_by_value` for others)."""
    return json.dumps(obj, sort_keys=True, default=_by_value)


def _by_value(obj):
    """What ``obj`` holds, for :func:`_frozen`: a function made inside another (a closure made in a build
    function or by ``make_loss(w)``, new at every call of its maker) by its code and the values it
    captured; a Keras object (a regularizer among a build's keywords) by its config; an array by a hash
    of its values (its repr leaves values out); anything else by its repr."""
    if inspect.isfunction(obj) and "<locals>" in obj.__qualname__:
        cells = []
        for cell in obj.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # a cell not filled yet
                cells.append(None)
        code = obj.__code__
        consts = [c for c in code.co_consts if not inspect.iscode(c)]
        return ["function", obj.__module__, obj.__qualname__, code.co_code.hex(), repr(consts),
                cells, obj.__defaults__, obj.__kwdefaults__]
    if isinstance(obj, np.ndarray):
        return ["array", obj.dtype.str, obj.shape, hashlib.sha1(np.ascontiguousarray(obj).tobytes()).hexdigest()]
    if hasattr(obj, "get_config") and not inspect.isclass(obj):
        try:
            return [type(obj).__module__, type(obj).__qualname__, obj.get_config()]
        except Exception:
            pass
    return repr(obj)


def structure_key(model, learner=None):
    """What makes two compiled models interchangeable, or None when they must not share.

    The Keras model config (layers, shapes, names, dtypes), the compile config without a
    plain-number learning rate (which is optimizer state), the backend, Keras' global settings that
    compiled steps depend on beyond the model's config (``floatx``, the optimizer's and metrics'
    variables' dtype; ``epsilon``, which losses clip with; the dtype policy; JAX's x64 mode), and what
    those configs leave out (:func:`_beyond_config`: user code, build keywords, loss arguments).
    """
    if learner is not None and not getattr(type(learner), "_share_compiled_steps", True):
        return None
    try:
        with no_tensorflow_import(), keras_warnings_ignored(), warnings.catch_warnings():
            # Read for the key, not saved: Keras' "includes a `lambda` ... safe_mode=False" is for saving.
            warnings.filterwarnings("ignore", message="The object being serialized includes a `lambda`")
            model_config = model.get_config()
            compile_config = model.get_compile_config()
        opt = compile_config.get("optimizer")
        if isinstance(opt, dict):
            opt = dict(opt, config=dict(opt.get("config", {})))
            opt["config"].pop("name", None)  # an auto-generated unique name, not structure
            lr = opt["config"].get("learning_rate")
            if isinstance(lr, (int, float)):
                opt["config"].pop("learning_rate")
            compile_config = dict(compile_config, optimizer=opt)
        params = learner.get_params(deep=False) if learner is not None else {}
        key = (
            keras.backend.backend(),
            _global_settings(),
            _frozen(model_config),
            _frozen(compile_config),
            _beyond_config(model, params),
        )
        hash(key)
    except Exception:  # anything not serializable or hashable: do not share
        return None
    return key


def _beyond_config(model, params: dict) -> tuple:
    """What a model's compiled steps depend on that its Keras configs leave out.

    - The user build function's keywords (a generic learner's ``model_params``), by value: a loss,
      metric or activation closure made from them serializes to its name only.
    - User code: callables among the learner's parameters (a user loss, the build function), layer
      classes defined outside Keras and keraslearn (a class edited and run again in a notebook keeps its
      name), and layers' activation and Lambda functions and a compiled loss that are not Keras' own (a
      closure's constants are not in its name). By identity, except functions made inside another (a loss
      or an activation made in ``build``, ``make_loss(w)``): by their code and captured values, so that
      CV folds and grid points of one structure still share.
    - Keras loss and metric objects' arguments that their config drops (``Huber(delta=...)`` in Keras
      3.15), from their ``_fn_kwargs``.
    """
    found = [_frozen(params.get("model_params"))]

    def user_code(obj) -> bool:
        module = getattr(obj, "__module__", None) or type(obj).__module__
        return callable(obj) and not str(module).startswith("keras")

    def walk(obj):
        if isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item)
        elif isinstance(obj, dict):
            for item in obj.values():
                walk(item)
        elif isinstance(getattr(obj, "_fn_kwargs", None), dict):
            found.append((type(obj).__name__, _frozen(obj._fn_kwargs)))
            walk(getattr(obj, "fn", None))
        elif user_code(obj) and not isinstance(obj, type):
            found.append(_frozen(obj) if "<locals>" in getattr(obj, "__qualname__", "") else obj)
            if obj is not params.get("model"):  # a build function's reads are in the config it builds
                found.append(_globals_read(obj))

    walk(params)
    walk(getattr(model, "loss", None))
    read = {}  # per user layer class, not per layer (a model of 40 blocks)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not type(layer).__module__.startswith("keras"):
            found.append(type(layer))
            if type(layer) not in read:
                read[type(layer)] = _globals_read(type(layer))
            found.append(read[type(layer)])
        for name in ("activation", "function"):
            walk(getattr(layer, name, None))
    return tuple(found)


def _globals_read(obj, depth=3) -> str:
    """The module-level values that user code reads when traced (``SCALE`` in ``return SCALE * x``), as a
    key: a compiled step bakes them in, so a step traced before ``SCALE = 0`` must not serve a fit after it
    (a plain Keras fit traces again). ``obj`` is a function or a class (its methods); user functions it
    reads are followed ``depth`` levels. Modules, classes and functions themselves are not values."""
    values, seen = {}, set()

    def read(fn, depth):
        fn = inspect.unwrap(getattr(fn, "__func__", fn))
        if not inspect.isfunction(fn) or id(fn) in seen or str(fn.__module__).startswith("keras"):
            return
        seen.add(id(fn))
        codes = [fn.__code__]
        for code in codes:  # with the code of its comprehensions, lambdas and inner functions
            codes.extend(c for c in code.co_consts if inspect.iscode(c))
        names = {i.argval for code in codes for i in dis.get_instructions(code)
                 if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}  # not attribute names (keras.ops.mean)
        for name in names:
            if name not in fn.__globals__:
                continue
            value = fn.__globals__[name]
            if inspect.isfunction(value) or inspect.ismethod(value):
                if depth:
                    read(value, depth - 1)
            elif not (inspect.ismodule(value) or inspect.isclass(value) or callable(value)):
                values[f"{fn.__module__}.{name}"] = _value_key(value)

    if inspect.isclass(obj):  # its methods and property getters, inherited ones too (not Keras' or object's)
        for cls in obj.__mro__:
            if cls is not object and not str(cls.__module__).startswith("keras"):
                for fn in vars(cls).values():
                    read(fn.fget if isinstance(fn, property) else fn, depth)
    else:
        read(obj, depth)
    return json.dumps(values, sort_keys=True)


def _value_key(value) -> str:
    """A module-level value for :func:`_globals_read`: JSON-like values and small arrays by content; a large
    array by its identity, shape and a sample (hashing 200 MB took 0.6 s a fit); anything else by its repr."""
    if isinstance(value, np.ndarray) and value.nbytes > 1 << 20:
        flat = value.reshape(-1)
        sample = flat[:: max(1, flat.size // 4096)]
        return repr(["large array", id(value), value.dtype.str, value.shape,
                     hashlib.sha1(np.ascontiguousarray(sample).tobytes()).hexdigest()])
    try:
        return _frozen(value)
    except (TypeError, ValueError):  # a dict with tuple keys, a circular structure
        return repr(value)


def _global_settings() -> tuple:
    """Keras' (and JAX's) process-wide settings that a model's compiled steps depend on."""
    x64 = None
    if keras.backend.backend() == "jax":
        import jax

        x64 = bool(jax.config.jax_enable_x64)
    return keras.config.floatx(), keras.config.epsilon(), keras.config.dtype_policy().name, x64


# ------------------------------------------------------------------ JAX step sets
def _count_real_rows(model, before, after, logs, share):
    """A topped-up batch (training.padding.top_up: its real rows weigh ``size / rows`` times their weight,
    the borrowed rows 0) counts as its real rows, as Keras counts an epoch's last, smaller batch: every
    metric variable's change is scaled by ``share`` (``rows / size``; Keras' metrics sum weighted values
    and weights, and its loss tracker weighs a batch by its rows), and the step's logs are read again.
    The epoch's ``loss`` and weighted metrics were the batches' unweighted mean otherwise."""
    import jax.numpy as jnp
    from keras.src.backend.common.stateless_scope import StatelessScope

    metrics = [jnp.where(share < 1, (b + (a - b) * share).astype(a.dtype), a) for b, a in zip(before[3], after[3])]
    with StatelessScope(state_mapping=list(zip(model.metrics_variables, metrics))):
        again = model.get_metrics_result()
    logs = {k: jnp.where(share < 1, jnp.asarray(again[k]).astype(v.dtype), v) if k in again and jnp.shape(again[k])
            == jnp.shape(v) else v for k, v in logs.items()}
    return (*after[:3], metrics), logs


class _Template:
    """Jitted train / test / predict functions traced on one model, usable by its equals."""

    def __init__(self, model, options=None, fit_options=None):
        import jax

        self.model = model
        self.split = _trainable_split(model)  # Keras' steps check a model's trainable variables against it
        self.options = dict(options or {})  # XLA compiler options of the predict functions
        self.fit_options = dict(self.options if fit_options is None else fit_options)  # train and test steps
        step = model.train_step
        self.single = xla.jit(step, self.fit_options, donate_argnums=0)
        # Inside ``multi`` the step is called as a jitted function: the trace that finds its
        # logs' shapes is then reused for the scan body instead of tracing Keras' step twice.
        traced_step = jax.jit(step)

        def multi(state, group, counted):
            """``group``: the rows of ``len(counted)`` batches one after another, split into the scan's
            batches here (a reshape inside the call: on a GPU one outside is a device op per input).
            ``counted``: per slot, the share of its rows that are real (1; a topped-up batch's
            rows / size, see training.padding.top_up), 0 for a skipped slot."""
            k = counted.shape[0]
            stacked = jax.tree.map(lambda a: a.reshape(k, a.shape[0] // k, *a.shape[1:]), group)

            def body(carry, inp):
                data, share = inp

                def run(c):
                    logs, st = traced_step(c[0], data)
                    if model.metrics_variables:
                        st, logs = _count_real_rows(model, c[0], st, logs, share)
                    return st, logs

                return jax.lax.cond(share > 0, run, lambda c: c, carry), None

            logs = jax.eval_shape(traced_step, state, jax.tree.map(lambda a: a[0], stacked))[0]
            logs = jax.tree.map(lambda s: jax.numpy.zeros(s.shape, s.dtype), logs)
            (state, logs), _ = jax.lax.scan(body, (state, logs), (stacked, counted))
            return logs, state

        self.multi = xla.jit(multi, self.fit_options, donate_argnums=0)
        self.test_function = None
        self.predict_function = None
        self.steps = None  # the compiled test and predict steps (xla.keras_jit_functions), once made
        self.forward = None
        self.n_params = 0  # its model's, counted once kept

    def finish(self):
        """Take the template's own test / predict functions after its first fit."""
        model = self.model
        if self.steps is None or model.test_function is None or model.predict_function is None:  # reset since
            model.test_function = model.predict_function = None  # both made again: their steps are taken together
            self.steps = xla.keras_jit_functions(model, self.options, self.fit_options)
        self.test_function = model.test_function
        self.predict_function = model.predict_function
        self._compiled_with = (model.optimizer, getattr(model, "_compile_loss", None))

    def still_valid(self, k) -> bool:
        """False once the template model was compiled again or a user froze or unfroze its layers (its steps
        would retrace differently: Keras checks the variables it is given against the model's trainable
        ones), or, where its own test / predict loops are shared (no ``steps``: Keras jits its own way),
        its ``steps_per_execution`` is no longer ``k`` (those loops read it at every call)."""
        model = self.model
        optimizer, loss = self._compiled_with
        return (model.optimizer is optimizer and getattr(model, "_compile_loss", None) is loss
                and self.trainables_unchanged() and (self.steps is not None or model.steps_per_execution == k))

    def trainables_unchanged(self) -> bool:
        """Whether the template model's trainable variables are still those its steps were traced with."""
        return _trainable_split(self.model) == self.split

    def train_function(self, k, model):
        """``model``'s Keras ``train_function(state, iterator)``, ``k`` steps per XLA call (see training.groups)."""
        from keraslearn.training.groups import train_function

        return train_function(self, k, model)


def _trainable_split(model) -> tuple:
    """Which of ``model.variables`` are trainable (none when the model itself is frozen)."""
    return bool(model.trainable), tuple(bool(v.trainable) for v in model.variables)


def _n_params(model) -> int:
    return int(sum(np.prod(v.shape) for v in model.variables))


# -------------------------------------------------------------------- entry points
def before_fit(model, learner=None, steps_per_execution=None, planned_steps=None):
    """Prepare a compiled ``model`` for ``fit``: install shared or grouped steps.

    ``planned_steps`` (epochs x batches, if known) picks the train and test steps' compiler options:
    see :data:`SHORT_FIT_STEPS`. Returns the model's structure key (None when nothing is shared).
    """
    enable_compilation_cache()
    backend = keras.backend.backend()
    k = int(steps_per_execution or STEPS_PER_EXECUTION)
    if learner is not None and _has_batch_callbacks(getattr(learner, "callbacks", None)):
        k = 1  # user callbacks that watch each batch keep seeing each batch
    if backend == "tensorflow":
        model.steps_per_execution = k
        return None
    if backend != "jax" or not model.jit_compile or model.run_eagerly:
        return None
    if keras.distribution.distribution() is not None:
        return None  # data-parallel fits keep Keras' own (sharded) steps
    options, fit_options = _compiler_options(learner, planned_steps)
    key = structure_key(model, learner)
    if key is not None:  # shared test/predict loops pull k batches per call
        key = key + (k, _frozen(options), _frozen(fit_options))
    with _LOCK:
        template = _TEMPLATES.get(key) if key is not None else None
        if template is not None and not template.still_valid(k):
            del _TEMPLATES[key]  # someone re-compiled the template model
            template = None
        if template is not None:
            _TEMPLATES.move_to_end(key)
    model.steps_per_execution = k  # before Keras makes its step functions: they group this many
    if template is None:
        template = _Template(model, options, fit_options)
        template.steps = xla.keras_jit_functions(model, options, fit_options)
    elif template.steps is None or not xla.keras_jit_functions(model, steps=template.steps):
        model.test_function = template.test_function  # Keras jits its own way (Flax NNX): its functions as they are
        model.predict_function = template.predict_function
    model.train_function = template.train_function(k, model)
    if key is not None:
        object.__setattr__(model, _LINK, (key, template))
    return key


def _compiler_options(learner, planned_steps):
    """XLA options of (predict functions, train and test steps) for ``learner``'s class."""
    options = getattr(type(learner), "_compiler_options", None) or {}  # see training.xla
    short = getattr(type(learner), "_short_fit_compiler_options", None)
    if short and planned_steps is not None and planned_steps <= SHORT_FIT_STEPS:
        return options, {**options, **short}
    return options, options


def after_fit(model):
    """Keep a successfully fitted model's steps as the template of its structure."""
    entry = getattr(model, _LINK, None)
    if entry is None:
        return
    key, template = entry
    with _LOCK:
        if key in _TEMPLATES or template.model is not model:
            return
    template.n_params = _n_params(model)
    if template.n_params > MAX_TEMPLATE_PARAMS:
        return
    template.finish()
    with _LOCK:
        _TEMPLATES[key] = template
        while len(_TEMPLATES) > MAX_TEMPLATES or sum(t.n_params for t in _TEMPLATES.values()) > MAX_TEMPLATE_PARAMS:
            _TEMPLATES.popitem(last=False)


def template_for(model):
    """The registered template whose compiled functions ``model`` may use, if any."""
    entry = getattr(model, _LINK, None)
    if entry is None:
        return None
    with _LOCK:
        template = _TEMPLATES.get(entry[0])
        if template is not entry[1]:
            return None
        if not template.trainables_unchanged():  # a user froze the template model's layers
            del _TEMPLATES[entry[0]]
            return None
    return template


def clear():
    """Forget every template (their compiled functions go when no model uses them)."""
    with _LOCK:
        _TEMPLATES.clear()


def n_templates() -> int:
    return len(_TEMPLATES)


def _has_batch_callbacks(callbacks) -> bool:
    hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    base = keras.callbacks.Callback
    for cb in callbacks or ():
        for hook in hooks:
            # A subclass overrides the method; a LambdaCallback sets the hook on the instance.
            if getattr(type(cb), hook, None) is not getattr(base, hook, None) or hook in getattr(cb, "__dict__", {}):
                return True
    return False
