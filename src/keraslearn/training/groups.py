"""How batches reach a compiled train scan on JAX: Keras hands over groups of ``k`` batches' rows.

A shared template (:mod:`keraslearn.training.compiled`) runs ``k`` training steps per XLA call.
Keras' array adapter gathers every batch input by input (a NumPy fancy index per array and
batch), and ``k`` such batches were then stacked into the scan's input: on a 256-128 MLP about
5-9% of a CPU epoch. Within :func:`groups_fed` a fit asks Keras for batches of ``k * batch_size``
rows instead, one gather per input for ``k`` steps, and the compiled scan splits each by a reshape
(inside the call: on a GPU, where Keras has already put the group on the device, a reshape or slice
outside is a device op of its own). Keras draws one permutation per epoch and slices it, so the
rows, their order and the training are the same. Grouping is on only between Keras' training calls
of this fit's own epochs (a ``model.fit`` that a callback starts gets plain batches), and callbacks
see ``params["steps"]`` as the number of batches, as Keras documents it.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import weakref

import keras
import numpy as np

from keraslearn.training import compiled, padding


def train_function(template, k, model):
    """``model``'s Keras ``train_function(state, iterator)``, run with ``template``'s steps (``k`` per XLA call).

    By default Keras hands over one batch per step, as many a call as ``model.steps_per_execution`` says
    (a user may change it on a fitted model), stacked for the scan up to ``k`` at a time; while
    ``group_rows`` is set, each item Keras hands over is a group of ``k`` batches.
    """
    import jax

    owner = weakref.ref(model)  # the function is the model's attribute: no cycle

    full_rows = [0]  # rows of a full batch; only an epoch's last batch can be smaller
    donor = [None]  # the latest full batch: its rows top up an epoch's last, smaller batch
    last_full = [None]  # this epoch's latest full group (its last rows: the donor, when needed)
    exact = padding.pads_exactly(template.model)  # else the smaller batch runs in its own compiled step
    in_flight = collections.deque(maxlen=compiled.IN_FLIGHT)  # logs of the latest calls
    all_real = np.ones(k, dtype=np.float32)

    def wait():
        if len(in_flight) == compiled.IN_FLIGHT:
            # JAX dispatches asynchronously. Without this wait Python runs ahead of the steps
            # and queues a whole epoch of stacked batches (a copy of the training data); with
            # it the next call's batches are still prepared while earlier calls run.
            jax.block_until_ready(in_flight[0])

    def run(state, batches):
        logs = None
        if k > 1:
            # Full batches (all but an epoch's last, smaller one) go through the scan;
            # a group with fewer than k is padded with skipped slots: one compiled shape.
            rows = [padding.batch_rows(b) for b in batches]
            full_rows[0] = max(full_rows[0], rows[0])
            n_full = sum(r == full_rows[0] for r in rows)
            if n_full:
                donor[0] = batches[n_full - 1]
            share = 1.0  # of the last stacked batch's rows that are real
            if n_full < len(batches) and donor[0] is not None and exact:
                topped = padding.top_up(batches[n_full], donor[0], full_rows[0])
                if topped is not None:  # the smaller batch joins the scan: no compile of its shape
                    share = rows[n_full] / full_rows[0]
                    batches[n_full] = topped
                    n_full += 1
            if n_full:
                stacked, counted = _stack(batches[:n_full], k)
                counted[n_full - 1] = share
                logs, state = template.multi(state, stacked, counted)
            batches = batches[n_full:]
        for b in batches:  # the partial batch (its own compiled shape), or every batch when k == 1
            logs, state = template.single(state, b)
        in_flight.append(logs)
        return logs, state

    def grouped(state, iterator, rows):
        logs = None
        full_rows[0] = rows
        for _ in range(k):  # Keras' k steps: up to k groups
            try:
                group = next(iterator)
            except StopIteration:
                break
            wait()
            n = padding.batch_rows(group)
            if n == k * rows:
                last_full[0] = group
                logs, state = template.multi(state, group, all_real)
                in_flight.append(logs)
            else:  # the epoch's last group: its batches as Keras would have given them
                # Sliced in NumPy: on a GPU Keras has put the group on the device, where each slice would be a
                # device op of its own and each batch a copy back (80 ms of a 0.12-0.15 s epoch on an H100).
                group = jax.tree.map(np.asarray, group)
                if n < rows and last_full[0] is not None:  # no full batch of its own: top up from the last group's
                    donor[0] = jax.tree.map(lambda a: np.asarray(a)[-rows:], last_full[0])
                batches = [jax.tree.map(lambda a, i=i: a[i:i + rows], group) for i in range(0, n, rows)]
                logs, state = run(state, batches)
        if logs is None:
            raise StopIteration
        return logs, state

    epoch = [lambda: None]  # the iterator of the epoch being trained (weakly: it holds the data)

    def function(state, iterator):
        if epoch[0]() is not iterator:  # a new epoch, or a later fit of this model (a user's own model_.fit, a
            # callback's): the batch size and the donor batch are this epoch's, never another fit's data
            epoch[0] = _weak(iterator)
            full_rows[0], donor[0], last_full[0] = 0, None, None
        if function.group_rows:
            return grouped(state, iterator, function.group_rows)
        logs, left = None, max(1, int(getattr(owner(), "steps_per_execution", k)))  # Keras' steps for this call
        while left > 0:  # in scans of at most k (a user may set any number on a fitted model)
            want = min(k, left)
            batches = list(itertools.islice(iterator, want))
            wait()
            if batches:
                logs, state = run(state, batches)
            left = left - want if len(batches) == want else 0
        if logs is None:
            raise StopIteration
        return logs, state

    def stop_grouping():
        """Keras hands over plain batches again (at each epoch's end): let go of the epoch's groups."""
        function.group_rows = None
        last_full[0] = None

    function.steps = k
    function.group_rows = None  # rows of one batch while Keras hands over groups (groups_fed)
    function.stop_grouping = stop_grouping
    return function


def _weak(obj):
    """A weak reference to ``obj``, or a strong one for the few iterators that take none (a list's)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _stack(batches, k):
    import jax

    pad = k - len(batches)
    if pad:
        filler = batches[-1]
        batches = batches + [filler] * pad
    # One after another (multi splits them). Batches Keras put on a device (its GPU iterator) are joined
    # there: one op per input, not a copy back per batch.
    stacked = jax.tree.map(lambda *xs: np.concatenate(xs) if all(isinstance(x, np.ndarray) for x in xs)
                           else jax.numpy.concatenate(xs), *batches)
    counted = np.zeros(k, dtype=np.float32)  # see _Template.multi: 1 a real slot, 0 a skipped one
    counted[: k - pad] = 1.0
    return stacked, counted


class _Steps(keras.callbacks.Callback):
    """First in the list: callbacks' ``params["steps"]`` says batches, not groups; grouping stops before
    any other callback's ``on_epoch_end`` (a ``model.fit`` it starts gets plain batches)."""

    def __init__(self, function, batches):
        super().__init__()
        self._function, self._batches = function, batches

    def set_params(self, params):
        if params and "steps" in params:  # Keras passes one dict to every callback: this is theirs too
            params["steps"] = self._batches
        super().set_params(params)

    def on_epoch_end(self, epoch, logs=None):
        self._function.stop_grouping()


class _Start(keras.callbacks.Callback):
    """Last in the list: grouping starts after every other callback's ``on_epoch_begin``."""

    def __init__(self, function, rows):
        super().__init__()
        self._function, self._rows = function, rows

    def on_epoch_begin(self, epoch, logs=None):
        self._function.group_rows = self._rows


@contextlib.contextmanager
def groups_fed(model, batch_size: int, n_rows: int, callbacks: list):
    """Within: ``(batch size, callbacks)`` to give Keras' ``fit`` of ``n_rows`` rows.

    ``k * batch_size`` and the callbacks with grouping's own around them when ``model`` runs
    grouped steps; else ``batch_size`` and the callbacks as they are. Validation batches keep
    ``batch_size``: pass it as ``validation_batch_size``.
    """
    function = getattr(model, "train_function", None)
    k = getattr(function, "steps", 1)
    if k < 2 or not hasattr(function, "group_rows"):
        yield batch_size, callbacks
        return
    rows = int(batch_size)
    try:
        yield k * rows, [_Steps(function, -(-n_rows // rows)), *callbacks, _Start(function, rows)]
    finally:  # a later model.fit of the user's own hands over plain batches again
        function.stop_grouping()
