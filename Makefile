# Two entry points for a fresh clone: `make demo` (the main job) and `make test`.
# Both create .venv and install skmnist with its extras, pinned through
# constraints.txt (torch==2.13.0: the CPU wheel on the project's machines).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skmnist-installed
MNIST_DIR ?= ../shared/data/mnist

.PHONY: demo test test-fast test-min lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,cli,onnx,dask]"
	touch $(STAMP)

# Train the default pipeline and report accuracy, fit time and device: on full
# MNIST when its IDX files are in $(MNIST_DIR), else on the embedded sample.
demo: $(STAMP)
	@if [ -f "$(MNIST_DIR)/train-images-idx3-ubyte.gz" ] || [ -f "$(MNIST_DIR)/train-images-idx3-ubyte" ]; then \
		$(BIN)/skmnist train --source idx --data-home "$(MNIST_DIR)"; \
	else \
		$(BIN)/skmnist train --source sample; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

# The suite less the tests marked slow (long fits, subprocesses, fuzzing).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The suite at the declared floors: a separate .venv-min (Python 3.11, the
# oldest the project supports) with every dependency and extra at the lowest
# version pyproject.toml allows, pinned by constraints-min.txt. Tests of
# features of newer releases skip there, naming the release they need.
PYTHON_MIN ?= python3.11
VENV_MIN ?= .venv-min
MIN_STAMP := $(VENV_MIN)/.skmnist-installed
$(MIN_STAMP): pyproject.toml constraints-min.txt
	$(PYTHON_MIN) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_MIN)/bin/python -m pip install --quiet -c constraints-min.txt -e ".[test,cli,onnx,dask]"
	touch $(MIN_STAMP)

# An extra that installs but cannot be imported would only make its tests
# skip (importorskip): the imports are checked first.
test-min: $(MIN_STAMP)
	$(VENV_MIN)/bin/python -m pip check
	$(VENV_MIN)/bin/python -c "import dask_ml.wrappers, distributed, skl2onnx, onnxruntime, PIL, tqdm, matplotlib, pandas, hypothesis"
	$(VENV_MIN)/bin/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check skmnist tests benchmarks examples
	$(BIN)/ruff format --check skmnist tests benchmarks examples docs

# Build the HTML documentation into docs/_build/html, warnings as errors. The
# gallery runs the examples in examples/ on the MNIST sample shipped with
# skmnist (offline). For a clean build: rm -rf docs/_build docs/auto_examples
# docs/generated docs/_generated
SPHINXOPTS ?= -W --keep-going
DOCS_BUILD ?= docs/_build

.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	$(BIN)/sphinx-build $(SPHINXOPTS) -b html docs $(DOCS_BUILD)/html

# The benchmark suite on full MNIST, results under benchmarks/results/: the
# CPU comparisons always, and the GPU check (benchmarks/gpu_check.py, into
# benchmarks/results/) when torch sees a CUDA device. The longer CPU runs
# (accuracy_recipe.py, batched_search.py, dask_incremental.py) are started
# one by one; see README.md. BENCH_TAG (e.g. _epyc) suffixes the CPU
# comparison's results files, to keep several machines' results side by side.
BENCH_TAG ?=
.PHONY: bench gpu-check-files
BENCH_STAMP := $(VENV)/.skmnist-bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/compare.py --repeats 5 --tag "$(BENCH_TAG)"
	$(BIN)/python benchmarks/cpu_efficiency.py --repeats 5 --tag "$(BENCH_TAG)"
	$(BIN)/python benchmarks/accuracy_defaults.py
	@if $(BIN)/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		$(BIN)/python benchmarks/gpu_check.py --data "$(MNIST_DIR)" --out benchmarks/results; \
	else \
		echo "No CUDA device: the GPU check (benchmarks/gpu_check.py) is skipped."; \
	fi

# For a GPU machine without network access: the MNIST files and the skorch
# wheels (pure Python) in two git-ignored folders of the checkout, to copy
# along with it. There: python3 benchmarks/gpu_check.py --data .gpu-data
# --wheels .gpu-wheels --out DIR (see docs/benchmarks.rst).
GPU_WHEELS ?= skorch==1.4.0 tabulate==0.10.0
gpu-check-files:
	mkdir -p .gpu-data .gpu-wheels
	cp -f "$(MNIST_DIR)"/*-ubyte.gz .gpu-data/
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: -d .gpu-wheels $(GPU_WHEELS)

clean:
	rm -rf $(VENV) $(VENV_MIN) build *.egg-info .pytest_cache $(DOCS_BUILD) docs/auto_examples docs/generated docs/_generated
