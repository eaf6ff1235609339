# hts-realtime: `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR := hts_realtime/static/vendor/socket.io.min.js

.PHONY: run test lint bench install clean

install: $(STAMP) $(NODE_STAMP) $(VENDOR)

$(STAMP): setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# the dashboard's socket.io-client comes from npm at build time, served locally
$(VENDOR): $(NODE_STAMP)
	mkdir -p $(dir $@)
	cp node_modules/socket.io-client/dist/socket.io.min.js $@

run: $(STAMP) $(VENDOR)
	$(VENV)/bin/hts-realtime serve --demo

test: $(STAMP) $(NODE_STAMP) $(VENDOR)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check hts_realtime clients tests bench
	$(VENV)/bin/mypy hts_realtime clients bench

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules *.egg-info .pytest_cache .mypy_cache .ruff_cache
