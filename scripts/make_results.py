"""`make results`: rewrite every results table and inline figure of README.md and docs/ from the raw results in
docs/results/, in place, between marker comments:

    <!-- results:cartography.sst2_10k -->        a table (the generated text has several lines)
    ...
    <!-- /results -->
    ambiguous is <!-- results:cartography.ambiguous_vs_random -->+0.3 [−0.1, +0.7]<!-- /results --> points

Each name is a function of a module in scripts/results_pages/ (its FIGURES dict, names prefixed with the module's
name). A marker whose name has no function, or a function that no doc places, is an error: nothing is
generated that no one reads, and nothing is read that nothing generates.

    python scripts/make_results.py            # rewrite the docs
    python scripts/make_results.py --check    # exit 1, naming the files, when a doc differs from what it would write
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

MARKER = re.compile(r"<!-- results:(?P<name>[\w.\-]+) -->(?P<body>.*?)<!-- /results -->", re.DOTALL)


def figures() -> dict[str, Callable[[], str]]:
    """Every generator: ``page.name`` -> function returning Markdown, from the modules of scripts/results_pages/."""
    found = {}
    for path in sorted((REPO / "scripts" / "results_pages").glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(f"results_pages.{path.stem}")
        for name, function in module.FIGURES.items():
            found[f"{path.stem}.{name}"] = function
    return found


def documents(root: Path = REPO) -> list[Path]:
    """The files that may hold markers: README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def render(text: str, generators: dict[str, Callable[[], str]], cache: dict[str, str], where: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in generators:
            raise SystemExit(f"{where}: no generator for <!-- results:{name} -->; the generators are in "
                             "scripts/results_pages/ (FIGURES of each module, named page.figure).")
        if name not in cache:
            cache[name] = generators[name]().strip("\n")
        body = cache[name]
        if "\n" in body or "\n" in match.group("body"):
            body = f"\n{body}\n"
        return f"<!-- results:{name} -->{body}<!-- /results -->"

    return MARKER.sub(replace, text)


def _write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a doc is out of date")
    args = parser.parse_args(argv)
    generators = figures()
    cache: dict[str, str] = {}
    stale = []
    for path in documents():
        old = path.read_text(encoding="utf-8")
        new = render(old, generators, cache, str(path.relative_to(REPO)))
        if new != old:
            stale.append(str(path.relative_to(REPO)))
            if not args.check:
                _write(path, new)
    unused = sorted(set(generators) - set(cache))
    if unused:
        print(f"generators that no doc places (add a marker or remove them): {unused}", file=sys.stderr)
        return 1
    if stale:
        verb = "out of date (run `make results` and commit what it writes)" if args.check else "rewritten"
        print(f"{verb}: {', '.join(stale)}", file=sys.stderr if args.check else sys.stdout)
        return 1 if args.check else 0
    print(f"{len(cache)} results in {len(documents())} files are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
