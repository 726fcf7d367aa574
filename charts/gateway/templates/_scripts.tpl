{{/*
The gateway's two shell scripts, shipped in the ConfigMap. POSIX sh with awk/sed/tr/sort/cksum, as
found in the nginx images (Debian, alpine) and on any Linux host.
*/}}

{{/*
render-includes.sh: renders the include files nginx.conf needs but the ConfigMap must not (API keys)
or cannot (the pod's DNS server) contain. Run by the init container (everything) and by
run-nginx.sh when a mounted Secret changes (KEYS_ONLY=1).

Key files (Secret gateway-api-keys, keys `keys` and `internal-keys`): one key per line,
    <key> [<caller> [<models>]]
  key      at least MIN_KEY_LENGTH characters of A-Z a-z 0-9 . _ ~ + / = -
  caller   who holds the key, a-z 0-9 - (default client-<line>, internal-<line>): the rate limit
           counts per caller (a caller's keys share one budget) and the access log names it
  models   comma-separated model names the key may call, or * (default): any other model gets 403;
           @query in the list (or *) also lets the key read the query API (route /v1/query/)
Device keys (DEVICE_KEYS_FILE, Secret ingest-devices): `<key> [<device>]`, caller default device-<line>,
class device: they may only send events (route /v1/events/), never call a model.
A line of one key, the format before callers existed, is a key for every model. Blank lines and
lines starting with # are skipped. Errors name the file and line, never a field's value (a key
typed in the wrong column must not reach the log).
*/}}
{{- define "gateway.renderIncludes" -}}
#!/bin/sh
# Renders into $OUT_DIR:
#   resolver.conf   - `resolver <pod's DNS server>` (not with KEYS_ONLY=1), so upstream Service names
#                     are resolved per request (a model Service created after the gateway works).
#   api-keys.map    - one case-sensitive, anchored regex per key -> "<class>:<caller>", class client
#                     ($API_KEYS_FILE) or internal ($INTERNAL_KEYS_FILE), for nginx's `map $edgeai_api_key`.
#   api-grants.map  - "<caller>:<model>" (or a regex for *) -> 1: the models each caller may call.
# Both key files are rendered to temporary files and moved into place only when every line is
# valid, so a bad rotation leaves the previous keys in force. The keys live only in the Secret and
# in this memory-backed emptyDir, never in the ConfigMap or a log.
set -eu
set -f   # "*" (every model) is data, never a glob
export LC_ALL=C
OUT_DIR="${OUT_DIR:-{{ include "gateway.generatedDir" . }}}"
RESOLV_CONF="${RESOLV_CONF:-/etc/resolv.conf}"
RESOLVER_VALID="${RESOLVER_VALID:-10s}"
API_KEYS_FILE="${API_KEYS_FILE:-}"
INTERNAL_KEYS_FILE="${INTERNAL_KEYS_FILE:-}"
DEVICE_KEYS_FILE="${DEVICE_KEYS_FILE:-}"
MIN_KEY_LENGTH="${MIN_KEY_LENGTH:-16}"
KEYS_ONLY="${KEYS_ONLY:-}"

if [ -z "$KEYS_ONLY" ]; then
  ns=$(awk '$1 == "nameserver" { print $2; exit }' "$RESOLV_CONF")
  if [ -z "$ns" ]; then
    echo "gateway: no nameserver line in $RESOLV_CONF" >&2
    exit 1
  fi
  case "$ns" in *:*) ns="[$ns]" ;; esac
  printf 'resolver %s valid=%s;\n' "$ns" "$RESOLVER_VALID" > "$OUT_DIR/resolver.conf"
  echo "gateway: resolver $ns"
fi

refuse() {
  echo "gateway: line $line of $file: $1" >&2
  rm -f "$keys_tmp" "$grants_tmp"
  exit 1
}

# add_keys FILE CLASS: append the map lines of FILE's keys; sets n to how many.
add_keys() {
  file=$1
  class=$2
  n=0
  line=0
  while IFS= read -r entry || [ -n "$entry" ]; do
    line=$((line + 1))
    entry=$(printf '%s' "$entry" | tr '\t\r' '  ')
    # shellcheck disable=SC2086 # split into fields on purpose (globbing is off)
    set -- $entry
    case "${1:-#}" in '#'*) continue ;; esac
    [ "$#" -le 3 ] || refuse "more than three fields (key, caller, models)"
    [ "$class" != device ] || [ "$#" -le 2 ] || refuse "more than two fields (key, device)"
    key=$1
    caller=${2:-$class-$line}
    models=${3:-*}
    case "$key" in
      *[!A-Za-z0-9._~+/=-]*) refuse "the API key has a character outside A-Z a-z 0-9 . _ ~ + / = -" ;;
    esac
    [ "${#key}" -ge "$MIN_KEY_LENGTH" ] || refuse "the API key is shorter than $MIN_KEY_LENGTH characters"
    case "$caller" in
      -*|*[!a-z0-9-]*) refuse "the caller is not made of a-z 0-9 - (starting with a letter or digit)" ;;
    esac
    [ "${#caller}" -le 63 ] || refuse "the caller is longer than 63 characters"
    printf '"~^%s$" "%s:%s";\n' "$(printf '%s' "$key" | sed 's/[.+]/\\&/g')" "$class" "$caller" >> "$keys_tmp"
    if [ "$class" = device ]; then
      :   # a device key grants no model: only the ingest route (/v1/events/), which checks the class
    elif [ "$models" = "*" ]; then
      printf '"~^%s:" 1;\n' "$caller" >> "$grants_tmp"
    else
      case "$models" in
        ,*|*,|*,,*|*[!a-z0-9,@-]*) refuse "the models are not * or a comma-separated list of model names" ;;
      esac
      for model in $(printf '%s' "$models" | tr ',' ' '); do
        case "$model" in
          @query) ;;   # the query API (route /v1/query/), not a model
          *@*) refuse "the models list has an unknown @ grant (only @query, the query API)" ;;
        esac
        printf '"%s:%s" 1;\n' "$caller" "$model" >> "$grants_tmp"
      done
    fi
    n=$((n + 1))
  done < "$file"
}

if [ -n "$API_KEYS_FILE" ]; then
  keys_tmp="$OUT_DIR/api-keys.map.tmp"
  grants_tmp="$OUT_DIR/api-grants.map.tmp"
  : > "$keys_tmp"
  : > "$grants_tmp"
  add_keys "$API_KEYS_FILE" client
  clients=$n
  internal=0
  if [ -n "$INTERNAL_KEYS_FILE" ]; then
    add_keys "$INTERNAL_KEYS_FILE" internal
    internal=$n
  fi
  devices=0
  if [ -n "$DEVICE_KEYS_FILE" ]; then
    add_keys "$DEVICE_KEYS_FILE" device
    devices=$n
  fi
  # nginx refuses a map with the same string twice (two keys of one caller granting one model).
  sort -u "$grants_tmp" > "$grants_tmp.sorted"
  mv "$grants_tmp.sorted" "$OUT_DIR/api-grants.map"
  rm -f "$grants_tmp"
  mv "$keys_tmp" "$OUT_DIR/api-keys.map"
  echo "gateway: $clients API key(s) and $internal internal key(s) loaded, $devices device key(s)"
  if [ $((clients + internal)) -eq 0 ]; then
    echo "gateway: WARNING: no API key in $API_KEYS_FILE; every model request gets 401" >&2
  fi
fi
{{- end -}}

{{/*
run-nginx.sh: PID 1 of the nginx container. A key rotation or a renewed certificate reaches the
running gateway without a restart: the kubelet updates a Secret volume mounted without subPath
(atomically, within its sync period), this loop sees the files' checksum change, re-renders the key
map and reloads nginx (HUP: new workers with the new keys and certificate, in-flight requests
finish on the old ones). Why not a checksum annotation that rolls the pods: the rendered manifests
are committed to Git (deploy/) and must not carry anything derived from a secret, and a rotation
must not wait for a commit. A rotation with a bad key or certificate is refused (logged, without
the key) and the previous ones stay in force.
*/}}
{{- define "gateway.runNginx" -}}
#!/bin/sh
set -u
CONF="${CONF:-{{ include "gateway.configDir" . }}/nginx.conf}"
RENDER="${RENDER:-{{ include "gateway.configDir" . }}/render-includes.sh}"
WATCH_FILES="${WATCH_FILES:-}"        # the mounted Secret files, space-separated
INTERVAL="${RELOAD_INTERVAL:-10}"

checksum() {
  # shellcheck disable=SC2086 # a list of paths
  cat $WATCH_FILES 2>/dev/null | cksum
}

nginx -c "$CONF" -g "daemon off;" &
pid=$!
# The kubelet stops the container with TERM: nginx quits gracefully (QUIT), finishing open requests.
trap 'kill -QUIT "$pid" 2>/dev/null' TERM QUIT
trap 'kill -TERM "$pid" 2>/dev/null' INT
loaded=$(checksum)
while kill -0 "$pid" 2>/dev/null; do
  sleep "$INTERVAL" &
  wait $! 2>/dev/null || true
  [ -n "$WATCH_FILES" ] || continue
  now=$(checksum)
  [ "$now" != "$loaded" ] || continue
  loaded=$now
  if KEYS_ONLY=1 sh "$RENDER" && nginx -t -q -c "$CONF"; then
    kill -HUP "$pid"
    echo "gateway: API keys or TLS certificate changed: nginx reloaded"
  else
    echo "gateway: WARNING: the changed API keys or TLS certificate were refused; the previous ones stay in force" >&2
  fi
done
wait "$pid"
{{- end -}}
