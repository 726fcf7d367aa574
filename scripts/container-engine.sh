#!/usr/bin/env bash
# Make sure a container engine answers (kind clusters, image builds): `docker info` or `podman info`.
# Where none does and we are root on Debian, install Debian's docker.io, mmdebstrap (image root
# filesystems) and jq and start dockerd in the background. It is the machine's engine from then on:
# nothing here stops it again. Exit 1 with the reason when no engine can be had.
set -euo pipefail
log=${EDGEAI_CACHE:-$HOME/.cache/edgeai}/dockerd.log

answers() { docker info >/dev/null 2>&1 || podman info >/dev/null 2>&1; }

need_packages=()
command -v mmdebstrap >/dev/null || need_packages+=(mmdebstrap)
command -v jq >/dev/null || need_packages+=(jq)   # scripts/build-node-image.sh reads `go mod download -json`
if ! command -v dockerd >/dev/null && ! answers; then need_packages+=(docker.io); fi
if (( ${#need_packages[@]} )); then
  if [[ $(id -u) != 0 || ! -f /etc/debian_version ]]; then
    answers && exit 0
    echo "error: no container engine answers and ${need_packages[*]} cannot be installed here (needs root on Debian);" \
         "install Docker or Podman and start it" >&2
    exit 1
  fi
  echo "container engine: installing Debian's ${need_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi
if answers; then echo "container engine: $(docker version -f 'docker {{.Server.Version}}' 2>/dev/null || echo podman) answers"; exit 0; fi

echo "container engine: starting dockerd (log: $log)"
mkdir -p "$(dirname "$log")"
setsid nohup dockerd >>"$log" 2>&1 < /dev/null &
for _ in $(seq 60); do
  answers && { echo "container engine: dockerd answers"; exit 0; }
  sleep 1
done
echo "error: dockerd did not answer within 60 s; see $log" >&2
exit 1
