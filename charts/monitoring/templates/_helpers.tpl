{{/* Namespaces Prometheus discovers: the given ones, else the release namespace. */}}
{{- define "monitoring.scrapeNamespaces" -}}
{{- $ns := .Values.scrapeNamespaces | default (list .Release.Namespace) | uniq -}}
{{- toJson $ns -}}
{{- end -}}

{{- define "monitoring.prometheusName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "prometheus") -}}
{{- end -}}

{{- define "monitoring.grafanaName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "grafana") -}}
{{- end -}}
