"""Fast inference: call the network directly instead of going through ``model.predict``.

``model.predict`` builds a data adapter, an epoch iterator and a callback list on every
call, and on JAX compiles again for every new number of rows: milliseconds of overhead
that dominate a one-row prediction. Here:

- **JAX**: one jitted stateless forward function (``model.stateless_call`` in inference
  mode), shared by all models of the same structure (see :mod:`keraslearn.training.compiled`);
  rows are fed in chunks of :data:`CHUNK_ROWS` and the last chunk is padded to a power of
  two, so at most a dozen shapes are ever compiled. Rows are independent in inference
  mode, so padding changes nothing.
- **torch**: ``model(x, training=False)`` under ``torch.no_grad()``.
- **TensorFlow** and anything else: ``model.predict``.
"""

from __future__ import annotations

import keras
import numpy as np

from keraslearn.training import compiled

#: Rows per forward call for large inputs.
CHUNK_ROWS = 8192
#: Smallest padded chunk (bucket sizes are powers of two from here up to CHUNK_ROWS).
MIN_BUCKET = 1

_FORWARD = "_keraslearn_forward"  # model attribute holding its jitted forward function


def _bucket(n: int) -> int:
    size = MIN_BUCKET
    while size < n:
        size *= 2
    return min(size, CHUNK_ROWS)


def _jax_forward(model):
    """The jitted ``(trainable, non_trainable, x) -> y`` function for ``model``."""
    fwd = getattr(model, _FORWARD, None)
    if fwd is not None:
        return fwd
    template = compiled.template_for(model)
    if template is not None and template.forward is not None:
        fwd = template.forward
    else:
        import jax

        source = template.model if template is not None else model
        kwargs = {"training": False} if source._call_has_training_arg else {}

        def forward(trainable, non_trainable, x):
            return source.stateless_call(trainable, non_trainable, x, **kwargs)[0]

        fwd = jax.jit(forward)
        if template is not None:
            template.forward = fwd
    object.__setattr__(model, _FORWARD, fwd)  # not through Keras' attribute tracking
    return fwd


def _slice(x, start, stop):
    return {k: v[start:stop] for k, v in x.items()} if isinstance(x, dict) else x[start:stop]


def _pad(x, n_to):
    def pad(v):
        extra = n_to - v.shape[0]
        return v if extra == 0 else np.concatenate([v, np.zeros((extra,) + v.shape[1:], v.dtype)])

    return {k: pad(v) for k, v in x.items()} if isinstance(x, dict) else pad(x)


def _n_rows(x) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def predict_array(model, x) -> np.ndarray:
    """The model's output for ``x`` (a dict of arrays or an array) as a NumPy array."""
    backend = keras.backend.backend()
    if backend == "jax":
        return _predict_jax(model, x)
    if backend == "torch":
        return _predict_torch(model, x)
    n = _n_rows(x)
    return np.asarray(model.predict(x, batch_size=int(min(max(n, 1), CHUNK_ROWS)), verbose=0))


def _predict_jax(model, x):
    fwd = _jax_forward(model)
    # Read the variables on every call: Keras' own fit/predict donate (delete) old buffers.
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    n = _n_rows(x)
    outs = []
    for start in range(0, n, CHUNK_ROWS):
        part = _slice(x, start, min(start + CHUNK_ROWS, n))
        m = _n_rows(part)
        size = _bucket(m)
        out = fwd(trainable, non_trainable, _pad(part, size) if size != m else part)
        outs.append(np.asarray(out)[:m])
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def _predict_torch(model, x):
    import torch

    from keras.src.backend.torch.core import get_device

    device = get_device()
    n = _n_rows(x)
    outs = []
    with torch.no_grad():
        for start in range(0, n, CHUNK_ROWS):
            part = _slice(x, start, min(start + CHUNK_ROWS, n))
            if isinstance(part, dict):
                part = {k: torch.as_tensor(np.ascontiguousarray(v), device=device) for k, v in part.items()}
            else:
                part = torch.as_tensor(np.ascontiguousarray(part), device=device)
            outs.append(model(part, training=False).detach().cpu().numpy())
    return outs[0] if len(outs) == 1 else np.concatenate(outs)
