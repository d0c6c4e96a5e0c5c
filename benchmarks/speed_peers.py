"""The peers keraslearn is timed against, each with the same network.

All peers get the data already encoded by keraslearn's ``TabularEncoder`` (scaled numbers
plus integer category codes) and use the same architecture as ``FF*(layer_units=(256, 128))``:
one embedding per categorical column (width from the DataSpec) concatenated with the numbers,
Dense-ReLU layers, a linear / sigmoid output, Adam, batch 256.

- ``keras_wrapper``: Keras 3's ``keras.wrappers.SKLearnRegressor`` / ``SKLearnClassifier``
  (with the ``fit_kwargs``-dropping clone bug of Keras 3.15 patched, or CV would train 1 epoch).
- ``skorch``: ``NeuralNetRegressor`` / ``NeuralNetBinaryClassifier`` over a torch module.
- ``jax_loop``: a hand-written ``jax.jit`` epoch (``lax.scan`` over batches, hand-written
  Adam; the epoch's order drawn and gathered on the host with NumPy, NumPy-drawn initial
  weights): the practical limit for this network on this machine.
"""

from __future__ import annotations

import copy
import time

import numpy as np

# label -> [(wall seconds, CPU seconds) per epoch]; module-level so it survives keraslearn's
# deepcopy of callbacks. CPU time (time.process_time) is the robust figure on a shared machine:
# with one thread per framework it is what the wall time would be on an idle core.
EPOCH_TIMES: dict[str, list] = {}


def _clock():
    return time.perf_counter(), time.process_time()


def encode(X, y_task, spec_task):
    """Encode X with keraslearn's encoder once; returns (dict of arrays, DataSpec)."""
    from keraslearn.preprocessing import TabularEncoder

    enc = TabularEncoder().fit(X)
    return enc.transform(X), enc.spec_.with_task(*spec_task)


def as_matrix(xd, spec):
    """One float32 matrix: numeric columns then category codes (for the Keras wrapper)."""
    parts = [xd["numeric"]] + [xd[c.input_name].astype(np.float32) for c in spec.categorical]
    return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


# ------------------------------------------------------------------ Keras callback
def epoch_timer(label):
    import keras

    EPOCH_TIMES[label] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = _clock()

        def on_epoch_end(self, epoch, logs=None):
            t = _clock()
            EPOCH_TIMES[label].append((t[0] - self._t0[0], t[1] - self._t0[1]))

    return EpochTimer()


def skorch_epoch_timer(label):
    from skorch.callbacks import Callback

    EPOCH_TIMES[label] = []

    class EpochTimer(Callback):
        def on_epoch_begin(self, net, **kw):
            self._t0 = _clock()

        def on_epoch_end(self, net, **kw):
            t = _clock()
            EPOCH_TIMES[label].append((t[0] - self._t0[0], t[1] - self._t0[1]))

    return EpochTimer()


# ------------------------------------------------------------------- Keras wrapper
def keras_wrapper(spec, units=(256, 128), lr=1e-3, epochs=10, batch_size=256, callbacks=None):
    """A keras.wrappers estimator over the same network (input: :func:`as_matrix`)."""
    import keras
    from keras import layers, ops

    def model_fn(X, y, units=units, lr=lr):
        inp = keras.Input((X.shape[1],))
        k = spec.n_numeric
        parts = [inp[:, :k]] if k else []
        for i, cat in enumerate(spec.categorical):
            codes = ops.cast(inp[:, k + i], "int32")
            parts.append(layers.Embedding(cat.n_codes, cat.embed_dim, embeddings_initializer="he_uniform")(codes))
        x = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
        for u in units:
            x = layers.Dense(u, activation="relu")(x)
        if spec.task == "regression":
            out, loss = layers.Dense(1)(x), "mse"
        else:
            out, loss = layers.Dense(y.shape[1], activation="softmax")(x), "categorical_crossentropy"
        model = keras.Model(inp, out)
        model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
        return model

    base = keras.wrappers.SKLearnRegressor if spec.task == "regression" else keras.wrappers.SKLearnClassifier

    class Fixed(base):
        # Keras 3.15's __sklearn_clone__ drops fit_kwargs (CV would train for 1 epoch).
        def __sklearn_clone__(self):
            c = super().__sklearn_clone__()
            c.fit_kwargs = copy.deepcopy(self.fit_kwargs)
            return c

    fit_kwargs = dict(epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    if callbacks:
        fit_kwargs["callbacks"] = callbacks
    return Fixed(model=model_fn, model_kwargs=dict(units=units, lr=lr), fit_kwargs=fit_kwargs)


# ------------------------------------------------------------------------- skorch
def torch_inputs(xd, spec):
    """skorch input: one float32 matrix (numbers, then codes), skorch's fastest input path
    (a dict or SliceDict of arrays costs about 1.5x more per epoch)."""
    return as_matrix(xd, spec)


def torch_device():
    """Where the torch peers train: the GPU when torch sees one (JAX, and so keraslearn, then uses it
    too), else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def skorch_net(spec, units=(256, 128), lr=1e-3, epochs=10, batch_size=256, seed=0, callbacks=None):
    import torch
    from skorch import NeuralNetBinaryClassifier, NeuralNetRegressor

    torch.manual_seed(seed)

    class FF(torch.nn.Module):
        def __init__(self, units=units):
            super().__init__()
            self.embeds = torch.nn.ModuleDict(
                {c.input_name: torch.nn.Embedding(c.n_codes, c.embed_dim) for c in spec.categorical}
            )
            width = spec.n_numeric + sum(c.embed_dim for c in spec.categorical)
            mods = []
            for u in units:
                mods += [torch.nn.Linear(width, u), torch.nn.ReLU()]
                width = u
            mods.append(torch.nn.Linear(width, 1))
            self.body = torch.nn.Sequential(*mods)

        def forward(self, x):
            k = spec.n_numeric
            parts = [x[:, :k]] if k else []
            parts += [self.embeds[c.input_name](x[:, k + i].long()) for i, c in enumerate(spec.categorical)]
            out = self.body(torch.cat(parts, dim=1))
            return out if spec.task == "regression" else out[:, 0]

    cls = NeuralNetRegressor if spec.task == "regression" else NeuralNetBinaryClassifier
    return cls(
        FF,
        module__units=units,
        max_epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=torch.optim.Adam,
        train_split=None,
        iterator_train__shuffle=True,
        callbacks=callbacks,
        verbose=0,
        device=torch_device(),
    )


def skorch_target(y, spec):
    return y.astype(np.float32).reshape(-1, 1) if spec.task == "regression" else y.astype(np.float32)


# ----------------------------------------------------------------- hand-written JAX
def jax_loop(xd, y, spec, units=(256, 128), lr=1e-3, epochs=10, batch_size=256, seed=0, shuffle="host_gather"):
    """Train the same network with one ``jax.jit`` call per epoch; returns per-epoch seconds.

    Made as tight as we know how, so that it is a fair practical limit:

    - The epoch's order is drawn on the host with NumPy (as Keras does), not with
      ``jax.random.permutation`` inside the jitted epoch: on CPU that sort-based permutation
      cost about 0.04 s of a 0.17 s epoch on diamonds (53,940 rows). ``shuffle`` picks how the
      order reaches the device: ``"host_gather"`` (default, the fastest) gathers the epoch's rows
      with NumPy and scans over the ordered arrays; ``"host_perm"`` passes the (batches,
      batch_size) int32 index matrix and each step gathers its rows on the device;
      ``"device_perm"`` is the earlier in-jit ``jax.random.permutation``, for reference only.
      Steady epoch on diamonds, CPU seconds (two in-process A/B runs, medians of 2 and 3
      alternated fits of 6 epochs, pinned to one core of a shared, loaded machine, 2026-11-23):
      host_gather 0.150 / 0.144, host_perm 0.164 / 0.152, device_perm 0.198 (first run only).
    - The initial weights are drawn with NumPy (Glorot / He uniform as before), so the fit time
      does not include one-off eager ``jax.random`` compiles.
    """
    import jax
    import jax.numpy as jnp

    names = [c.input_name for c in spec.categorical]
    num_h = np.ascontiguousarray(xd["numeric"], dtype=np.float32) if spec.n_numeric else None
    cats_h = [np.ascontiguousarray(xd[n][:, 0], dtype=np.int32) for n in names]
    y_h = np.asarray(y, dtype=np.float32).reshape(-1)
    num = jnp.asarray(num_h) if num_h is not None else None
    cats = [jnp.asarray(c) for c in cats_h]
    yj = jnp.asarray(y_h)
    n = y_h.shape[0]
    n_batches = n // batch_size  # the remainder is dropped: the fastest possible epoch
    used = n_batches * batch_size

    rng = np.random.default_rng(seed)

    def uniform(shape, lim):
        return jnp.asarray(rng.uniform(-lim, lim, size=shape).astype(np.float32))

    params = {"emb": [], "dense": []}
    for c in spec.categorical:
        params["emb"].append(uniform((c.n_codes, c.embed_dim), np.sqrt(6.0 / c.n_codes)))
    width = spec.n_numeric + sum(c.embed_dim for c in spec.categorical)
    for u in (*units, 1):
        params["dense"].append((uniform((width, u), np.sqrt(6.0 / (width + u))), jnp.zeros(u, jnp.float32)))
        width = u

    def forward(p, xnum, xcats):
        parts = ([xnum] if xnum is not None else []) + [e[c] for e, c in zip(p["emb"], xcats)]
        h = jnp.concatenate(parts, axis=1)
        for W, b in p["dense"][:-1]:
            h = jax.nn.relu(h @ W + b)
        W, b = p["dense"][-1]
        return (h @ W + b)[:, 0]

    def loss_fn(p, xnum, xcats, yb):
        out = forward(p, xnum, xcats)
        if spec.task == "regression":
            return jnp.mean((out - yb) ** 2)
        return jnp.mean(jnp.maximum(out, 0) - out * yb + jnp.log1p(jnp.exp(-jnp.abs(out))))

    b1, b2, eps = 0.9, 0.999, 1e-7

    def update(carry, xnum, xcats, yb):
        p, m, v, t = carry
        loss, g = jax.value_and_grad(loss_fn)(p, xnum, xcats, yb)
        t = t + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        a = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        p = jax.tree.map(lambda p, m, v: p - a * m / (jnp.sqrt(v) + eps), p, m, v)
        return (p, m, v, t), loss

    def step_idx(carry, idx):
        xnum = num[idx] if num is not None else None
        return update(carry, xnum, [c[idx] for c in cats], yj[idx])

    def step_ordered(carry, batch):
        xnum, xcats, yb = batch
        return update(carry, xnum, xcats, yb)

    def scanned(step):  # one jitted call per epoch: a scan of ``step`` over the epoch's batches
        @jax.jit
        def epoch(carry, xs):
            carry, losses = jax.lax.scan(step, carry, xs)
            return carry, losses.mean()

        return epoch

    if shuffle == "host_perm":
        epoch = scanned(step_idx)

        def run_epoch(carry, e):
            perm = rng.permutation(n)[:used].astype(np.int32).reshape(n_batches, batch_size)
            return epoch(carry, perm)
    elif shuffle == "host_gather":
        epoch = scanned(step_ordered)

        def run_epoch(carry, e):
            idx = rng.permutation(n)[:used]

            def shaped(a):
                return a[idx].reshape(n_batches, batch_size, *a.shape[1:])

            xnum = shaped(num_h) if num_h is not None else None
            return epoch(carry, (xnum, [shaped(c) for c in cats_h], shaped(y_h)))
    elif shuffle == "device_perm":  # the earlier loop, for reference
        @jax.jit
        def epoch(carry, k):
            perm = jax.random.permutation(k, n)[:used].reshape(n_batches, batch_size)
            carry, losses = jax.lax.scan(step_idx, carry, perm)
            return carry, losses.mean()

        ek = jax.random.split(jax.random.PRNGKey(seed + 1), epochs)

        def run_epoch(carry, e):
            return epoch(carry, ek[e])
    else:
        raise ValueError(shuffle)

    zeros = jax.tree.map(jnp.zeros_like, params)
    carry = (params, zeros, jax.tree.map(jnp.zeros_like, params), jnp.float32(0))
    times, losses = [], []
    for e in range(epochs):
        t0 = _clock()
        carry, loss = run_epoch(carry, e)
        losses.append(float(loss))  # blocks until the epoch is done
        t1 = _clock()
        times.append((t1[0] - t0[0], t1[1] - t0[1]))
    return times, losses
