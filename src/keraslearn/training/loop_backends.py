"""The compiled training and evaluation steps of :class:`keraslearn.CustomLoop`, per backend.

Each builder returns ``(train(x, y) -> (loss, grad_norm), evaluate(x, y) -> loss)``; both
update the loop's metrics. ``grad_norm`` is the global norm before clipping; clipping
scales the gradients by ``clip_norm / max(norm, clip_norm)``, as ``tf.clip_by_global_norm``.
"""

from __future__ import annotations

import keras


def step_functions(loop):
    """The step functions of ``loop`` for the backend Keras runs on."""
    build = {"jax": _jax_functions, "torch": _torch_functions, "tensorflow": _tf_functions}
    return build[keras.backend.backend()](loop)


def _jax_functions(loop):
    import jax
    import jax.numpy as jnp

    model, optimizer, loss_obj, clip = loop.model, loop.optimizer, loop.loss, loop.clip_norm
    metrics = loop.metrics

    def train(trainable, non_trainable, opt_vars, metric_vars, x, y):
        def compute(tv):
            y_pred, ntv, losses = model.stateless_call(tv, non_trainable, x, training=True, return_losses=True)
            loss = loss_obj(y, y_pred)
            if losses:
                loss = loss + sum(losses)
            return loss, (y_pred, ntv)

        (loss, (y_pred, ntv)), grads = jax.value_and_grad(compute, has_aux=True)(trainable)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads))
        if clip is not None:
            scale = clip / jnp.maximum(norm, clip)
            grads = [g * scale for g in grads]
        tv, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        metric_vars = [m.stateless_update_state(mv, y, y_pred) for m, mv in zip(metrics, metric_vars)]
        return loss, norm, tv, ntv, opt_vars, metric_vars

    def evaluate(trainable, non_trainable, metric_vars, x, y):
        y_pred, _, losses = model.stateless_call(trainable, non_trainable, x, training=False, return_losses=True)
        metric_vars = [m.stateless_update_state(mv, y, y_pred) for m, mv in zip(metrics, metric_vars)]
        loss = loss_obj(y, y_pred)
        return (loss + sum(losses) if losses else loss), metric_vars  # as model.evaluate: regularizers too

    jit = jax.jit if loop.jit_compile else (lambda f: f)
    train, evaluate = jit(train), jit(evaluate)

    def values(variables):
        return [v.value for v in variables]

    def write(variables, new_values):
        for v, value in zip(variables, new_values):
            v.assign(value)

    # State is read from the variables at every step and written back after it, so the
    # model is always current and no (possibly donated) buffer is held across calls.
    def run_train(x, y):
        metric_state = [values(m.variables) for m in metrics]
        loss, norm, tv, ntv, opt_vars, metric_state = train(
            values(model.trainable_variables),
            values(model.non_trainable_variables),
            values(optimizer.variables),
            metric_state,
            x,
            y,
        )
        write(model.trainable_variables, tv)
        write(model.non_trainable_variables, ntv)
        write(optimizer.variables, opt_vars)
        for m, state in zip(metrics, metric_state):
            write(m.variables, state)
        return loss, norm

    def run_eval(x, y):
        metric_state = [values(m.variables) for m in metrics]
        loss, metric_state = evaluate(
            values(model.trainable_variables), values(model.non_trainable_variables), metric_state, x, y
        )
        for m, state in zip(metrics, metric_state):
            write(m.variables, state)
        return loss

    return run_train, run_eval


def _torch_functions(loop):
    import torch

    model, optimizer, loss_obj, clip = loop.model, loop.optimizer, loop.loss, loop.clip_norm

    def run_train(x, y):
        y_pred = model(x, training=True)
        loss = loss_obj(y, y_pred)
        if model.losses:
            loss = loss + sum(model.losses)
        model.zero_grad()
        loss.backward()
        pairs = [(v.value.grad, v) for v in model.trainable_variables if v.value.grad is not None]
        grads = [g for g, _ in pairs]
        with torch.no_grad():
            norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
            if clip is not None:
                scale = clip / torch.clamp(norm, min=clip)
                grads = [g * scale for g in grads]
            optimizer.apply(grads, [v for _, v in pairs])
            detached = y_pred.detach()
            for m in loop.metrics:
                m.update_state(y, detached)
        return loss.detach(), norm

    def run_eval(x, y):
        with torch.no_grad():
            y_pred = model(x, training=False)
            for m in loop.metrics:
                m.update_state(y, y_pred)
            loss = loss_obj(y, y_pred)
            return loss + sum(model.losses) if model.losses else loss

    return run_train, run_eval


def _tf_functions(loop):
    import tensorflow as tf

    model, optimizer, loss_obj, clip = loop.model, loop.optimizer, loop.loss, loop.clip_norm

    def train(x, y):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = loss_obj(y, y_pred)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        grads = [g for g, _ in pairs]
        norm = tf.linalg.global_norm(grads)
        if clip is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=norm)
        optimizer.apply(grads, [v for _, v in pairs])
        for m in loop.metrics:
            m.update_state(y, y_pred)
        return loss, norm

    def evaluate(x, y):
        y_pred = model(x, training=False)
        for m in loop.metrics:
            m.update_state(y, y_pred)
        loss = loss_obj(y, y_pred)
        return loss + tf.add_n(model.losses) if model.losses else loss

    if not loop.jit_compile:
        return train, evaluate
    return tf.function(train, reduce_retracing=True), tf.function(evaluate, reduce_retracing=True)
