# Two entry points: `make demo` (train, compile, export a GCN on Cora) and `make test`.
# Each creates or refreshes .venv. TORCH_SPEC picks the torch build: the default is the
# CPU wheel this project's machines carry; on a GPU machine use e.g. TORCH_SPEC="torch>=2.6".
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TRITON_SPEC ?= triton==3.8.0
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test venv clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" numpy
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Triton too, for the kernel tests that need no GPU (its interpreter, Inductor's write analysis);
# CUDA builds of torch bring their own.
$(VENV)/.test: $(VENV)/.core
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" torch_geometric pytest hypothesis pytest-xdist nvidia-pytriton matplotlib scipy pymetis faiss-cpu captum rdkit networkit trimesh gdist scikit-image numba ruff
	$(PY) -c "import triton" 2>/dev/null || $(PY) -m pip install --quiet "$(TRITON_SPEC)"
	touch $@

venv: $(VENV)/.core

demo: $(VENV)/.core
	$(PY) -m gnnx demo

test: $(VENV)/.test
	$(VENV)/bin/ruff check gnnx tests bench examples
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo_results.json
