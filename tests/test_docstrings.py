"""Every public parameter is documented: each estimator's and public function's signature parameters appear in
its docstring's numpydoc Parameters section, each with a description line (what ``help()`` shows)."""

import inspect
import re

import pytest

import keraslearn
from keraslearn.learners.registry import learner_classes

_HEADER = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.MULTILINE)
_METHODS = ("fit", "predict", "predict_proba", "transform", "fit_transform", "save")


def _sections(doc: str) -> dict[str, str]:
    """The numpydoc sections of a docstring, by title."""
    doc = inspect.cleandoc(doc or "")
    heads = list(_HEADER.finditer(doc))
    return {m.group(1): doc[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(doc)]
            for i, m in enumerate(heads)}


def documented(doc: str) -> dict[str, str]:
    """``{name: its first description line}`` of the Parameters section ("a, b : type" documents both)."""
    out, names = {}, []
    for line in _sections(doc).get("Parameters", "").splitlines():
        if line and not line[0].isspace():  # an entry: "name : type", "a, b : type" or "name"
            names = [n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")]
            for name in names:
                out[name] = ""
        elif line.strip() and names:  # its description
            for name in names:
                out[name] = out[name] or line.strip()
    return out


def _parameters(func) -> list[str]:
    return [p.name for p in inspect.signature(func).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _cases():
    classes = {cls.__name__: cls for cls in learner_classes()}
    functions = {}
    for name in keraslearn.__all__:
        obj = getattr(keraslearn, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            classes[name] = obj
        elif callable(obj) and not inspect.isclass(obj):
            functions[name] = obj
    for name, cls in sorted(classes.items()):
        yield name, cls.__init__, cls.__doc__
        for method in _METHODS:
            if callable(getattr(cls, method, None)) and method in {n for c in cls.__mro__ for n in vars(c)}:
                func = getattr(cls, method)
                if getattr(func, "__module__", "").startswith("keraslearn"):
                    yield f"{name}.{method}", func, func.__doc__
    for name, func in sorted(functions.items()):
        yield name, func, func.__doc__


CASES = list(_cases())


@pytest.mark.parametrize("name, func, doc", CASES, ids=[c[0] for c in CASES])
def test_every_parameter_is_documented(name, func, doc):
    params = _parameters(func)
    have = documented(doc)
    missing = [p for p in params if p not in have]
    assert not missing, f"{name}: not in the Parameters section: {missing}"
    blank = [p for p in params if not have[p]]
    assert not blank, f"{name}: no description under: {blank}"

