#!/usr/bin/env bash
# Independent scanners over every rendered site: checkov (PyPI), kube-score and trivy (Go modules).
#
#   scripts/scan-rendered.sh install        # only install the scanners (cached; seconds when done)
#   scripts/scan-rendered.sh [ENV...]       # render every site (default: every environment) and scan it
#
# Not part of the test command (minutes per run). Scanners live outside the project venv: checkov
# in a venv of its own under ~/.cache/edgeai/venvs/checkov/<version>, kube-score and trivy built
# from their Go modules into ~/.cache/edgeai/tools/<tool>/<version>/bin (built into <dir>.partial,
# then renamed: the cache holds whole builds only, as in scripts/bootstrap-tools.sh).
# Findings accepted on purpose are listed, each with its reason, in scripts/scan-accepted.yaml and
# explained in docs/scanners.md; scripts/scan_report.py prints every other finding and exits 1
# when there is one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}
CHECKOV_VERSION=3.3.30
KUBE_SCORE_VERSION=v1.20.0
TRIVY_VERSION=v0.74.0

go_install() { # tool version module-path [GOEXPERIMENT]
  local tool=$1 version=$2 module=$3 experiment=${4:-}
  local bin="$cache/tools/$tool/$version/bin"
  if [[ -x "$bin/$tool" ]]; then echo "$tool $version: cached ($bin/$tool)" >&2; return; fi
  command -v go >/dev/null || { echo "error: go is required to build $tool $version" >&2; exit 2; }
  echo "$tool $version: building from its Go module (minutes, once)" >&2
  rm -rf "$bin.partial" && mkdir -p "$bin.partial"
  GOBIN="$bin.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod GOEXPERIMENT=$experiment go install -trimpath -ldflags "-s -w" "$module@$version"
  rm -rf "$bin" && mv "$bin.partial" "$bin"
}

pip_venv() { # tool version
  local tool=$1 version=$2
  local dir="$cache/venvs/$tool/$version"
  if [[ -x "$dir/bin/python" ]]; then echo "$tool $version: cached ($dir)" >&2; return; fi
  echo "$tool $version: installing from PyPI into $dir (once)" >&2
  rm -rf "$dir.partial" && mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir.partial"
  "$dir.partial/bin/pip" install --quiet "$tool==$version"
  # The venv's console scripts name $dir.partial; it is run as `$dir/bin/python -m ...` instead.
  rm -rf "$dir" && mv "$dir.partial" "$dir"
}

install() {
  pip_venv checkov "$CHECKOV_VERSION"
  go_install kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score
  # trivy imports encoding/json/v2, which Go 1.26 builds only as an experiment
  go_install trivy "$TRIVY_VERSION" github.com/aquasecurity/trivy/cmd/trivy jsonv2
}

if [[ ${1:-} == install ]]; then install; exit 0; fi
install
out=$root/.out/scan
rm -rf "$out" && mkdir -p "$out"
"$root/.venv/bin/python" "$here/scan_report.py" render "$out" "$@"
# Files, not -d: checkov skips directories whose path has a dot-folder (.out) and then reports
# nothing; scan_report.py refuses a scanner that judged no object.
files=(); for f in "$out"/sites/*.yaml; do files+=(-f "$f"); done
"$cache/venvs/checkov/$CHECKOV_VERSION/bin/python" -c 'import sys; from checkov.main import Checkov; sys.exit(Checkov().run())' --quiet --compact -o json --framework kubernetes \
  "${files[@]}" >"$out/checkov.json" 2>"$out/checkov.err" || true
for f in "$out"/sites/*.yaml; do
  "$cache/tools/kube-score/$KUBE_SCORE_VERSION/bin/kube-score" score -o json "$f" \
    >"$out/kube-score.$(basename "$f" .yaml).json" 2>>"$out/kube-score.err" || true
done
"$cache/tools/trivy/$TRIVY_VERSION/bin/trivy" config --quiet --format json --skip-check-update \
  --cache-dir "$cache/trivy" --output "$out/trivy.json" "$out/objects" 2>"$out/trivy.err" || true
"$root/.venv/bin/python" "$here/scan_report.py" report "$out"
