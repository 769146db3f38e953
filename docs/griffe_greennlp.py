"""Griffe extension for the API reference (mkdocs.yml): attaches the capability folders to ``greennlp``.

The capability folders (datamaps/, filters/, ...) live at the repository's top level and install as
``greennlp.<capability>`` through setuptools' package-dir mapping, which griffe's static finder does not follow:
it only scans greennlp/. Once griffe has loaded ``greennlp``, this extension loads each capability from the folder
Python imports it from and attaches it as a submodule, so ``::: greennlp.<capability>`` and the aliases between
capabilities resolve. Not part of the package.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import griffe

# The capabilities that install as greennlp.<capability> (pyproject.toml, [tool.setuptools.package-dir]).
CAPABILITIES = ("datamaps", "filters", "masking", "fewshot", "encoders", "budgets", "inference", "scale")


class GreennlpCapabilities(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "greennlp":
            return
        for name in CAPABILITIES:
            if name in pkg.members and not pkg.members[name].is_alias:
                continue
            # where `import greennlp.<name>` finds it (the editable install's mapping, or site-packages);
            # finding the spec imports greennlp itself, which resolves its names lazily and stays cheap
            spec = importlib.util.find_spec(f"greennlp.{name}")
            if spec is None or spec.origin is None:
                raise ModuleNotFoundError(f"greennlp.{name}: install greennlp first (make docs does)")
            module = loader._load_module(name, Path(spec.origin), parent=pkg)  # loads its submodules too
            pkg.set_member(name, module)
        loader.expand_exports(pkg)
