"""Transfer-learning image classifier over ``keras.applications`` (mlr3keras ``kerascnn``).

ImageNet weights come from the Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``, where
``keras.applications`` saves what it downloads), downloaded there first as Keras would, or from a path
the user gives. Offline-first, as the dataset loaders: with ``KERASLEARN_OFFLINE=1``, or no answer from
the origin within a few seconds, a missing file means ``weights=None`` and a warning saying which file
to put where.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass

import keras
from keras import layers

from keraslearn._user_warnings import warn_user
from keraslearn.architectures.blocks import BN_MOMENTUM, output_head

_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Application:
    """What keraslearn needs to know about one ``keras.applications`` model."""

    module: str  # keras.applications submodule holding preprocess_input
    file: str  # ImageNet no-top weights file name; {alpha}, {alpha_text}, {rows} filled in
    url_dir: str
    min_size: int = 32
    uses_alpha: bool = False
    rows: tuple = ()  # input sizes with their own weight files (others use 224's)
    alphas: tuple = ()  # the widths (alpha) ImageNet weights exist for, when uses_alpha

    def weights_file(self, alpha: float, size: int) -> str:
        rows = size if size in self.rows else 224
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}.get(float(alpha), str(alpha))
        return self.file.format(alpha=alpha, falpha=float(alpha), alpha_text=alpha_text, rows=rows)

    def weights_url(self, alpha: float, size: int) -> str:
        """Where Keras downloads :meth:`weights_file` from."""
        return self.url_dir + self.weights_file(alpha, size)


def _resnet(name):
    module = "resnet_v2" if name.endswith("V2") else "resnet"
    return Application(module, f"{name.lower()}_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "resnet/")


APPLICATIONS: dict[str, Application] = {
    "MobileNetV2": Application(
        "mobilenet_v2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{falpha}_{rows}_no_top.h5",
        _KA + "mobilenet_v2/",
        uses_alpha=True,
        rows=(96, 128, 160, 192, 224),
        alphas=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
    ),
    "MobileNet": Application(
        "mobilenet", "mobilenet_{alpha_text}_{rows}_tf_no_top.h5", _KA + "mobilenet/",
        uses_alpha=True, rows=(128, 160, 192, 224), alphas=(0.25, 0.5, 0.75, 1.0),
    ),
    "MobileNetV3Small": Application(
        "mobilenet_v3", "weights_mobilenet_v3_small_224_{alpha}_float_no_top_v2.h5", _KA + "mobilenet_v3/",
        uses_alpha=True, alphas=(0.75, 1.0),
    ),
    "MobileNetV3Large": Application(
        "mobilenet_v3", "weights_mobilenet_v3_large_224_{alpha}_float_no_top_v2.h5", _KA + "mobilenet_v3/",
        uses_alpha=True, alphas=(0.75, 1.0),
    ),
    **{name: _resnet(name) for name in ("ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2")},
    **{
        f"EfficientNetB{i}": Application(
            "efficientnet", f"efficientnetb{i}_notop.h5", "https://storage.googleapis.com/keras-applications/"
        )
        for i in range(8)
    },
    **{
        f"EfficientNetV2{v}": Application(
            "efficientnet_v2", f"efficientnetv2-{v.lower()}_notop.h5", _KA + "efficientnet_v2/"
        )
        for v in ("B0", "B1", "B2", "B3", "S", "M", "L")
    },
    **{
        f"DenseNet{d}": Application(
            "densenet", f"densenet{d}_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "densenet/"
        )
        for d in (121, 169, 201)
    },
    **{
        f"ConvNeXt{s}": Application("convnext", f"convnext_{s.lower()}_notop.h5", _KA + "convnext/")
        for s in ("Tiny", "Small", "Base", "Large", "XLarge")
    },
    "VGG16": Application("vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "vgg16/"),
    "VGG19": Application("vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "vgg19/"),
    "Xception": Application(
        "xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "xception/", min_size=71
    ),
    "InceptionV3": Application(
        "inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", _KA + "inception_v3/",
        min_size=75,
    ),
}


def get_application(name: str) -> Application:
    if name not in APPLICATIONS:
        plain = re.sub(r"[^a-z0-9]", "", str(name).lower())  # "mobilenet_v2", Keras' module name, too
        meant = [known for known in APPLICATIONS if plain == known.lower()]
        hint = f"did you mean {meant[0]!r}? " if meant else ""
        raise ValueError(f"application={name!r} is not supported; {hint}use one of {sorted(APPLICATIONS)}.")
    return APPLICATIONS[name]


def preprocess_function(name: str):
    """The application's own ``preprocess_input`` (pixels 0-255 → what its weights expect)."""
    import importlib

    return importlib.import_module(f"keras.applications.{get_application(name).module}").preprocess_input


#: Where Keras' get_file puts a download when the Keras home cannot be written.
TMP_MODELS = os.path.join("/tmp", ".keras", "models")


def cache_dirs() -> list[str]:
    """Where ``keras.utils.get_file`` keeps downloaded application weights."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))  # "~/kh" as Keras
    return [os.path.join(home, "models"), TMP_MODELS]


def check_imagenet_alpha(application: str, weights, alpha) -> None:
    """Refuse ImageNet weights for a width (alpha) they were never published for."""
    app = get_application(application)
    if isinstance(weights, str) and weights == "imagenet" and app.uses_alpha and float(alpha) not in app.alphas:
        raise ValueError(
            f"{application} has ImageNet weights only for alpha in {app.alphas}; got alpha={alpha}. Use one of "
            "those, or weights=None to train the whole network from random weights.")


def check_weights(weights) -> None:
    """``weights`` is "imagenet", None or a path: anything else (False, True) is refused, not guessed."""
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be 'imagenet', None (train from scratch) or the path of a weights file; "
                         f"got {weights!r}.")


def imagenet_file(application: str, image_size: int, alpha: float = 1.0):
    """The cached ImageNet weights file of ``application`` at that size, or None."""
    fname = get_application(application).weights_file(alpha, image_size)
    for directory in cache_dirs():
        path = os.path.join(directory, fname)
        if os.path.isfile(path):
            return path
    return None


_UNREACHABLE: dict = {}  # URL of a weights file -> why its origin gave no answer in this process


def imagenet_unavailable(application: str, image_size: int, alpha: float = 1.0) -> bool:
    """Whether ``weights="imagenet"`` will train from random weights without asking the network: its file is
    not cached, and ``KERASLEARN_OFFLINE`` is set or the origin gave no answer earlier in this process."""
    from keraslearn.datasets.files import offline

    if imagenet_file(application, image_size, alpha) is not None:
        return False
    return offline() or get_application(application).weights_url(alpha, image_size) in _UNREACHABLE


def resolve_weights(application: str, weights, image_size: int, alpha: float = 1.0):
    """The ``weights=`` argument to give ``keras.applications``: a local file path or None.

    ``"imagenet"`` becomes the cached file's path, downloaded into Keras' cache first when it is not there
    (not with ``KERASLEARN_OFFLINE=1``; a few seconds without an answer from the origin give up, never a
    hang); where it cannot be had, a warning is issued and None returned. A path must exist.
    """
    check_weights(weights)
    if weights is None:
        return None
    if os.fspath(weights) != "imagenet":
        path = os.fspath(weights)
        if not os.path.isfile(path):
            meant = (" Did you mean weights='imagenet'?" if path.strip().lower() == "imagenet" else
                     " Did you mean weights=None?" if path.strip().lower() in ("none", "null", "") else "")
            raise ValueError(f"weights={path!r}: no such file.{meant} Pass 'imagenet', None or the path of a "
                             "weights file.")
        return path
    check_imagenet_alpha(application, weights, alpha)
    path = imagenet_file(application, image_size, alpha)
    if path is not None:
        return path
    from keraslearn.datasets import files

    app = get_application(application)
    fname, url = app.weights_file(alpha, image_size), app.weights_url(alpha, image_size)
    why = _UNREACHABLE.get(url)  # an origin without an answer is asked once per process, not at every fold
    if why is not None:
        why = f"{why}, when first asked in this process (restart Python to ask again)"
    else:
        try:  # as Keras would, but never hanging: offline-first, as the dataset loaders
            return files.download(files.Source(fname, url), cache_subdir="models",
                                  cache_dir=os.path.dirname(cache_dirs()[0]))
        except files.Unreachable as err:
            why = _UNREACHABLE[url] = str(err)
        except OSError as err:  # KERASLEARN_OFFLINE, a failed download: no wait to save
            why = str(err)
    warn_user(
        f"ImageNet weights for {application} are not in the Keras cache (looked for "
        f"{os.path.join(cache_dirs()[0], fname)}) and {why}; training from random weights (weights=None), "
        f"the whole network. To use them, download {url} into {cache_dirs()[0]} "
        "or pass weights='/path/to/that/file.h5'.")
    return None


def build(
    spec,
    application="MobileNetV2",
    weights=None,
    alpha=1.0,
    cl_layer_units=1024,
    dropout=0.2,
    unfreeze_n_last_layers=5,
):
    """Image input → application base → global average pooling → Dense → Dropout → output.

    With pretrained ``weights`` (a file path from :func:`resolve_weights`), the base is
    frozen except its last ``unfreeze_n_last_layers`` layers, and it runs in inference
    mode so batch normalization keeps its ImageNet statistics. With ``weights=None`` the
    whole network trains from scratch.
    """
    app = get_application(application)
    inputs = keras.Input(shape=tuple(spec.image_shape), name="image")
    kwargs = {"include_top": False, "weights": weights, "input_shape": tuple(spec.image_shape)}
    if app.uses_alpha:
        kwargs["alpha"] = alpha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "weights for (224, 224) will be loaded as the default"
        try:
            base = getattr(keras.applications, application)(**kwargs)
        except (OSError, ValueError) as err:
            if weights is None:
                raise
            # h5py's "file signature not found", Keras' "Layer count mismatch": say which file, and why.
            shown = f"{application}(alpha={alpha}, include_top=False)" if app.uses_alpha else \
                f"{application}(include_top=False)"
            first = str(err).splitlines()[0] if str(err) else ""
            # Keras: "A total of 99 objects could not be loaded. Example error message for object <Conv2D ...>:"
            first = re.sub(r"\s*Example error message for object .*$", "", first)
            why = f"{type(err).__name__}: {first}"
            if os.path.dirname(os.path.abspath(weights)) in {os.path.abspath(d) for d in cache_dirs()}:
                raise ValueError(  # found there for weights='imagenet': the user named no file
                    f"The cached ImageNet weights {weights} cannot be loaded into {shown} ({why}): the file is "
                    "damaged, e.g. by an interrupted download. Delete it and download it again, or pass "
                    "weights=None.") from None
            raise ValueError(
                f"weights={weights!r} cannot be loaded into {shown}: {why}. Pass that application's no-top weights "
                "file (the one keras.applications downloads for include_top=False), 'imagenet' or None.") from None
    if weights is not None:
        first_trainable = len(base.layers) - int(unfreeze_n_last_layers)
        for i, layer in enumerate(base.layers):
            layer.trainable = i >= first_trainable and not isinstance(layer, layers.BatchNormalization)
        x = base(inputs, training=False)
    else:
        # From random weights, batch normalization's moving statistics start at 0 and 1 and keep the
        # application's momentum (0.99 to 0.999): after the few hundred steps of a small image set they
        # have hardly moved, and every image predicted the same probabilities. PyTorch's momentum, as the
        # tabular MLPs use, follows the data within tens of steps.
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = BN_MOMENTUM
        x = base(inputs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if cl_layer_units:
        x = layers.Dense(int(cl_layer_units), activation="relu", name="head_dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(inputs, output_head(spec, x), name=f"cnn_{application.lower()}")


def recalibrate_batch_norm(model, batches) -> None:
    """Set every BatchNormalization layer's moving statistics to the mean of its batch statistics over
    ``batches`` (a sequence of ``(x, ...)``), computed with the model's final weights.

    A network trained from random weights changes fast, so statistics gathered during training lag
    behind its weights: in inference mode every image got the same probabilities (0.4868 for all,
    where training mode gave 0.03 to 0.99). A forward pass per batch; no weight changes.
    """
    from keraslearn.io.model_bytes import all_layers

    norms = [layer for layer in all_layers(model) if isinstance(layer, layers.BatchNormalization)]
    kept = [layer.momentum for layer in norms]
    try:
        for k in range(len(batches)):
            for layer in norms:
                layer.momentum = k / (k + 1)  # the running mean of the batches' statistics
            model(batches[k][0], training=True)
    finally:
        for layer, momentum in zip(norms, kept):
            layer.momentum = momentum

