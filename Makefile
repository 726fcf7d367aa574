# The two commands of the README. Everything else is a detail of these.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= local
SITE ?= local

help:
	@echo "make up     set up, validate the '$(ENV)' environment and deploy site $(SITE) to a local cluster"
	@echo "make test   set up, then run every test"

setup:
	@bash scripts/setup.sh

up: setup
	.venv/bin/edgeai validate --env $(ENV)
	.venv/bin/edgeai up --env $(ENV) --site $(SITE)

test: setup
	@scripts/phase.sh lint .venv/bin/ruff check .
	@scripts/phase.sh tests .venv/bin/pytest --durations=15

.PHONY: help setup up test
