#!/usr/bin/env bash
# Render every site of every environment N times (default 10) with `edgeai render --manifests`,
# starting from charts with no vendored library, and check that each site prints the same objects
# every time. Prints one line per site and exits 1 on any difference or failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-10}
edgeai=$root/.venv/bin/edgeai
failed=0
for env_dir in "$root"/environments/*/; do
  env=$(basename "$env_dir"); [[ $env == schema ]] && continue
  for site_file in "$env_dir"sites/*.yaml; do
    site=$(basename "$site_file" .yaml)
    sums=$(for _ in $(seq "$rounds"); do
      "$edgeai" render --env "$env" --site "$site" --manifests 2>/dev/null | sha256sum | cut -c1-16 \
        || echo failed; done | sort | uniq -c | tr -s ' ')
    distinct=$(wc -l <<<"$sums")
    echo "$env/$site: $rounds renders, $distinct distinct output(s):$sums"
    [[ $distinct == 1 && $sums != *failed* ]] || failed=1
  done
done
exit $failed
