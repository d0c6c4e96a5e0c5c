"""What the modern families (ResNet, FT-Transformer, RealMLP, TabM) share: AdamW with
weight-decay exclusions, an optional whole-run learning-rate schedule, and parameter checks."""

from __future__ import annotations

from keraslearn.learners.base import WARM_START_DOC
from keraslearn.learners.params import check_number, peak_rate
from keraslearn.training import compile_model
from keraslearn.training.progress_schedules import ProgressSchedule, adamw, total_steps


def train_doc(scaling, learning_rate, weight_decay, epochs, patience, decay_note):
    """The numpydoc entries of the training parameters, with one family's defaults."""
    return f"""    scaling : {{"standard", "quantile", "robust", "none"}}, default="{scaling}"
        Numeric scaling after median imputation (TabularEncoder).
    min_frequency : int or float, default=5
        Categorical levels seen in fewer training rows (an int) or a smaller share of them (a float) share the
        "unknown" code, which unseen levels get at predict: an embedding row trained on a few rows memorizes
        them (a near-unique column of names or dates cost R² 0.1-0.7). 1 keeps every level.
    optimizer : str or keras.optimizers.Optimizer, default="adamw"
        "adamw" is Keras' AdamW; {decay_note}. Another Keras optimizer name gets
        ``weight_decay`` as its Keras argument.
    learning_rate : float or None, default={learning_rate}
        None: the optimizer's own rate (Keras' default for a name, e.g. 0.001 for "adamw").
    weight_decay : float, default={weight_decay}
        Decoupled weight decay of "adamw" (or another optimizer name's ``weight_decay``); 0 turns it off.
    loss : str, keras loss or None, default=None
        None picks the task's loss.
    epochs : int, default={epochs}
        Upper bound; early stopping usually ends training sooner.
    batch_size : int or "auto", default="auto"
        Rows per training batch. "auto" is 256 when the training rows (after the validation
        split) fill 8 such batches, else the largest power of 2 that still gives 8, at least 32:
        256 to 2,047 training rows take 8 to 16 steps an epoch, fewer rows batches of 32; the
        fitted ``batch_size_`` is the batch used.
    validation_fraction : float, default=0.2
        Shuffled (stratified for classifiers) share of rows held out from training and scored
        after every epoch (``val_loss``), which early stopping watches. As Keras'
        ``validation_split``, they are held out with ``early_stopping=False`` too (for
        callbacks and learning curves); 0 trains on every row (early stopping, if on, then
        watches the training loss).
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (the training loss when no rows are held out: validation_fraction=0).
    patience : int, default={patience}
        Epochs without a better validation loss (training loss at validation_fraction=0) before training stops.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks; each fit attaches a shallow copy (what a callback refers to stays yours).
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC
CLASS_WEIGHT_DOC = """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
"""


class ModernLearnerMixin:
    """AdamW (``_no_decay`` name patterns and ``_no_decay_layers`` excluded from decay) and an optional schedule.

    Put it first among the bases. A family sets ``_no_decay``, ``_beta_2`` and
    ``_global_clipnorm``, and may return a schedule shape from ``_lr_schedule()`` (see
    :class:`keraslearn.training.progress_schedules.ProgressSchedule`).
    """

    _no_decay: tuple = ("bias",)
    _no_decay_layers: tuple = ()  # names of layers none of whose variables decay
    _beta_2: float = 0.999
    _global_clipnorm = None

    def _lr_schedule(self):
        return None

    def _validate_params(self):
        super()._validate_params()
        check_number("weight_decay", self.weight_decay, low=0)
        if hasattr(self, "n_bins"):  # checked with any embedding, as a grid may switch to "piecewise" later
            check_number("n_bins", self.n_bins, low=2, high=128, integer=True)
        if hasattr(self, "frequency_scale"):
            check_number("frequency_scale", self.frequency_scale, low=0, low_open=True)

    def _learning_rate(self):
        shape = self._lr_schedule()
        rate = peak_rate(self, shape)
        if shape is None or shape == "constant":
            return rate
        steps = total_steps(self._n_train_rows, self._batch_size(self._n_train_rows), self.epochs)
        return ProgressSchedule(rate, steps, shape)

    def _compile(self, model):
        lr = self._fit_learning_rate(self._learning_rate())
        metrics = list(self._default_metrics) or None
        if isinstance(self.optimizer, str) and self.optimizer.lower() == "adamw":
            layers = [v for v in model.trainable_variables if v.path.split("/")[0] in self._no_decay_layers]
            opt = adamw(lr, self.weight_decay, beta_2=self._beta_2, exclude=self._no_decay, exclude_variables=layers,
                        global_clipnorm=self._global_clipnorm)
            model.compile(optimizer=opt, loss=self._loss(), metrics=metrics, jit_compile="auto")
        else:
            wd = self.weight_decay or None
            compile_model(model, optimizer=self.optimizer, learning_rate=lr, loss=self._loss(), metrics=metrics, weight_decay=wd)
