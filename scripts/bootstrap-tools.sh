#!/usr/bin/env bash
# Install the external tools pinned in scripts/tool-versions.env into the cache
# (~/.cache/edgeai/tools/<tool>/<version>/bin), unless PATH already has the pinned version.
# Idempotent: a cached build is reused, so repeated runs take a second.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tool-versions.env
source "$here/tool-versions.env"
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}

have_on_path() { # tool version-args... ; true when PATH has the pinned version
  local tool=$1 want=$2; shift 2
  command -v "$tool" >/dev/null 2>&1 && "$tool" "$@" 2>/dev/null | grep -q -- "${want#v}"
}

go_install() { # tool version module-path [ldflags]
  local tool=$1 version=$2 module=$3 ldflags=${4:-}
  local bin="$cache/tools/$tool/$version/bin"
  if [[ -x "$bin/$tool" ]]; then echo "$tool $version: cached ($bin/$tool)"; return; fi
  command -v go >/dev/null || { echo "error: go is required to build $tool $version" >&2; exit 1; }
  echo "$tool $version: building from its Go module (a few minutes, once)"
  mkdir -p "$bin.partial"
  GOBIN="$bin.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w $ldflags" "$module@$version"
  rm -rf "$bin" && mv "$bin.partial" "$bin"   # the cache holds whole builds only
}

if have_on_path helm "$HELM_VERSION" version --short; then
  echo "helm $HELM_VERSION: on PATH ($(command -v helm))"
else
  go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
fi

# kubeconform's CLI: the baseline `helm template | kubeconform` of scripts/bench_engine.py.
if have_on_path kubeconform "$KUBECONFORM_VERSION" -v; then
  echo "kubeconform $KUBECONFORM_VERSION: on PATH ($(command -v kubeconform))"
else
  go_install kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform \
    "-X main.version=$KUBECONFORM_VERSION"
fi

# kind, for the `kind` cluster provider (edgeai.cluster.kind finds it in the cache).
if have_on_path kind "$KIND_VERSION" version; then
  echo "kind $KIND_VERSION: on PATH ($(command -v kind))"
else
  go_install kind "$KIND_VERSION" sigs.k8s.io/kind
fi

# The local cluster's control plane: Kubernetes binaries, etcd and kwok (cached builds).
bash "$here/build-control-plane.sh"

# edgeai-engine (tools/engine): helm's and kubeconform's libraries in one process, for the gate.
bash "$here/build-engine.sh" >/dev/null
