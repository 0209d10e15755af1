# One entry point per job; each sets itself up first (a virtual environment in .venv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test nightly bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[torch,test,dask,onnx]'
	touch $(STAMP)

setup: $(STAMP)

## The main job: simulate the built-in Cityscapes ItNet on an IPU-M2000.
run: $(STAMP)
	$(BIN)/mpsim run --profile ipu_m2000

## The default test suite (what CI runs).
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

## Slower, deeper checks.
nightly: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m slow

## Every benchmark; results under benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
