{{/*
Names and labels. Every component chart uses these so that selectors,
the edgeai.io/* ownership labels and the app.kubernetes.io/* labels are
spelled once.
*/}}

{{- define "edgeai.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped name: the release name alone when it already says the chart. */}}
{{- define "edgeai.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one part of a chart: (dict "ctx" $ "component" "grafana") */}}
{{- define "edgeai.componentName" -}}
{{- printf "%s-%s" (include "edgeai.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels; immutable on workloads, so nothing that changes per version. */}}
{{- define "edgeai.selectorLabels" -}}
app.kubernetes.io/name: {{ include "edgeai.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "edgeai.labels" -}}
{{ include "edgeai.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: edgeai
{{- with .ctx.Values.global }}
{{- with .environment }}
edgeai.io/environment: {{ . | quote }}
{{- end }}
{{- with .site }}
edgeai.io/site: {{ . | quote }}
{{- end }}
{{- with .region }}
edgeai.io/region: {{ . | quote }}
{{- end }}
{{- with .owner }}
edgeai.io/owner: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}
