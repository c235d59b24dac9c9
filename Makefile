# The README's two commands: `make demo` (main job) and `make test` (the test suite). Both run the setup
# first, which is idempotent: it installs the apt packages for headless rendering if missing, and creates
# .venv/ with the project (editable) if missing.
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/twist demo

test: setup
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check twist_envs twist_agents wrappers

bench: setup
	.venv/bin/python benchmarks/envs.py
