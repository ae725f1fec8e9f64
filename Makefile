# Herald: `make run` serves the demo on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: help install browser nftables mailservers run test lint bench screenshots migration clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Herald with its test tools

PORT ?= 8000

run: install  ## migrate, load the demo directory, serve on 127.0.0.1:$(PORT) (make run PORT=8123; mail to ./var/outbox)
	mkdir -p var/outbox
	$(BIN)/herald migrate
	$(BIN)/herald demo --port $(PORT)
	$(BIN)/herald serve --host 127.0.0.1 --port $(PORT)

browser:  ## Debian's Chromium for the console's browser tests (needs root, as on these machines)
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

nftables:  ## nftables, with which the tests cut the database off the network (needs root)
	@command -v nft >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables)

mailservers:  ## Debian's Postfix and Dovecot for the bounce tests (needs root); their system services stay off
	@command -v postfix >/dev/null && command -v dovecot >/dev/null || ( \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix dovecot-imapd >/dev/null)

# Defined before the rules that name it: make expands a rule's prerequisites as it reads them.
JSCHECKS := node_modules/.installed

$(JSCHECKS): package.json  # from npm: tsc and eslint for the console's JavaScript, the tests' OpenID provider
	npm install --silent --no-audit --no-fund
	touch $(JSCHECKS)

$(AXE):  # axe-core from npm, injected by the console's accessibility tests
	npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@4.14.1

test: install browser nftables mailservers $(AXE) $(JSCHECKS)  ## the whole test suite (PostgreSQL too when HERALD_TEST_DATABASE_URL is set)
	$(BIN)/pytest

lint: install $(JSCHECKS)  ## ruff, mypy --strict, the import layers; tsc and eslint on the console
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@n=$$(grep -rn 'type: ignore' src | wc -l); test $$n -le 8 || (echo "$$n '# type: ignore' in src (at most 8: type it instead)"; false)
	node_modules/.bin/tsc -p tsconfig.json
	node_modules/.bin/eslint src/herald/web/static

bench: install  ## API and delivery benchmarks (see bench/README.md); not part of `make test`
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/delivery_bench.py

screenshots: install browser $(AXE)  ## refresh docs/screenshots/ from the console's browser tests
	HERALD_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/web

migration: install  ## write a new Alembic migration from models.py: make migration m="what changed"
	rm -f var/migration.db
	HERALD_DATABASE_URL=sqlite:///var/migration.db $(BIN)/herald migrate
	$(BIN)/python -c 'from herald.migrations.runner import make_revision; make_revision("sqlite:///var/migration.db", "$(m)")'

clean:  ## remove the environment and local data
	rm -rf $(VENV) var node_modules
