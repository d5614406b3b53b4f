# The two commands of the README: `make run` and `make test`.
PYTHON := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test bench bench-eval bench-reports fuzz setup train lock clean

## run: set up, train the demo model if models/ has none, start on SQLite
run: setup
	$(PYTHON) -m bot train --if-missing
	$(PYTHON) -m bot run

## test: set up (and Debian's chromium for the browser tests), then the whole suite
test: setup
	scripts/ensure-chromium.sh
	$(PYTHON) -m pytest -n 2 --dist loadfile

setup:
	scripts/bootstrap.sh

train: setup
	$(PYTHON) -m bot train

## bench: our service against bare `rasa run`, scaling on PostgreSQL + Redis (its section of bench/results.md)
bench: setup
	$(PYTHON) -m bench.run

## bench-eval: NLU pipelines measured with `bot eval` on HWU64 (people's messages, intents held out as unknown,
## 5 seeds), then on 15,000 templated examples of 150 intents (bench/eval_results.md)
bench-eval: setup
	$(PYTHON) -m bench.eval_scale --hwu64
	$(PYTHON) -m bench.eval_scale

## bench-reports: the Reports' figures over 1,000,000 messages in 100,000 conversations on PostgreSQL (its section of bench/results.md)
bench-reports: setup
	$(PYTHON) -m bench.reports

## fuzz: 10,000 generated hostile bodies to each webhook and WebSocket of a running service; fails on any 5xx or crash
fuzz: setup
	$(PYTHON) -m bench.fuzz

## lock: re-resolve requirements.in together with rasa and pin the result
lock:
	.venv/bin/uv pip compile --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
		requirements.in -o requirements.lock

clean:
	rm -rf var .cache .pytest_cache
