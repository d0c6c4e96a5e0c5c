"""Loading never runs code from a file: no unpickling, Keras safe mode, registry-only classes."""

import io
import json
import os
import pickle
import re
import stat
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn import FFRegressor

SRC = Path(__file__).resolve().parents[1] / "src" / "keraslearn"


class _Touch:
    """A pickle payload: unpickling it creates ``path`` (what an attack would do, harmlessly)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    path = tmp_path_factory.mktemp("sec") / "good.keraslearn"
    FFRegressor(epochs=2, layer_units=(8,), random_state=0).fit(X, X[:, 0]).save(path)
    return path


def _members(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def _write(path, members, extra=()):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in list(members.items()) + list(extra):
            z.writestr(name, data)
    return path


def _tampered(artifact, tmp_path, **replace):
    members = _members(artifact)
    members.update(replace)
    return _write(tmp_path / "bad.keraslearn", members)


def test_the_untouched_artifact_loads(artifact):
    assert isinstance(keraslearn.load(artifact), FFRegressor)


def test_lambda_layer_is_refused_and_never_runs(artifact, tmp_path):
    marker = tmp_path / "lambda-ran"
    where = str(marker)
    inp = keras.Input((3,))
    out = keras.layers.Lambda(lambda x: (open(where, "w").close(), x * 2)[1])(inp)
    keras.Model(inp, out).save(tmp_path / "evil.keras")
    marker.unlink()  # building the model above called the lambda once
    evil = (tmp_path / "evil.keras").read_bytes()
    bad = _tampered(artifact, tmp_path, **{"model.keras": evil})
    with pytest.raises(ValueError, match=r"bad\.keraslearn.*contains code"):
        keraslearn.load(bad)
    assert not marker.exists()
    # The payload is real: Keras' unsafe mode would have run it while loading.
    keras.saving.load_model(tmp_path / "evil.keras", safe_mode=False)
    assert marker.exists()


def test_config_naming_a_python_function_is_refused(artifact, tmp_path):
    """A model.keras whose config asks for ``os.system`` as a layer class."""
    marker = tmp_path / "system-ran"
    model = _members(artifact)["model.keras"]
    with zipfile.ZipFile(io.BytesIO(model)) as z:
        inner = {n: z.read(n) for n in z.namelist()}
    config = json.loads(inner["config.json"])
    layer = config["config"]["layers"][-1]
    layer.update(module="os", class_name="system", registered_name=None, config={"command": f"touch {marker}"})
    inner["config.json"] = json.dumps(config).encode()
    buf = io.BytesIO()
    _write(buf, inner)
    with pytest.raises(ValueError, match=r"bad\.keraslearn: refusing to load its Keras model"):
        keraslearn.load(_tampered(artifact, tmp_path, **{"model.keras": buf.getvalue()}))
    assert not marker.exists()


@pytest.mark.parametrize("member", ["encoder.npz", "fitted.npz"])
def test_pickle_payload_in_place_of_arrays_is_refused(artifact, tmp_path, member):
    marker = tmp_path / "unpickled"
    bad = _tampered(artifact, tmp_path, **{member: pickle.dumps(_Touch(marker))})
    with pytest.raises(ValueError, match=rf"bad\.keraslearn: member {re.escape(member)} is not a plain \.npz"):
        keraslearn.load(bad)
    assert not marker.exists()


def test_npz_with_an_object_array_is_refused(artifact, tmp_path):
    marker = tmp_path / "unpickled"
    buf = io.BytesIO()
    np.savez(buf, y_mean=np.array([_Touch(marker)], dtype=object), y_scale=np.ones(1))
    bad = _tampered(artifact, tmp_path, **{"fitted.npz": buf.getvalue()})
    with pytest.raises(ValueError, match="fitted.npz is not a plain .npz.*never unpickles"):
        keraslearn.load(bad)
    assert not marker.exists()


def test_pickle_in_place_of_the_json_header_is_refused(artifact, tmp_path):
    marker = tmp_path / "unpickled"
    bad = _tampered(artifact, tmp_path, **{"keraslearn.json": pickle.dumps(_Touch(marker))})
    with pytest.raises(ValueError, match="is not a keraslearn artifact"):
        keraslearn.load(bad)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "KerasLearner", "TabularEncoder"])
def test_unknown_learner_class_is_refused(artifact, tmp_path, name):
    meta = json.loads(_members(artifact)["keraslearn.json"])
    meta["class"] = name
    bad = _tampered(artifact, tmp_path, **{"keraslearn.json": json.dumps(meta)})
    with pytest.raises(ValueError, match=rf"unknown learner class '{re.escape(name)}'"):
        keraslearn.load(bad)


@pytest.mark.parametrize(
    "extra, message",
    [
        ([("../../escaped.txt", b"x")], "unexpected members"),
        ([("/tmp/absolute.txt", b"x")], "unexpected members"),
        ([("model.keras", b"second copy")], "duplicated members"),
    ],
)
def test_odd_member_names_are_refused(artifact, tmp_path, extra, message):
    bad = tmp_path / "sub" / "bad.keraslearn"
    bad.parent.mkdir()
    with pytest.warns(UserWarning, match="Duplicate name") if "duplicated" in message else _nothing():
        _write(bad, _members(artifact), extra)
    with pytest.raises(ValueError, match=message):
        keraslearn.load(bad)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("member", ["encoder.npz", "fitted.npz", "model.keras", "keraslearn.json"])
def test_missing_member_is_a_clear_error(artifact, tmp_path, member):
    members = _members(artifact)
    del members[member]
    bad = _write(tmp_path / "bad.keraslearn", members)
    with pytest.raises(ValueError, match=r"is not a (valid )?keraslearn artifact"):
        keraslearn.load(bad)


def test_not_a_zip_and_truncated_files(artifact, tmp_path):
    (tmp_path / "text.keraslearn").write_text("hello")
    data = artifact.read_bytes()
    (tmp_path / "cut.keraslearn").write_bytes(data[: len(data) // 2])
    for name in ("text.keraslearn", "cut.keraslearn"):
        with pytest.raises(ValueError, match="is not a keraslearn artifact"):
            keraslearn.load(tmp_path / name)


def test_a_keras_file_or_an_export_name_is_told_apart_from_an_artifact(artifact, tmp_path):
    """A plain Keras .keras file is named as one (with its loader); save() to an ONNX name says it is no export."""
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(_members(artifact)["model.keras"])
    with pytest.raises(ValueError, match=r"model.keras is a Keras model file, not a keraslearn artifact: load it "
                                         r"with keras.saving.load_model\(path\)"):
        keraslearn.load(keras_file)
    with pytest.warns(UserWarning, match=r"m.onnx: save writes a keraslearn artifact .*not an ONNX model; "
                                         r"keraslearn.export\(learner, 'm.onnx', format='onnx'\) writes one"):
        keraslearn.load(artifact).save(tmp_path / "m.onnx")
    assert isinstance(keraslearn.load(tmp_path / "m.onnx"), FFRegressor)  # written all the same
    with pytest.warns(UserWarning, match=r"m.keras: save writes a keraslearn artifact .*which keras.saving.load_model "
                                         r"cannot read; learner.model_.save\('m.keras'\) writes the Keras model"):
        keraslearn.load(artifact).save(tmp_path / "m.keras")


def test_a_pickled_learner_is_named_as_a_pickle(artifact, tmp_path):
    """joblib.dump(learner) holds the model's .keras zip, which zipfile found: "a Keras model file: load it with
    keras.saving.load_model", which then failed too."""
    import joblib

    learner = keraslearn.load(artifact)
    joblib.dump(learner, tmp_path / "m.joblib")
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(learner))
    for name in ("m.joblib", "m.pkl"):
        with pytest.raises(ValueError, match=rf"{name} is a pickle \(pickle.dump or joblib.dump\), not a keraslearn "
                                             r"artifact: load it with joblib.load\(path\)"):
            keraslearn.load(tmp_path / name)
    assert isinstance(joblib.load(tmp_path / "m.joblib"), FFRegressor)


def test_save_to_a_folders_name_says_it_is_a_folder(artifact, tmp_path):
    """"runs/" (existing or not) said "Not a directory", of a directory."""
    from keraslearn._atomic import WriteError

    learner = keraslearn.load(artifact)
    (tmp_path / "runs").mkdir()
    for name in ("runs/", "new/"):
        with pytest.raises(WriteError, match=rf"cannot write .*/{name}: it (is|names) a folder; name a file in it"):
            learner.save(f"{tmp_path}/{name}")
    assert not (tmp_path / "new").exists() and not list((tmp_path / "runs").iterdir())


def _flip_a_byte_of_the_model(members, path):
    _write(path, members)  # stored, not deflated: the member's bytes appear as they are
    data = bytearray(path.read_bytes())
    model = members["model.keras"]
    at = data.index(model[len(model) // 2 : len(model) // 2 + 64]) + 10
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _header(**change):
    def damage(members, path):
        meta = json.loads(members["keraslearn.json"])
        for key, value in change.items():
            if value is None:
                del meta[key]
            else:
                meta[key].update(value)
        _write(path, {**members, "keraslearn.json": json.dumps(meta)})

    return damage


def _encoder_arrays_cut_short(members, path):
    with np.load(io.BytesIO(members["encoder.npz"])) as z:
        arrays = {k: z[k][:1] for k in z.files}  # 3 columns' medians/centres/scales → 1: would broadcast
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _write(path, {**members, "encoder.npz": buf.getvalue()})


def _target_scale_cut_short(members, path):
    with np.load(io.BytesIO(members["fitted.npz"])) as z:
        arrays = {k: z[k][:0] for k in z.files}  # the target's mean and scale: would broadcast to nothing
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _write(path, {**members, "fitted.npz": buf.getvalue()})


def _model_cut_short(members, path):
    model = members["model.keras"]
    _write(path, {**members, "model.keras": model[: len(model) // 2]})


@pytest.mark.parametrize(
    "damage",
    [
        _flip_a_byte_of_the_model,
        _header(spec=None),
        _header(params={"n_estimators": 10}),
        _encoder_arrays_cut_short,
        _target_scale_cut_short,
        _model_cut_short,
    ],
    ids=["bad-crc", "header-missing-key", "unknown-param", "encoder-arrays-cut-short", "target-scale-cut-short",
         "model-cut-short"],
)
def test_damaged_artifact_is_a_value_error_naming_the_file(artifact, tmp_path, damage):
    bad = tmp_path / "damaged.keraslearn"
    damage(_members(artifact), bad)
    with pytest.raises(ValueError, match=re.escape(str(bad)) + " is damaged") as info:
        keraslearn.load(bad)
    assert "keraslearn-" not in str(info.value).replace(str(bad), "")  # no internal temp file named


def test_saved_artifact_has_the_mode_open_would_give(artifact, tmp_path):
    """Not mkstemp's 0600: a new file gets 0666 minus the umask, an overwritten one keeps its mode."""
    learner = keraslearn.load(artifact)
    reference = tmp_path / "reference"
    open(reference, "w").close()
    path = Path(learner.save(tmp_path / "new.keraslearn"))
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    path.chmod(0o640)
    learner.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_and_load_paths_behave_as_open_does(artifact, tmp_path, monkeypatch):
    """"~" is the home folder; a symlink is written through (its target replaced, the link kept);
    a folder given to load is a clear error."""
    learner = keraslearn.load(artifact)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    learner.save("~/home.keraslearn")
    assert (tmp_path / "home.keraslearn").is_file() and not Path("~").exists()
    assert isinstance(keraslearn.load("~/home.keraslearn"), FFRegressor)
    target, link = tmp_path / "v1.keraslearn", tmp_path / "latest.keraslearn"
    target.write_bytes(b"an old version")
    link.symlink_to(target.name)
    learner.save(link)
    assert link.is_symlink() and isinstance(keraslearn.load(target), FFRegressor)
    with pytest.raises(ValueError, match="is a folder; give the artifact file"):
        keraslearn.load(tmp_path)
    # A bytes path is a path, as open() takes it (it failed deep in a join); a file object is named as one.
    learner.save(os.fsencode(tmp_path / "bytes.keraslearn"))
    assert isinstance(keraslearn.load(os.fsencode(tmp_path / "bytes.keraslearn")), FFRegressor)
    for call in (learner.save, keraslearn.load):
        with pytest.raises(TypeError, match=r"takes a file path \(a str or pathlib.Path\), not a file object"):
            call(io.BytesIO())

    class LocalPath:  # py.path.local (pytest's tmpdir), plumbum: a path with read/write methods of its own
        def __init__(self, path):
            self.path = path

        def __fspath__(self):
            return str(self.path)

        def read(self):
            return Path(self.path).read_bytes()

    learner.save(LocalPath(tmp_path / "local.keraslearn"))
    assert isinstance(keraslearn.load(LocalPath(tmp_path / "local.keraslearn")), FFRegressor)
    # A data table's name is refused: the zip replaced the user's CSV.
    data = tmp_path / "DATA.CSV"
    data.write_text("a,b\n1,2\n")
    for name in (data, tmp_path / "new.parquet", tmp_path / "new.tsv.gz"):
        with pytest.raises(ValueError, match=r"names a data table; save writes a keraslearn artifact .*name a "
                                             r"\.keraslearn file"):
            learner.save(name)
    assert data.read_text() == "a,b\n1,2\n" and not (tmp_path / "new.parquet").exists()


def test_source_never_evaluates_or_unpickles_input():
    """No eval/exec, no marshal, no plain unpickling, no allow_pickle=True anywhere in keraslearn.

    (Dataset files go through ``datasets.files._NumpyOnlyUnpickler``, which refuses every
    global but numpy's array constructors.)
    """
    offenders = []
    for py in SRC.rglob("*.py"):
        for lineno, line in enumerate(py.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"(?<![.\w])(eval|exec)\(|marshal\.|pickle\.loads?\(|allow_pickle=True", code):
                offenders.append(f"{py.relative_to(SRC)}:{lineno}: {line.strip()}")
    assert offenders == []


@pytest.mark.slow
def test_cli_treats_code_in_a_csv_cell_as_a_category(tmp_path, monkeypatch):
    from keraslearn.cli import main

    monkeypatch.chdir(tmp_path)
    payload = "__import__('os').system('touch marker')"
    rng = np.random.default_rng(0)
    rows = ["x,colour,target"] + [
        f"{rng.normal():.3f},\"{payload if i % 3 == 0 else 'red'}\",{i % 2}" for i in range(30)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    assert main(["fit", "data.csv", "--target", "target", "--epochs", "2", "--out", "m.keraslearn", "--quiet"]) == 0
    assert main(["predict", "m.keraslearn", "data.csv", "--out", "pred.csv", "--quiet"]) == 0
    assert not (tmp_path / "marker").exists()
    model = keraslearn.load(tmp_path / "m.keraslearn")
    categories = {str(c) for enc in [model.encoder_] for c in np.ravel(_categories(enc))}
    assert payload in categories  # kept as a plain string category


def _categories(encoder):
    state, arrays = encoder.get_state()
    found = []

    def walk(v):
        if isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item)
        elif isinstance(v, str):
            found.append(v)

    walk(state)
    for a in arrays.values():
        if a.dtype.kind in "US":
            found.extend(a.ravel().tolist())
    return found


class _Unsaveable(keras.Model):  # a subclassed model without get_config: neither saved nor pickled
    def __init__(self, spec, units=4, **kw):  # spec, a DataSpec: no config Keras can write
        super().__init__(**kw)
        self.hidden, self.out = keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs["numeric"] if isinstance(inputs, dict) else inputs))


def _unsaveable(spec):
    return _Unsaveable(spec)


def test_a_model_that_cannot_be_saved_gives_one_answer(tmp_path):
    """It warned "keep the learner with pickle", then raised that it can be neither saved nor pickled."""
    X = np.random.default_rng(0).normal(size=(40, 2))
    reg = keraslearn.KerasRegressor(_unsaveable, epochs=1, random_state=0).fit(X, X[:, 0])
    with warnings.catch_warnings(record=True) as said, pytest.raises(TypeError, match="cannot be saved or pickled"):
        warnings.simplefilter("always")
        reg.save(tmp_path / "m.keraslearn")
    assert not [w for w in said if "keep the learner with pickle" in str(w.message)]
    assert not (tmp_path / "m.keraslearn").exists()
