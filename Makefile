# One entry point per job; each sets itself up first (a virtual environment in .venv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser run test nightly bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[torch,test,dask,onnx]'
	touch $(STAMP)

setup: $(STAMP) browser

## Debian's chromium: the HTML report's browser test (tests/test_html.py) renders pages in it.
## Installed with apt-get when missing (root, as CI runs); elsewhere a note says how.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	    echo "note: could not install chromium (tests/test_html.py will say so)"; \
	  else echo "note: no chromium: install Debian's chromium package for tests/test_html.py"; fi; }

## The main job: simulate the built-in Cityscapes ItNet on an IPU-M2000.
run: $(STAMP)
	$(BIN)/mpsim run --profile ipu_m2000

## The default test suite (what CI runs).
test: $(STAMP) browser
	$(BIN)/pytest -q -p no:cacheprovider

## Slower, deeper checks.
nightly: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m slow

## Every benchmark; results under benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
