{{/*
Siddhi chart helpers. Names, labels, images and security contexts come from edgeai-common.
*/}}

{{/* Where the runner lives in the official image, and where this chart mounts things. */}}
{{- define "siddhi.userHome" -}}/home/siddhi_user{{- end -}}
{{- define "siddhi.runnerHome" -}}/home/siddhi_user/siddhi-runner{{- end -}}
{{- define "siddhi.appsDir" -}}/etc/siddhi/apps{{- end -}}
{{- define "siddhi.confDir" -}}/etc/siddhi/conf{{- end -}}
{{- define "siddhi.stateDir" -}}/var/lib/siddhi/state{{- end -}}

{{/* The uid/gid of siddhi_user in the official image (docker-siddhi base Dockerfile: USER 802). */}}
{{- define "siddhi.uid" -}}802{{- end -}}

{{/* A number as a Siddhi literal: never exponent notation, always a decimal point (100 -> 100.0). */}}
{{- define "siddhi.decimal" -}}
{{- $s := printf "%f" (float64 .) | trimSuffix "0" -}}
{{- $s = regexReplaceAll "0+$" $s "" -}}
{{- if hasSuffix "." $s }}{{ $s = printf "%s0" $s }}{{ end -}}
{{- $s -}}
{{- end -}}

{{/*
Values substituted into the Siddhi apps when they are rendered into the ConfigMap. An app refers to
them as ${NAME}, Siddhi's own variable syntax; any ${NAME} not listed here (the secrets
REDIS_PASSWORD and INFERENCE_AUTH_VALUE) stays in the text and is resolved by the runner from the
container's environment when it deploys the app.
*/}}
{{- define "siddhi.placeholders" -}}
{{- $v := .Values -}}
KAFKA_BOOTSTRAP_SERVERS: {{ $v.kafka.bootstrapServers | quote }}
KAFKA_GROUP_ID: {{ $v.kafka.groupId | quote }}
KAFKA_SESSION_TIMEOUT_MS: {{ $v.kafka.sessionTimeoutMs | int | quote }}
KAFKA_HEARTBEAT_INTERVAL_MS: {{ div (int $v.kafka.sessionTimeoutMs) 3 | quote }}
TOPIC_INPUT: {{ $v.kafka.topics.input | quote }}
TOPIC_ALERTS: {{ $v.kafka.topics.alerts | quote }}
TOPIC_AGGREGATES: {{ $v.kafka.topics.aggregates | quote }}
TOPIC_PREDICTIONS: {{ $v.kafka.topics.predictions | quote }}
TOPIC_LOW_CONFIDENCE: {{ $v.kafka.topics.lowConfidence | quote }}
LOW_CONFIDENCE_THRESHOLD: {{ include "siddhi.decimal" $v.inference.lowConfidenceThreshold | quote }}
INFERENCE_URL: {{ printf "%s/v2/models/%s/infer" (trimSuffix "/" $v.inference.url) $v.inference.model | quote }}
INFERENCE_MODEL: {{ $v.inference.model | quote }}
INFERENCE_INPUT_NAME: {{ $v.inference.inputName | quote }}
INFERENCE_TIMEOUT_MS: {{ $v.inference.timeoutMs | int | quote }}
{{- if $v.inference.apiKey.enabled }}
INFERENCE_HEADERS: {{ printf "'%s:${INFERENCE_AUTH_VALUE}'" $v.inference.apiKey.header | quote }}
{{- else }}
INFERENCE_HEADERS: "'Accept:application/json'"
{{- end }}
REDIS_HOST: {{ $v.redis.host | quote }}
REDIS_PORT: {{ $v.redis.port | int | quote }}
FEATURE_WINDOW_SECONDS: {{ $v.features.windowSeconds | int | quote }}
FEATURE_EMIT_SECONDS: {{ $v.features.emitEverySeconds | int | quote }}
ANOMALY_THRESHOLD: {{ include "siddhi.decimal" $v.rules.predictionThreshold | quote }}
PERSISTENT_WITHIN_SECONDS: {{ $v.rules.persistentWithinSeconds | int | quote }}
RULE_MAX_VALUE: {{ include "siddhi.decimal" $v.rules.maxValue | quote }}
RULE_ZSCORE: {{ include "siddhi.decimal" $v.rules.zScore | quote }}
METRICS_PORT: {{ $v.metrics.port | int | quote }}
WINDOWED_SEVERITY: {{ $v.rules.windowed.severity | quote }}
WINDOWED_ACTION: {{ $v.rules.windowed.action | quote }}
SITE: {{ $v.global.site | quote }}
ENVIRONMENT: {{ $v.global.environment | quote }}
ALERTMANAGER_URL: {{ printf "%s/api/v2/alerts" (trimSuffix "/" $v.alertmanager.url) | quote }}
{{- end -}}

{{/* A per-event condition on SensorEventStream (a rule of rules.perEvent or rules.patterns). */}}
{{- define "siddhi.eventCondition" -}}
{{- $cond := printf "%s %s %s" .field .op (include "siddhi.decimal" .value) -}}
{{- with .sensorType }}{{ $cond = printf "%s and sensorType == '%s'" $cond . }}{{ end -}}
{{- $cond -}}
{{- end -}}

{{/*
SiddhiQL of the per-event path, put where the shipped app says PER_EVENT_RULES (in dollar-brace
form): a filter query per rules.perEvent entry, and per rules.patterns entry a sequence of count
matching events of one sensor in a row (a non-matching event of that sensor breaks it) within
withinSeconds, partitioned by sensor. Names, fields, operators and sensor types are constrained by
values.schema.json, so nothing from values can break out of the generated text.
*/}}
{{- define "siddhi.perEventRules" -}}
{{- range .Values.rules.perEvent }}
@info(name='per-event-{{ .name }}')
from SensorEventStream[{{ include "siddhi.eventCondition" . }}]
select sensorId, 'threshold' as kind, -1.0 as score, value as avgValue, value as maxValue, 0.0 as zScore,
       currentTimeMillis() as detectedAt, 'per-event' as path, '{{ .name }}' as rule,
       '{{ .severity }}' as severity, '{{ .action }}' as action, value, eventTime
insert into AlertStream;
{{ end }}
{{- range .Values.rules.patterns }}
{{- $cond := include "siddhi.eventCondition" . }}
{{- $last := printf "e%d" (int .count) }}
partition with (sensorId of SensorEventStream)
begin
    @info(name='per-event-pattern-{{ .name }}')
    from every {{ range $i, $_ := until (int .count) }}{{ if $i }}, {{ end }}e{{ add1 $i }}=SensorEventStream[{{ $cond }}]{{ end }}
         within {{ int .withinSeconds }} sec
    select {{ $last }}.sensorId as sensorId, 'pattern' as kind, -1.0 as score, {{ $last }}.value as avgValue,
           {{ $last }}.value as maxValue, 0.0 as zScore, currentTimeMillis() as detectedAt, 'per-event' as path,
           '{{ .name }}' as rule, '{{ .severity }}' as severity, '{{ .action }}' as action,
           {{ $last }}.value as value, {{ $last }}.eventTime as eventTime
    insert into AlertStream;
end;
{{ end }}
{{- end -}}

{{/* One app's text with the placeholders substituted: (dict "ctx" $ "text" "...") */}}
{{- define "siddhi.renderApp" -}}
{{- $text := .text -}}
{{- $text = replace "${PER_EVENT_RULES}" (include "siddhi.perEventRules" .ctx | trim) $text -}}
{{- range $name, $value := include "siddhi.placeholders" .ctx | fromYaml -}}
{{- $text = replace (printf "${%s}" $name) (toString $value) $text -}}
{{- end -}}
{{- if not .ctx.Values.metrics.enabled -}}
{{- $text = regexReplaceAll "(?s)-- edgeai:metrics:begin.*?-- edgeai:metrics:end\n?" $text "" -}}
{{- end -}}
{{- if not .ctx.Values.alertmanager.enabled -}}
{{- $text = regexReplaceAll "(?s)-- edgeai:alertmanager:begin.*?-- edgeai:alertmanager:end\n?" $text "" -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{/* The apps ConfigMap data: file name -> rendered app. */}}
{{- define "siddhi.appsData" -}}
{{- $files := dict "sensor-anomaly.siddhi" (.Files.Get "apps/sensor-anomaly.siddhi") -}}
{{- range $name, $text := .Values.extraApps -}}
{{- $file := printf "%s.siddhi" $name -}}
{{- if hasKey $files $file -}}
{{- fail (printf "extraApps.%s: the chart already ships an app named %s" $name $name) -}}
{{- end -}}
{{- if not (regexMatch (printf "(?i)@app:name\\(\\s*['\"]%s['\"]\\s*\\)" (regexQuoteMeta $name)) $text) -}}
{{- fail (printf "extraApps.%s: the app text must declare @App:name('%s') (the runner names apps after their file)" $name $name) -}}
{{- end -}}
{{- $_ := set $files $file $text -}}
{{- end -}}
{{- range $file, $text := $files }}
{{ $file }}: |
  {{- include "siddhi.renderApp" (dict "ctx" $ "text" $text) | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The sections of the runner's deployment.yaml this chart sets. At start the prepare script replaces
these top-level sections in the runner's own conf/runner/deployment.yaml and keeps every other
section as the image ships it. runnerConfig is merged over them (a top-level key it adds replaces
the runner's section of that name).
*/}}
{{- define "siddhi.runnerConfig" -}}
{{- $p := .Values.persistence -}}
{{- $base := dict
  "state.persistence" (dict
    "enabled" true
    "intervalInMin" (int $p.intervalMinutes)
    "revisionsToKeep" (int $p.revisionsToKeep)
    "persistenceStore" "io.siddhi.distribution.core.persistence.FileSystemPersistenceStore"
    "config" (dict "location" (include "siddhi.stateDir" .)))
-}}
{{- toYaml (mustMergeOverwrite $base (deepCopy .Values.runnerConfig)) -}}
{{- end -}}
