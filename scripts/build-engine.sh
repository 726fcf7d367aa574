#!/usr/bin/env bash
# Build tools/engine (edgeai-engine: helm's library + kubeconform's validator behind a JSON-lines
# pipe) into ~/.cache/edgeai/tools/engine/<key>/bin/edgeai-engine, where <key> is a hash of the
# engine's sources, go.mod and go.sum; a build already in the cache is reused.
# edgeai.tools.engine_path() computes the same key: keep the two in step.
# Prints the binary's path on its last line.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/tools/engine
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}

# key: sha256 of "<sha256>  <file>" lines (sha256sum's format) for *.go, go.mod, go.sum in C order
key=$(cd "$src" && find . -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -printf '%f\n' \
      | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
dir=$cache/tools/engine/$key
bin=$dir/bin/edgeai-engine
if [[ -x $bin ]]; then
  echo "edgeai-engine $key: cached" >&2
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build edgeai-engine" >&2; exit 1; }
echo "edgeai-engine $key: building tools/engine (a few minutes the first time)" >&2
mkdir -p "$dir"
partial=$(mktemp -d "$dir/bin.partial.XXXXXX") && chmod 755 "$partial"
(cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags "-s -w" \
  -o "$partial/edgeai-engine" .) || { rm -rf "$partial"; exit 1; }
# The cache holds whole builds only; when a concurrent build got there first, keep its.
mv -T "$partial" "$dir/bin" 2>/dev/null || rm -rf "$partial"
echo "$bin"
