#!/usr/bin/env bash
# Everything a fresh clone needs: the Python venv with the edgeai package, and the pinned tools.
# Idempotent and quick once done (pip and the tool builds are cached under ~/.cache).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python3}

if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
bash scripts/bootstrap-tools.sh

# Real engines that tests start on 127.0.0.1 with the configuration the charts render.
# From Debian; installed when missing and we may (root or passwordless sudo).
engines=(redis-server nginx curl)
missing=()
for pkg in "${engines[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if (( ${#missing[@]} )); then
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo -n"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || echo "warning: could not install ${missing[*]}; the tests that need them will fail in CI" >&2
fi
