"""FT-Transformer learners (Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data")."""

from __future__ import annotations

from keraslearn._user_warnings import warn_user
from keraslearn.architectures import ft_transformer
from keraslearn.learners._modern import (
    CLASS_WEIGHT_DOC,
    train_doc,
    ModernLearnerMixin,
)
from keraslearn.learners.base import COSTLY_ROWS_CHUNK, KerasLearner, store_init_params
from keraslearn.learners.params import check_fraction, check_number, check_positive_int
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin

_ARCH = (
    "n_blocks",
    "d_block",
    "n_heads",
    "attention_dropout",
    "ffn_d_hidden_multiplier",
    "ffn_dropout",
    "residual_dropout",
    "numeric_embedding",
    "n_bins",
    "frequency_scale",
)
_ENCODER = ("scaling", "min_frequency")
#: A fit whose attention scores (batch x heads x tokens² float32 per block but the last, which queries
#: [CLS] only) would need more memory than this warns before it is built.
ATTENTION_WARN_GIB = 2.0
#: Copies of the scores a training step holds (softmax, dropout, their gradients): the peaks measured
#: on 100 and 300 columns (1.8 and 6.3 GB with the defaults) fit about 3.6.
ATTENTION_COPIES = 4

_DOC = (
    """
    Every column becomes a ``d_block``-wide token (numeric: one linear map per column;
    categorical: an embedding); a pre-norm Transformer with ReGLU feed-forward blocks
    reads the prediction off a [CLS] token. Defaults: rtdl_revisiting_models' default
    configuration, trained with AdamW (no decay on embeddings, norms and biases).

    Parameters
    ----------
    n_blocks : int, default=3
        Transformer blocks (attention + ReGLU feed-forward); the last one updates [CLS] only.
    d_block : int, default=192
        Token width; divisible by ``n_heads``.
    n_heads : int, default=8
        Attention heads of each block.
    attention_dropout : float, default=0.2
        Dropout on the attention probabilities.
    ffn_d_hidden_multiplier : float, default=4/3
        Hidden width of the ReGLU feed-forward block is ``int(d_block * ffn_d_hidden_multiplier)``.
    ffn_dropout : float, default=0.1
        Dropout after the ReGLU of each feed-forward block.
    residual_dropout : float, default=0.0
        Dropout on each attention and feed-forward output before it is added to the residual stream.
    numeric_embedding : {None, "periodic", "piecewise"} or keras.layers.Layer, default=None
        Token embedding of numeric columns; None is the paper's linear tokenizer.
    n_bins : int, default=48
        Bins of the piecewise-linear embedding, at the training-data quantiles.
    frequency_scale : float, default=0.1
        Initial frequency scale of the periodic embedding.
"""
    + train_doc("quantile", "1e-4", "1e-5", 200, 16, "embeddings, layer norms, biases do not decay")
)


class _FTTransformer(ModernLearnerMixin):
    _architecture = staticmethod(ft_transformer.build)
    _arch_params = _ARCH
    _encoder_params = _ENCODER
    _no_decay = ("bias", "gamma", "beta", "embeddings", "token", "frequencies")
    _no_decay_layers = ("numeric_embedding",)  # as rtdl_num_embeddings advises
    _predict_chunk = COSTLY_ROWS_CHUNK

    def _build_model(self, spec):
        # Attention over one token per column: memory grows with the square of the columns (QA: 100 columns
        # peaked at 1.8 GB, 300 at 6.3 GB for one epoch on 200 rows), which no other learner here does.
        tokens = spec.n_numeric + len(spec.categorical) + 1
        batch = min(self._batch_size(self._n_train_rows), self._n_train_rows)  # as fit_model batches
        scores = (self.n_blocks - 1) * tokens**2 + tokens  # per row and head; the last block queries [CLS] only
        gib = batch * self.n_heads * scores * 4 * ATTENTION_COPIES / 2**30
        if gib > ATTENTION_WARN_GIB:
            warn_user(f"{type(self).__name__} attends over {tokens} tokens (one per input column, and [CLS]): "
                      f"its attention needs about {gib:.2g} GiB for batches of {batch} rows, n_heads="
                      f"{self.n_heads}, n_blocks={self.n_blocks} (it grows with the square of the columns). Lower "
                      "batch_size, or on wide data use a learner whose cost grows linearly with the columns "
                      "(TabM, RealMLP, FF).")
        return super()._build_model(spec)

    def _validate_params(self):
        super()._validate_params()
        for name in ("n_blocks", "d_block", "n_heads"):
            check_positive_int(name, getattr(self, name))
        if self.d_block % self.n_heads:
            raise ValueError(f"d_block ({self.d_block}) must be divisible by n_heads ({self.n_heads}).")
        check_number("ffn_d_hidden_multiplier", self.ffn_d_hidden_multiplier, low=0, low_open=True)
        for name in ("attention_dropout", "ffn_dropout", "residual_dropout"):
            check_fraction(name, getattr(self, name))


class FTTransformerClassifier(_FTTransformer, KerasClassifierMixin, KerasLearner):
    __doc__ = "FT-Transformer classifier (Gorishniy et al. 2021).\n" + _DOC + CLASS_WEIGHT_DOC

    def __init__(
        self,
        *,
        n_blocks=3,
        d_block=192,
        n_heads=8,
        attention_dropout=0.2,
        ffn_d_hidden_multiplier=4 / 3,
        ffn_dropout=0.1,
        residual_dropout=0.0,
        numeric_embedding=None,
        n_bins=48,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=1e-4,
        weight_decay=1e-5,
        loss=None,
        epochs=200,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=16,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class FTTransformerRegressor(_FTTransformer, KerasRegressorMixin, KerasLearner):
    __doc__ = "FT-Transformer regressor, one or several targets (Gorishniy et al. 2021).\n" + _DOC

    def __init__(
        self,
        *,
        n_blocks=3,
        d_block=192,
        n_heads=8,
        attention_dropout=0.2,
        ffn_d_hidden_multiplier=4 / 3,
        ffn_dropout=0.1,
        residual_dropout=0.0,
        numeric_embedding=None,
        n_bins=48,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=1e-4,
        weight_decay=1e-5,
        loss=None,
        epochs=200,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=16,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())
