{{/*
Tracks: the stable server and, when model.canary is set, the canary. Each becomes a
Deployment + Service named after the model (`<name>`, `<name>-canary`), an HPA, a PDB
and a NetworkPolicy. Returned as a YAML list for fromYamlArray.
*/}}
{{- define "model-serving.tracks" -}}
{{- $m := .Values.model -}}
- track: stable
  name: {{ $m.name | quote }}
  uri: {{ $m.uri | quote }}
  version: {{ $m.version | default (include "model-serving.version" $m.uri) | quote }}
{{- with $m.canary }}
- track: canary
  name: {{ printf "%s-canary" $m.name | quote }}
  uri: {{ .uri | quote }}
  version: {{ .version | default (include "model-serving.version" .uri) | quote }}
  weight: {{ .weight | int }}
{{- end }}
{{- end -}}

{{/* Version of an artifact without a declared one: the last segment of its URI (s3://models/iris/v3 → v3). */}}
{{- define "model-serving.version" -}}
{{- if hasPrefix "oci://" . -}}
{{- . | splitList ":" | last -}}
{{- else -}}
{{- . | trimSuffix "/" | splitList "/" | last -}}
{{- end -}}
{{- end -}}

{{/* An oci:// artifact is an image holding the model under /model; its registry follows
     global.imageRegistry like every other image, so a site pulls it through its own registry
     (and a restarted pod finds it in the node's image cache, with or without an uplink). */}}
{{- define "model-serving.artifactImage" -}}
{{- $path := trimPrefix "oci://" .uri -}}
{{- $registry := first (splitList "/" $path) -}}
{{- $rest := trimPrefix (printf "%s/" $registry) $path -}}
{{- $image := dict "registry" $registry "repository" (regexReplaceAll ":[^:]*$" $rest "") "tag" (regexFind "[^:]*$" $rest) -}}
{{- include "edgeai.image" (dict "ctx" .ctx "image" $image) -}}
{{- end -}}

{{/* Where the artifact lands: /mnt/models/<model name>, the layout both servers expect
     (MLServer: a folder per model; Triton: <repository>/<model>/<version>/...). */}}
{{- define "model-serving.modelDir" -}}
{{- printf "/mnt/models/%s" .Values.model.name -}}
{{- end -}}

{{/* rclone arguments copying an artifact URI into a folder: (dict "uri" "s3://b/p" "dest" "/mnt/models/x").
     s3://bucket/path → remote `s3:` and gs://bucket/path → remote `gs:` of the mounted
     rclone.conf; https://host/path → rclone's on-the-fly http remote (a folder listing). */}}
{{- define "model-serving.rcloneArgs" -}}
{{- $common := list "--config=/etc/rclone/rclone.conf" "--retries=5" "--low-level-retries=10" "--stats-one-line" "--stats=30s" "-v" -}}
{{- if hasPrefix "s3://" .uri -}}
{{- toJson (concat (list "copy" (printf "s3:%s" (trimPrefix "s3://" .uri)) .dest) $common) -}}
{{- else if hasPrefix "gs://" .uri -}}
{{- toJson (concat (list "copy" (printf "gs:%s" (trimPrefix "gs://" .uri)) .dest) $common) -}}
{{- else if hasPrefix "https://" .uri -}}
{{- toJson (concat (list "copy" (printf "--http-url=%s" .uri) ":http:" .dest) $common) -}}
{{- else -}}
{{- fail (printf "model artifact URI %q: expected s3://, gs:// or https://" .uri) -}}
{{- end -}}
{{- end -}}

{{/* CPU quantity rounded up to whole cores (at least 1): "1500m" → 2, "2" → 2, 0.5 → 1. */}}
{{- define "model-serving.wholeCores" -}}
{{- $q := toString . -}}
{{- $cores := 0 -}}
{{- if hasSuffix "m" $q -}}
{{- $cores = div (add (trimSuffix "m" $q | int) 999) 1000 -}}
{{- else -}}
{{- $cores = $q | float64 | ceil | int -}}
{{- end -}}
{{- max 1 $cores -}}
{{- end -}}

{{/* Resources of the server container. With model.gpu > 0: nvidia.com/gpu, and requests
     equal to limits with whole CPUs, so the pod is Guaranteed and the static CPU manager
     gives it exclusive cores. */}}
{{- define "model-serving.serverResources" -}}
{{- $r := .Values.resources -}}
{{- $gpu := int .Values.model.gpu -}}
{{- if gt $gpu 0 -}}
{{- $list := deepCopy $r.limits -}}
{{- $_ := set $list "cpu" (include "model-serving.wholeCores" $r.limits.cpu | int) -}}
{{- $_ := set $list "nvidia.com/gpu" $gpu -}}
{{- toYaml (dict "requests" $list "limits" $list) -}}
{{- else -}}
{{- toYaml $r -}}
{{- end -}}
{{- end -}}

{{/* Resources of the artifact-copy init container; requests = limits on GPU pods
     (a pod is Guaranteed only when every container, init containers included, is). */}}
{{- define "model-serving.initResources" -}}
{{- $r := .Values.storage.resources -}}
{{- if gt (int .Values.model.gpu) 0 -}}
{{- toYaml (dict "requests" $r.limits "limits" $r.limits) -}}
{{- else -}}
{{- toYaml $r -}}
{{- end -}}
{{- end -}}

{{/* HPA maximum: autoscaling.maxReplicas, else twice model.replicas. */}}
{{- define "model-serving.maxReplicas" -}}
{{- $min := int .Values.model.replicas -}}
{{- $max := mul 2 $min -}}
{{- if not (kindIs "invalid" .Values.autoscaling.maxReplicas) }}{{ $max = int .Values.autoscaling.maxReplicas }}{{ end -}}
{{- if lt $max $min -}}
{{- fail (printf "autoscaling.maxReplicas (%d) is below model.replicas (%d)" $max $min) -}}
{{- end -}}
{{- $max -}}
{{- end -}}

{{/* Most replicas a Deployment can run: what decides whether it gets a PDB. */}}
{{- define "model-serving.peakReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- include "model-serving.maxReplicas" . -}}
{{- else -}}
{{- int .Values.model.replicas -}}
{{- end -}}
{{- end -}}

{{/* MLServer configuration of one track: (dict "ctx" $ "track" $t). Its checksum rolls the pods. */}}
{{- define "model-serving.mlserverConfig" -}}
{{- $ := .ctx -}}
{{- $rt := include "model-serving.runtime" $ | fromYaml -}}
{{- $settings := dict
      "debug" false
      "host" "0.0.0.0"
      "http_port" $rt.ports.http
      "grpc_port" $rt.ports.grpc
      "metrics_port" $rt.ports.metrics
      "metrics_endpoint" "/metrics"
      "metrics_dir" "/tmp/mlserver/metrics"
      "environments_dir" "/tmp/mlserver/envs"
      "load_models_at_startup" true
      "parallel_workers" (int $.Values.mlserver.parallelWorkers)
      "server_name" "mlserver"
-}}
{{- with $.Values.mlserver.grpcMaxMessageLength }}{{ $_ := set $settings "grpc_max_message_length" (int .) }}{{ end -}}
{{- $modelSettings := dict
      "name" $.Values.model.name
      "implementation" $rt.implementation
      "parameters" (dict "uri" (include "model-serving.modelDir" $) "version" .track.version)
-}}
settings.json: |
  {{- toPrettyJson $settings | nindent 2 }}
model-settings.json: |
  {{- toPrettyJson $modelSettings | nindent 2 }}
{{- end -}}
