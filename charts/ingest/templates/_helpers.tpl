{{/* Fixed ports (the Services and the NetworkPolicy say the same): 8883 MQTT over TLS (devices),
     1883 MQTT on loopback (the bridge, same pod), 8080 the bridge's HTTP (the gateway, Prometheus). */}}
{{- define "ingest.ports" -}}
mqtts: 8883
mqttLocal: 1883
http: 8080
{{- end -}}
{{- define "ingest.confDir" -}}/etc/mosquitto{{- end -}}
{{- define "ingest.passwordsDir" -}}/run/mosquitto/passwords{{- end -}}
{{- define "ingest.devicesDir" -}}/run/ingest/devices{{- end -}}
{{- define "ingest.tlsDir" -}}/etc/mosquitto/tls{{- end -}}
{{- define "ingest.dataDir" -}}/var/lib/mosquitto{{- end -}}
{{- define "ingest.bridgeUser" -}}ingest-bridge{{- end -}}
{{/* "true" when the MQTT Service is on the nodes (NodePort or LoadBalancer). */}}
{{- define "ingest.exposed" -}}{{ if ne .Values.mqtt.service.type "ClusterIP" }}true{{ end }}{{- end -}}

{{/* mosquitto.conf */}}
{{- define "ingest.mosquittoConf" -}}
{{- $ports := include "ingest.ports" . | fromYaml -}}
# Rendered by the edgeai ingest chart. Devices: TLS on {{ $ports.mqtts }}, user = device name, password =
# device key (the password file is made at pod start from Secret {{ .Values.devices.existingSecret }},
# never stored in this ConfigMap). The bridge: loopback {{ $ports.mqttLocal }}, user {{ include "ingest.bridgeUser" . }}.
per_listener_settings false
allow_anonymous false
password_file {{ include "ingest.passwordsDir" . }}/passwords
# Topic ACL and per-device rate limit (images/mosquitto/device_limits.c): a device may publish only to
# devices/<its name>/<topic> and at most {{ .Values.mqtt.perDevice.messagesPerSecond }} msg/s (burst {{ .Values.mqtt.perDevice.burst }});
# beyond: MQTT 5 PUBACK 0x87, MQTT 3.1.1 disconnect. Only the bridge subscribes.
plugin /usr/lib/edgeai/mosquitto/device_limits.so
plugin_opt_rate {{ .Values.mqtt.perDevice.messagesPerSecond }}
plugin_opt_burst {{ .Values.mqtt.perDevice.burst }}
plugin_opt_bridge_user {{ include "ingest.bridgeUser" . }}
plugin_opt_topics {{ join "," .Values.topics }}
max_packet_size {{ int .Values.mqtt.maxPacketSize }}
max_queued_messages {{ int .Values.mqtt.maxQueuedMessages }}
max_inflight_messages {{ int .Values.mqtt.maxInflightMessages }}
persistence true
persistence_location {{ include "ingest.dataDir" . }}/
autosave_interval {{ int .Values.mqtt.persistence.autosaveIntervalSeconds }}
log_dest stderr
log_type error
log_type warning
log_type notice
log_timestamp_format %Y-%m-%dT%H:%M:%S
connection_messages true

listener {{ $ports.mqttLocal }} 127.0.0.1

listener {{ $ports.mqtts }}
certfile {{ include "ingest.tlsDir" . }}/tls.crt
keyfile {{ include "ingest.tlsDir" . }}/tls.key
tls_version tlsv1.2
{{- end -}}

{{/* make-passwords.sh: the init container's script. Device lines "<key> [<device>]" (the gateway's key
     format, so one key serves HTTPS and MQTT) and the bridge's password -> a Mosquitto password file
     (PBKDF2-SHA512 hashes by mosquitto_passwd -U) in a memory-backed emptyDir. Errors name the line,
     never a key. */}}
{{- define "ingest.makePasswords" -}}
#!/bin/sh
set -eu
set -f
export LC_ALL=C
DEVICES_FILE="${DEVICES_FILE:?}"
BRIDGE_PASSWORD_FILE="${BRIDGE_PASSWORD_FILE:?}"
OUT="${OUT:?}"
MIN_KEY_LENGTH="${MIN_KEY_LENGTH:-16}"
BRIDGE_USER="{{ include "ingest.bridgeUser" . }}"
tmp="$OUT.tmp"
umask 077
: > "$tmp"
line=0
n=0
seen=" "
while IFS= read -r entry || [ -n "$entry" ]; do
  line=$((line + 1))
  entry=$(printf '%s' "$entry" | tr '\t\r' '  ')
  # shellcheck disable=SC2086 # fields on purpose (globbing is off)
  set -- $entry
  case "${1:-#}" in '#'*) continue ;; esac
  fail() { echo "ingest: line $line of $DEVICES_FILE: $1" >&2; rm -f "$tmp"; exit 1; }
  [ "$#" -le 2 ] || fail "more than two fields (key, device)"
  key=$1
  device=${2:-device-$line}
  case "$key" in *[!A-Za-z0-9._~+/=-]*) fail "the key has a character outside A-Z a-z 0-9 . _ ~ + / = -" ;; esac
  [ "${#key}" -ge "$MIN_KEY_LENGTH" ] || fail "the key is shorter than $MIN_KEY_LENGTH characters"
  case "$device" in -*|*[!a-z0-9-]*) fail "the device is not made of a-z 0-9 - (starting with a letter or digit)" ;; esac
  [ "${#device}" -le 63 ] || fail "the device name is longer than 63 characters"
  [ "$device" != "$BRIDGE_USER" ] || fail "the device name $BRIDGE_USER is the bridge's"
  case "$seen" in *" $device "*) fail "device $device has a key on an earlier line already" ;; esac
  seen="$seen$device "
  printf '%s:%s\n' "$device" "$key" >> "$tmp"
  n=$((n + 1))
done < "$DEVICES_FILE"
password=$(cat "$BRIDGE_PASSWORD_FILE")
[ "${#password}" -ge "$MIN_KEY_LENGTH" ] || { echo "ingest: the bridge's password is shorter than $MIN_KEY_LENGTH characters" >&2; rm -f "$tmp"; exit 1; }
printf '%s:%s\n' "$BRIDGE_USER" "$password" >> "$tmp"
mosquitto_passwd -U "$tmp"
mv "$tmp" "$OUT"
echo "ingest: $n device(s) may connect over MQTT"
[ "$n" -gt 0 ] || echo "ingest: WARNING: no device in $DEVICES_FILE; every device connection is refused" >&2
{{- end -}}
