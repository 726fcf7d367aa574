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

{{/* error_page of the model locations (only there: the auth subrequest must keep its 401/403). */}}
{{- define "gateway.restErrorPages" -}}
error_page 401 = @edgeai_401;
error_page 403 = @edgeai_403;
error_page 429 = @edgeai_429;
error_page 502 503 504 = @edgeai_unavailable;
{{- end -}}
{{- define "gateway.grpcErrorPages" -}}
error_page 401 = @grpc_unauthenticated;
error_page 403 = @grpc_permission_denied;
error_page 429 = @grpc_resource_exhausted;
error_page 502 503 504 = @grpc_unavailable;
{{- end -}}

{{/* The API-key check (auth_request subrequest): 401 without a known key, 403 when the key's caller
     may not call $edgeai_model (set by the model's location). It has no error_page of its own, so
     its status reaches auth_request unchanged. */}}
{{- define "gateway.authLocation" -}}
location = /_edgeai/auth {
    internal;
    if ($edgeai_caller = "") {
        return 401;
    }
    if ($edgeai_key_class = "device") {
        return 403;
    }
    if ($edgeai_granted = 0) {
        return 403;
    }
    return 204;
}
{{- end -}}

{{/* TLS of the external listeners: the certificate of Secret tls.secretName, mounted without
     subPath so that a renewal reaches it (run-nginx.sh reloads). */}}
{{- define "gateway.tls" -}}
ssl_certificate {{ include "gateway.tlsDir" . }}/tls.crt;
ssl_certificate_key {{ include "gateway.tlsDir" . }}/tls.key;
ssl_protocols TLSv1.2 TLSv1.3;
ssl_prefer_server_ciphers off;
ssl_session_cache shared:edgeai_tls:1m;
ssl_session_timeout 1h;
ssl_session_tickets off;
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
# Rendered by the edgeai gateway chart. Its includes are rendered at pod start by the init
# container into {{ $gen }}: resolver.conf (the pod's DNS server) and, with auth on, api-keys.map
# and api-grants.map (from the API-key Secret; keys never appear in this ConfigMap). run-nginx.sh
# renders the key maps again and reloads nginx when the mounted Secrets change.
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
        '"method":"$request_method","uri":"$uri","model":"$edgeai_model",{{ if .Values.auth.enabled }}"caller":"$edgeai_caller",{{ end }}"status":$status,'
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

    # Per-caller rate limit on model requests: {{ int .Values.rateLimit.requestsPerSecond }} r/s, burst {{ int .Values.rateLimit.burst }}, excess answered 429.
{{- if .Values.auth.enabled }}
    # The caller is the API key's holder (all keys of one caller share its budget), not the address:
    # callers outside the cluster reach the pod through a node port, often from the same (node)
    # address. A request without a known key counts against its address, which slows key guessing.
    map $edgeai_key_class $edgeai_client_limit_key {
        client "caller:$edgeai_caller";
{{- if .Values.ingest.enabled }}
        device "";
{{- end }}
{{- if include "gateway.internalKeys" . }}
        internal "";
{{- end }}
        default $binary_remote_addr;
    }
    limit_req_zone $edgeai_client_limit_key zone=edgeai_clients:{{ .Values.rateLimit.zoneSize }} rate={{ int .Values.rateLimit.requestsPerSecond }}r/s;
{{- if include "gateway.internalKeys" . }}
    # Requests with an internal key (in-site services such as the CEP) count against their own
    # zone instead: {{ int .Values.rateLimit.internal.requestsPerSecond }} r/s, burst {{ int .Values.rateLimit.internal.burst }} per caller. nginx does not account an empty key.
    map $edgeai_key_class $edgeai_internal_limit_key {
        internal $edgeai_caller;
        default "";
    }
    limit_req_zone $edgeai_internal_limit_key zone=edgeai_internal:1m rate={{ int .Values.rateLimit.internal.requestsPerSecond }}r/s;
{{- end }}
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
    # "<class>:<caller>" of a known key (class client or internal), "" otherwise.
    map $edgeai_api_key $edgeai_key {
        default "";
        include {{ $gen }}/api-keys.map;
    }
    map $edgeai_key $edgeai_caller {
        default "";
        "~^[a-z]+:(?<edgeai_key_caller>.+)$" $edgeai_key_caller;
    }
    map $edgeai_key $edgeai_key_class {
        default "";
        "~^(?<edgeai_key_class_name>[a-z]+):" $edgeai_key_class_name;
    }
    # Per-model authorisation: 1 when the caller may call the model of this request.
    map "$edgeai_caller:$edgeai_model" $edgeai_granted {
        default 0;
        include {{ $gen }}/api-grants.map;
    }
{{- end }}

{{- if .Values.ingest.enabled }}
{{- if not .Values.auth.enabled }}
{{- fail "ingest.enabled needs auth.enabled: devices are identified by their keys" }}
{{- end }}

    # Per-device limit on event ingest (/v1/events/): {{ int .Values.ingest.perDevice.requestsPerSecond }} r/s, burst {{ int .Values.ingest.perDevice.burst }}
    # per device (its key's name), excess answered 429. Other keys and unknown ones are not counted here.
    map $edgeai_key_class $edgeai_device_limit_key {
        device $edgeai_caller;
        default "";
    }
    limit_req_zone $edgeai_device_limit_key zone=edgeai_devices:{{ .Values.ingest.zoneSize }} rate={{ int .Values.ingest.perDevice.requestsPerSecond }}r/s;
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

    # REST: V2 protocol on :{{ $ports.http }} (plain, callers in the cluster){{ if include "gateway.external" . }} and :{{ $ports.https }} (TLS, callers outside){{ end }}.
    server {
        listen {{ $ports.http }} default_server;
{{- if include "gateway.external" . }}
        listen {{ $ports.https }} ssl default_server;
        {{- include "gateway.tls" . | nindent 8 }}
{{- end }}
        server_name _;
        # $edgeai_model is set by the model locations only (never from anything the client can
        # steer past the routing, such as the raw request URI); elsewhere it is empty.
        uninitialized_variable_warn off;

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
        {{- include "gateway.authLocation" . | nindent 8 }}
{{- end }}
{{- range $routes }}

        # model {{ .model }}
        location = /v2/models/{{ .model }} {
            set $edgeai_model "{{ .model }}";
            {{- include "gateway.routeGuards" $ | trim | nindent 12 }}
            {{- include "gateway.restErrorPages" $ | nindent 12 }}
            proxy_pass http://${{ .var }}:{{ int $up.httpPort }};
        }
        location /v2/models/{{ .model }}/ {
            set $edgeai_model "{{ .model }}";
            {{- include "gateway.routeGuards" $ | trim | nindent 12 }}
            {{- include "gateway.restErrorPages" $ | nindent 12 }}
            proxy_pass http://${{ .var }}:{{ int $up.httpPort }};
        }
{{- end }}
{{- if .Values.ingest.enabled }}
{{- $ingestHost := include "gateway.upstreamHost" (dict "host" .Values.ingest.service "clusterDomain" .Values.clusterDomain) }}

        # Device events into Kafka (the ingest chart's bridge): POST a JSON event or an array of events
        # with a device key; 200 only once Kafka acknowledged them. Only device keys (Secret
        # {{ .Values.ingest.deviceKeys.existingSecret }}) may send, and device keys may do nothing else.
        location = /_edgeai/device-auth {
            internal;
            if ($edgeai_caller = "") {
                return 401;
            }
            if ($edgeai_key_class != "device") {
                return 403;
            }
            return 204;
        }
{{- range .Values.ingest.topics }}
        location = /v1/events/{{ . }} {
            limit_req zone=edgeai_devices burst={{ int $.Values.ingest.perDevice.burst }} nodelay;
{{- if $.Values.rateLimit.enabled }}
            limit_req zone=edgeai_clients burst={{ int $.Values.rateLimit.burst }} nodelay;
{{- end }}
            limit_req_status 429;
            auth_request /_edgeai/device-auth;
            error_page 401 = @edgeai_401;
            error_page 403 = @edgeai_ingest_403;
            error_page 429 = @edgeai_429;
            error_page 502 503 504 = @edgeai_ingest_unavailable;
            set $edgeai_ingest_host "{{ $ingestHost }}";
            # A location's proxy_set_header replaces the server's: all of them again, the device's name added.
            proxy_set_header Connection "";
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Authorization "";
            proxy_set_header X-Api-Key "";
            proxy_set_header X-Edgeai-Device $edgeai_caller;
            proxy_pass http://$edgeai_ingest_host:{{ int $.Values.ingest.port }};
        }
{{- end }}
        location @edgeai_ingest_403 {
            return 403 '{"error":"only a device key may send events"}\n';
        }
        location @edgeai_ingest_unavailable {
            return 503 '{"error":"ingest unavailable; send the events again"}\n';
        }
{{- end }}
{{- with .Values.query.service }}

        # The real-time query API over Redis (charts/redis `query`): read-only JSON per sensor. A key may
        # read it when its models are * or include @query (README); same rate limit as model calls.
        location /v1/query/ {
            set $edgeai_model "@query";
            set $edgeai_query_host "{{ include "gateway.upstreamHost" (dict "host" . "clusterDomain" $.Values.clusterDomain) }}";
            {{- include "gateway.routeGuards" $ | trim | nindent 12 }}
            error_page 401 = @edgeai_401;
            error_page 403 = @edgeai_query_403;
            error_page 429 = @edgeai_429;
            error_page 502 503 504 = @edgeai_query_unavailable;
            proxy_pass http://$edgeai_query_host:{{ int $.Values.query.port }};
        }
        location @edgeai_query_403 {
            return 403 '{"error":"this API key may not read the query API"}\n';
        }
        location @edgeai_query_unavailable {
            return 503 '{"error":"query API unavailable"}\n';
        }
{{- end }}

        location @edgeai_401 {
            add_header WWW-Authenticate 'Bearer realm="edgeai"' always;
            return 401 '{"error":"missing or invalid API key"}\n';
        }
        location @edgeai_403 {
            return 403 '{"error":"this API key may not call this model"}\n';
        }
        location @edgeai_429 {
            return 429 '{"error":"rate limit exceeded"}\n';
        }
        location @edgeai_unavailable {
            return 503 '{"error":"model server unavailable"}\n';
        }
    }

    # gRPC: V2 protocol on :{{ $ports.grpc }} (HTTP/2 cleartext, callers in the cluster){{ if include "gateway.external" . }} and :{{ $ports.grpcs }} (HTTP/2
    # over TLS, callers outside){{ end }}, routed by x-model-name.
    server {
        listen {{ $ports.grpc }} http2 default_server;
{{- if include "gateway.external" . }}
        listen {{ $ports.grpcs }} ssl http2 default_server;
        {{- include "gateway.tls" . | nindent 8 }}
{{- end }}
        server_name _;
        uninitialized_variable_warn off;

        grpc_set_header X-Request-ID $request_id;
        grpc_set_header Authorization "";
        grpc_set_header X-Api-Key "";
        grpc_connect_timeout {{ $up.connectTimeout }};
        grpc_read_timeout {{ $up.readTimeout }};
        grpc_send_timeout {{ $up.sendTimeout }};

{{- if .Values.auth.enabled }}

        {{- include "gateway.authLocation" . | nindent 8 }}
{{- end }}

        location / {
            # The routed model is the one authorised: x-model-name picks the upstream below.
            set $edgeai_model $http_x_model_name;
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
        location @grpc_permission_denied {
            {{- include "gateway.grpcError" (dict "status" 7 "message" "this API key may not call this model") | nindent 12 }}
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
