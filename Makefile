# One-command set-up: `make demo` and `make test` install what they need on a fresh clone
# (.venv from pyproject.toml pinned by constraints.txt, node_modules from package-lock.json),
# setuptools too (pinned: the venv's own builds the mypyc modules and reads pyproject.toml's
# SPDX licence, which setuptools before 77 refuses and the build's own warns about as a table),
# compile the contracts with the npm solc package, then run. Re-running is quick: each step
# is a stamp file that only redoes its work when its inputs change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOL := $(shell find contracts -name '*.sol' 2>/dev/null)

.PHONY: setup browser compile test check lint format demo devnet bench clean

setup: $(VENV)/.installed node_modules/.installed artifacts/.compiled build/.mypyc

# The web page's tests drive Debian's chromium through Playwright (never `playwright install`:
# no browser download). Installed from the distribution's registry when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

# The editable install maps the one package, sdex, by an import finder (flat layout: only sdex is
# importable, not tests/ or bench/ beside it, as a path entry for the whole tree would make
# them), and setuptools says so on every install with an "Editable installation" warning for
# information only ("folders ... with the same name as your package may take precedence"),
# which pip 26 shows through --quiet: wallet69, `make demo` began with it. That warning
# alone is filtered, by its words; any other the build gives is shown.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt setuptools wheel
	PYTHONWARNINGS='ignore:Editable installation' \
		$(BIN)/python -m pip install --quiet -c constraints.txt --build-constraint constraints.txt \
		-e '.[dev]'
	touch $@

# The book and the matching engine compiled by mypyc from their Python source, in place
# (sdex/book/native.py: a build older than its sources or than the modules they import,
# NATIVE_DEPS, is never used; SDEX_PURE=1 skips it).
NATIVE_DEPS := sdex/order.py sdex/signature.py sdex/orderparse.py sdex/typeddata.py sdex/keccak.py sdex/fillmath.py \
	sdex/model.py sdex/errors.py
build/.mypyc: $(VENV)/.installed $(wildcard sdex/book/*.py sdex/matching/*.py) $(NATIVE_DEPS)
	@echo "compiling the order book and matching engine with mypyc (quiet for 1-2 min, more on a busy machine)"
	SDEX_PURE=1 $(BIN)/python -m sdex.book.nativebuild
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Quiet unless it fails (ux51: `make demo` printed hardhat's "Compiled 47 Solidity files
# successfully" despite --quiet, and solc's warning on OpenZeppelin's transient storage, which
# the Exchange means: its reentrancy guard clears it); on a failure all of it is shown.
artifacts/.compiled: node_modules/.installed hardhat.config.js $(SOL)
	@echo "compiling the contracts (solc from npm)"
	@out=$$(npx --no-install hardhat compile --quiet 2>&1) || { printf '%s\n' "$$out" >&2; exit 1; }
	@touch $@

compile: artifacts/.compiled

# The suite runs on three workers (pytest-xdist): most of its time is waiting on processes, a
# chain and timers, so three parts overlap on CI's 2 cores (measured on 2 cores, quiet: 522 s
# of pytest on two workers, 401 s on three; every test passed both ways). Each worker has its
# own Hardhat (the session fixture), ports (free ones) and tmp_path; `worksteal` evens out the
# tail. `make test PYTEST_WORKERS=2` as before, `PYTEST_WORKERS=0` in one process. The 30 slowest
# tests are listed at the end (`--durations`): where the suite's time goes, on CI's own cores.
PYTEST_WORKERS ?= 3
# Each `sdex node` a test starts imports ~100 modules: compiled once here, they are read from
# __pycache__ (PYTHONDONTWRITEBYTECODE, set on some machines, stops imports writing them).
PYTEST := $(BIN)/python -m compileall -q sdex && $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal --durations=30

test: setup browser
	$(PYTEST)

check: setup browser
	$(BIN)/ruff check sdex tests bench
	$(BIN)/ruff format --check sdex tests bench
	$(BIN)/mypy
	$(PYTEST)

lint: setup
	$(BIN)/ruff check sdex tests bench
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format sdex tests bench
	$(BIN)/ruff check --fix sdex tests bench

demo: setup
	$(BIN)/sdex demo $(if $(KEEP),--keep)

devnet: setup
	$(BIN)/sdex devnet

bench: setup
	$(BIN)/python bench/gas.py --write docs/BENCHMARKS.md

clean:
	rm -rf artifacts cache build .pytest_cache .mypy_cache .ruff_cache
	rm -f sdex/*.so sdex/book/*.so sdex/matching/*.so
