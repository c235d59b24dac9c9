#!/usr/bin/env bash
# Idempotent setup: apt packages for headless rendering/USB, then .venv/ with the project (editable).
# Re-running it reuses what is already there. Called by `make setup` (and so by `make demo` / `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libosmesa6 libusb-1.0-0"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[setup] installing apt packages:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.twist-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # torch first, from pip, pinned: this resolves to the local CPU wheel instead of a multi-GB CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev,real,ray]"
  touch "$stamp"
fi
# franky-sim (the libfranka-protocol simulator the hardware tests drive franky against) lives in its own
# venv: it must not move the project's mujoco pin.
if [ ! -x .venv-franky-sim/bin/franky-sim ]; then
  echo "[setup] creating .venv-franky-sim"
  "$PY" -m venv .venv-franky-sim
  .venv-franky-sim/bin/pip install -q "franky-sim==1.0.4" || echo "[setup] WARNING: franky-sim failed to install"
fi
echo "[setup] ready: .venv/bin/python"
