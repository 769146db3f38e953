"""Execute notebooks headless, top to bottom, with nbclient; fail on the first cell error.

    python scripts/run_notebooks.py notebooks                  # every notebook in the folder
    python scripts/run_notebooks.py notebooks/01_data_maps.ipynb

Notebooks run from the repository root (so paths like runs/... land there) and are not rewritten: outputs
stay out of the repository. Pass --save-to DIR to keep executed copies.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--save-to", help="folder for executed copies")
    args = parser.parse_args(argv)
    notebooks = []
    for path in map(Path, args.paths):
        notebooks += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    for notebook_path in notebooks:
        started = time.perf_counter()
        notebook = nbformat.read(notebook_path, as_version=4)
        NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(REPO)}}).execute()
        print(f"ok  {notebook_path}  ({time.perf_counter() - started:.0f}s)", flush=True)
        if args.save_to:
            Path(args.save_to).mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, Path(args.save_to) / notebook_path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
