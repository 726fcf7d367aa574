{{- define "logging.agentName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "agent") -}}
{{- end -}}

{{- define "logging.esName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "elasticsearch") -}}
{{- end -}}

{{- define "logging.kibanaName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "kibana") -}}
{{- end -}}

{{/* Elasticsearch URLs Kibana connects to. */}}
{{- define "logging.kibanaHosts" -}}
{{- $hosts := .Values.kibana.elasticsearch.hosts -}}
{{- if not $hosts -}}
{{- if not .Values.elasticsearch.enabled -}}
{{- fail "kibana.elasticsearch.hosts is required when elasticsearch.enabled is false" -}}
{{- end -}}
{{- $hosts = list (printf "http://%s:9200" (include "logging.esName" .)) -}}
{{- end -}}
{{- toJson $hosts -}}
{{- end -}}

{{/* The agent runs as root (node log files are root-owned, mode 0640) with every capability
     dropped: the library's restricted context, less runAsNonRoot. */}}
{{- define "logging.agentContainerSecurityContext" -}}
{{- $sc := include "edgeai.containerSecurityContext" . | fromYaml -}}
{{- $_ := set $sc "runAsNonRoot" false -}}
{{- $_ := set $sc "runAsUser" 0 -}}
{{- $_ := set $sc "runAsGroup" 0 -}}
{{- toYaml $sc -}}
{{- end -}}

{{- define "logging.agentPodSecurityContext" -}}
{{- $sc := include "edgeai.podSecurityContext" (dict) | fromYaml -}}
{{- $_ := set $sc "runAsNonRoot" false -}}
{{- $_ := set $sc "runAsUser" 0 -}}
{{- $_ := set $sc "runAsGroup" 0 -}}
{{- toYaml $sc -}}
{{- end -}}
