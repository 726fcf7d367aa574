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

{{/* Rules file of the drift references (values modelDrift.models): per model and score bin the
     reference share, per model the threshold, as constant series the drift rules of
     rules/edgeai.rules.yaml join on. */}}
{{- define "monitoring.driftReferenceRules" -}}
groups:
  - name: edgeai.model-drift-reference
    rules:
      {{- range .Values.modelDrift.models }}
      {{- $model := .name }}
      {{- range $bin, $share := .reference }}
      - record: edgeai:model_prediction_reference:ratio
        expr: vector({{ $share }})
        labels: {model: {{ $model | quote }}, bin: "{{ $bin }}"}
      {{- end }}
      - record: edgeai:model_prediction_drift:threshold
        expr: vector({{ .threshold }})
        labels: {model: {{ $model | quote }}}
      {{- end }}
{{- end -}}
