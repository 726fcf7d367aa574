{{/*
Kafka-specific helpers. Names, labels, security contexts, PDB and NetworkPolicy
come from the edgeai-common library.
*/}}

{{- define "kafka.clientPort" -}}9092{{- end -}}
{{- define "kafka.controllerPort" -}}9093{{- end -}}
{{- define "kafka.exporterPort" -}}9308{{- end -}}
{{- define "kafka.mirrorMakerPort" -}}8083{{- end -}}
{{- define "kafka.externalPort" -}}9094{{- end -}}

{{/* "host:port" clients outside the cluster are told to use for broker <i>: (dict "ctx" $ "i" 0).
     One advertised host for all brokers (a NodePort answers on every node) or one per broker;
     the port is nodePort + i on a NodePort Service, service.port on a LoadBalancer. */}}
{{- define "kafka.externalAdvertised" -}}
{{- $ext := .ctx.Values.external -}}
{{- $hosts := $ext.advertisedHosts -}}
{{- $host := ternary (first $hosts) (index $hosts (min .i (sub (len $hosts) 1))) (eq (len $hosts) 1) -}}
{{- $port := ternary (add (int $ext.service.nodePort) .i) (int $ext.service.port) (eq $ext.service.type "NodePort") -}}
{{- printf "%s:%d" $host (int $port) -}}
{{- end -}}

{{- define "kafka.headlessName" -}}
{{- printf "%s-headless" (include "edgeai.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Replication factor: explicit, or min(brokers, 3). */}}
{{- define "kafka.replicationFactor" -}}
{{- if kindIs "invalid" .Values.replicationFactor -}}
{{- min (int .Values.brokers) 3 -}}
{{- else -}}
{{- int .Values.replicationFactor -}}
{{- end -}}
{{- end -}}

{{/* min.insync.replicas: explicit, or 1 when RF is 1, else RF - 1. */}}
{{- define "kafka.minInsyncReplicas" -}}
{{- $rf := int (include "kafka.replicationFactor" .) -}}
{{- if not (kindIs "invalid" .Values.minInsyncReplicas) -}}
{{- int .Values.minInsyncReplicas -}}
{{- else if le $rf 1 -}}
1
{{- else -}}
{{- sub $rf 1 -}}
{{- end -}}
{{- end -}}

{{/* Deterministic cluster id: 22 base64url characters (a 16-byte UUID) taken from a
     sha256 of the release identity. Hex digits are base64url characters; the last
     character "A" keeps the unused low bits zero so the id decodes to exactly 16 bytes. */}}
{{- define "kafka.clusterId" -}}
{{- if .Values.clusterId -}}
{{- .Values.clusterId -}}
{{- else -}}
{{- $seed := printf "%s/%s/%s" (.Values.global.site | default "") .Release.Namespace .Release.Name -}}
{{- printf "%sA" (sha256sum $seed | trunc 21) -}}
{{- end -}}
{{- end -}}

{{/* DNS name of broker <i>: (dict "ctx" $ "i" 0) */}}
{{- define "kafka.podHost" -}}
{{- printf "%s-%d.%s.%s.svc" (include "edgeai.fullname" .ctx) (int .i) (include "kafka.headlessName" .ctx) .ctx.Release.Namespace -}}
{{- end -}}

{{/* Static KRaft voter set: every node is a combined broker+controller. */}}
{{- define "kafka.quorumVoters" -}}
{{- $voters := list -}}
{{- range $i := until (int .Values.brokers) -}}
{{- $voters = append $voters (printf "%d@%s:%s" $i (include "kafka.podHost" (dict "ctx" $ "i" $i)) (include "kafka.controllerPort" $)) -}}
{{- end -}}
{{- join "," $voters -}}
{{- end -}}

{{/* In-namespace bootstrap address of the client Service. */}}
{{- define "kafka.bootstrap" -}}
{{- printf "%s:%s" (include "edgeai.fullname" .) (include "kafka.clientPort" .) -}}
{{- end -}}

{{- define "kafka.sourceAlias" -}}
{{- .Values.mirrorMaker.sourceAlias | default .Values.global.site | default "edge" -}}
{{- end -}}

{{/* server.properties keys the chart owns; extraConfig may not repeat them. */}}
{{- define "kafka.managedKeys" -}}
{{- list "process.roles" "node.id" "controller.quorum.voters" "controller.quorum.bootstrap.servers" "controller.listener.names" "listeners" "advertised.listeners" "listener.security.protocol.map" "inter.broker.listener.name" "sasl.enabled.mechanisms" "sasl.mechanism.inter.broker.protocol" "log.dirs" "metadata.log.dir" "default.replication.factor" "min.insync.replicas" "offsets.topic.replication.factor" "transaction.state.log.replication.factor" "transaction.state.log.min.isr" "share.coordinator.state.topic.replication.factor" "share.coordinator.state.topic.min.isr" "num.partitions" "log.retention.hours" "auto.create.topics.enable" "unclean.leader.election.enable" | toJson -}}
{{- end -}}

{{/* Cross-field checks JSON Schema cannot express. Included by the StatefulSet. */}}
{{- define "kafka.validate" -}}
{{- $brokers := int .Values.brokers -}}
{{- $rf := int (include "kafka.replicationFactor" .) -}}
{{- $isr := int (include "kafka.minInsyncReplicas" .) -}}
{{- if gt $rf $brokers -}}
{{- fail (printf "kafka: replicationFactor %d is greater than brokers %d; a partition cannot have more replicas than there are brokers (set replicationFactor <= brokers, or null to derive it)" $rf $brokers) -}}
{{- end -}}
{{- if gt $isr $rf -}}
{{- fail (printf "kafka: minInsyncReplicas %d is greater than replicationFactor %d; every acks=all write would fail (set minInsyncReplicas <= replicationFactor, or null to derive it)" $isr $rf) -}}
{{- end -}}
{{- $managed := include "kafka.managedKeys" . | fromJsonArray -}}
{{- range $k, $v := .Values.extraConfig -}}
{{- if has $k $managed -}}
{{- fail (printf "kafka: extraConfig.%s is set by the chart (derived from brokers, replicationFactor, minInsyncReplicas, auth or the other values); set the matching value instead" $k) -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.topics -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "kafka: topic %q is declared twice in topics" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- if and .Values.mirrorMaker.enabled (not .Values.mirrorMaker.targetBootstrap) -}}
{{- fail "kafka: mirrorMaker.enabled needs mirrorMaker.targetBootstrap (host:port of the cloud Kafka)" -}}
{{- end -}}
{{- with .Values.external -}}
{{- if .enabled -}}
{{- if not .advertisedHosts -}}
{{- fail "kafka: external.enabled needs external.advertisedHosts: the address devices reach the brokers at (127.0.0.1 through kind's port mapping, a node address, a load balancer name)" -}}
{{- end -}}
{{- if and (gt (len .advertisedHosts) 1) (ne (len .advertisedHosts) $brokers) -}}
{{- fail (printf "kafka: external.advertisedHosts has %d entries for %d brokers: give one for all brokers or one per broker" (len .advertisedHosts) $brokers) -}}
{{- end -}}
{{- if and (eq .service.type "NodePort") (not .service.nodePort) -}}
{{- fail "kafka: external.service.type NodePort needs external.service.nodePort (broker i listens on nodePort + i): the advertised port must be known when the brokers start" -}}
{{- end -}}
{{- if and (eq .service.type "LoadBalancer") (gt $brokers 1) (eq (len .advertisedHosts) 1) -}}
{{- fail "kafka: external.service.type LoadBalancer gives every broker a load balancer of its own: external.advertisedHosts needs one address per broker" -}}
{{- end -}}
{{- $users := dict -}}
{{- range .users -}}
{{- if hasKey $users .name -}}
{{- fail (printf "kafka: external user %q is declared twice in external.users" .name) -}}
{{- end -}}
{{- $_ := set $users .name true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.mirrorMaker.enabled (eq (include "kafka.sourceAlias" .) .Values.mirrorMaker.targetAlias) -}}
{{- fail "kafka: mirrorMaker.sourceAlias and mirrorMaker.targetAlias must differ" -}}
{{- end -}}
{{- end -}}

{{/* JAAS login line for SASL/PLAIN clients, assembled at run time from env vars. */}}
{{- define "kafka.saslEnv" -}}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: username
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: password
{{- end -}}

{{/* The external listener's certificate and key (PEM), for start.sh to put into the broker's config. */}}
{{- define "kafka.externalTlsEnv" -}}
- name: KAFKA_EXTERNAL_TLS_CERT
  valueFrom:
    secretKeyRef:
      name: {{ .Values.external.tlsSecret }}
      key: tls.crt
- name: KAFKA_EXTERNAL_TLS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.external.tlsSecret }}
      key: tls.key
{{- end -}}

{{/* Quota of one external user as kafka-configs' key=value list: (dict "ctx" $ "user" $u).
     external.quota is every user's default; the user's own quota overrides it key by key. */}}
{{- define "kafka.userQuota" -}}
{{- $q := merge (deepCopy (.user.quota | default dict)) (deepCopy (.ctx.Values.external.quota | default dict)) -}}
{{- $out := list -}}
{{- range $k, $key := dict "producerByteRate" "producer_byte_rate" "consumerByteRate" "consumer_byte_rate" "requestPercentage" "request_percentage" -}}
{{- if hasKey $q $k -}}
{{- $v := get $q $k -}}
{{- $out = append $out (printf "%s=%v" $key (ternary (int64 $v) $v (eq (float64 $v) (float64 (int64 $v))))) -}}
{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* Environment every container running the image's Kafka scripts needs. */}}
{{- define "kafka.toolEnv" -}}
- name: LOG_DIR
  value: /tmp/logs
- name: KAFKA_LOG4J_OPTS
  value: "-Dlog4j2.configurationFile=/etc/kafka/edgeai/log4j2.properties"
{{- end -}}

{{/* Checksum of one ConfigMap's contents: (dict "ctx" $ "data" "kafka.brokerConfigData") */}}
{{- define "kafka.checksum" -}}
checksum/config: {{ include .data .ctx | sha256sum }}
{{- end -}}
