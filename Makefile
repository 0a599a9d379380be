# TicketDrop: `make run` starts everything, `make test` tests everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: venv run test unit integration e2e seed init-db sweep lint bench bench-waiting-room bench-edge bench-purchase drop drop-chaos drop-cluster clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

run: venv ## start embedded Redis + web + worker + scheduler on http://localhost:8080
	@$(PY) -m ticketdrop run

test: venv ## every test (integration tests skip without servers locally; CI=true makes them required)
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: venv
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)
e2e: venv ; $(PY) -m pytest tests/e2e $(PYTEST_ARGS) ## browser tests: real Chromium against web + worker + scheduler on real Redis

init-db: venv
	@$(PY) -m ticketdrop init-db

seed: venv
	@$(PY) -m ticketdrop seed

sweep: venv ## run one expiry & recovery sweep by hand
	@$(PY) -m ticketdrop sweep

drop: venv ## simulate a ticket drop (100,000 fans by default), check the invariants, write a report
	$(PY) -m bench.drop $(DROP_ARGS)

drop-chaos: venv ## the same drop while workers, web and Redis are killed and commands are duplicated
	$(PY) -m bench.drop --chaos $(DROP_ARGS)

# Needs root (network namespaces); its own nginx, PostgreSQL (initdb), Redis Cluster and RabbitMQ node.
drop-cluster: venv ## the drop with every process on its own host (network namespaces, 10,000 fans): nginx, 2 web, 2 workers, scheduler, data host (PostgreSQL, Redis Cluster, RabbitMQ)
	$(call ensure_deb,nginx,nginx)
	$(call ensure_deb,redis-server,redis-server)
	$(call ensure_deb,rabbitmq-server,rabbitmq-server)
	$(call ensure_deb,ip,iproute2)
	$(PY) -m bench.drop.hosts $(DROP_ARGS)

# Debian packages the benchmarks need; installed when missing and possible (root with apt), else the
# benchmark says it skipped the part that needs them.
define ensure_deb
	@command -v $(1) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -q $(2) >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(2) >/dev/null 2>&1)); } || true
endef

bench-waiting-room: venv ## waiting room: wrk req/s, p99 and CPU/request (web, Redis, wrk) and Redis commands/request of status, join and progress vs a trivial handler (1 and 2 processes), Redis bytes per fan, tick time
	$(call ensure_deb,wrk,wrk)
	$(PY) -m bench.waiting_room $(BENCH_ARGS)

bench-purchase: venv ## purchase funnel: paid orders/s, CPU ms, SQL and Redis per paid order, p50/p99 per step, oversell check
	$(PY) -m bench.purchase $(BENCH_ARGS)

bench-edge: venv ## nginx (deploy/nginx/ticketdrop.conf) in front of two web processes: how many polls reach the web tier
	$(call ensure_deb,nginx,nginx)
	$(PY) -m bench.edge $(BENCH_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/*.db var/*.db-* var/metrics .pytest_cache
