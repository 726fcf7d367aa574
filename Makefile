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
	.venv/bin/ruff check .
	.venv/bin/pytest

.PHONY: help setup up test
