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
  scripts/phase.sh python-packages bash -c ".venv/bin/python -m pip install --quiet --upgrade pip &&
    .venv/bin/python -m pip install --quiet -e '.[dev,retrain]'"
  touch "$stamp"
fi
scripts/phase.sh container-engine bash scripts/container-engine.sh
scripts/phase.sh tools bash scripts/bootstrap-tools.sh

# Real engines that tests start on 127.0.0.1 with the configuration the charts render
# (Kafka and Siddhi from Maven Central, MLServer from PyPI, promtool from its Go module,
# redis-server and nginx from Debian).
scripts/phase.sh engines bash scripts/install-engines.sh

# The local site on kind (make up, tests/e2e): the kind node image (Kubernetes node binaries,
# control-plane images, CNI, storage) and every image of the `local` environment, built here.
scripts/phase.sh node-image bash scripts/build-node-image.sh
# ... and the local site's Git server, which its Argo CD pulls from (edgeai.gitops.gitserver).
scripts/phase.sh images bash -c ".venv/bin/edgeai images build --env local && .venv/bin/edgeai images build git-server"
