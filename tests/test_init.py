"""The package's top level: its public names, found in the modules that define them."""

import importlib
import subprocess
import sys

import skrhythm


def test_every_public_name_is_found_where_it_is_defined():
    for name in skrhythm.__all__:
        value = getattr(skrhythm, name)
        if name != "__version__":
            module = importlib.import_module(value.__module__)
            assert getattr(module, name) is value and name in module.__all__
    assert set(skrhythm.__all__) <= set(dir(skrhythm))


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
