"""Image classifier by transfer learning (mlr3keras ``classif.kerascnn``, and beyond it)."""

from __future__ import annotations

import numbers

import keras
import numpy as np
from sklearn.utils.validation import check_is_fitted

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.architectures import cnn
from keraslearn.learners.base import (KerasLearner, atomic_fit, store_init_params, validation_given,
                                      validation_weights, weighed_rows)
from keraslearn.learners.params import check_number
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.preprocessing.images import ImageBatches, image_source
from keraslearn.preprocessing.spec import DataSpec
from keraslearn.training import seed_everything
from keraslearn.training.fit import FiniteEarlyStopping, policy_callbacks
from keraslearn.training.split import early_stopping_split, split_seed
from keraslearn.training.jax_state import variables_kept_on_error
from keraslearn.training.memory import clear_session
from keraslearn.training.interrupts import interrupts_kept
from keraslearn.training.progress import bars_closed_on_error


class CNNClassifier(KerasClassifierMixin, KerasLearner):
    """Image classifier: a ``keras.applications`` network with a new classification head.

    X is an array of images (n, height, width[, channels]) with pixel values 0-255, a folder
    of image files (one sub-folder per class gives the labels, as
    ``keras.utils.image_dataset_from_directory``), a list of image file paths, or a
    DataFrame with a column of paths. Files are streamed from disk batch by batch, resized
    to ``image_size`` and passed through the application's own ``preprocess_input``.

    Parameters
    ----------
    application : str, default="MobileNetV2"
        A ``keras.applications`` model: MobileNet, MobileNetV2, MobileNetV3Small/Large,
        ResNet50/101/152 (and V2), EfficientNetB0-B7, EfficientNetV2B0-B3/S/M/L,
        DenseNet121/169/201, ConvNeXtTiny..XLarge, VGG16/19, Xception, InceptionV3.
    weights : "imagenet", str path or None, default="imagenet"
        "imagenet" uses the ImageNet weights from the Keras cache (``~/.keras/models`` or
        ``$KERAS_HOME/models``), downloading them there first as Keras does; where they cannot
        be had (``KERASLEARN_OFFLINE=1``, no network) it warns, naming the file and where to put
        it, and trains from random weights. A path loads that weights file. None trains the
        whole network from scratch.
    image_size : int or (int, int), default=224
        Height and width the images are resized to.
    alpha : float, default=1.0
        Width multiplier of the MobileNet applications (ignored by the others).
    cl_layer_units : int, default=1024
        Units of the Dense (ReLU) layer of the head; 0 leaves it out.
    dropout : float, default=0.2
        Dropout before the output layer.
    unfreeze_n_last_layers : int, default=5
        With pretrained weights, the base is frozen except its last n layers (batch
        normalization layers stay frozen and in inference mode).
    path_column : str or None, default=None
        The DataFrame column with image paths; None takes a one-column DataFrame's column, or
        the one column whose cells all name image files (by extension).
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, or an optimizer instance whose configuration is copied for every fit.
    learning_rate : float or None, default=3e-4
        None keeps an optimizer instance's own rate.
    loss : str, keras loss or None, default=None
        None picks the task's loss (binary or sparse categorical cross-entropy).
    epochs : int, default=20
        Most epochs to train; early stopping may end training sooner.
    batch_size : int, default=32
        Images per training and prediction batch.
    validation_fraction : float, default=0.2
        Stratified share of images held out from training and scored after every epoch
        (``val_loss``), which early stopping watches; held out with ``early_stopping=False`` too
        (as Keras' ``validation_split``); 0 trains on every image.
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (the training loss when no rows are held out: validation_fraction=0).
    patience : int, default=5
        Epochs without a better validation loss (training loss at validation_fraction=0) before training stops.
    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks; each fit attaches a shallow copy (what a callback refers to stays yours).
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: the validation split, the shuffling of images and new weights.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
    """

    _architecture = staticmethod(cnn.build)
    _arch_params = ("application", "alpha", "cl_layer_units", "dropout", "unfreeze_n_last_layers")
    _auto_batch = None  # images: batch_size is a number (32, Keras' default)
    _tabular = False

    def __init__(
        self,
        *,
        application="MobileNetV2",
        weights="imagenet",
        image_size=224,
        alpha=1.0,
        cl_layer_units=1024,
        dropout=0.2,
        unfreeze_n_last_layers=5,
        path_column=None,
        optimizer="adam",
        learning_rate=3e-4,
        loss=None,
        epochs=20,
        batch_size=32,
        validation_fraction=0.2,
        early_stopping=True,
        patience=5,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        store_init_params(self, locals())

    # ------------------------------------------------------------- checks
    def _size(self) -> tuple[int, int]:
        size = self.image_size
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            size = (size, size)
        try:
            size = tuple(size)
        except TypeError:
            size = ()
        app = cnn.get_application(self.application)
        whole = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size)
        if len(size) != 2 or not whole or min(size) < app.min_size:
            raise ValueError(
                f"image_size must be an int or (height, width), each >= {app.min_size} for "
                f"{self.application}; got {self.image_size!r}."
            )
        return tuple(int(s) for s in size)

    def _validate_params(self):
        super()._validate_params()
        if keras.config.image_data_format() != "channels_last":  # Keras read (64, 64, 3) as 64 channels of 64 × 3
            raise ValueError(
                f"{type(self).__name__} builds channels-last models (images as height × width × channels), but "
                f"keras.config.image_data_format() is {keras.config.image_data_format()!r}: call "
                "keras.config.set_image_data_format('channels_last') before fitting.")
        cnn.get_application(self.application)
        self._size()
        check_number("alpha", self.alpha, low=0, low_open=True)
        cnn.check_weights(self.weights)
        cnn.check_imagenet_alpha(self.application, self.weights, self.alpha)
        check_number("cl_layer_units", self.cl_layer_units, low=0, integer=True)
        check_number("unfreeze_n_last_layers", self.unfreeze_n_last_layers, low=0, integer=True)

    def _preprocess(self):
        return cnn.preprocess_function(self.application)

    # ------------------------------------------------------------- fitting
    @atomic_fit
    def fit(self, X, y=None, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None,
            checkpoint_dir=None):
        """Fit on images X (array, folder, paths or a DataFrame path column) and labels y.

        y may be None when X is a folder with one sub-folder per class. ``X_val``, ``y_val``
        and ``sample_weight_val`` are validation images given as X is (y_val may be None for
        a folder of class sub-folders): scored each epoch and watched by early stopping instead
        of a ``validation_fraction`` of X. ``checkpoint_dir`` makes the fit resumable as for
        every learner (see ``docs/reliability.md``); images given as files are fingerprinted by
        their paths, not their contents.

        Parameters
        ----------
        X : ndarray of shape (n, height, width[, channels]), str folder, list of paths or DataFrame
            The images (pixel values 0-255), as described in the class docstring.
        y : array-like of shape (n,) or None, default=None
            Class labels; None takes them from the sub-folders of a folder X.
        sample_weight : array-like of shape (n,), default=None
            Weights of the images, multiplied by ``class_weight``'s; only their ratios count.
        X_val, y_val : images and labels, default=None
            Validation images (given as X) and their labels, used instead of ``validation_fraction``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation images in ``val_loss``.
        checkpoint_dir : str or path-like, default=None
            A folder for an atomic checkpoint: a fit killed midway resumes from it when called again.

        Returns
        -------
        self
        """
        self._validate_params()
        name = type(self).__name__
        source, folder_labels = image_source(X, self.path_column, name, fitting=True)
        if y is None:
            if folder_labels is None:
                raise ValueError(
                    f"{name} requires y, unless X is a folder with one sub-folder of images per class."
                )
            y = folder_labels
        y_fit, (task, n_classes) = self._encode_target(y, source.n, sample_weight)
        weighed, sw, scale = weighed_rows(self._check_sample_weight(sample_weight, source.n))
        self._warn_classes_without_weight(y_fit, sample_weight)
        if weighed is not None:  # images of weight 0 are left out, as the tabular learners' rows
            source, y_fit = source.subset(weighed), y_fit[weighed]
        source.check_readable(name)
        validation = self._validation_images(X_val, y_val, sample_weight_val)
        if validation is not None and validation[2] is not None:
            validation = (*validation[:2], validation_weights(validation[2], scale))
        size = self._size()
        self.spec_ = DataSpec(image_shape=(*size, 3)).with_task(task, n_classes)
        checkpoint = None
        if checkpoint_dir is not None:
            from keraslearn.training.checkpoint import FitCheckpoint, fingerprint

            images = {"images": _fingerprinted(source)}
            if validation is not None:
                images["validation_images"] = _fingerprinted(validation[0])
                images["validation_targets"], images["validation_weights"] = validation[1:]
            checkpoint = FitCheckpoint(checkpoint_dir, fingerprint(self, images, y_fit, sw))
        clear_session()  # keeps the user's dtype policy and global seed
        seed = seed_everything(self.random_state)
        if checkpoint is not None:
            seed = checkpoint.split_seed(seed)  # a resumed fit must hold out the same images
        weights = cnn.resolve_weights(self.application, self.weights, size[0], self.alpha)
        model = cnn.build(
            self._model_spec(),
            weights=weights,
            **{p: getattr(self, p) for p in self._arch_params},
        )
        self._compile(model)
        if validation is None:
            train, val = early_stopping_split(
                source.n, self.validation_fraction, self._stratify_labels(y_fit), split_seed(seed), self.early_stopping
            )
            val_data = None if val is None else self._batches(source, val, size, y_fit, sw)
        else:
            train = np.arange(source.n)
            val_source, yv, swv = validation
            val_data = self._batches(val_source, np.arange(val_source.n), size, yv, swv)
        train_data = self._batches(source, train, size, y_fit, sw, shuffle=True, seed=seed)
        callbacks = self._callbacks(val_data is not None)
        initial_epoch = 0
        if checkpoint is not None:
            stopper = next((c for c in reversed(callbacks) if type(c) is FiniteEarlyStopping), None)
            initial_epoch = checkpoint.attach(callbacks, self.epochs, stopper if self.early_stopping else None)
        with keras_warnings_ignored(), bars_closed_on_error(callbacks), interrupts_kept(callbacks):
            history = model.fit(train_data, validation_data=val_data, epochs=self.epochs, callbacks=callbacks,
                                initial_epoch=initial_epoch, verbose=2 if int(self.verbose) >= 2 else 0)
        if checkpoint is not None:
            history.history = checkpoint.finish(history.history)
        if weights is None:  # from random weights: batch normalization's statistics lag behind its weights
            cnn.recalibrate_batch_norm(model, train_data)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.model_ = model
        self.n_iter_ = len(self.history_.get("loss", []))
        self.batch_size_ = min(int(self.batch_size), len(train))  # a batch larger than the images is all of them
        return self

    def _validation_images(self, X_val, y_val, sample_weight_val):
        """``(images, coded labels, weights)`` of the validation images, or None when none are given."""
        if not validation_given(X_val, y_val, sample_weight_val):
            return None
        source, folder_labels = image_source(X_val, self.path_column, type(self).__name__)
        if y_val is None:
            if folder_labels is None:
                raise ValueError("X_val is given but y_val is not; pass y_val, unless X_val is a folder with one "
                                 "sub-folder of images per class.")
            y_val = folder_labels
        yv = self._encode_validation_target(y_val, source.n)
        source.check_readable(f"{type(self).__name__} (X_val)")
        return source, yv, KerasLearner._check_sample_weight(self, sample_weight_val, source.n, "sample_weight_val")

    def _batches(self, source, rows, size, y, sw, shuffle=False, seed=None):
        """The images of ``rows`` as an ImageBatches stream (with targets and weights)."""
        return ImageBatches(
            source.subset(rows),
            size=size,
            batch_size=self.batch_size,
            preprocess=self._preprocess(),
            y=y[rows],
            sample_weight=None if sw is None else sw[rows],
            shuffle=shuffle,
            seed=seed,
        )

    def _callbacks(self, has_validation: bool):
        from keraslearn.training.fit import fit_callback

        cbs = [fit_callback(cb) for cb in (self.callbacks or [])]
        return cbs + policy_callbacks(self.early_stopping, has_validation, self.patience, self.verbose, self.epochs)[0]

    # ----------------------------------------------------------- predicting
    def _predict_raw(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        source, _ = image_source(X, self.path_column, type(self).__name__, labelled=False)
        source.check_readable(type(self).__name__)
        size = tuple(self.spec_.image_shape[:2])
        data = ImageBatches(source, size=size, batch_size=self.batch_size, preprocess=self._preprocess())
        with keras_warnings_ignored(), variables_kept_on_error(self.model_):  # an unreadable image loses nothing
            return np.asarray(self.model_.predict(data, verbose=0), dtype=np.float64)

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy on ``X``; ``y`` may be left out when X is a folder with one sub-folder per class."""
        if y is None:
            source, y = image_source(X, self.path_column, type(self).__name__)
            if y is None:
                raise ValueError(f"{type(self).__name__}.score needs y, unless X is a folder with one sub-folder "
                                 "of images per class.")
            X = source.paths  # the labelled images (any beside the class folders have no label)
        return super().score(X, y, sample_weight=sample_weight)

    def _image_inputs(self, X) -> dict:
        """What the network (and an export of it) takes for images X: ``{"image": float32[n, h, w, 3]}``,
        resized and preprocessed as ``predict`` feeds them."""
        check_is_fitted(self, "model_")
        source, _ = image_source(X, self.path_column, type(self).__name__, labelled=False)
        pixels = source.load(np.arange(source.n), tuple(self.spec_.image_shape[:2]))
        return {"image": np.ascontiguousarray(self._preprocess()(pixels), dtype=np.float32)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = False
        tags.input_tags.categorical = False
        tags.input_tags.allow_nan = False
        return tags


def _fingerprinted(source):
    """What a checkpoint's fingerprint holds of some images: the array, or the files' paths."""
    return source.array if source.array is not None else np.asarray([str(p) for p in source.paths])
