"""Image inputs: arrays in memory, or image files streamed from disk one batch at a time.

An image learner accepts
- a numpy array of images, shape (n, height, width[, channels]), pixel values 0-255;
- a folder path: with one sub-folder per class (as ``keras.utils.image_dataset_from_directory``),
  labels come from the folder names; without sub-folders, its image files in sorted order;
- a list, Series or 1-D array of image file paths, or a DataFrame with a column of paths.

Files are read, converted to RGB and resized batch by batch by :class:`ImageBatches`, a
``keras.utils.PyDataset``, so a folder larger than memory trains fine.
"""

from __future__ import annotations

import math
import os
import re

import keras
import numpy as np
import pandas as pd

from keraslearn._user_warnings import warn_user

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _is_image_file(name: str) -> bool:
    # "._x.png": the resource fork a macOS zip or copy leaves beside x.png, not an image
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def names_images(column: pd.Series) -> bool:
    """Whether every cell of ``column`` (blank cells aside) names an image file, by its extension."""
    values = column.dropna()
    return len(values) > 0 and all(
        isinstance(v, (str, os.PathLike)) and _is_image_file(os.path.basename(os.fspath(v))) for v in values)


def _is_data_folder(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"  # hidden, or macOS zips' resource forks


def _images_in(folder: str) -> list[str]:
    """The image files under ``folder`` and its data sub-folders, walked in sorted order."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if _is_data_folder(d))
        files += [os.path.join(root, f) for f in sorted(names) if _is_image_file(f)]
    return files


def _list_folder(path: str, fitting: bool, labelled: bool = True):
    """Image files under ``path`` and their labels (sub-folder names), or labels None.

    ``labelled=False`` (predicting: no labels needed): every image file under ``path``, those beside
    its sub-folders first, then each sub-folder's in sorted order."""
    # Sub-folders (a linked one too) are class folders; image files beside them are named here.
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir() and _is_data_folder(e.name))
    beside = sorted(f for f in os.listdir(path) if _is_image_file(f) and os.path.isfile(os.path.join(path, f)))
    if not labelled:
        files = [os.path.join(path, f) for f in beside]
        files += [f for cls in classes for f in _images_in(os.path.join(path, cls))]
        if not files:
            raise ValueError(f"The folder {path!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        return files, None
    if not classes:
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if _is_image_file(f))
        if not files:
            raise ValueError(f"The folder {path!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        return files, None
    files, labels = [], []
    for cls in classes:
        found = _images_in(os.path.join(path, cls))
        files += found
        labels += [cls] * len(found)
    if not files and beside:  # images beside empty sub-folders (e.g. "thumbs/"): a folder of images, unlabelled
        return [os.path.join(path, f) for f in beside], None
    if not files:
        raise ValueError(f"The class folders {classes} under {path!r} hold no image files.")
    if beside:
        warn_user(f"{path!r} holds {len(beside)} image file(s) beside its sub-folders (e.g. {beside[:3]}), which are "
                  f"read as class folders {classes}: those files are left out. Move them into a sub-folder, or pass "
                  "the paths of the images to use as a list.")
    empty = [c for c in classes if c not in set(labels)]
    if empty and fitting:
        # keras.utils.image_dataset_from_directory keeps such a class; a classifier cannot learn a
        # class it has no example of, so it is left out, and said.
        warn_user(f"The class folder(s) {empty} under {path!r} hold no image files; those classes are left out.")
    return files, np.asarray(labels, dtype=object)


class ImageSource:
    """Images by row number: ``load(rows, size)`` returns float32 (k, height, width, 3), 0-255."""

    def __init__(self, array=None, paths=None):
        self.array, self.paths = array, paths
        self.n = len(array) if array is not None else len(paths)

    def subset(self, rows) -> "ImageSource":
        if self.array is not None:
            return ImageSource(array=self.array[rows])
        return ImageSource(paths=[self.paths[i] for i in rows])

    def check_readable(self, estimator_name="This estimator") -> None:
        """Open each file's header (PIL reads no pixels: about 50 µs a file), so a file that is not an
        image is named, with all the others, before a network is built, not when its batch is read."""
        if self.paths is None:
            return
        from PIL import Image

        bad = []
        for path in self.paths:
            try:
                with Image.open(path):
                    pass
            except (OSError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
                bad.append(f"{path!r} ({_pil_reason(err)})")
        if bad:
            raise ValueError(f"{estimator_name}: {len(bad)} of {len(self.paths)} image file(s) cannot be read: "
                             f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}. Remove or replace them.")

    def load(self, rows, size) -> np.ndarray:
        if self.array is not None:
            return _resize(_as_rgb(np.asarray(self.array[rows], dtype=np.float32)), size)
        out = np.empty((len(rows), size[0], size[1], 3), dtype=np.float32)
        for j, i in enumerate(rows):
            path = self.paths[i]
            try:
                img = keras.utils.load_img(path, color_mode="rgb", target_size=tuple(size), interpolation="bilinear")
                out[j] = np.asarray(img, dtype=np.float32)  # PIL decodes lazily: a cut-short file fails here
            except (OSError, ValueError) as err:
                raise ValueError(f"Cannot read image file {path!r}: {_pil_reason(err)}") from err
        return out


def _pil_reason(err) -> str:
    return re.sub(r" <_io\.\w+ object at 0x[0-9a-f]+>", "", str(err))  # PIL names its buffer, not the file


def _as_rgb(batch: np.ndarray) -> np.ndarray:
    if batch.ndim == 3:
        batch = batch[..., None]
    channels = batch.shape[-1]
    if channels == 1:
        return np.repeat(batch, 3, axis=-1)
    if channels == 4:  # RGBA: drop alpha
        return batch[..., :3]
    return batch


def _resize(batch: np.ndarray, size) -> np.ndarray:
    if batch.shape[1:3] == tuple(size):
        return np.array(batch, dtype=np.float32)  # a copy: preprocess_input works in place
    out = keras.ops.image.resize(batch, tuple(size), interpolation="bilinear")
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


def image_source(X, path_column=None, estimator_name="This estimator", fitting=False, labelled=True):
    """``(source, labels)`` for what a user passes as X; labels only from class folders.

    ``fitting``: X is training data, so an empty class folder is a class left out (and said).
    ``labelled=False``: only the images are wanted (predict), so a folder gives all of its images,
    those beside its class folders too.
    """
    if isinstance(X, (str, os.PathLike)):
        path = os.fspath(X)
        if not os.path.isdir(path):
            one = f" (for one image file: [{path!r}])" if os.path.isfile(path) else ""
            raise ValueError(f"{estimator_name}: X={path!r} is not a folder; pass a folder of images, "
                             f"a list of image paths{one} or an array of images.")
        files, labels = _list_folder(path, fitting, labelled)
        return ImageSource(paths=files), labels
    if isinstance(X, pd.DataFrame):
        if path_column is None:  # its one column, or the one naming image files (beside an ID, a label)
            found = [c for c in X.columns if names_images(X[c])] if X.shape[1] > 1 else list(X.columns)
            if len(found) != 1:
                which = f"{len(found)} of them name image files" if found else "none names image files by extension"
                raise ValueError(f"{estimator_name}: X is a DataFrame with columns {list(X.columns)}, and {which}; "
                                 "set path_column to the column holding the image file paths, or give X only "
                                 "that column.")
            path_column = found[0]
        if path_column not in X.columns:
            raise ValueError(f"{estimator_name}: path_column={path_column!r} is not a column of X "
                             f"(columns: {list(X.columns)}).")
        X = X[path_column]
        if X.isna().any():
            rows = list(X.index[X.isna()][:5])
            raise ValueError(f"{estimator_name}: column {path_column!r} has {int(X.isna().sum())} missing image "
                             f"path(s) (rows {rows}); drop or fill those rows first.")
    if isinstance(X, (list, tuple)) and X and all(isinstance(a, np.ndarray) for a in X):
        shapes = {a.shape for a in X}
        if len(shapes) > 1:
            raise ValueError(f"{estimator_name}: the images in X have different shapes {sorted(shapes)[:3]}; resize "
                             "them to one size first, or pass their file paths (which are resized as read).")
        X = np.stack(X)  # a list of equal images: one array
    if isinstance(X, (pd.Series, list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1):
        paths = [os.fspath(p) if isinstance(p, os.PathLike) else p for p in list(X)]
        bad = [p for p in paths if not isinstance(p, str)]
        if bad and all(p is None or p is pd.NA or (isinstance(p, float) and math.isnan(p)) for p in bad):
            rows = [i for i, p in enumerate(paths) if not isinstance(p, str)][:5]
            raise ValueError(f"{estimator_name}: {len(bad)} image path(s) are missing (None, NaN or NA; positions "
                             f"{rows}); drop those rows first.")
        if bad:
            shown = ", ".join(f"{type(p).__name__}" + (f" of shape {p.shape}" if hasattr(p, "shape") else "")
                              for p in bad[:3])
            raise TypeError(f"{estimator_name}: image paths must be strings; got {shown}. Pass images as one "
                            "array of shape (n, height, width[, channels]).")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"{estimator_name}: {len(missing)} image file(s) not found, e.g. {missing[:3]}.")
        if not paths:
            raise ValueError(f"{estimator_name}: no image paths given.")
        return ImageSource(paths=paths), None
    if hasattr(X, "__array__"):
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf" or arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (1, 3, 4)):
            first = arr.ndim == 4 and arr.shape[1] in (1, 3, 4)
            raise ValueError(
                f"{estimator_name}: an image array must be numeric with shape (n, height, width) or "
                f"(n, height, width, channels) with 1, 3 or 4 channels; got shape {arr.shape}, dtype {arr.dtype}."
                + (" Its channels come first (PyTorch's layout): pass X.transpose(0, 2, 3, 1)." if first else "")
            )
        if len(arr) == 0:
            raise ValueError(f"{estimator_name}: X holds 0 images.")
        # Each pixel scanned once for its lowest and once for its highest value (uint8 needs neither).
        lo = hi = None
        if arr.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))
            if len(bad):
                raise ValueError(f"{estimator_name}: {len(bad)} image(s) hold NaN or infinite pixels, e.g. rows "
                                 f"{bad[:5].tolist()}; fill or drop them first.")
            lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
            if lo < 0 and (hi <= 3 or lo < -64):
                # Already preprocessed ([-1, 1], standardized, mean-subtracted): preprocessed again, near-constant
                # images. Not a resize's overshoot of 0-255 pixels (bicubic dips a little below 0).
                warn_user(f"{estimator_name}: the image pixels go down to {lo:.6g}, but pixels are read on "
                          "0-255 and the learner preprocesses them for its application itself; pass the raw "
                          "images, not the output of a preprocess_input.")
            elif 0 <= lo and 0 < hi <= 1:
                # Keras' habit x / 255: the network would see almost black images (pixels are 0-255).
                warn_user(f"{estimator_name}: the image pixels lie in [0, 1], but pixels are read on 0-255 (as "
                          "uint8 images and files are); pass the images unscaled, e.g. (X * 255).")
        if arr.dtype.kind == "b":
            warn_user(f"{estimator_name}: the images are true/false, read as pixels 0 and 1 of 0-255 (almost "
                      "black); pass X.astype('uint8') * 255 for black and white.")
        if arr.dtype.itemsize > 1 and arr.size:  # uint8 cannot exceed 255: no scan of every pixel
            hi = float(arr.max()) if hi is None else hi
            if hi > 255:
                # 16-bit images (microscopy, medical): the network would see pixels far beyond its 0-255
                warn_user(f"{estimator_name}: the image pixels reach {hi:.6g}, but pixels are read on 0-255 "
                          "(as uint8 images and files are); rescale them first, e.g. X * (255 / X.max()).")
        if arr.ndim == 3 and arr.shape[-1] in (3, 4) and min(arr.shape[:2]) > 4:
            # (n, height, width) with a width of 3 is not an image: this is one (h, w, 3) image.
            raise ValueError(f"{estimator_name}: X of shape {arr.shape} looks like one color image; pass a batch "
                             f"of one, X[None] (shape {(1, *arr.shape)}).")
        return ImageSource(array=arr), None
    raise TypeError(f"{estimator_name}: X must be an image array, a folder path, a list of image paths or a "
                    f"DataFrame with a path column; got {type(X).__name__}.")


class ImageBatches(keras.utils.PyDataset):
    """Batches of resized, preprocessed images (and targets) for ``model.fit`` / ``predict``.

    Only one batch of images is in memory at a time. With ``shuffle=True`` the order is
    redrawn after every epoch from ``seed``.
    """

    def __init__(self, source, size, batch_size, preprocess, y=None, sample_weight=None,
                 shuffle=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.source, self.size, self.batch_size = source, tuple(size), int(batch_size)
        self.preprocess, self.y, self.sample_weight = preprocess, y, sample_weight
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(source.n) if shuffle else np.arange(source.n)

    def __len__(self):
        return math.ceil(self.source.n / self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.preprocess(self.source.load(rows, self.size))
        if self.y is None:
            return (x,)
        if self.sample_weight is None:
            return x, self.y[rows]
        return x, self.y[rows], self.sample_weight[rows]

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(self.source.n)
