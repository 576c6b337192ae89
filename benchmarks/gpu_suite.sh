#!/usr/bin/env bash
# The GPU half of the benchmark suite in one command, for a machine with a
# CUDA GPU on which skmnist's dependencies and its bench extra are importable
# (`make bench` runs it with the project's virtual environment; elsewhere set
# PYTHON). This checkout's skmnist is used, installed or not.
# Full MNIST is read from $SKMNIST_DATA/mnist or ../shared/data/mnist.
# Results, naming the GPU, are written to benchmarks/results/.
#
# What it runs, with rough H100/H200 times:
#   gpu.py                   fit time (default and large-batch), skorch ratio,
#                            predict_proba throughput (about 2 minutes)
#   compare.py --device cuda the four contenders on the GPU (about 3 minutes)
#   accuracy_augment.py      augment=True, 1024-512, 50 epochs, 3 seeds
#   accuracy_recipe.py       the high-accuracy recipe, 3 seeds (the longest;
#                            SKIP_RECIPE=1 leaves it out)
set -euo pipefail
PYTHON=${PYTHON:-python3}
case $PYTHON in */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;; esac
cd "$(dirname "$0")"
export PYTHONPATH="$(cd .. && pwd)${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import torch, sklearn, skmnist" || {
    echo "$PYTHON cannot import torch, scikit-learn and skmnist." >&2
    exit 1
}
if ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        echo "nvidia-smi sees a GPU but $PYTHON's torch has no CUDA (a CPU build?):" \
            "install a CUDA build of torch or set PYTHON." >&2
        exit 1
    fi
    echo "No CUDA device: GPU benchmarks skipped."
    exit 0
fi
"$PYTHON" gpu.py
"$PYTHON" compare.py --device cuda --repeats 3
"$PYTHON" accuracy_augment.py --device cuda --hidden 1024,512 --epochs 50
if [ -z "${SKIP_RECIPE:-}" ]; then
    "$PYTHON" accuracy_recipe.py --device cuda
fi
