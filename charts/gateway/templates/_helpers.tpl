{{/*
Paths shared by the ConfigMap, the init container and nginx.conf.
*/}}
{{- define "gateway.configDir" -}}/etc/nginx/edgeai{{- end -}}
{{- define "gateway.generatedDir" -}}/etc/nginx/generated{{- end -}}
{{- define "gateway.apiKeysFile" -}}/etc/nginx/api-keys/keys{{- end -}}
{{- define "gateway.internalKeysFile" -}}/etc/nginx/api-keys/internal-keys{{- end -}}
{{/* "true" when internal keys are in use (they need auth to be identified), else "". */}}
{{- define "gateway.internalKeys" -}}{{ if and .Values.auth.enabled .Values.auth.internalSecretKey }}true{{ end }}{{- end -}}

{{/* Fixed ports: the Service and NetworkPolicy say the same (8080 http, 8081 grpc, 9113 metrics);
     stub_status listens on loopback only. */}}
{{- define "gateway.ports" -}}
http: 8080
grpc: 8081
status: 8090
metrics: 9113
{{- end -}}

{{/* A Service host as nginx's resolver needs it: "<svc>.<ns>.svc" gets ".<clusterDomain>"
     appended (the resolver has no search path); anything else is used as given. */}}
{{- define "gateway.upstreamHost" -}}
{{- if hasSuffix ".svc" .host -}}
{{- printf "%s.%s" .host .clusterDomain -}}
{{- else -}}
{{- .host -}}
{{- end -}}
{{- end -}}

{{/* Routes, normalised for nginx.conf: YAML list of {model, var, stable, canary, weight}. */}}
{{- define "gateway.routes" -}}
{{- $seen := dict -}}
{{- range .Values.routes }}
{{- if hasKey $seen .model }}
{{- fail (printf "routes: model %q is listed twice" .model) }}
{{- end }}
{{- $_ := set $seen .model true }}
- model: {{ .model | quote }}
  var: {{ printf "edgeai_route_%s" (.model | replace "-" "_") | quote }}
  stable: {{ include "gateway.upstreamHost" (dict "host" .service "clusterDomain" $.Values.clusterDomain) | quote }}
  {{- with .canary }}
  canary: {{ include "gateway.upstreamHost" (dict "host" .service "clusterDomain" $.Values.clusterDomain) | quote }}
  weight: {{ .weight | int }}
  {{- else }}
  weight: 0
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The init container's script: renders the two include files nginx.conf needs but the
ConfigMap must not (API keys) or cannot (the pod's DNS server) contain. POSIX sh with
awk/sed/tr, as found in the nginx images (alpine and debian) and on any Linux host.
*/}}
{{- define "gateway.renderIncludes" -}}
#!/bin/sh
# Renders into $OUT_DIR:
#   resolver.conf  - `resolver <pod's DNS server>`, so upstream Service names are resolved
#                    per request (a model Service created after the gateway starts works).
#   api-keys.map   - one case-sensitive, anchored regex per API key, for nginx's
#                    `map $edgeai_api_key $edgeai_api_key_valid`: value 1 for the client keys
#                    of $API_KEYS_FILE, `internal` for the in-site services' keys of
#                    $INTERNAL_KEYS_FILE (only when API_KEYS_FILE is set, i.e. auth is on).
#                    The keys live only in this emptyDir and in the Secret; never in the ConfigMap.
set -eu
export LC_ALL=C
OUT_DIR="${OUT_DIR:-{{ include "gateway.generatedDir" . }}}"
RESOLV_CONF="${RESOLV_CONF:-/etc/resolv.conf}"
RESOLVER_VALID="${RESOLVER_VALID:-10s}"
API_KEYS_FILE="${API_KEYS_FILE:-}"
INTERNAL_KEYS_FILE="${INTERNAL_KEYS_FILE:-}"
MIN_KEY_LENGTH="${MIN_KEY_LENGTH:-16}"

ns=$(awk '$1 == "nameserver" { print $2; exit }' "$RESOLV_CONF")
if [ -z "$ns" ]; then
  echo "gateway: no nameserver line in $RESOLV_CONF" >&2
  exit 1
fi
case "$ns" in *:*) ns="[$ns]" ;; esac
printf 'resolver %s valid=%s;\n' "$ns" "$RESOLVER_VALID" > "$OUT_DIR/resolver.conf"
echo "gateway: resolver $ns"

# add_keys FILE VALUE: append one map line per key of FILE to $tmp; sets n to how many.
add_keys() {
  n=0
  line=0
  while IFS= read -r key || [ -n "$key" ]; do
    line=$((line + 1))
    key=$(printf '%s' "$key" | tr -d ' \t\r')
    case "$key" in ''|'#'*) continue ;; esac
    case "$key" in
      *[!A-Za-z0-9._~+/=-]*)
        echo "gateway: API key on line $line of $1 has a character outside A-Z a-z 0-9 . _ ~ + / = -" >&2
        exit 1 ;;
    esac
    if [ "${#key}" -lt "$MIN_KEY_LENGTH" ]; then
      echo "gateway: API key on line $line of $1 is shorter than $MIN_KEY_LENGTH characters" >&2
      exit 1
    fi
    printf '"~^%s$" %s;\n' "$(printf '%s' "$key" | sed 's/[.+]/\\&/g')" "$2" >> "$tmp"
    n=$((n + 1))
  done < "$1"
}

if [ -n "$API_KEYS_FILE" ]; then
  tmp="$OUT_DIR/api-keys.map.tmp"
  : > "$tmp"
  add_keys "$API_KEYS_FILE" 1
  clients=$n
  internal=0
  if [ -n "$INTERNAL_KEYS_FILE" ]; then
    add_keys "$INTERNAL_KEYS_FILE" internal
    internal=$n
  fi
  mv "$tmp" "$OUT_DIR/api-keys.map"
  echo "gateway: $clients API key(s) and $internal internal key(s) loaded"
  if [ $((clients + internal)) -eq 0 ]; then
    echo "gateway: WARNING: no API key in $API_KEYS_FILE; every model request gets 401" >&2
  fi
fi
{{- end -}}

{{/* Directives shared by every model route (REST and gRPC). */}}
{{- define "gateway.routeGuards" -}}
{{- if .Values.rateLimit.enabled }}
limit_req zone=edgeai_clients burst={{ int .Values.rateLimit.burst }} nodelay;
{{- if include "gateway.internalKeys" . }}
limit_req zone=edgeai_internal burst={{ int .Values.rateLimit.internal.burst }} nodelay;
{{- end }}
{{- end }}
{{- if .Values.auth.enabled }}
auth_request /_edgeai/auth;
{{- end }}
{{- end -}}

{{/* error_page of the model locations (only there: the auth subrequest must keep its 401). */}}
{{- define "gateway.restErrorPages" -}}
error_page 401 = @edgeai_401;
error_page 429 = @edgeai_429;
error_page 502 503 504 = @edgeai_unavailable;
{{- end -}}
{{- define "gateway.grpcErrorPages" -}}
error_page 401 = @grpc_unauthenticated;
error_page 429 = @grpc_resource_exhausted;
error_page 502 503 504 = @grpc_unavailable;
{{- end -}}

{{/* A gRPC trailers-only error response: (dict "status" 16 "message" "...") */}}
{{- define "gateway.grpcError" -}}
default_type application/grpc;
add_header grpc-status {{ .status }} always;
add_header grpc-message {{ .message | quote }} always;
return 200 "";
{{- end -}}

{{/* nginx.conf */}}
{{- define "gateway.nginxConf" -}}
{{- $ports := include "gateway.ports" . | fromYaml -}}
{{- $routes := include "gateway.routes" . | fromYamlArray -}}
{{- $gen := include "gateway.generatedDir" . -}}
{{- $up := .Values.upstream -}}
# Rendered by the edgeai gateway chart. Two includes are rendered at pod start by the
# init container into {{ $gen }}: resolver.conf (the pod's DNS server) and, with auth on,
# api-keys.map (from the API-key Secret; keys never appear in this ConfigMap).
worker_processes {{ .Values.nginx.workerProcesses }};
pid /tmp/nginx.pid;
error_log /dev/stderr {{ .Values.nginx.errorLogLevel }};

events {
    worker_connections {{ int .Values.nginx.workerConnections }};
}

http {
    default_type application/json;
    server_tokens off;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;

    log_format edgeai escape=json '{"time":"$time_iso8601","request_id":"$request_id","client":"$remote_addr",'
        '"method":"$request_method","uri":"$uri","model":"$http_x_model_name","status":$status,'
        '"bytes":$body_bytes_sent,"upstream":"$upstream_addr","request_time":$request_time,'
        '"upstream_time":"$upstream_response_time"}';
    access_log /dev/stdout edgeai;

    client_max_body_size {{ .Values.nginx.clientMaxBodySize }};
    keepalive_timeout 65s;

    # Model Services are resolved per request (names cached for resolverValid), so the
    # gateway starts and keeps serving whether or not every model Service exists yet.
    include {{ $gen }}/resolver.conf;
    resolver_timeout 5s;
{{- if .Values.rateLimit.enabled }}

    # Per-client rate limit on model requests: {{ int .Values.rateLimit.requestsPerSecond }} r/s, burst {{ int .Values.rateLimit.burst }}, excess answered 429.
{{- if include "gateway.internalKeys" . }}
    # Requests with an internal key (in-site services such as the CEP) count against their own
    # zone instead: {{ int .Values.rateLimit.internal.requestsPerSecond }} r/s, burst {{ int .Values.rateLimit.internal.burst }}. nginx does not account an empty key.
    map $edgeai_api_key_valid $edgeai_client_limit_key {
        internal "";
        default $binary_remote_addr;
    }
    map $edgeai_api_key_valid $edgeai_internal_limit_key {
        internal $binary_remote_addr;
        default "";
    }
    limit_req_zone $edgeai_client_limit_key zone=edgeai_clients:{{ .Values.rateLimit.zoneSize }} rate={{ int .Values.rateLimit.requestsPerSecond }}r/s;
    limit_req_zone $edgeai_internal_limit_key zone=edgeai_internal:1m rate={{ int .Values.rateLimit.internal.requestsPerSecond }}r/s;
{{- else }}
    limit_req_zone $binary_remote_addr zone=edgeai_clients:{{ .Values.rateLimit.zoneSize }} rate={{ int .Values.rateLimit.requestsPerSecond }}r/s;
{{- end }}
    limit_req_status 429;
    limit_req_log_level warn;
{{- end }}
{{- if .Values.auth.enabled }}

    # API key: `x-api-key: <key>` or `Authorization: Bearer <key>`.
    map $http_authorization $edgeai_bearer_token {
        default "";
        "~*^bearer\s+(?<edgeai_token>\S+)\s*$" $edgeai_token;
    }
    map $http_x_api_key $edgeai_api_key {
        "" $edgeai_bearer_token;
        default $http_x_api_key;
    }
    map $edgeai_api_key $edgeai_api_key_valid {
        default 0;
        include {{ $gen }}/api-keys.map;
    }
{{- end }}

    # Routes: the upstream host of each model for this request (stable or canary).
{{- range $routes }}
{{- if and .canary (gt (int .weight) 0) (lt (int .weight) 100) }}
    # {{ .model }}: {{ .weight }}% canary, {{ sub 100 (int .weight) }}% stable, drawn per request.
    split_clients "${request_id}" ${{ .var }} {
        {{ .weight }}% "{{ .canary }}";
        * "{{ .stable }}";
    }
{{- else if and .canary (eq (int .weight) 100) }}
    # {{ .model }}: 100% canary.
    map $request_id ${{ .var }} {
        default "{{ .canary }}";
    }
{{- else }}
    # {{ .model }}: stable only.
    map $request_id ${{ .var }} {
        default "{{ .stable }}";
    }
{{- end }}
{{- end }}

    # gRPC: the V2 gRPC service has one path for every model, so calls are routed by
    # their `x-model-name` metadata.
    map $http_x_model_name $edgeai_grpc_target {
        default "";
{{- range $routes }}
        "{{ .model }}" ${{ .var }};
{{- end }}
    }

    # REST: V2 protocol on :{{ $ports.http }}.
    server {
        listen {{ $ports.http }} default_server;
        server_name _;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Authorization "";
        proxy_set_header X-Api-Key "";
        proxy_connect_timeout {{ $up.connectTimeout }};
        proxy_read_timeout {{ $up.readTimeout }};
        proxy_send_timeout {{ $up.sendTimeout }};

        location = /v2/health/live {
            access_log off;
            return 200 "";
        }
        location = /v2/health/ready {
            access_log off;
            return 200 "";
        }
        location / {
            return 404 '{"error":"no such model or endpoint"}\n';
        }
{{- if .Values.auth.enabled }}
        # The API-key check (auth_request subrequest). It has no error_page of its own, so
        # its 401 reaches auth_request unchanged.
        location = /_edgeai/auth {
            internal;
            if ($edgeai_api_key_valid = 0) {
                return 401;
            }
            return 204;
        }
{{- end }}
{{- range $routes }}

        # model {{ .model }}
        location = /v2/models/{{ .model }} {
            {{- include "gateway.routeGuards" $ | trim | nindent 12 }}
            {{- include "gateway.restErrorPages" $ | nindent 12 }}
            proxy_pass http://${{ .var }}:{{ int $up.httpPort }};
        }
        location /v2/models/{{ .model }}/ {
            {{- include "gateway.routeGuards" $ | trim | nindent 12 }}
            {{- include "gateway.restErrorPages" $ | nindent 12 }}
            proxy_pass http://${{ .var }}:{{ int $up.httpPort }};
        }
{{- end }}

        location @edgeai_401 {
            add_header WWW-Authenticate 'Bearer realm="edgeai"' always;
            return 401 '{"error":"missing or invalid API key"}\n';
        }
        location @edgeai_429 {
            return 429 '{"error":"rate limit exceeded"}\n';
        }
        location @edgeai_unavailable {
            return 503 '{"error":"model server unavailable"}\n';
        }
    }

    # gRPC: V2 protocol (HTTP/2 cleartext) on :{{ $ports.grpc }}, routed by x-model-name.
    server {
        listen {{ $ports.grpc }} http2 default_server;
        server_name _;

        grpc_set_header X-Request-ID $request_id;
        grpc_set_header Authorization "";
        grpc_set_header X-Api-Key "";
        grpc_connect_timeout {{ $up.connectTimeout }};
        grpc_read_timeout {{ $up.readTimeout }};
        grpc_send_timeout {{ $up.sendTimeout }};

{{- if .Values.auth.enabled }}

        location = /_edgeai/auth {
            internal;
            if ($edgeai_api_key_valid = 0) {
                return 401;
            }
            return 204;
        }
{{- end }}

        location / {
            error_page 404 = @grpc_unknown_model;
            if ($edgeai_grpc_target = "") {
                return 404;
            }
            {{- include "gateway.routeGuards" . | trim | nindent 12 }}
            {{- include "gateway.grpcErrorPages" . | nindent 12 }}
            grpc_pass grpc://$edgeai_grpc_target:{{ int $up.grpcPort }};
        }

        # gRPC errors as trailers-only responses (HTTP 200 + grpc-status).
        location @grpc_unauthenticated {
            {{- include "gateway.grpcError" (dict "status" 16 "message" "missing or invalid API key") | nindent 12 }}
        }
        location @grpc_unknown_model {
            {{- include "gateway.grpcError" (dict "status" 5 "message" "unknown model: set x-model-name to a routed model") | nindent 12 }}
        }
        location @grpc_resource_exhausted {
            {{- include "gateway.grpcError" (dict "status" 8 "message" "rate limit exceeded") | nindent 12 }}
        }
        location @grpc_unavailable {
            {{- include "gateway.grpcError" (dict "status" 14 "message" "model server unavailable") | nindent 12 }}
        }
    }

    # stub_status for the exporter sidecar, on loopback only.
    server {
        listen 127.0.0.1:{{ $ports.status }};
        access_log off;
        location = /stub_status {
            stub_status;
        }
        location / {
            return 404;
        }
    }
}
{{- end -}}
