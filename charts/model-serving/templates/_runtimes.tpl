{{/*
The one place that says which inference server runs which framework, and what each
server needs. values.schema.json lists the same eight frameworks in model.framework's
enum (a test checks that the two agree).
*/}}

{{/* framework → server (and, for MLServer, the runtime class that loads it) */}}
{{- define "model-serving.frameworks" -}}
sklearn:
  server: mlserver
  implementation: mlserver_sklearn.SKLearnModel
xgboost:
  server: mlserver
  implementation: mlserver_xgboost.XGBoostModel
lightgbm:
  server: mlserver
  implementation: mlserver_lightgbm.LightGBMModel
mlflow:
  server: mlserver
  implementation: mlserver_mlflow.MLflowRuntime
huggingface:
  server: mlserver
  implementation: mlserver_huggingface.HuggingFaceRuntime
onnx:
  server: triton
  backend: onnxruntime
pytorch:
  server: triton
  backend: pytorch
tensorflow:
  server: triton
  backend: tensorflow
{{- end -}}

{{/* server → the ports it really listens on, and the image block in values.images */}}
{{- define "model-serving.servers" -}}
mlserver:
  image: mlserver
  ports: {http: 8080, grpc: 8081, metrics: 8082}
triton:
  image: triton
  ports: {http: 8000, grpc: 8001, metrics: 8002}
{{- end -}}

{{/* The runtime of .Values.model.framework: framework entry merged with its server's entry. */}}
{{- define "model-serving.runtime" -}}
{{- $frameworks := include "model-serving.frameworks" . | fromYaml -}}
{{- $fw := .Values.model.framework -}}
{{- $entry := get $frameworks $fw -}}
{{- if not $entry -}}
{{- fail (printf "model.framework %q is not one of: %s" $fw (keys $frameworks | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $server := get (include "model-serving.servers" . | fromYaml) $entry.server -}}
{{- toYaml (merge (dict "framework" $fw) $entry $server) -}}
{{- end -}}
