# Minyi: `make demo` runs the main job, `make test` the test suite; both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
APT_PACKAGES := espeak-ng sox poppler-utils fonts-wqy-microhei chromium

.PHONY: demo test lint typecheck bench system-deps postgres clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/minyi demo --out demo

# Debian packages the tests use (speech synthesis, audio checks, PDF rendering, CJK font, browser).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (tests that need them will skip and say so)"; fi; \
	fi

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect 15 main start || true

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy survey dialer calls office ivr analysis reports jobs web minyi lint

test: $(STAMP) system-deps postgres lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP) system-deps postgres
	$(BIN)/python -m bench

clean:
	rm -rf demo .pytest_cache .mypy_cache .ruff_cache
