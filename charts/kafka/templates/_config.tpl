{{/*
Contents of the chart's ConfigMaps, one helper per ConfigMap so each workload's
checksum annotation only changes (and only rolls its pods) when its own files change.
*/}}

{{- define "kafka.log4jData" -}}
# Console-only logging: no log files grow inside the container.
log4j2.properties: |
  status = warn
  appender.console.type = Console
  appender.console.name = STDOUT
  appender.console.target = SYSTEM_OUT
  appender.console.layout.type = PatternLayout
  appender.console.layout.pattern = [%d] %p %m (%c)%n
  rootLogger.level = INFO
  rootLogger.appenderRef.stdout.ref = STDOUT
  logger.kafka.name = kafka
  logger.kafka.level = INFO
  logger.apache.name = org.apache.kafka
  logger.apache.level = INFO
  logger.request.name = kafka.request.logger
  logger.request.level = WARN
  logger.statechange.name = state.change.logger
  logger.statechange.level = INFO
{{- end -}}

{{- define "kafka.brokerConfigData" -}}
{{- $rf := include "kafka.replicationFactor" . -}}
{{- $isr := include "kafka.minInsyncReplicas" . -}}
{{- $protocol := ternary "SASL_PLAINTEXT" "PLAINTEXT" .Values.auth.enabled -}}
# Shared by every node; start.sh appends node.id and advertised.listeners per pod.
server.properties: |
  # Rendered by the edgeai kafka chart: release {{ .Release.Name }}, namespace {{ .Release.Namespace }}, brokers {{ int .Values.brokers }}.
  ############################# KRaft #############################
  process.roles=broker,controller
  controller.quorum.voters={{ include "kafka.quorumVoters" . }}
  controller.listener.names=CONTROLLER
  ############################# Listeners #############################
  listeners=CLIENT://:{{ include "kafka.clientPort" . }},CONTROLLER://:{{ include "kafka.controllerPort" . }}{{ if .Values.external.enabled }},EXTERNAL://:{{ include "kafka.externalPort" . }}{{ end }}
  listener.security.protocol.map=CLIENT:{{ $protocol }},CONTROLLER:PLAINTEXT{{ if .Values.external.enabled }},EXTERNAL:SASL_SSL{{ end }}
  inter.broker.listener.name=CLIENT
  {{- if .Values.auth.enabled }}
  sasl.enabled.mechanisms=PLAIN
  sasl.mechanism.inter.broker.protocol=PLAIN
  {{- end }}
  {{- if .Values.external.enabled }}
  # Devices and producers outside the cluster: TLS (certificate and key from the Secret
  # {{ .Values.external.tlsSecret }}, added by start.sh) and SASL/SCRAM-SHA-512 users that the topics
  # Job creates from external.users; their quotas throttle (delay) them, nothing is dropped.
  listener.name.external.sasl.enabled.mechanisms=SCRAM-SHA-512
  listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
  listener.name.external.ssl.keystore.type=PEM
  listener.name.external.ssl.client.auth=none
  listener.name.external.ssl.enabled.protocols=TLSv1.3,TLSv1.2
  {{- end }}
  ############################# Storage #############################
  log.dirs=/var/lib/kafka/data/logs
  ############################# Replication (derived from brokers) #############################
  default.replication.factor={{ $rf }}
  min.insync.replicas={{ $isr }}
  offsets.topic.replication.factor={{ $rf }}
  transaction.state.log.replication.factor={{ $rf }}
  transaction.state.log.min.isr={{ $isr }}
  share.coordinator.state.topic.replication.factor={{ $rf }}
  share.coordinator.state.topic.min.isr={{ $isr }}
  unclean.leader.election.enable=false
  ############################# Topics #############################
  auto.create.topics.enable={{ .Values.autoCreateTopics }}
  num.partitions={{ int .Values.numPartitions }}
  log.retention.hours={{ int .Values.logRetentionHours }}
  log.retention.check.interval.ms=300000
  group.initial.rebalance.delay.ms={{ ternary 0 3000 (eq (int .Values.brokers) 1) }}
  {{- with .Values.extraConfig }}
  ############################# extraConfig #############################
  {{- range $k, $v := . }}
  {{ $k }}={{ if and (kindIs "float64" $v) (eq $v (float64 (int64 $v))) }}{{ int64 $v }}{{ else }}{{ $v }}{{ end }}
  {{- end }}
  {{- end }}
start.sh: |
  #!/bin/bash
  # Start one combined KRaft broker+controller node with the rendered server.properties.
  set -euo pipefail
  umask 077
  ordinal="${POD_NAME##*-}"
  conf=/tmp/kafka/server.properties
  {{- if .Values.external.enabled }}
  # What clients outside the cluster connect to, per broker ordinal (external.advertisedHosts, the Service's ports).
  external_advertised=({{ range $i := until (int .Values.brokers) }}{{ if $i }} {{ end }}"{{ include "kafka.externalAdvertised" (dict "ctx" $ "i" $i) }}"{{ end }})
  if [ -z "${KAFKA_EXTERNAL_TLS_CERT:-}" ] || [ -z "${KAFKA_EXTERNAL_TLS_KEY:-}" ]; then
    echo "the external listener needs tls.crt and tls.key in Secret {{ .Values.external.tlsSecret }}" >&2
    exit 1
  fi
  {{- end }}
  mkdir -p /tmp/kafka "$LOG_DIR"
  {
    cat /etc/kafka/edgeai/server.properties
    echo "############################# Per node (start.sh) #############################"
    echo "node.id=${ordinal}"
    {{- if .Values.external.enabled }}
    echo "advertised.listeners=CLIENT://${POD_NAME}.${HEADLESS_SERVICE}.${POD_NAMESPACE}.svc:{{ include "kafka.clientPort" . }},EXTERNAL://${external_advertised[$ordinal]}"
    # PEM values on one line: Kafka reads the blocks between the BEGIN/END markers, whitespace aside.
    echo "listener.name.external.ssl.keystore.certificate.chain=$(printf '%s' "$KAFKA_EXTERNAL_TLS_CERT" | tr '\n' ' ')"
    echo "listener.name.external.ssl.keystore.key=$(printf '%s' "$KAFKA_EXTERNAL_TLS_KEY" | tr '\n' ' ')"
    {{- else }}
    echo "advertised.listeners=CLIENT://${POD_NAME}.${HEADLESS_SERVICE}.${POD_NAMESPACE}.svc:{{ include "kafka.clientPort" . }}"
    {{- end }}
    if [ -n "${KAFKA_SASL_USERNAME:-}" ]; then
      echo "listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${KAFKA_SASL_USERNAME}\" password=\"${KAFKA_SASL_PASSWORD}\" user_${KAFKA_SASL_USERNAME}=\"${KAFKA_SASL_PASSWORD}\";"
    fi
  } > "$conf"
  # First start formats the volume with the release's cluster id; later starts are a no-op.
  /opt/kafka/bin/kafka-storage.sh format --config "$conf" --cluster-id "$KAFKA_CLUSTER_ID" --ignore-formatted
  exec /opt/kafka/bin/kafka-server-start.sh "$conf"
{{ include "kafka.log4jData" . }}
{{- end -}}

{{- define "kafka.topicsConfigData" -}}
{{- $rf := include "kafka.replicationFactor" . -}}
{{- $isr := include "kafka.minInsyncReplicas" . -}}
topics.sh: |
  #!/bin/bash
  # Create the declared topics if missing and keep their topic-level configs in line.
  set -euo pipefail
  umask 077
  mkdir -p "$LOG_DIR"
  bootstrap="$KAFKA_BOOTSTRAP"
  client=()
  if [ -n "${KAFKA_SASL_USERNAME:-}" ]; then
    printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=PLAIN" \
      "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${KAFKA_SASL_USERNAME}\" password=\"${KAFKA_SASL_PASSWORD}\";" \
      > /tmp/client.properties
    client=(--command-config /tmp/client.properties)
  fi
  for attempt in $(seq 1 60); do
    if /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" "${client[@]}" --list >/dev/null; then
      break
    fi
    if [ "$attempt" = 60 ]; then echo "kafka at $bootstrap did not answer" >&2; exit 1; fi
    echo "waiting for kafka at $bootstrap ($attempt/60)"
    sleep 5
  done
  ensure_topic() {
    local name="$1" partitions="$2" configs="$3"
    local create=()
    IFS=',' read -ra kv <<< "$configs"
    for c in "${kv[@]}"; do create+=(--config "$c"); done
    /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" "${client[@]}" --create --if-not-exists \
      --topic "$name" --partitions "$partitions" --replication-factor {{ $rf }} "${create[@]}"
    /opt/kafka/bin/kafka-configs.sh --bootstrap-server "$bootstrap" "${client[@]}" --alter \
      --entity-type topics --entity-name "$name" --add-config "$configs"
  }
  {{- range .Values.topics }}
  ensure_topic {{ .name | quote }} {{ int .partitions }} "min.insync.replicas={{ $isr }}{{ with .retentionHours }},retention.ms={{ mul (int .) 3600000 }}{{ end }}"
  {{- end }}
  echo "topics ready"
  {{- if .Values.external.enabled }}
  # The external listener's SCRAM users (external.users; passwords from the Secret
  # {{ .Values.external.usersSecret }}, never in a rendered object) and their client quotas. Users and
  # quotas the site file no longer declares are removed, so deleting a device from it revokes it.
  configs=(/opt/kafka/bin/kafka-configs.sh --bootstrap-server "$bootstrap" "${client[@]}")
  declare -A passwords=()
  while read -r name password _; do
    case "$name" in ""|"#"*) continue ;; esac
    passwords["$name"]="$password"
  done <<< "${KAFKA_EXTERNAL_USERS:-}"
  declare -A declared=()
  # What the brokers hold now ("... for user-principal '<name>' are <key>=<value>, ..." lines).
  "${configs[@]}" --describe --entity-type users > /tmp/users.txt
  # Delete the keys a user has of these, one at a time (kafka-configs refuses a list with an unset key).
  drop_configs() {
    local name="$1" key
    IFS=',' read -ra keys <<< "$2"
    for key in "${keys[@]}"; do
      if grep -q "user-principal '$name' are .*$key=" /tmp/users.txt; then
        "${configs[@]}" --alter --entity-type users --entity-name "$name" --delete-config "$key" >/dev/null
      fi
    done
  }
  ensure_user() {
    local name="$1" quota="$2" unset="$3"
    local password="${passwords[$name]:-}"
    if [ -z "$password" ]; then
      echo "external user $name (external.users) has no password in Secret {{ .Values.external.usersSecret }} (key users: one '<name> <password>' line per user)" >&2
      exit 1
    fi
    if ! [[ "$password" =~ ^[A-Za-z0-9._~+/-]{16,}$ ]]; then
      echo "the password of external user $name in Secret {{ .Values.external.usersSecret }} must be 16 or more of A-Z a-z 0-9 . _ ~ + / -" >&2
      exit 1
    fi
    declared["$name"]=1
    # From a file (mode 0600 under umask 077; a properties file: no brackets around the value), so the
    # password is on no command line; the tool's output is masked, as it repeats the value on an error.
    printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" > /tmp/scram.properties
    local out
    if ! out=$("${configs[@]}" --alter --entity-type users --entity-name "$name" --add-config-file /tmp/scram.properties 2>&1); then
      rm -f /tmp/scram.properties
      echo "creating external user $name failed: ${out//"$password"/<password>}" >&2
      exit 1
    fi
    rm -f /tmp/scram.properties
    if [ -n "$quota" ]; then
      "${configs[@]}" --alter --entity-type users --entity-name "$name" --add-config "$quota"
    fi
    drop_configs "$name" "$unset"
    echo "external user $name ready${quota:+ (quota $quota)}"
  }
  {{- range .Values.external.users }}
  {{- $quota := include "kafka.userQuota" (dict "ctx" $ "user" .) }}
  {{- $unset := list }}
  {{- range $key := list "producer_byte_rate" "consumer_byte_rate" "request_percentage" }}
  {{- if not (contains (printf "%s=" $key) $quota) }}{{ $unset = append $unset $key }}{{ end }}
  {{- end }}
  ensure_user {{ .name | quote }} {{ $quota | quote }} {{ join "," $unset | quote }}
  {{- end }}
  # Revoke the SCRAM users no longer declared (credentials and quotas); quotas of principals without
  # SCRAM credentials (e.g. the internal listener's user) are not this Job's.
  while read -r user; do
    if [ -z "${declared[$user]:-}" ]; then
      drop_configs "$user" SCRAM-SHA-512,producer_byte_rate,consumer_byte_rate,request_percentage
      echo "external user $user removed (no longer declared)"
    fi
  done < <(sed -n "s/^SCRAM credential configs for user-principal '\([^']*\)' are .*$/\1/p" /tmp/users.txt | sort -u)
  echo "external users ready"
  {{- end }}
{{ include "kafka.log4jData" . }}
{{- end -}}

{{- define "kafka.mirrorMakerConfigData" -}}
{{- $src := include "kafka.sourceAlias" . -}}
{{- $tgt := .Values.mirrorMaker.targetAlias -}}
{{- $trf := int .Values.mirrorMaker.targetReplicationFactor -}}
mirror-maker.properties: |
  # MirrorMaker 2 (dedicated mode): local topics to the cloud Kafka as {{ $src }}.<topic>.
  clusters={{ $src }},{{ $tgt }}
  {{ $src }}.bootstrap.servers={{ include "kafka.bootstrap" . }}
  {{- if .Values.auth.enabled }}
  {{ $src }}.security.protocol=SASL_PLAINTEXT
  {{ $src }}.sasl.mechanism=PLAIN
  {{- end }}
  {{ $tgt }}.bootstrap.servers={{ .Values.mirrorMaker.targetBootstrap }}
  {{- if .Values.mirrorMaker.targetAuth.enabled }}
  {{ $tgt }}.security.protocol={{ .Values.mirrorMaker.targetAuth.securityProtocol }}
  {{ $tgt }}.sasl.mechanism={{ .Values.mirrorMaker.targetAuth.mechanism }}
  {{- if .Values.mirrorMaker.targetAuth.trustedCA }}
  {{ $tgt }}.ssl.truststore.type=PEM
  {{ $tgt }}.ssl.truststore.location=/etc/kafka/edgeai/target-ca.crt
  {{- end }}
  {{- end }}
  {{ $src }}->{{ $tgt }}.enabled=true
  {{ $src }}->{{ $tgt }}.topics={{ .Values.mirrorMaker.topics }}
  {{- with .Values.mirrorMaker.groups }}
  {{ $src }}->{{ $tgt }}.groups={{ . }}
  {{- end }}
  {{ $tgt }}->{{ $src }}.enabled=false
  # Every MirrorMaker topic lives on the cloud cluster; nothing extra is created at the edge.
  offset-syncs.topic.location=target
  replication.factor={{ $trf }}
  checkpoints.topic.replication.factor={{ $trf }}
  heartbeats.topic.replication.factor={{ $trf }}
  offset-syncs.topic.replication.factor={{ $trf }}
  config.storage.replication.factor={{ $trf }}
  offset.storage.replication.factor={{ $trf }}
  status.storage.replication.factor={{ $trf }}
  sync.topic.acls.enabled=false
  # One worker (replicas: 1), whose group lives on the cloud Kafka. Cut off from it longer than its
  # session, it rejoins under a new member id; Connect's default then holds the connectors and tasks it
  # had for 5 minutes (scheduled.rebalance.max.delay.ms) for the departed member, i.e. itself, and
  # nothing replicates. MM2 passes a worker setting to a herd only with the herd's target prefix.
  # Measured on Apache Kafka 4.1 (tests/realengines/test_mirror_engine.py): with 0 it resumes on rejoin.
  {{ $tgt }}.scheduled.rebalance.max.delay.ms=0
  # Replication is at-least-once: after a cut, the task resumes from the last source offsets it
  # committed (to the cloud), so what it sent since is sent again. Committing every 5 s instead of
  # Connect's 60 s bounds that replay (measured: the 200 records sent just before a cut came twice).
  {{ $tgt }}.offset.flush.interval.ms=5000
  dedicated.mode.enable.internal.rest=true
  listeners=http://:{{ include "kafka.mirrorMakerPort" . }}
mirror-maker.sh: |
  #!/bin/bash
  # Assemble the MirrorMaker 2 config (credentials from env) and run it.
  set -euo pipefail
  umask 077
  mkdir -p /tmp/mm2 "$LOG_DIR"
  conf=/tmp/mm2/mirror-maker.properties
  cp /etc/kafka/edgeai/mirror-maker.properties "$conf"
  if [ -n "${KAFKA_SASL_USERNAME:-}" ]; then
    echo "{{ $src }}.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${KAFKA_SASL_USERNAME}\" password=\"${KAFKA_SASL_PASSWORD}\";" >> "$conf"
  fi
  if [ -n "${TARGET_USERNAME:-}" ]; then
    echo "{{ $tgt }}.sasl.jaas.config=${TARGET_LOGIN_MODULE} required username=\"${TARGET_USERNAME}\" password=\"${TARGET_PASSWORD}\";" >> "$conf"
  fi
  {{- if not .Values.mirrorMaker.targetAuth.trustedCA }}
  # No CA in values: the Secret's optional ca.crt (a CA made where the cloud is, e.g. the local
  # cluster's own), else the JVM's default trust store.
  if [ -s /etc/kafka/target/ca.crt ]; then
    echo "{{ $tgt }}.ssl.truststore.type=PEM" >> "$conf"
    echo "{{ $tgt }}.ssl.truststore.location=/etc/kafka/target/ca.crt" >> "$conf"
  fi
  {{- end }}
  exec /opt/kafka/bin/connect-mirror-maker.sh "$conf"
{{- with .Values.mirrorMaker.targetAuth.trustedCA }}
target-ca.crt: |
  {{- . | trim | nindent 2 }}
{{- end }}
{{ include "kafka.log4jData" . }}
{{- end -}}
