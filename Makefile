# hts-realtime: `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR := hts_realtime/static/vendor/socket.io.min.js

.PHONY: run test test-fast lint bench install clean vendor

install: $(STAMP) $(NODE_STAMP)

# constraints.txt pins what setup.cfg only bounds below: every checkout gets the tested set
$(STAMP): setup.cfg setup.py pyproject.toml clients/python/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -c constraints.txt --config-settings editable_mode=compat -e '.[test]'
	$(PY) -m pip install -qq -c constraints.txt --config-settings editable_mode=compat -e clients/python
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The dashboard's socket.io-client build is committed (so a wheel from a clean clone
# has it) and refreshed from the npm pin here; tests/test_packaging.py checks they match.
vendor: $(NODE_STAMP)
	mkdir -p $(dir $(VENDOR))
	cp node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)
	cp node_modules/socket.io-client/LICENSE $(dir $(VENDOR))socket.io.LICENSE

# the Node pieces too: the README's next command is `node clients/js/bot.mjs`
run: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/hts-realtime serve --demo

# Three workers, one test file each at a time (module fixtures stay whole): most of a
# test's time is waiting on real servers, clients and the network, not CPU, so this
# takes the suite from ~8 to ~3 minutes on 2 cores. TEST_WORKERS=0 runs it serially.
TEST_WORKERS ?= 3
test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The inner loop: domain, components and in-memory port contracts, no server (< 1 min).
test-fast: $(STAMP)
	$(PY) -m pytest -m fast -q

lint: $(STAMP)
	$(VENV)/bin/ruff check hts_realtime clients tests bench
	$(VENV)/bin/mypy hts_realtime clients bench --exclude clients/python
	$(VENV)/bin/mypy -p hts_client

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules *.egg-info .pytest_cache .mypy_cache .ruff_cache
