# `make run`: install what is missing, migrate, seed, serve web + Celery worker + beat.
# `make test`: install the same way and run the whole test suite.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
# What WeasyPrint needs for fast Chinese PDFs (HarfBuzz subsetting, a CJK font, and
# HanaMin for the rare characters of extension B and beyond that Noto CJK lacks).
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-hanazono fontconfig
# What the tests need besides: throwaway PostgreSQL and Redis, a browser, poppler, and a
# Java runtime for the Nu HTML Checker (vnu.jar).
TEST_PACKAGES := $(RUN_PACKAGES) postgresql redis-server chromium poppler-utils default-jre-headless
# npm fetches axe-core and vnu-jar for the accessibility and HTML checks; Debian's packages unless an npm is
# already on the PATH (NodeSource's nodejs ships its own npm and conflicts with Debian's).
NODE_PACKAGES := nodejs npm

.PHONY: run test deps deps-dev system-run system-test system-node axe fonts translations messages migrate seed doctor bench reliability audit clean

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing system packages (run as root or install them):$$missing" >&2; fi; \
	fi
endef

$(BIN)/python:
	$(PY) -m venv $(VENV)

# requirements.txt: what production runs (run, migrate, seed, doctor). requirements-dev.txt:
# that plus the test, benchmark and lint tools (test, bench, reliability, audit).
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

deps: $(VENV)/.installed

deps-dev: $(VENV)/.installed-dev

system-run:
	$(call apt_install,$(RUN_PACKAGES))

# OpenJDK's install script links its manual pages into /usr/share/man/man1, which Debian's
# slim images leave out: without the folder default-jre-headless fails to configure.
system-test:
	@if [ "$$(id -u)" = 0 ]; then mkdir -p /usr/share/man/man1; fi
	$(call apt_install,$(TEST_PACKAGES))

# axe-core for tests/browser/test_accessibility.py and the Nu HTML Checker for
# tests/browser/test_valid_html.py, at the versions package-lock.json pins, fetched from the
# npm registry rather than copied into the repository. Without vnu-jar's install script,
# which would download a Java of its own: the checker runs on Debian's (TEST_PACKAGES).
AXE := node_modules/axe-core/axe.min.js
VNU := node_modules/vnu-jar/build/dist/vnu.jar

system-node:
ifeq ($(shell command -v npm),)
	$(call apt_install,$(NODE_PACKAGES))
endif

$(AXE) $(VNU) &: package.json package-lock.json | system-node
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(AXE) $(VNU)

axe: $(AXE) $(VNU)

# The certificate's fonts: GB 2312 subsets of Noto Serif CJK SC, cut from the Debian font
# (rating/platform/fonts.py says why); under half a minute, once per checkout, and again when the
# certificate's text changes (it orders their glyphs).
FONTS_STAMP := static/fonts/.built

$(FONTS_STAMP): rating/platform/fonts.py templates/certificates/certificate.html | $(VENV)/.installed
	rm -f static/fonts/*.otf static/fonts/*.ttf
	$(BIN)/python -m rating.platform.fonts static/fonts
	touch $@

fonts: $(FONTS_STAMP)

translations: deps
	@$(BIN)/pybabel compile -q -d rating/translations 2>/dev/null || $(BIN)/pybabel compile -d rating/translations

# After changing user-facing strings: refresh the English catalog, then translate what is new.
messages: deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext --no-location --sort-output -o /tmp/rating-messages.pot .
	$(BIN)/pybabel update -i /tmp/rating-messages.pot -d rating/translations --no-fuzzy-matching --width 10000

migrate: deps
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) demo seed

# Every process gets the address of the port the web process serves (honcho gives each
# process a PORT of its own), development mode (admins read the caught mail at /dev/mail),
# and the Procfile's local mail catcher as its mail server unless MAIL_SERVER is given.
run: system-run deps fonts translations seed
	PORT="$${PORT:-5000}"; PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://127.0.0.1:$$PORT}" \
	  RATING_ENV="$${RATING_ENV:-development}" PORT="$$PORT" exec $(BIN)/honcho -f Procfile start

doctor: deps fonts
	$(FLASK) doctor

# Two test processes (pytest-xdist; each starts its own PostgreSQL, Redis and SMTP server):
# most tests wait on a worker, a browser or a server, so two share these 2 cores well.
# Work stealing keeps both busy to the end. TEST_PROCESSES=0 runs them in this process.
TEST_PROCESSES ?= 2

test: system-test deps-dev fonts translations axe
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist worksteal

bench: system-test deps-dev fonts translations
	$(BIN)/python -m bench

# docs/reliability.md, re-measured: the fault, fuzzing and upload tests, then the long
# fault scenarios and the deadline-day replay (about an hour in all).
reliability: system-test deps-dev fonts translations
	$(BIN)/python -m pytest -q tests/platform/test_faults.py tests/filing/test_hostile_uploads.py \
	  tests/fuzz tests/security/test_access_matrix.py tests/security/test_access_matrix_more.py \
	  tests/accounts/test_account_security.py tests/accounts/test_login_limits.py
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.deadline --scale

# Known vulnerabilities in the pinned requirements (pip-audit, in a venv of its own, needs
# PyPI's advisory data) and bandit over our code (also a unit test). docs/reliability.md.
# Production's pins first (what matters), then the test tools' (pip-audit --no-deps reads
# only requirements-dev.txt's own pins, not the file it includes).
audit: deps-dev
	$(BIN)/bandit -q -r rating workers forms wsgi.py
	test -x .venv-audit/bin/pip-audit || { $(PY) -m venv .venv-audit && .venv-audit/bin/pip install -q pip-audit==2.10.1; }
	.venv-audit/bin/pip-audit --progress-spinner off --no-deps --disable-pip -r requirements.txt
	.venv-audit/bin/pip-audit --progress-spinner off --no-deps --disable-pip -r requirements-dev.txt

clean:
	rm -rf $(VENV) .venv-audit instance .pytest_cache
