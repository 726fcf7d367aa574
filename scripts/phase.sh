#!/usr/bin/env bash
# Run one phase of set-up or testing and say how long it took: scripts/phase.sh NAME COMMAND...
set -uo pipefail
name=$1; shift
start=$SECONDS
"$@"
status=$?
echo "== phase '$name': $((SECONDS - start)) s$( ((status)) && echo " (failed, exit $status)")"
exit $status
