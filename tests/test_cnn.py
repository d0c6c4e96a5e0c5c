"""CNNClassifier: transfer learning on tiny images from arrays, folders and path columns."""

import os
import pickle
import time
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import keraslearn
from keraslearn import CNNClassifier
from keraslearn.architectures import cnn
from keraslearn.preprocessing.images import ImageBatches, image_source

CLASSES = ["one", "two", "zero"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No test here asks the network for ImageNet weights (the download path is tested against a local server),
    finds weights another process left in /tmp/.keras, or meets an origin an earlier test found silent."""
    monkeypatch.setenv("KERASLEARN_OFFLINE", "1")
    monkeypatch.setattr(cnn, "TMP_MODELS", str(tmp_path / "tmp_keras_models"))
    monkeypatch.setattr(cnn, "_UNREACHABLE", {})


@pytest.fixture(scope="module")
def digits_rgb():
    """48 real digit images (16 each of 0, 1, 2), upscaled 8x8 → 32x32, RGB uint8."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rows = np.concatenate([np.flatnonzero(d.target == k)[:16] for k in range(3)])
    gray = np.kron(d.images[rows], np.ones((4, 4))) * 255 / 16
    images = np.repeat(gray[..., None], 3, axis=-1).round().astype(np.uint8)
    labels = np.array(["zero", "one", "two"])[d.target[rows]]
    return images, labels


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, digits_rgb):
    """The digits as PNG files in one sub-folder per class."""
    root = tmp_path_factory.mktemp("digits")
    images, labels = digits_rgb
    paths = []
    for i, (img, label) in enumerate(zip(images, labels)):
        os.makedirs(root / label, exist_ok=True)
        path = root / label / f"{i:03d}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return root, paths


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A weights file for MobileNetV2(alpha=0.35) without top, standing in for ImageNet's."""
    path = tmp_path_factory.mktemp("weights") / "mobilenetv2_035.weights.h5"
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.35)
    base.save_weights(path)
    return str(path)


# 48 images, a quarter held out: 36 train / 12 validation rows, batches of 12, so each of the
# train, validation and predict functions compiles for one batch shape only.
TINY = dict(alpha=0.35, image_size=32, cl_layer_units=16, batch_size=12, validation_fraction=0.25, random_state=0)


@pytest.fixture(scope="module")
def folder_fit(image_folder, weights_file):
    root, _ = image_folder
    return CNNClassifier(weights=weights_file, epochs=2, **TINY).fit(str(root))


def test_folder_fit_takes_labels_from_subfolders(folder_fit, image_folder):
    clf = folder_fit
    assert clf.score(str(image_folder[0])) == clf.score(str(image_folder[0]), np.array(CLASSES)[[
        CLASSES.index(p.split(os.sep)[-2]) for p in image_folder[1]]])  # labels from the class folders
    assert list(clf.classes_) == CLASSES
    assert set(clf.history_) >= {"loss", "val_loss"} and clf.n_iter_ == 2
    proba = clf.predict_proba(str(image_folder[0]))
    assert proba.shape == (48, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(str(image_folder[0]))) <= set(CLASSES)


def test_pretrained_base_is_frozen_but_its_last_layers(folder_fit):
    base = next(layer for layer in folder_fit.model_.layers if isinstance(layer, keras.Model))
    trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    # the last 5 layers of MobileNetV2 are block_16_project(+_BN), Conv_1(+_bn), out_relu;
    # batch normalization layers stay frozen, so two convolutions train
    assert trainable == ["block_16_project", "Conv_1"]
    assert all(not layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))
    head = [layer.name for layer in folder_fit.model_.layers if layer.trainable and layer.weights and layer is not base]
    assert head == ["head_dense", "output"]


def test_array_paths_and_dataframe_give_the_same_predictions(folder_fit, image_folder, digits_rgb):
    clf = folder_fit
    root, paths = image_folder
    images, _ = digits_rgb
    from_paths = clf.predict_proba(paths)
    np.testing.assert_allclose(clf.predict_proba(str(root)), from_paths, rtol=1e-5)  # same sorted order
    np.testing.assert_allclose(clf.predict_proba(images), from_paths, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(images[..., :1]), from_paths, rtol=1e-5, atol=1e-6)  # gray
    np.testing.assert_allclose(clf.predict_proba(pd.DataFrame({"file": paths})), from_paths, rtol=1e-5)
    frame = pd.DataFrame({"id": range(48), "file": paths})
    np.testing.assert_allclose(clf.set_params(path_column="file").predict_proba(frame), from_paths, rtol=1e-5)
    clf.set_params(path_column=None)
    # Without path_column, the one column naming image files (a file of IDs, paths and labels, as the CLI reads)
    np.testing.assert_allclose(clf.predict_proba(frame.assign(label="one")), from_paths, rtol=1e-5)
    from pathlib import Path  # pathlib paths beside an ID name image files too (a list of them already did)

    np.testing.assert_allclose(clf.predict_proba(frame.assign(file=[Path(p) for p in paths])), from_paths, rtol=1e-5)
    with pytest.raises(ValueError, match=r"columns \['id', 'file', 'copy'\], and 2 of them name image files; set "
                                         "path_column"):
        clf.predict(frame.assign(copy=paths))
    np.testing.assert_allclose(clf.predict_proba(list(images[:3])), from_paths[:3], rtol=1e-5, atol=1e-6)  # a list


def test_cli_predict_keeps_the_path_column_and_reads_a_file_of_ids_paths_and_labels(folder_fit, image_folder,
                                                                                     tmp_path, capsys):
    """--keep file removed the image model's only column (then 'X is a DataFrame with columns []; set
    path_column'), and a file with an ID and labels beside the paths asked for path_column, which the CLI has not."""
    from keraslearn.cli import main

    _, paths = image_folder
    folder_fit.save(tmp_path / "m.keraslearn")
    pd.DataFrame({"id": range(6), "file": paths[::8], "label": "one"}).to_csv(tmp_path / "files.csv", index=False)
    assert main(["predict", str(tmp_path / "m.keraslearn"), str(tmp_path / "files.csv"), "--keep", "id", "--keep",
                 "file", "--out", str(tmp_path / "p.csv")]) == 0, capsys.readouterr().err
    out = pd.read_csv(tmp_path / "p.csv")
    assert out["file"].tolist() == paths[::8] and out["id"].tolist() == list(range(6))
    assert out["prediction"].tolist() == folder_fit.predict(paths[::8]).tolist()
    # A folder, as predict takes one in Python ("is a directory; pass a .csv or .parquet file"): a path column
    root = os.path.dirname(os.path.dirname(paths[0]))
    assert main(["predict", str(tmp_path / "m.keraslearn"), root, "--out", str(tmp_path / "f.csv")]) == 0
    out = pd.read_csv(tmp_path / "f.csv")
    assert sorted(out["path"]) == sorted(paths) and out["prediction"].tolist() == folder_fit.predict(root).tolist()


def test_predicting_a_folder_takes_the_images_beside_its_sub_folders_too(folder_fit, image_folder, tmp_path):
    """docs/cnn.md: predict on a folder takes its images and those of its sub-folders. Images beside class
    folders were left out of predict (a warning, and 1 prediction for 3 images); a fit or a score without y
    still leaves them out, as they have no label."""
    import shutil

    _, paths = image_folder
    shutil.copy(paths[0], tmp_path / "a.png")
    shutil.copy(paths[20], tmp_path / "b.png")
    os.makedirs(tmp_path / "zero")
    shutil.copy(paths[1], tmp_path / "zero" / "c.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = folder_fit.predict_proba(str(tmp_path))
    np.testing.assert_allclose(proba, folder_fit.predict_proba([str(tmp_path / n) for n in ("a.png", "b.png",
                                                                                             "zero/c.png")]))
    with pytest.warns(UserWarning, match="beside its sub-folders"):
        assert folder_fit.score(str(tmp_path)) == float(folder_fit.predict([str(tmp_path / "zero" / "c.png")])[0]
                                                        == "zero")


def test_cli_evaluates_a_folder_of_class_folders_and_points_image_files_at_image_models(folder_fit, image_folder,
                                                                                        tmp_path, capsys):
    """evaluate asked for --target, then said 'is a directory; pass a .csv or .parquet file', for the folder
    Python's score takes without y; fit on an image folder and predict on one image file did not say that an
    image model reads them."""
    import json
    import shutil

    from keraslearn.cli import main

    root, paths = image_folder
    model = str(tmp_path / "m.keraslearn")
    folder_fit.save(model)
    capsys.readouterr()
    assert main(["evaluate", model, str(root), "--json"]) == 0, capsys.readouterr().err
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["accuracy"] == pytest.approx(folder_fit.score(str(root)))
    assert main(["evaluate", model, os.path.dirname(paths[0])]) == 2  # one class folder: images, no labels
    assert "has no class sub-folders, so its images have no labels" in capsys.readouterr().err
    assert main(["evaluate", model, str(root), "--target", "label"]) == 2
    assert "its images' labels are their sub-folders' names" in capsys.readouterr().err
    os.makedirs(tmp_path / "other" / "cat")
    shutil.copy(paths[0], tmp_path / "other" / "cat" / "a.png")
    assert main(["evaluate", model, str(tmp_path / "other")]) == 2
    assert "none of the sub-folders of" in capsys.readouterr().err  # was "none of the values of None"
    for args in (["fit", str(root), "--target", "label"], ["predict", model, paths[0]]):
        assert main(args) == 2
        assert "image files are read by an image model (CNNClassifier), trained in Python" in capsys.readouterr().err


def test_images_that_cannot_be_predicted_say_why(folder_fit, image_folder, digits_rgb, tmp_path):
    clf = folder_fit
    _, paths = image_folder
    images, _ = digits_rgb
    before = clf.predict_proba(images[:4])
    cut = tmp_path / "cut.png"
    data = open(paths[0], "rb").read()
    cut.write_bytes(data[: len(data) // 2])  # PIL opens it and fails only when decoding
    with pytest.raises(ValueError, match=f"Cannot read image file '{cut}'"):
        clf.predict([str(cut)])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    other = tmp_path / "other.jpg"
    other.write_bytes(b"\x00" * 64)
    # Every file that is no image is named at once, before any is read (it was the first one, when its batch came)
    with pytest.raises(ValueError, match=rf"2 of 3 image file\(s\) cannot be read: '{text}' \(cannot identify "
                                         rf"image file .*\), '{other}' \(cannot identify") as err:
        clf.predict([paths[0], str(text), str(other)])
    assert "object at 0x" not in str(err.value)  # PIL's name for its buffer: no use to the user
    with pytest.raises(ValueError, match=r"CNNClassifier: 1 of 2 image file\(s\) cannot be read"):
        CNNClassifier(**TINY).fit([paths[0], str(text)], ["zero", "one"])
    with pytest.raises(ValueError, match=r"is not a folder; pass a folder of images, a list of image paths \(for "
                                         r"one image file: \["):
        clf.predict(str(cut))
    with pytest.raises(ValueError, match=r"looks like one color image; pass a batch of one, X\[None\]"):
        clf.predict(images[0])  # (h, w, 3) was read as h grayscale images
    with pytest.raises(ValueError, match="different shapes"):
        clf.predict([images[0], images[1][:-2]])
    # Keras' JAX predict detaches the weights before it reads the first batch: none may be lost.
    np.testing.assert_array_equal(clf.predict_proba(images[:4]), before)


def test_save_load_and_pickle_predict_identically(folder_fit, digits_rgb, tmp_path):
    images, _ = digits_rgb
    expected = folder_fit.predict_proba(images)
    loaded = keraslearn.load(folder_fit.save(tmp_path / "cnn.keraslearn"))
    assert type(loaded) is CNNClassifier and list(loaded.classes_) == CLASSES
    assert loaded.spec_.image_shape == (32, 32, 3)
    np.testing.assert_array_equal(loaded.predict_proba(images), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(folder_fit)).predict_proba(images), expected)


def test_onnx_export_takes_what_export_inputs_builds(folder_fit, image_folder, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    _, paths = image_folder
    path = keraslearn.export(folder_fit, tmp_path / "cnn.onnx")
    inputs = keraslearn.export_inputs(folder_fit, paths[:5])
    assert list(inputs) == ["image"] and inputs["image"].shape == (5, 32, 32, 3)
    (proba,) = ort.InferenceSession(path).run(None, inputs)
    np.testing.assert_allclose(proba, folder_fit.predict_proba(paths[:5]), atol=1e-5)
    # A SavedModel's serve takes the same dict, as a tabular learner's does (it took the bare array only).
    tf = pytest.importorskip("tensorflow")
    loaded = tf.saved_model.load(keraslearn.export(folder_fit, tmp_path / "cnn_sm", "saved_model"))
    np.testing.assert_allclose(np.asarray(loaded.serve(inputs)), proba, atol=1e-5)


@pytest.mark.torch
def test_fit_on_an_array_with_path_dataframe_labels(digits_rgb, weights_file, image_folder):
    images, labels = digits_rgb
    with warnings.catch_warnings(record=True) as caught:  # Keras' warnings about itself stay inside
        warnings.simplefilter("always")
        clf = CNNClassifier(weights=weights_file, epochs=1, **TINY).fit(images, labels)
        from_images = clf.predict_proba(images)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert list(clf.classes_) == CLASSES and clf.n_iter_ == 1
    paths = pd.DataFrame({"path": image_folder[1]})
    np.testing.assert_allclose(clf.predict_proba(paths), from_images, rtol=1e-5, atol=1e-6)


def test_imagenet_without_cache_warns_and_falls_back_quickly(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="not in the Keras cache") as record:
        weights = cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35)
    assert time.perf_counter() - start < 1.0  # no download attempted
    assert weights is None
    message = str(record[0].message)
    assert "and KERASLEARN_OFFLINE is set, so nothing is downloaded; training from random weights" in message
    fname = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert os.path.join(str(tmp_path / "keras_home"), "models", fname) in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + fname in message
    assert "weights=None" in message
    # once the file is in the cache it is used, silently
    cached = tmp_path / "keras_home" / "models" / fname
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"stand-in")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) == str(cached)
    assert cnn.resolve_weights("ResNet50", None, 224) is None


def test_imagenet_weights_are_downloaded_into_the_keras_cache(tmp_path, monkeypatch, http_server, silent_server):
    """QA: weights='imagenet' never downloaded: on a machine with network a CNN trained from random weights
    (with a warning) where Keras and mlr3keras download them. Now downloaded as Keras does, from a local server
    here; a failed download warns with its reason and leaves nothing behind."""
    import dataclasses

    monkeypatch.delenv("KERASLEARN_OFFLINE")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    app = cnn.get_application("MobileNetV2")
    fname = app.weights_file(0.35, 32)
    served = tmp_path / "served"
    served.mkdir()
    cached = tmp_path / "keras_home" / "models" / fname
    clf = CNNClassifier(alpha=0.35, image_size=32)
    with http_server(served) as base:
        monkeypatch.setitem(cnn.APPLICATIONS, "MobileNetV2", dataclasses.replace(app, url_dir=base + "/"))
        assert "unfreeze_n_last_layers" in clf.search_space()  # pretrained: the file will be downloaded
        with pytest.warns(UserWarning, match=r"and downloading http://127.0.0.1:\d+/mobilenet_v2\S+ failed \(404 "
                                             r"-- File not found\); training from random weights"):
            assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) is None
        assert not cached.exists()
        (served / fname).write_bytes(b"the weights")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) == str(cached)
    assert cached.read_bytes() == b"the weights"
    assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) == str(cached)  # server gone: cached

    # An origin that gives no answer is asked once per process: each CV fold or trial would wait for it again.
    cached.unlink()
    monkeypatch.setenv("KERASLEARN_NET_TIMEOUT", "0.5")
    with silent_server() as base:
        monkeypatch.setitem(cnn.APPLICATIONS, "MobileNetV2", dataclasses.replace(app, url_dir=base + "/"))
        with pytest.warns(UserWarning, match=r"and 127.0.0.1:\d+ cannot be reached \(.*\); training from random"):
            assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) is None
        assert "unfreeze_n_last_layers" not in clf.search_space()  # its fits train from random weights now
        start = time.perf_counter()
        with pytest.warns(UserWarning, match=r"cannot be reached \(.*\), when first asked in this process \(restart "
                                             r"Python to ask again\); training from random weights"):
            assert cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35) is None
        assert time.perf_counter() - start < 0.3

    # KERAS_HOME="~/kh" is expanded, as Keras expands it (a folder named "~" was made in the working folder)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", "~/kh")
    assert cnn.cache_dirs()[0] == os.path.join(str(tmp_path), "kh", "models")


def test_imagenet_fallback_builds_a_fully_trainable_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = keraslearn.DataSpec(image_shape=(32, 32, 3)).with_task("multiclass", 3)
    with pytest.warns(UserWarning, match="training from random weights"):
        weights = cnn.resolve_weights("MobileNetV2", "imagenet", 32, alpha=0.35)
    model = cnn.build(spec, weights=weights, alpha=0.35, cl_layer_units=8)
    base = model.layers[1]
    assert all(layer.trainable for layer in base.layers)
    assert model.output_shape == (None, 3)


def test_image_batches_resize_convert_and_preprocess(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(5, 24, 24, 4), dtype=np.uint8)  # RGBA, smaller than image_size
    paths = []
    for i, img in enumerate(small):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(img[..., :3]).save(paths[-1])
    for X in (small, paths):
        source, labels = image_source(X)
        assert labels is None
        batches = ImageBatches(source, (32, 32), batch_size=2, preprocess=cnn.preprocess_function("MobileNetV2"))
        assert len(batches) == 3
        (x,) = batches[0]
        assert x.shape == (2, 32, 32, 3) and x.dtype == np.float32
        assert -1.0 <= x.min() and x.max() <= 1.0  # MobileNetV2's preprocess_input: [0, 255] → [-1, 1]
        assert batches[2][0].shape == (1, 32, 32, 3)
    assert source.array is None  # paths stay paths: images are read per batch
    shuffled = ImageBatches(source, (32, 32), 2, lambda b: b, y=np.arange(5), shuffle=True, seed=0)
    epoch1 = np.concatenate([shuffled[i][1] for i in range(3)])
    shuffled.on_epoch_end()
    epoch2 = np.concatenate([shuffled[i][1] for i in range(3)])
    assert sorted(epoch1) == sorted(epoch2) == list(range(5)) and list(epoch1) != list(epoch2)


def _with_nan(images, row):
    out = images.astype(np.float32)
    out[row, 0, 0, 0] = np.nan
    return out


def test_bad_inputs_fail_early_with_clear_messages(tmp_path, digits_rgb):
    images, labels = digits_rgb
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an HDF5 file")
    cases = [
        (CNNClassifier(application="NotANet"), images, labels, "application='NotANet' is not supported"),
        (CNNClassifier(image_size=16), images, labels, "image_size must be"),
        (CNNClassifier(image_size=(32.9, 40.2)), images, labels, "image_size must be"),  # was cut to (32, 40)
        (CNNClassifier(application="mobilenet_v2"), images, labels, "did you mean 'MobileNetV2'"),
        (CNNClassifier(), str(tmp_path / "nope"), None, "is not a folder"),
        (CNNClassifier(), pd.DataFrame({"a": ["x"], "b": ["y"]}), [1], "set path_column"),
        (CNNClassifier(), [str(tmp_path / "missing.png")], [1], "not found"),
        (CNNClassifier(), images, None, "requires y"),
        (CNNClassifier(), images[:, :, :, :2], labels, "1, 3 or 4 channels"),
        (CNNClassifier(weights=str(tmp_path / "w.h5")), images, labels, "no such file"),
        (CNNClassifier(weights="IMAGENET"), images, labels, r"no such file. Did you mean weights='imagenet'\?"),
        (CNNClassifier(alpha=0.3), images, labels, r"ImageNet weights only for alpha in \(0.35, 0.5, .*weights=None"),
        (CNNClassifier(), _with_nan(images, 3), labels, r"1 image\(s\) hold NaN or infinite pixels, e.g. rows \[3\]"),
        (CNNClassifier(weights=False), images, labels, r"weights must be 'imagenet', None \(train from scratch\)"),
        (CNNClassifier(path_column="p"), pd.DataFrame({"p": [str(tmp_path / "a.png"), None]}), [1, 2],
         r"column 'p' has 1 missing image path\(s\) \(rows \[1\]\); drop or fill"),
        (CNNClassifier(), [str(tmp_path / "a.png"), None], [1, 2], r"1 image path\(s\) are missing \(None, NaN"),
        (CNNClassifier(), pd.Series([str(tmp_path / "a.png"), pd.NA], dtype="string"), [1, 2],
         r"1 image path\(s\) are missing \(None, NaN or NA; positions \[1\]\)"),
    ]
    for clf, X, y, match in cases:
        start = time.perf_counter()
        with pytest.raises((ValueError, TypeError), match=match):
            clf.fit(X, y)
        assert time.perf_counter() - start < 5.0
    # weights='imagenet' found a damaged file in Keras' cache (an interrupted download): named, not blamed on weights=
    cached = tmp_path / "keras_home" / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
        with pytest.raises(ValueError, match=r"The cached ImageNet weights .*no_top.h5 cannot be loaded into "
                                             r"MobileNetV2.*damaged.*Delete it and download it again"):
            CNNClassifier(weights="imagenet", **TINY).fit(images, labels)
    # A weights file Keras cannot read is found when the network is built: named, with the application.
    with pytest.raises(ValueError, match=r"weights='.*garbage.h5' cannot be loaded into MobileNetV2\(alpha=0.35, "
                                         r"include_top=False\): OSError"):
        CNNClassifier(weights=str(garbage), **TINY).fit(images, labels)


def test_registry_names_and_search_space(tmp_path, monkeypatch):
    from keraslearn.architectures import cnn

    assert isinstance(keraslearn.learner("classif.kerascnn"), CNNClassifier)
    assert isinstance(keraslearn.learner("classif.cnn", epochs=3), CNNClassifier)
    with pytest.raises(ValueError, match="Unknown learner|no regressor"):
        keraslearn.learner("regr.cnn")
    monkeypatch.setattr(cnn, "cache_dirs", lambda: [str(tmp_path)])
    clf = CNNClassifier()
    assert set(clf.search_space()) <= set(clf.get_params())
    # Without pretrained weights nothing is frozen, so the number of unfrozen layers is not tuned: with
    # weights=None, and with "imagenet" when its file is not cached (the fit then trains from random weights).
    assert "unfreeze_n_last_layers" not in CNNClassifier(weights=None).search_space()
    assert "unfreeze_n_last_layers" not in clf.search_space()
    (tmp_path / cnn.get_application(clf.application).weights_file(clf.alpha, 224)).write_bytes(b"")
    assert "unfreeze_n_last_layers" in clf.search_space()


def test_tune_takes_a_class_folder_an_image_array_and_paths(image_folder, digits_rgb, weights_file, tmp_path):
    from optuna.distributions import FloatDistribution

    from keraslearn.tuning.storage import data_fingerprint

    root, paths = image_folder
    images, labels = digits_rgb
    # Images and paths are fingerprinted as what they are (a study name), not read as a table.
    assert data_fingerprint(images, labels) == data_fingerprint(images.copy(), labels)
    assert data_fingerprint(images, labels) != data_fingerprint(images[::-1].copy(), labels)
    fingerprint = data_fingerprint(paths, labels)
    assert fingerprint == data_fingerprint(pd.Series(paths), labels) != data_fingerprint(paths[::-1], labels)
    # tune holds out 12 images; the 36 left train in 3 batches of 12, as in folder_fit, and only the
    # learning rate (a variable, not part of the compiled step) is tuned: little to compile.
    learner = CNNClassifier(weights=weights_file, epochs=1, **dict(TINY, validation_fraction=0.0))
    _, study = keraslearn.tune(
        learner, str(root), None, space={"learning_rate": FloatDistribution(1e-4, 1e-3, log=True)}, n_trials=1,
        validation_fraction=0.25, storage=tmp_path / "cnn.db", refit=False,
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    assert 0.0 <= study.best_value <= 1.0


def test_an_empty_class_folder_is_left_out_with_a_warning(tmp_path, digits_rgb):
    images, labels = digits_rgb
    for i in range(4):
        os.makedirs(tmp_path / labels[i], exist_ok=True)
        Image.fromarray(images[i]).save(tmp_path / labels[i] / f"{i}.png")
    os.makedirs(tmp_path / "aaa_empty")
    with pytest.warns(UserWarning, match=r"\['aaa_empty'\] .* hold no image files; those classes are left out"):
        source, found = image_source(str(tmp_path), fitting=True)
    assert source.n == 4 and "aaa_empty" not in set(found)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # predicting or scoring on the folder leaves no class out: no warning
        image_source(str(tmp_path))
    os.rmdir(tmp_path / "aaa_empty")
    # what a zip made on macOS leaves: resource forks beside each image and in __MACOSX/
    (tmp_path / labels[0] / f"._{0}.png").write_bytes(b"\x00\x05\x16\x07")
    os.makedirs(tmp_path / "__MACOSX" / labels[0])
    (tmp_path / "__MACOSX" / labels[0] / "._0.png").write_bytes(b"\x00\x05\x16\x07")
    source, found = image_source(str(tmp_path))
    assert source.n == 4 and "__MACOSX" not in set(found)  # were read as images (and a class): unreadable
    Image.fromarray(images[5]).save(tmp_path / "stray.png")  # an image beside the class folders: left out, and said
    with pytest.warns(UserWarning, match=r"holds 1 image file\(s\) beside its sub-folders \(e.g. \['stray.png'\]\)"):
        source, _ = image_source(str(tmp_path))
    assert source.n == 4
    flat = tmp_path / "flat"
    os.makedirs(flat / "thumbs")  # images beside an empty sub-folder: a folder of images, no longer refused
    for i in range(3):
        Image.fromarray(images[i]).save(flat / f"{i}.png")
    source, found = image_source(str(flat))
    assert source.n == 3 and found is None
    # Class folders that are links (to a shared image store): predict reads them as fit does
    linked = tmp_path / "linked"
    os.makedirs(linked)
    for label in sorted(set(labels[:4])):
        (linked / label).symlink_to(tmp_path / label)
    labelled, _ = image_source(str(linked))
    unlabelled, _ = image_source(str(linked), labelled=False)
    assert unlabelled.paths == labelled.paths and len(labelled.paths) == 4


def test_a_validation_share_that_rounds_to_no_image_warns(digits_rgb, weights_file):
    """As the tabular learners: early stopping would silently watch the training loss instead."""
    images, labels = digits_rgb
    params = {**TINY, "validation_fraction": 0.01}
    with pytest.warns(UserWarning, match=r"validation_fraction=0.01 of 48 rows would hold out 0 .* training loss"):
        clf = CNNClassifier(weights=weights_file, epochs=1, **params).fit(images, labels)
    assert "val_loss" not in clf.history_


def test_validation_images_given_to_fit_replace_the_validation_share(digits_rgb, weights_file):
    images, labels = digits_rgb
    clf = CNNClassifier(weights=weights_file, epochs=2, **TINY)
    clf.fit(images[::2], labels[::2], X_val=images[1::2], y_val=labels[1::2])
    assert len(clf.history_["val_loss"]) == 2
    # val_loss is the loss on exactly those images (early stopping restored the best epoch).
    from sklearn.metrics import log_loss

    proba = clf.predict_proba(images[1::2])
    assert log_loss(labels[1::2], proba, labels=clf.classes_) == pytest.approx(min(clf.history_["val_loss"]), rel=1e-3)
    with pytest.raises(ValueError, match="X_val is given but y_val is not"):
        clf.fit(images[::2], labels[::2], X_val=images[1::2])


def test_images_scaled_to_0_1_warn_that_pixels_are_read_on_0_255(digits_rgb):
    images, _ = digits_rgb
    with pytest.warns(UserWarning, match=r"pixels lie in \[0, 1\], but pixels are read on 0-255"):
        image_source(images / 255.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image_source(images.astype("float32"))
    with pytest.warns(UserWarning, match=r"pixels reach 4080, but pixels are read on 0-255.*X \* \(255 / X.max\(\)\)"):
        image_source(images.astype("uint16") * 16)  # 16-bit images: 16 times too bright, silently
    with pytest.raises(ValueError, match=r"channels come first \(PyTorch's layout\): pass X.transpose\(0, 2, 3, 1\)"):
        image_source(images.transpose(0, 3, 1, 2))
    # Already preprocessed ([-1, 1], as keras.applications' preprocess_input gives): the learner preprocessed
    # them again into near-constant images, silently. True/false images are almost black.
    with pytest.warns(UserWarning, match=r"pixels go down to -1, .*pass the raw images, not the output of a preproc"):
        image_source(images / 127.5 - 1.0)
    with pytest.warns(UserWarning, match=r"images are true/false.*X.astype\('uint8'\) \* 255"):
        image_source(images > 128)


def test_a_network_trained_from_random_weights_predicts_from_the_image():
    """Batch normalization's moving statistics lagged behind weights trained from scratch: in inference mode
    every image got the same probabilities (0.5001 for all), however well training went."""
    rng = np.random.default_rng(0)
    labels = np.array(["dark", "light"] * 20)
    images = np.where(labels[:, None, None, None] == "light", 220, 0) + rng.integers(-20, 20, (40, 32, 32, 3))
    images = np.clip(images, 0, 255).astype(np.uint8)
    clf = CNNClassifier(weights=None, epochs=5, **{**TINY, "batch_size": 8, "validation_fraction": 0}).fit(
        images, labels)
    proba = clf.predict_proba(images)[:, 1]
    assert np.ptp(proba) > 0.3 and clf.score(images, labels) >= 0.8


def test_channels_first_keras_is_refused_clearly_before_anything_is_built(digits_rgb):
    """Under keras.config.set_image_data_format("channels_first") Keras read the learner's (64, 64, 3)
    input as 64 channels of 64 × 3 and failed deep in keras.applications ("Input size must be at least
    32x32")."""
    X, y = digits_rgb
    try:
        keras.config.set_image_data_format("channels_first")
        with pytest.raises(ValueError, match=r"builds channels-last models .*'channels_first': call "
                                             r"keras.config.set_image_data_format\('channels_last'\)"):
            CNNClassifier(weights=None, epochs=1).fit(X, y)
    finally:
        keras.config.set_image_data_format("channels_last")


def test_images_of_weight_zero_are_left_out_and_balanced_class_weights_count_by_weight(digits_rgb, weights_file):
    """QA: CNNClassifier kept images of sample_weight 0 in its validation split and batch-norm recalibration (a
    split that held out every weighed image trained on nothing, loss 0.0, silently), and class_weight="balanced"
    counted classes by rows, those of weight 0 included, where scikit-learn counts them by sample_weight."""
    images, labels = digits_rgb
    w = np.ones(len(labels))
    w[np.flatnonzero(labels == "zero")[:10]] = 0  # balanced by rows: 16/16/16; by weight: 16/16/6
    w[np.flatnonzero(labels == "one")[:2]] = 0
    w[np.flatnonzero(labels == "two")[:4]] = 2
    other = np.where(w[:, None, None, None] == 0, 255 - images, images).astype(np.uint8)  # only weight-0 images differ
    params = {**TINY, "batch_size": 8, "class_weight": "balanced"}
    weighed = CNNClassifier(weights=weights_file, epochs=2, **params).fit(other, labels, sample_weight=w)
    kept = w > 0
    removed = CNNClassifier(weights=weights_file, epochs=2, **params).fit(images[kept], labels[kept],
                                                                          sample_weight=w[kept])
    np.testing.assert_allclose(weighed.predict_proba(images), removed.predict_proba(images), rtol=1e-5, atol=1e-6)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(weighed.history_[key], removed.history_[key], rtol=1e-5)
