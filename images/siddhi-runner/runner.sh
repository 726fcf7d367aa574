#!/bin/sh
# bin/runner.sh of the official image: `runner.sh -Dapps=DIR` runs every app in DIR with the
# state persistence of conf/runner/deployment.yaml; the HTTP API (backup, health) on 9090.
home=$(cd "$(dirname "$0")/.." && pwd)
exec java $JAVA_OPTS -Dedgeai.http.host=0.0.0.0 -Dedgeai.http.port="${SIDDHI_HTTP_PORT:-9090}" \
  -cp "$home/classes:$home/lib/*" edgeai.engines.SiddhiRunner "$@" --config "$home/conf/runner/deployment.yaml"
