#!/usr/bin/env bash
# Build the binaries of the `local` cluster provider (edgeai cluster up --provider local) into the
# cache, at the versions pinned in scripts/tool-versions.env:
#   ~/.cache/edgeai/tools/kubernetes/<v>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
#   ~/.cache/edgeai/tools/etcd/<v>/bin/etcd
#   ~/.cache/edgeai/tools/kwok/<v>/bin/kwok
# Each is built into <dir>.partial and renamed when complete, so the cache holds whole builds only
# and an interrupted build is simply redone. Cached builds are reused: a second run takes a second.
# Cold: Kubernetes ~15 min, etcd ~2 min, kwok ~3 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tool-versions.env
source "$here/tool-versions.env"
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}
command -v go >/dev/null || { echo "error: go is required to build the local control plane" >&2; exit 1; }

cached() { # tool version binaries... ; true when every binary is in the cache
  local bin="$cache/tools/$1/$2/bin"; shift 2
  for b in "$@"; do [[ -x "$bin/$b" ]] || return 1; done
}

finish() { # tool version ; move the complete .partial build into place
  local bin="$cache/tools/$1/$2/bin"
  rm -rf "$bin" && mv "$bin.partial" "$bin"
  echo "$1 $2: built ($bin)"
}

# Kubernetes: scripts/build-kubernetes.sh knows how to get around k8s.io/kubernetes' staging replaces.
if cached kubernetes "$KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler kubectl; then
  echo "kubernetes $KUBERNETES_VERSION: cached"
else
  echo "kubernetes $KUBERNETES_VERSION: building (about 15 minutes, once)"
  bin="$cache/tools/kubernetes/$KUBERNETES_VERSION/bin"
  rm -rf "$bin.partial"
  bash "$here/build-kubernetes.sh" "$KUBERNETES_VERSION" "$bin.partial"
  finish kubernetes "$KUBERNETES_VERSION"
fi

# The kind node image's binaries (edgeai.cluster.nodeimage): kubelet, kubeadm, kube-proxy. Built
# apart from the control plane so the `local` provider never waits for them; the Go build cache
# they share with it makes this the shorter build.
if [[ ${EDGEAI_NODE_BINARIES:-} == 1 ]]; then
  if cached kubernetes-node "$KUBERNETES_VERSION" kubelet kubeadm kube-proxy; then
    echo "kubernetes-node $KUBERNETES_VERSION: cached"
  else
    echo "kubernetes-node $KUBERNETES_VERSION: building kubelet, kubeadm, kube-proxy (once)"
    bin="$cache/tools/kubernetes-node/$KUBERNETES_VERSION/bin"
    rm -rf "$bin.partial"
    bash "$here/build-kubernetes.sh" "$KUBERNETES_VERSION" "$bin.partial" kubelet kubeadm kube-proxy
    finish kubernetes-node "$KUBERNETES_VERSION"
  fi
fi

# etcd: the server's main package is go.etcd.io/etcd/server/v3 itself, but that module's go.mod
# replaces its sibling modules with ../ paths, which `go install pkg@version` refuses. Replaces of
# a dependency are ignored, so a throwaway module that requires it builds it from the released
# modules (api, client, pkg at the same tag, as the server's go.mod requires them).
if cached etcd "$ETCD_VERSION" etcd; then
  echo "etcd $ETCD_VERSION: cached"
else
  echo "etcd $ETCD_VERSION: building from its Go module (a few minutes, once)"
  bin="$cache/tools/etcd/$ETCD_VERSION/bin"
  rm -rf "$bin.partial" && mkdir -p "$bin.partial"
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    printf 'module edgeai.local/etcd-build\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags tools -ldflags "-s -w" \
      -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3
  )
  finish etcd "$ETCD_VERSION"
fi

# kwok: an ordinary module without replaces; go install works as is.
if cached kwok "$KWOK_VERSION" kwok; then
  echo "kwok $KWOK_VERSION: cached"
else
  echo "kwok $KWOK_VERSION: building from its Go module (a few minutes, once)"
  bin="$cache/tools/kwok/$KWOK_VERSION/bin"
  rm -rf "$bin.partial" && mkdir -p "$bin.partial"
  GOBIN="$bin.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  finish kwok "$KWOK_VERSION"
fi
