{{/*
alertmanager.yml from values: one route per alertmanager.routes entry (matchers on the alerts'
labels: severity, action, site, ... as the CEP and the Prometheus rules set them), each to a
receiver of alertmanager.receivers; everything unmatched goes to defaultReceiver. A receiver
without a webhook URL drops what it gets (an environment declares the URLs).
*/}}
{{- define "monitoring.alertmanagerConfig" -}}
{{- $am := .Values.alertmanager -}}
{{- $names := list "null" -}}
{{- range $am.receivers }}{{ $names = append $names .name }}{{ end -}}
{{- range $am.routes -}}
{{- if not (has .receiver $names) -}}
{{- fail (printf "alertmanager.routes: receiver %q is not in alertmanager.receivers" .receiver) -}}
{{- end -}}
{{- end -}}
{{- if not (has $am.defaultReceiver $names) -}}
{{- fail (printf "alertmanager.defaultReceiver %q is not in alertmanager.receivers (or null)" $am.defaultReceiver) -}}
{{- end -}}
global:
  resolve_timeout: {{ $am.resolveTimeout }}
route:
  receiver: {{ $am.defaultReceiver | quote }}
  group_by: {{ toJson $am.groupBy }}
  group_wait: {{ $am.groupWait }}
  group_interval: {{ $am.groupInterval }}
  repeat_interval: {{ $am.repeatInterval }}
  {{- with $am.routes }}
  routes:
    {{- range . }}
    - receiver: {{ .receiver | quote }}
      matchers: {{ toJson .matchers }}
      {{- with .groupWait }}
      group_wait: {{ . }}
      {{- end }}
      {{- if .continue }}
      continue: true
      {{- end }}
    {{- end }}
  {{- end }}
receivers:
  - name: "null"
  {{- range $am.receivers }}
  - name: {{ .name | quote }}
    {{- with .url }}
    webhook_configs:
      - url: {{ . | quote }}
        send_resolved: {{ $.Values.alertmanager.sendResolved }}
    {{- end }}
  {{- end }}
{{- end -}}
