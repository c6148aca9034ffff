"""Sphinx configuration of skrhythm's documentation (numpydoc, autosummary, sphinx-gallery)."""

import os
import sys
from pathlib import Path

import skrhythm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))  # the examples' _common module
# The gallery runs every example in its fast mode (about a minute each), its figures
# drawn off-screen and shown on the example's page (sphinx-gallery's matplotlib scraper).
os.environ.setdefault("SKRHYTHM_EXAMPLES_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# How to cite, as every model card gives it: written here for the index page to include.
from skrhythm.experiments._card import CITATION  # noqa: E402

(Path(__file__).parent / "_generated").mkdir(exist_ok=True)
(Path(__file__).parent / "_generated" / "citation.bib").write_text(CITATION + "\n")

project = "skrhythm"
author = "the skrhythm developers"
copyright = "2026, the skrhythm developers"
version = release = skrhythm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
templates_path = ["_templates"]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# numpydoc checks every documented docstring: an unknown or misordered section, or a
# documented parameter the function does not take, fails the -W build
numpydoc_validation_checks = {"GL06", "GL07", "PR02", "PR10"}

nitpicky = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/[a-z][a-z_]+\.py$",  # run every example (not _common.py)
    "ignore_pattern": r"(^|/)_[^/]*\.py$",  # _common.py: the examples' settings
    "download_all_examples": False,
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    "image_scrapers": ("matplotlib",),
    "capture_repr": (),  # what the examples print, not the repr of a last Axes
    "matplotlib_animations": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skrhythm {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_fit_request``...)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
