"""The package's top level: its public names, found in the modules that define them."""

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import skrhythm


def test_every_public_name_is_found_where_it_is_defined():
    for name in skrhythm.__all__:
        value = getattr(skrhythm, name)
        if name != "__version__":
            module = importlib.import_module(value.__module__)
            assert getattr(module, name) is value and name in module.__all__
    assert set(skrhythm.__all__) <= set(dir(skrhythm))


def test_the_stub_says_what_the_lazy_map_says():
    """Type checkers and IDEs read __init__.pyi; the imports read the map."""
    stub = ast.parse((Path(skrhythm.__file__).parent / "__init__.pyi").read_text())
    imported = {alias.asname: node.module for node in stub.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == skrhythm._LAZY


def test_dir_lists_the_lazy_names_without_importing_them_and_help_documents_them():
    """Tab completion reads dir(); help() imports what it documents."""
    code = ("import sys, pydoc, skrhythm; names = dir(skrhythm); "
            "light = 'torch' not in sys.modules; text = pydoc.plain(pydoc.render_doc(skrhythm)); "
            "print('MusicCNNClassifier' in names, light, 'class MusicCNNClassifier' in text)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True"]


def test_an_unknown_name_is_an_attribute_error():
    try:
        skrhythm.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'NoSuchThing'" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_importing_the_package_imports_neither_torch_nor_sklearn():
    code = ("import sys, skrhythm; "
            "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_the_citation_file_names_this_version_and_the_papers():
    text = (Path(skrhythm.__file__).parents[1] / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(skrhythm.__version__)}$", text, re.M)
    assert "Designing efficient architectures for modeling temporal features" in text
    assert "Experimenting with musically motivated convolutional neural networks" in text
    from skrhythm.experiments._card import CITATION

    assert f"version = {{{skrhythm.__version__}}}" in CITATION
