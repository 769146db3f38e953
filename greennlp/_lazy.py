"""Lazy package exports (PEP 562): a package's public names resolve on first use, so importing one capability,
or the cheap half of one (corpus cleaning needs no torch), does not import everything. Hand-written because it
is fifteen lines; ``lazy_loader`` (scientific Python) does the same for packages that want a dependency."""
from __future__ import annotations

import importlib
from collections.abc import Callable


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` given ``{public name: module it lives in}`` (a module
    name relative to ``package``, e.g. ``".datamap"``)."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # resolve once
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
