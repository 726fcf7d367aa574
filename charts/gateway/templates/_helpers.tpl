{{/*
Paths shared by the ConfigMap, the init container and nginx.conf.
*/}}
{{- define "gateway.configDir" -}}/etc/nginx/edgeai{{- end -}}
{{- define "gateway.generatedDir" -}}/etc/nginx/generated{{- end -}}
{{- define "gateway.apiKeysFile" -}}/etc/nginx/api-keys/keys{{- end -}}
{{- define "gateway.internalKeysFile" -}}/etc/nginx/api-keys/internal-keys{{- end -}}
{{- define "gateway.tlsDir" -}}/etc/nginx/tls{{- end -}}
{{- define "gateway.deviceKeysFile" -}}/etc/nginx/device-keys/devices{{- end -}}
{{/* "true" when the gateway is exposed outside the cluster (a NodePort or LoadBalancer Service
     gateway-external), whose listeners then serve TLS only; else "". */}}
{{- define "gateway.external" -}}{{ if ne .Values.service.type "ClusterIP" }}true{{ end }}{{- end -}}
{{/* "true" when internal keys are in use (they need auth to be identified), else "". */}}
{{- define "gateway.internalKeys" -}}{{ if and .Values.auth.enabled .Values.auth.internalSecretKey }}true{{ end }}{{- end -}}

{{/* Fixed ports: the Services and NetworkPolicy say the same (8080 http, 8081 grpc: plain, in the
     cluster; 8443 https, 8444 grpcs: TLS, outside; 9113 metrics); stub_status listens on loopback only. */}}
{{- define "gateway.ports" -}}
http: 8080
grpc: 8081
https: 8443
grpcs: 8444
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
