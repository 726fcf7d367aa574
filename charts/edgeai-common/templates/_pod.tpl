{{/*
Pod-level building blocks. Defaults satisfy Pod Security "restricted":
non-root, RuntimeDefault seccomp, no privilege escalation, all capabilities
dropped, read-only root filesystem (components mount emptyDirs where they write).
*/}}

{{/* Image reference: (dict "ctx" $ "image" .Values.image). global.imageRegistry
     replaces the registry so an air-gapped site can point every chart at its mirror. */}}
{{- define "edgeai.image" -}}
{{- $registry := .image.registry -}}
{{- with .ctx.Values.global }}{{ with .imageRegistry }}{{ $registry = . }}{{ end }}{{ end -}}
{{- $ref := printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{/* (dict "uid" 1000 "fsGroup" 1000) — both optional */}}
{{- define "edgeai.podSecurityContext" -}}
runAsNonRoot: true
{{- with .uid }}
runAsUser: {{ . }}
runAsGroup: {{ . }}
{{- end }}
{{- with .fsGroup }}
fsGroup: {{ . }}
fsGroupChangePolicy: OnRootMismatch
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "edgeai.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Scheduling knobs every chart accepts the same way. */}}
{{- define "edgeai.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pods spread over the site's nodes when it has more than one:
     (dict "ctx" $ "component" "broker") */}}
{{- /* "hard": true for pods pinned to their first node by a local volume (Kafka brokers): two
       of them on one node would stay together for good, so the scheduler must not place them so. */ -}}
{{- define "edgeai.topologySpread" -}}
{{- if gt (int (.ctx.Values.global.nodeCount | default 1)) 1 }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ if .hard }}DoNotSchedule{{ else }}ScheduleAnyway{{ end }}
    labelSelector:
      matchLabels:
        {{- include "edgeai.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}
