# The two commands of the README:
#   make demo   set up, build the demo lake from sample data, then open Studio
#   make test   set up (packages, services, browser) and run the whole test suite
.PHONY: demo test setup lint bench

demo:
	./scripts/setup.sh all
	.venv/bin/mlake --home .mlake-demo demo --serve

test:
	./scripts/setup.sh dev
	./scripts/services.sh
	./scripts/browser.sh
	.venv/bin/python -m pytest -n 2

setup:
	./scripts/setup.sh dev

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/mypy

bench:
	.venv/bin/python -m benchmarks
