"""The house rules of the package's layout, checked on its source.

- A private name (a part of a dotted name starting with ``_``) belongs to the
  package that holds it: ``skrhythm.nn._kernels`` to ``skrhythm.nn``,
  ``skrhythm._limits`` to ``skrhythm``. Only modules inside that package
  import it; every other package goes through the public face
  (``skrhythm.nn``, ``skrhythm.experiments``, ...).
- scikit-learn's private names are imported in ``skrhythm/_sklearn_compat.py``
  alone, so that a new scikit-learn is one file to adapt.
"""

import ast
from pathlib import Path

import pytest

import skrhythm

ROOT = Path(skrhythm.__file__).parent


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path):
    """The dotted name of the package a module lives in (a package's ``__init__``: itself)."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(path, source=None):
    """``(line, imported dotted name)`` of every import of a module, relative ones resolved.

    ``from a.b import c`` gives ``a.b.c``: ``c`` may be a module or a name in ``a.b``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    package = package_of(path).split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def owner_of_private(name):
    """The package a dotted name's first private part belongs to (None: nothing private)."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def violations(sources=None):
    """Imports that break the rules, as ``"file:line imports name"``.

    ``sources``: ``{path: source text}`` to check instead of the package's files.
    """
    found = []
    for path, source in (sources or {p: None for p in sorted(ROOT.rglob("*.py"))}).items():
        importer = module_name(path)
        for line, name in imports(path, source):
            owner = owner_of_private(name)
            if owner is None:
                continue
            where = f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
            if name.startswith("sklearn"):
                if path.name != "_sklearn_compat.py":
                    found.append(where)
            elif name.startswith("skrhythm.") and not (
                    importer == owner or importer.startswith(owner + ".")):
                found.append(where)
    return found


def test_the_checker_resolves_relative_imports_and_finds_owners():
    path = ROOT / "experiments" / "_compare.py"
    assert package_of(path) == "skrhythm.experiments"
    assert package_of(ROOT / "nn" / "__init__.py") == "skrhythm.nn"
    assert "skrhythm._spec.MODELS" in {n for _, n in imports(path)}
    assert owner_of_private("skrhythm.nn._kernels._numba.prepare_kernels") == "skrhythm.nn"
    assert owner_of_private("skrhythm._limits.X") == "skrhythm"
    assert owner_of_private("sklearn.base._fit_context") == "sklearn.base"
    assert owner_of_private("skrhythm.nn.MusicCNN") is None


def test_no_module_imports_a_private_name_of_another_package():
    assert violations() == []


@pytest.mark.parametrize("source, bad", [
    ("from .nn._kernels import FAST\n", True),
    ("from .nn import _kernels\n", True),
    ("from ..experiments._data import x\n", True),
    ("from sklearn.utils._param_validation import Interval\n", True),
    ("import sklearn.base._private\n", True),
    ("from ._patches import PatchDataset\n", False),
    ("from .._limits import MAX_FRAMES\n", False),
    ("from ..nn import prepare_kernels\n", False),
])
def test_the_checker_finds_what_it_should(source, bad):
    module = ROOT / "training" / "probe.py"  # skrhythm.training.probe, not written
    assert bool(violations({module: source})) == bad
