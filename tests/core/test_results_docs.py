"""Every results table and inline figure in README.md and docs/ is what `make results` writes from docs/results/."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_results.py"


@pytest.fixture(scope="module")
def make_results():
    spec = importlib.util.spec_from_file_location("make_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_docs_equal_what_make_results_writes(make_results, capsys):
    status = make_results.main(["--check"])
    assert status == 0, capsys.readouterr().err


def test_a_marker_without_a_generator_is_an_error(make_results):
    with pytest.raises(SystemExit, match="no generator"):
        make_results.render("<!-- results:nowhere.table -->old<!-- /results -->", {}, {}, "doc.md")


def test_blocks_and_inline_figures_are_replaced_between_their_markers(make_results):
    generators = {"page.table": lambda: "| a |\n|---|\n| 1 |", "page.value": lambda: "+0.3"}
    text = ("Before <!-- results:page.value -->+9.9<!-- /results --> after.\n"
            "<!-- results:page.table -->\nstale\n<!-- /results -->\n")
    assert make_results.render(text, generators, {}, "doc.md") == (
        "Before <!-- results:page.value -->+0.3<!-- /results --> after.\n"
        "<!-- results:page.table -->\n| a |\n|---|\n| 1 |\n<!-- /results -->\n")
