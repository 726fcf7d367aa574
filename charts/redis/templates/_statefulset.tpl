{{/*
One Redis StatefulSet: (dict "ctx" $ "role" "primary"|"replica" "name" "redis" "replicas" 1).
Both roles share the component "server" (one PDB, one NetworkPolicy, spread together);
the edgeai.io/redis-role label tells them apart for the Services.
*/}}
{{- define "redis.statefulset" -}}
{{- $ := .ctx -}}
{{- $component := dict "ctx" $ "component" "server" -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .name }}
  labels:
    {{- include "edgeai.labels" $component | nindent 4 }}
    edgeai.io/redis-role: {{ .role }}
spec:
  serviceName: {{ include "redis.headlessName" $ }}
  replicas: {{ .replicas }}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  selector:
    matchLabels:
      {{- include "redis.roleSelector" (dict "ctx" $ "role" .role) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "edgeai.labels" $component | nindent 8 }}
        edgeai.io/redis-role: {{ .role }}
      annotations:
        checksum/config: {{ include "redis.configData" $ | sha256sum }}
        {{- if $.Values.metrics.enabled }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ include "redis.metricsPort" $ | quote }}
        prometheus.io/path: /metrics
        {{- end }}
    spec:
      serviceAccountName: {{ include "edgeai.componentName" $component }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ int $.Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "edgeai.podSecurityContext" (dict "uid" (include "redis.uid" $ | int) "fsGroup" (include "redis.uid" $ | int)) | nindent 8 }}
      {{- include "edgeai.scheduling" $ | nindent 6 }}
      {{- include "edgeai.topologySpread" (merge (dict "hard" true) $component) | nindent 6 }}
      containers:
        - name: redis
          image: {{ include "edgeai.image" (dict "ctx" $ "image" $.Values.image) }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          command: ["sh", "/etc/redis/start.sh"]
          securityContext:
            {{- include "edgeai.containerSecurityContext" $ | nindent 12 }}
          env:
            {{- include "redis.authEnv" $ | nindent 12 }}
            {{- include "redis.cliAuthEnv" $ | nindent 12 }}
            {{- include "redis.queryAuthEnv" (dict "ctx" $ "name" "REDIS_QUERY_PASSWORD") | nindent 12 }}
            {{- if eq .role "replica" }}
            - name: REDIS_PRIMARY_HOST
              value: {{ include "redis.primaryHost" $ }}
            {{- end }}
          ports:
            - name: redis
              containerPort: {{ include "redis.port" $ }}
          readinessProbe:
            exec:
              command: ["sh", "-c", "redis-cli -h 127.0.0.1 -p {{ include "redis.port" $ }} ping | grep -q PONG"]
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          # A server still loading its AOF answers LOADING: alive, not yet ready.
          livenessProbe:
            exec:
              command: ["sh", "-c", "out=$(redis-cli -h 127.0.0.1 -p {{ include "redis.port" $ }} ping 2>&1); case \"$out\" in *PONG*|*LOADING*) exit 0;; esac; echo \"$out\"; exit 1"]
            initialDelaySeconds: 10
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 6
          resources:
            {{- toYaml $.Values.resources | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
            - name: config
              mountPath: /etc/redis
              readOnly: true
        {{- if $.Values.metrics.enabled }}
        - name: metrics
          image: {{ include "edgeai.image" (dict "ctx" $ "image" $.Values.metrics.image) }}
          imagePullPolicy: {{ $.Values.metrics.image.pullPolicy }}
          securityContext:
            {{- include "edgeai.containerSecurityContext" $ | nindent 12 }}
          env:
            - name: REDIS_ADDR
              value: redis://127.0.0.1:{{ include "redis.port" $ }}
            {{- include "redis.authEnv" $ | nindent 12 }}
          ports:
            - name: metrics
              containerPort: {{ include "redis.metricsPort" $ }}
          readinessProbe:
            tcpSocket:
              port: metrics
            periodSeconds: 10
          livenessProbe:
            tcpSocket:
              port: metrics
            periodSeconds: 20
            failureThreshold: 6
          resources:
            {{- toYaml $.Values.metrics.resources | nindent 12 }}
        {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "edgeai.fullname" $ }}
  volumeClaimTemplates:
    # apiVersion, kind and volumeMode as the API server stores them, or Argo CD sees a diff forever
    # (argoproj/argo-cd#11143).
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        labels:
          {{- include "redis.roleSelector" (dict "ctx" $ "role" .role) | nindent 10 }}
      spec:
        accessModes: ["ReadWriteOnce"]
        volumeMode: Filesystem
        {{- with $.Values.global.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $.Values.persistence.size }}
{{- end -}}
