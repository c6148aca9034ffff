"""The built documentation: what a reader sees on the pages (run after building the docs).

``python -m sphinx -b html docs docs/_build/html`` builds them (``.ci/run`` does,
then runs this file with ``SKRHYTHM_DOCS_BUILT=1``, which makes a missing
build a failure instead of a skip).
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "_build" / "html"
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("[!_]*.py"))

pytestmark = pytest.mark.skipif(
    not BUILD.is_dir() and not os.environ.get("SKRHYTHM_DOCS_BUILT"),
    reason="the documentation is not built here (python -m sphinx -b html docs "
           "docs/_build/html); .ci/run builds it and runs these tests")


def page(relative):
    path = BUILD / relative
    assert path.is_file(), f"{relative} was not built"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_page_shows_figures_of_its_own(example):
    html = page(f"auto_examples/{example}.html")
    images = re.findall(rf'src="\.\./_images/(sphx_glr_{example}_\d+\.png)"', html)
    assert images, f"{example}: no figure on its page"
    for name in images:
        assert (BUILD / "_images" / name).stat().st_size > 10_000, name


def test_every_thumbnail_is_a_figure_not_the_placeholder():
    html = page("auto_examples/index.html")
    thumbnails = re.findall(r'<img alt="[^"]*" src="(\.\./_images/[^"]+)"', html)
    assert len(thumbnails) == len(EXAMPLES)
    assert not [t for t in thumbnails if "no_image" in t]


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_page_says_how_it_was_run(example):
    html = page(f"auto_examples/{example}.html")
    assert "fast mode" in html
    assert "FULL_" not in html  # no figure left unmeasured


def test_api_pages_are_titled_by_the_short_name():
    """Reported: the heading 'skrhythm.classifier.MusicC...' was cut at 1280 px."""
    html = page("api/generated/skrhythm.classifier.MusicCNNClassifier.html")
    assert re.search(r"<h1>MusicCNNClassifier<a", html)
    assert "skrhythm.classifier.MusicCNNClassifier" in html


def test_the_api_reference_lists_no_plumbing():
    html = page("api.html")
    for internal in ("run_folder_lock", "read_fold_record", "write_json_atomic"):
        assert internal not in html


def test_the_index_says_how_to_cite():
    text = re.sub(r"<[^>]+>", "", page("index.html"))  # (code is highlighted in spans)
    assert "Citing skrhythm" in text and "@software{skrhythm" in text
    assert "Pons, Jordi and Serra, Xavier" in text and "cff-version: 1.2.0" in text
