#!/usr/bin/env bash
# Install the REAL engines that tests/realengines start on 127.0.0.1 with the configuration the
# charts render (see docs in tests/realengines/README.md). Idempotent and cached:
#
#   ~/.cache/edgeai/engines/kafka-<v>/libs        Apache Kafka (broker, storage tool, CLIs) from Maven Central
#   ~/.cache/edgeai/engines/siddhi-<v>/libs       Siddhi engine + JSON/key-value mappers + math functions + Kafka/Redis clients (Maven Central)
#   ~/.cache/edgeai/engines/mlserver-<v>/venv     MLServer + runtimes, and onnxruntime/skl2onnx for the Triton check (PyPI)
#   ~/.cache/edgeai/tools/promtool/<v>/bin        promtool built from the Prometheus Go module of the chart's Prometheus
#   ~/.cache/edgeai/tools/alertmanager/<v>/bin    alertmanager + amtool built from the Go module of the chart's Alertmanager
#   Debian packages                               redis-server, nginx, curl, mosquitto (+ its plugin headers, gcc) (when missing)
#
# Usage: bash scripts/install-engines.sh [all|kafka|siddhi|mlserver|promtool|alertmanager|apt]...   (default: all)
# $EDGEAI_CACHE moves the cache (as for scripts/bootstrap-tools.sh).
set -euo pipefail

# The engines' versions are pinned in scripts/tool-versions.env with the other tools.
# shellcheck source=tool-versions.env
source "$(dirname "${BASH_SOURCE[0]}")/tool-versions.env"
DEBIAN_PACKAGES="redis-server nginx curl mosquitto mosquitto-dev libmosquitto-dev gcc"
# ---------------------------------------------------------------------------------------------

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}
engines=$cache/engines
python=${PYTHON:-python3}

log() { echo "install-engines: $*"; }

# A directory is complete when its stamp holds the fingerprint of what built it (pins, pom): work
# happens in <dir>.partial, moved in place at the end; a changed pom or pin rebuilds.
fingerprint() { # what...
  { cat "$root/tools/engines/pom.xml"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16
}
done_already() { [[ -f "$1/.complete" && "$(cat "$1/.complete")" == "$2" ]]; }
finish() { echo "$2" > "$1.partial/.complete"; rm -rf "$1"; mv "$1.partial" "$1"; }

maven_profile() { # profile dir
  local profile=$1 dir=$2
  command -v mvn >/dev/null || { echo "error: mvn (Maven) is required for $profile" >&2; exit 1; }
  command -v java >/dev/null || { echo "error: java (17+) is required for $profile" >&2; exit 1; }
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial/libs"
  mvn -q -B -Dstyle.color=never -f "$root/tools/engines/pom.xml" -s "$root/tools/engines/settings.xml" -P "$profile" \
    -Dkafka.version="$KAFKA_VERSION" -Dsiddhi.version="$SIDDHI_VERSION" \
    -Dsiddhi-map-json.version="$SIDDHI_MAP_JSON_VERSION" \
    -Dsiddhi-map-keyvalue.version="$SIDDHI_MAP_KEYVALUE_VERSION" \
    -Dsiddhi-execution-math.version="$SIDDHI_EXECUTION_MATH_VERSION" -Djedis.version="$JEDIS_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$dir.partial/libs"
}

install_kafka() {
  local dir=$engines/kafka-$KAFKA_VERSION stamp
  stamp=$(fingerprint kafka "$KAFKA_VERSION")
  if done_already "$dir" "$stamp"; then log "kafka $KAFKA_VERSION: cached ($dir)"; return; fi
  log "kafka $KAFKA_VERSION: resolving org.apache.kafka:kafka_2.13 and its runtime dependencies"
  maven_profile kafka "$dir"
  finish "$dir" "$stamp"
}

install_siddhi() {
  local dir=$engines/siddhi-$SIDDHI_VERSION stamp
  stamp=$(fingerprint siddhi "$SIDDHI_VERSION" "$SIDDHI_MAP_JSON_VERSION" "$SIDDHI_MAP_KEYVALUE_VERSION" \
          "$SIDDHI_EXECUTION_MATH_VERSION" "$JEDIS_VERSION" "$KAFKA_VERSION")
  if done_already "$dir" "$stamp"; then log "siddhi $SIDDHI_VERSION: cached ($dir)"; return; fi
  log "siddhi $SIDDHI_VERSION: resolving io.siddhi:siddhi-core, the mappers and the bridge clients"
  maven_profile siddhi "$dir"
  finish "$dir" "$stamp"
}

install_mlserver() {
  local dir=$engines/mlserver-$MLSERVER_VERSION stamp
  stamp=$(printf '%s\n' "$MLSERVER_VERSION" "$SCIKIT_LEARN_VERSION" "$XGBOOST_CPU_VERSION" "$ONNXRUNTIME_VERSION" \
          "$SKL2ONNX_VERSION" "$UVLOOP_VERSION" | sha256sum | cut -c1-16)
  if done_already "$dir" "$stamp"; then log "mlserver $MLSERVER_VERSION: cached ($dir)"; return; fi
  log "mlserver $MLSERVER_VERSION: creating its own venv (a few minutes, once)"
  # Built in place (a venv's scripts name its absolute path, it cannot be moved); the stamp is
  # written last, so an interrupted build is redone from scratch.
  rm -rf "$dir"
  "$python" -m venv "$dir/venv"
  local pip=("$dir/venv/bin/python" -m pip --disable-pip-version-check -q)
  "${pip[@]}" install --upgrade pip
  "${pip[@]}" install "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
    "scikit-learn==$SCIKIT_LEARN_VERSION" "xgboost-cpu==$XGBOOST_CPU_VERSION" \
    "onnxruntime==$ONNXRUNTIME_VERSION" "skl2onnx==$SKL2ONNX_VERSION" "uvloop==$UVLOOP_VERSION"
  # mlserver-xgboost names the `xgboost` distribution, whose Linux wheel drags in CUDA and NCCL
  # (hundreds of MB); `xgboost-cpu` installs the same `xgboost` module without them.
  "${pip[@]}" install --no-deps "mlserver-xgboost==$MLSERVER_VERSION"
  echo "$stamp" > "$dir/.complete"
}

# go_build_module MODULE@VERSION BIN VERSION PACKAGE...: build PACKAGEs of a Go module into BIN
# (atomically), stamped with VERSION. `go install ...@version` refuses modules with replace
# directives, so this builds inside a copy of the downloaded module (the module cache is read-only).
go_build_module() {
  local module=$1 bin=$2 version=$3 src work
  shift 3
  command -v go >/dev/null || { echo "error: go is required to build $module" >&2; exit 1; }
  src=$(go mod download -json "$module" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  # Removed when this function returns; the trap clears itself so no caller's return runs it again.
  trap "chmod -R u+w '$work' 2>/dev/null; rm -rf '$work'; trap - RETURN" RETURN
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  mkdir -p "$bin.partial"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$bin.partial/" \
     -ldflags "-s -w -X github.com/prometheus/common/version.Version=${version#v}" "$@")
  rm -rf "$bin" && mv "$bin.partial" "$bin"
}

install_promtool() {
  local bin=$cache/tools/promtool/$PROMETHEUS_VERSION/bin
  if [[ -x "$bin/promtool" ]]; then log "promtool $PROMETHEUS_VERSION: cached ($bin/promtool)"; return; fi
  log "promtool $PROMETHEUS_VERSION: building from github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION (a few minutes, once)"
  go_build_module "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" "$bin" "$PROMETHEUS_VERSION" ./cmd/promtool
}

install_alertmanager() {
  local bin=$cache/tools/alertmanager/$ALERTMANAGER_VERSION/bin
  if [[ -x "$bin/alertmanager" && -x "$bin/amtool" ]]; then
    log "alertmanager $ALERTMANAGER_VERSION: cached ($bin)"; return
  fi
  log "alertmanager $ALERTMANAGER_VERSION: building from github.com/prometheus/alertmanager (a few minutes, once)"
  go_build_module "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" "$bin" "$ALERTMANAGER_VERSION" \
    ./cmd/alertmanager ./cmd/amtool
}

install_apt() {
  local missing=()
  for pkg in $DEBIAN_PACKAGES; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if (( ${#missing[@]} == 0 )); then log "debian packages: present ($DEBIAN_PACKAGES)"; return; fi
  local sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo -n"
  log "debian packages: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

targets=("$@")
(( ${#targets[@]} )) || targets=(all)
for target in "${targets[@]}"; do
  case $target in
    all) install_apt; install_kafka; install_siddhi; install_promtool; install_alertmanager; install_mlserver ;;
    kafka) install_kafka ;;
    siddhi) install_siddhi ;;
    mlserver) install_mlserver ;;
    promtool) install_promtool ;;
    alertmanager) install_alertmanager ;;
    apt) install_apt ;;
    *) echo "usage: $0 [all|kafka|siddhi|mlserver|promtool|alertmanager|apt]..." >&2; exit 2 ;;
  esac
done
