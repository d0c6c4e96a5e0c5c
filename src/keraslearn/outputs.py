"""What the commands write, checked before the work: a model with the files beside it, written as one
set; tables of predictions; paths that must not replace the input or another kind of file."""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from keraslearn._atomic import atomic_path, check_writable
from keraslearn._user_warnings import warn_user
from keraslearn.cli import UsageError
from keraslearn.tables import COMPRESSED, needed_package, table_kind, uncompressed


def out_kind(path) -> str:
    """The kind of table ``--out`` names, or a one-line error."""
    kind = table_kind(path)
    if str(path) == "-":
        raise UsageError("--out -: leave --out out to print the predictions on standard output")
    if kind is None:
        raise UsageError(f"--out {path}: name a .csv, .txt (comma-separated), .tsv or .parquet file (a .csv or .tsv "
                         "may end in .gz, .bz2, .xz, .zst or .zip to compress it; Parquet compresses itself)")
    if Path(path).suffix.lower() == ".zst":  # before the work: pandas would say so only when writing
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise UsageError(f"--out {path}: writing .zst needs the zstandard package "
                             "(pip install zstandard)") from None
    return kind


def write_table(frame: pd.DataFrame, path) -> None:
    """Write ``frame`` as its file name says: .csv or .txt (optionally compressed), .tsv, .parquet."""
    kind = out_kind(path)
    with atomic_path(path) as tmp:  # a full disk leaves the old file, not a truncated one
        try:
            if kind == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",")
        except ImportError as err:
            raise UsageError(f"cannot write {path}: {err} (pip install {needed_package(path)})") from None


def model_out(path) -> None:
    """Refuse, before training, an ``--out`` for a model that names a data table, or an existing
    file that is not a keraslearn model: writing the model would replace it."""
    p = Path(path).expanduser()
    if str(path) == "-":
        raise UsageError("--out -: a model is written to a file, not standard output; name a .keraslearn file")
    if table_kind(p) is not None:
        raise UsageError(f"--out {path} names a data table, but a model is written there; name a .keraslearn file "
                         f"(predictions are written by keraslearn predict MODEL DATA --out {path})")
    if p.suffix.lower() in COMPRESSED and p.suffix.lower() != ".zip":  # a .gz name over a zip: gunzip fails
        raise UsageError(f"--out {path}: a model file is a compressed zip already, not {p.suffix}; name it "
                         f"{uncompressed(p).name if uncompressed(p).suffix else p.stem + '.keraslearn'}")
    if p.is_file() and not _is_model_file(p):
        raise UsageError(f"--out {path} exists and is not a keraslearn model; remove it or write elsewhere")
    if p.suffix.lower() in _OTHER_MODELS:  # said here in the command's words: save's own warning names its temp file
        named = Path(path).with_suffix(".keraslearn")
        warn_user(f"--out {path}: the model is written as a keraslearn model file (for keraslearn predict and "
                  f"keraslearn.load), not {_OTHER_MODELS[p.suffix.lower()]}; name it {named}. In Python, "
                  f"{_PYTHON_WAY[p.suffix.lower() in ('.keras', '.h5')]}.")


# Model files of other kinds that an --out may name by habit, and how Python writes each.
_OTHER_MODELS = {".keras": "a Keras .keras model", ".h5": "a Keras HDF5 model", ".onnx": "an ONNX model",
                 ".tflite": "a LiteRT model"}
_PYTHON_WAY = ("keraslearn.export(keraslearn.load(MODEL), PATH, format='onnx' or 'litert') writes one",
               "keraslearn.load(MODEL).model_.save(PATH) writes the Keras model alone (it takes encoded inputs)")


def plot_out(path) -> None:
    """Refuse, before the work, a ``--plot`` that names no picture (a data table would be replaced) or cannot
    be written."""
    if Path(path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UsageError(f"--plot {path}: name a .png, .pdf or .svg file")
    check_writable(path)


def predictions_out(path) -> None:
    """Refuse, before predicting, an ``--out`` that is an existing file other than predictions (a
    table with a ``prediction`` column, as ``keraslearn predict`` writes): writing would replace it."""
    p = Path(path).expanduser()
    if not p.is_file() or p.stat().st_size == 0:
        return
    columns = []
    try:
        if table_kind(p) == "parquet":
            import pyarrow.parquet

            columns = pyarrow.parquet.read_schema(p).names
        else:  # any separator, with Excel's byte-order mark: a predictions file it saved again
            for sep in (",", ";", "\t", "|"):
                columns += list(pd.read_csv(p, nrows=0, sep=sep, encoding="utf-8-sig", encoding_errors="replace"))
    except Exception:  # noqa: BLE001 - not a table pandas can read: not predictions either
        pass
    if not any(str(c).strip() in ("prediction", "prediction_0") for c in columns):
        raise UsageError(f"--out {path} exists and is not a file of predictions (no 'prediction' column); "
                         "remove it or write elsewhere")


def _is_model_file(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "keraslearn.json" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def not_the_input(out, data) -> None:
    if out is not None and Path(out).expanduser().resolve() == Path(data).expanduser().resolve():
        raise UsageError(f"--out {out} is the input file; write somewhere else")


def side_files(out) -> tuple[Path, Path, Path]:
    """The learning curve, the metrics and the plot of the predictions written beside the model ``out``, named
    by it without its .keraslearn (any other suffix stays: ``run.v1`` and ``run.v2`` are two models, and get
    their own files)."""
    out = Path(out)
    stem = out.stem if out.suffix.lower() == ".keraslearn" else out.name
    return (out.with_name(stem + "_learning_curve.png"), out.with_name(stem + "_metrics.json"),
            out.with_name(stem + "_predictions.png"))


def check_outputs(out) -> None:
    """The model and its side files can be written (makes the folder): before training, not after, so the
    set is written whole or not at all."""
    for path in (out, *side_files(out)):
        check_writable(path)


def save_or_keep(learner, out, beside=()) -> None:
    """Save a trained learner to ``out``, and the files ``beside`` it ((path, write(tmp)) pairs): each is written
    to a temp file first, and the set replaces the old one only once all are written. If one fails (a full
    disk), none is replaced; the model is kept in a temp folder, and the error says where."""
    import tempfile

    writing, temps = out, []
    try:
        with contextlib.ExitStack() as stack:  # on leaving it, each temp file replaces its target
            # save's warning on a .keras or .onnx name would name the temp file: model_out said it before the fit
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message=".*: save writes a keraslearn artifact")
            for writing, write in [(out, learner.save), *beside]:
                temps.append((writing, stack.enter_context(atomic_path(writing)), write))
            for writing, tmp, write in temps:
                write(tmp)
    except Exception as err:  # a full disk, or a writer's own error (matplotlib's): the model is kept all the same
        reason = os.strerror(err.errno) if isinstance(err, OSError) and err.errno else f"{type(err).__name__}: {err}"
        why = f"cannot write {writing}: {reason}"
        if beside:
            why += f"; none of {', '.join(Path(p).name for p in (out, *[p for p, _ in beside]))} was replaced"
        kept = Path(tempfile.mkdtemp(prefix="keraslearn-")) / Path(out).name
        try:
            learner.save(kept)
        except Exception:
            raise UsageError(f"{why}; the trained model could not be saved anywhere") from None
        raise UsageError(f"{why}; the trained model was saved to {kept} instead") from None
