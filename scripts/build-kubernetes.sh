#!/usr/bin/env bash
# Build the Kubernetes control-plane binaries (and kubectl) from k8s.io/kubernetes at a version.
# k8s.io/kubernetes points its staging modules (k8s.io/api, client-go, ...) at ./staging with
# replace directives, which `go install pkg@version` refuses; so we build through a small
# tools module that requires it and repeats those replaces at the matching v0.x tags.
# Usage: build-kubernetes.sh <version, e.g. v1.34.4> <output bin dir> [command...]
# (default commands: the control plane and kubectl; the kind node image adds kubelet, kubeadm, kube-proxy)
set -euo pipefail
version=$1 out=$2; shift 2
commands=("$@")
(( ${#commands[@]} )) || commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
staging_version="v0.${version#v1.}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"

gomod=$(go mod download -json "k8s.io/kubernetes@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
{
  echo "module edgeai.local/k8s-tools"
  echo
  grep '^go ' "$gomod"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$gomod" | grep -o '^\s*k8s.io/[a-z0-9-]*' \
    | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${commands[@]}"
  printf ')\n'
} > tools.go
GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
GOFLAGS=-mod=mod go mod download
mkdir -p "$out"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
for cmd in "${commands[@]}"; do
  echo "  building $cmd $version"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags tools -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
