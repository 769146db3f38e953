"""Packaging: one top-level package, a small public API resolved lazily, corpus cleaning without torch."""
from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CAPABILITIES = ("datamaps", "filters", "masking", "fewshot", "encoders", "budgets", "inference", "scale")
# One cap over every capability's __all__ together (0.1.0 exported 110 names); root re-exports are not counted again.
MAX_PUBLIC_NAMES = 60
# A capability's __init__ fits one screen.
MAX_INIT_LINES = 50


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # built from a copy of the sources, so that setuptools' build/ folder never lands in the repository
    source, folder = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for package in ("greennlp", *CAPABILITIES):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(folder), str(source)], check=True, capture_output=True)
    (path,) = folder.glob("greennlp-*.whl")
    return path


def test_wheel_installs_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"greennlp", wheel.name.split("-py")[0] + ".dist-info"}
    for capability in CAPABILITIES:
        assert f"greennlp/{capability}/__init__.py" in names
    assert "greennlp/py.typed" in names
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_bare_capability_names_are_not_importable_from_the_wheel(wheel, tmp_path):
    """Unpacked alone (no site-packages, outside the repository), the wheel gives ``greennlp`` and nothing else."""
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = (f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); import greennlp; print(greennlp.__version__)\n"
            "try:\n    import filters\nexcept ModuleNotFoundError:\n    print('no filters')\n")
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == [importlib.import_module("greennlp").__version__, "no", "filters"]


def test_public_api_is_small_and_every_name_resolves():
    total = 0
    for capability in CAPABILITIES:
        module = importlib.import_module(f"greennlp.{capability}")
        assert module.__all__ == sorted(module._EXPORTS), capability
        for name in module.__all__:
            assert getattr(module, name) is not None
        assert set(module.__all__) <= set(dir(module))
        total += len(module.__all__)
        lines = len(Path(module.__file__).read_text().splitlines())
        assert lines <= MAX_INIT_LINES, f"greennlp.{capability}.__init__ has {lines} lines"
    assert total <= MAX_PUBLIC_NAMES, f"{total} public names; the cap is {MAX_PUBLIC_NAMES}"
    import greennlp

    assert set(greennlp._EXPORTS) <= {name for c in CAPABILITIES
                                      for name in importlib.import_module(f"greennlp.{c}").__all__}

    assert greennlp.__all__ == ["__version__", *sorted(greennlp._EXPORTS)]
    assert greennlp.DataMap is importlib.import_module("greennlp.datamaps").DataMap
    with pytest.raises(AttributeError, match="no attribute 'atomic_write'"):
        importlib.import_module("greennlp.datamaps").atomic_write  # noqa: B018


def test_every_public_name_is_documented():
    """The API reference (``make docs``) renders each public name from its docstring: none may be missing, and a
    public function or class documents every parameter it takes by name in its docstring."""
    import inspect

    undocumented, unexplained = [], []
    for capability in CAPABILITIES:
        module = importlib.import_module(f"greennlp.{capability}")
        for name in module.__all__:
            obj = getattr(module, name)
            doc = inspect.getdoc(obj) or ""
            if len(doc) < 40:
                undocumented.append(f"greennlp.{capability}.{name}")
                continue
            target = obj.__init__ if inspect.isclass(obj) and "Parameters" not in doc else obj
            try:
                parameters = inspect.signature(target).parameters
            except (TypeError, ValueError):
                continue
            text = doc + (inspect.getdoc(target) or "")
            unexplained += [f"greennlp.{capability}.{name}({p})" for p in parameters
                            if p not in ("self", "args", "kwargs") and not p.startswith("_") and p not in text
                            and parameters[p].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
    assert not undocumented, f"public names without a docstring: {undocumented}"
    assert not unexplained, f"parameters the docstrings never name: {unexplained}"


def test_corpus_cleaning_imports_no_torch():
    code = ("import sys\nfrom greennlp.filters import QualityRule, annotate_quality, clean_corpus, default_rules\n"
            "default_rules(word_count={'min_words': 5})\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules)\n"
            "print(','.join(heavy) or 'none')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "none"


def test_importing_greennlp_imports_no_capability():
    code = "import sys, greennlp\nprint(sorted(m for m in sys.modules if m.startswith('greennlp')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['greennlp', 'greennlp._lazy']"
