{{/*
Redis-specific helpers. Names, labels, security contexts, PDB and NetworkPolicy
come from the edgeai-common library.
*/}}

{{- define "redis.port" -}}6379{{- end -}}
{{- define "redis.metricsPort" -}}9121{{- end -}}
{{/* uid of the `redis` user in the official image */}}
{{- define "redis.uid" -}}999{{- end -}}

{{- define "redis.headlessName" -}}
{{- printf "%s-headless" (include "edgeai.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "redis.replicaName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "replica") -}}
{{- end -}}

{{- define "redis.replicasServiceName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "replicas") -}}
{{- end -}}

{{/* DNS name of the primary pod (pod 0 of the primary StatefulSet). */}}
{{- define "redis.primaryHost" -}}
{{- printf "%s-0.%s.%s.svc" (include "edgeai.fullname" .) (include "redis.headlessName" .) .Release.Namespace -}}
{{- end -}}

{{/* Selector of one role's pods: (dict "ctx" $ "role" "primary") */}}
{{- define "redis.roleSelector" -}}
{{ include "edgeai.selectorLabels" (dict "ctx" .ctx "component" "server") }}
edgeai.io/redis-role: {{ .role }}
{{- end -}}

{{- define "redis.authEnv" -}}
{{- if .Values.auth.enabled -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.passwordKey }}
{{- end }}
{{- end -}}

{{/* redis-cli reads the password from REDISCLI_AUTH, so it never shows on a command line. */}}
{{- define "redis.cliAuthEnv" -}}
{{- if .Values.auth.enabled -}}
- name: REDISCLI_AUTH
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.passwordKey }}
{{- end }}
{{- end -}}

{{/* The query API's ACL user password (server: to create the user; query pods: to log in). */}}
{{/* (dict "ctx" $ "name" "ENV_NAME") */}}
{{- define "redis.queryAuthEnv" -}}
{{- if .ctx.Values.query.enabled -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ctx.Values.query.auth.existingSecret }}
      key: {{ .ctx.Values.query.auth.passwordKey }}
{{- end }}
{{- end -}}

{{- define "redis.queryPort" -}}8080{{- end -}}
{{- define "redis.queryMetricsPort" -}}9122{{- end -}}
{{- define "redis.queryName" -}}
{{- include "edgeai.componentName" (dict "ctx" . "component" "query") -}}
{{- end -}}

{{- define "redis.validate" -}}
{{- if and .Values.query.enabled (not .Values.auth.enabled) -}}
{{- fail "redis: query.enabled needs auth.enabled (the query API's read-only ACL user stands beside the password-protected default user)" -}}
{{- end -}}
{{- if and .Values.snapshotSync.enabled (not .Values.snapshotSync.destination) -}}
{{- fail "redis: snapshotSync.enabled needs snapshotSync.destination (an rclone \"remote:bucket/path\")" -}}
{{- end -}}
{{- end -}}

{{- define "redis.configData" -}}
redis.conf: |
  # Rendered by the edgeai redis chart: release {{ .Release.Name }}, namespace {{ .Release.Namespace }}.
  # The password is not here: start.sh passes it from the Secret {{ .Values.auth.existingSecret | quote }}.
  bind * -::*
  port {{ include "redis.port" . }}
  protected-mode {{ ternary "yes" "no" .Values.auth.enabled }}
  tcp-keepalive 300
  timeout 0
  loglevel notice
  logfile ""
  # Persistence: append-only file on the volume, fsync once a second.
  dir /data
  appendonly yes
  appendfsync {{ .Values.persistence.appendfsync }}
  appenddirname "appendonlydir"
  aof-use-rdb-preamble yes
  auto-aof-rewrite-percentage 100
  auto-aof-rewrite-min-size 64mb
  save {{ .Values.persistence.rdbSave | quote }}
  dbfilename dump.rdb
  # Memory
  maxmemory {{ .Values.maxmemory }}
  maxmemory-policy {{ .Values.maxmemoryPolicy }}
  # Replication (used when replica.count > 0)
  replica-read-only yes
  replica-serve-stale-data yes
  repl-diskless-sync yes
start.sh: |
  #!/bin/sh
  # Start redis-server with the rendered redis.conf; AUTH and the primary's address come
  # from the environment so that neither is written into a ConfigMap.
  set -eu
  set -- /etc/redis/redis.conf
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    set -- "$@" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
  fi
  # The query API's read-only ACL user (query.enabled): PING, SCAN and HGETALL on the CEP's tables,
  # nothing else. Its password is passed as its SHA-256, never in clear on the command line.
  if [ -n "${REDIS_QUERY_PASSWORD:-}" ]; then
    hash=$(printf '%s' "$REDIS_QUERY_PASSWORD" | sha256sum | cut -d' ' -f1)
    set -- "$@" --user {{ .Values.query.auth.username }} on "#$hash" resetkeys \
      {{ range (list .Values.query.tables.aggregates .Values.query.tables.predictions) }}'%R~{{ . }}:*' {{ end }}resetchannels -@all +ping +scan +hgetall
  fi
  if [ -n "${REDIS_PRIMARY_HOST:-}" ]; then
    set -- "$@" --replicaof "$REDIS_PRIMARY_HOST" {{ include "redis.port" . }}
  fi
  exec redis-server "$@"
{{- end -}}
