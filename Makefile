# TicketDrop: `make run` starts everything, `make test` tests everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: venv run test unit integration e2e seed init-db sweep lint bench bench-waiting-room bench-reserve bench-purchase drop drop-chaos clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

run: venv ## start embedded Redis + web + worker + scheduler on http://localhost:8080
	@$(PY) -m models.cli run

test: venv ## every test (integration tests skip without servers locally; CI=true makes them required)
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: venv
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)
e2e: venv ; $(PY) -m pytest tests/e2e $(PYTEST_ARGS) ## browser tests: real Chromium against web + worker + scheduler on real Redis

init-db: venv
	@$(PY) -m models.cli init-db

seed: venv
	@$(PY) -m models.cli seed

sweep: venv ## run one expiry & recovery sweep by hand
	@$(PY) -m models.cli sweep

drop: venv ## simulate a ticket drop (100,000 fans by default), check the invariants, write a report
	$(PY) -m bench.drop $(DROP_ARGS)

drop-chaos: venv ## the same drop while workers, web and Redis are killed and commands are duplicated
	$(PY) -m bench.drop --chaos $(DROP_ARGS)

bench-waiting-room: venv ## waiting room: join/s and status/s vs a trivial handler, Redis bytes per fan, tick time
	$(PY) -m bench.waiting_room $(BENCH_ARGS)

bench-purchase: venv ## purchase funnel: paid orders/s, CPU ms, SQL and Redis per paid order, p50/p99 per step, oversell check
	$(PY) -m bench.purchase $(BENCH_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/*.db var/*.db-* var/metrics .pytest_cache
