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

{{- define "monitoring.alertmanagerName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "alertmanager") -}}
{{- end -}}

{{/* The Alertmanagers Prometheus sends to: the listed ones, and this release's own when enabled. */}}
{{- define "monitoring.alertmanagerTargets" -}}
{{- $targets := .Values.alertmanagers -}}
{{- if .Values.alertmanager.enabled -}}
{{- $targets = append $targets (printf "%s:9093" (include "monitoring.alertmanagerName" .)) -}}
{{- end -}}
{{- toJson $targets -}}
{{- end -}}
