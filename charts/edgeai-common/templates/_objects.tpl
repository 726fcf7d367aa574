{{/*
Whole objects every component renders the same way.
*/}}

{{/* ServiceAccount without an automounted token: workloads that talk to
     the Kubernetes API opt in explicitly. (dict "ctx" $ "component" "x") */}}
{{- define "edgeai.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "edgeai.componentName" . }}
  labels:
    {{- include "edgeai.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{/* A PodDisruptionBudget that keeps quorum but never blocks a node drain:
     rendered only when replicas > 1, always maxUnavailable 1.
     (dict "ctx" $ "component" "x" "replicas" 3) */}}
{{- define "edgeai.pdb" -}}
{{- if gt (int .replicas) 1 }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "edgeai.componentName" . }}
  labels:
    {{- include "edgeai.labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "edgeai.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
NetworkPolicy for one part of a chart: (dict "ctx" $ "component" "x" "ports" (list 9092)).
Ingress on the given ports from pods of this release and from the namespaces in
networkPolicy.ingressNamespaces; egress to DNS, this release, the namespaces in
networkPolicy.egressNamespaces and the CIDRs in networkPolicy.egressCIDRs.
The site's default-deny policy (created by the Pulumi site stack) denies the rest.
*/}}
{{- define "edgeai.networkPolicy" -}}
{{- $np := .ctx.Values.networkPolicy -}}
{{- if $np.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "edgeai.componentName" . }}
  labels:
    {{- include "edgeai.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "edgeai.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ .ctx.Release.Name }}
        {{- range $np.ingressNamespaces }}
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ . }}
        {{- end }}
      {{- with .ports }}
      ports:
        {{- range . }}
        - protocol: TCP
          port: {{ . }}
        {{- end }}
      {{- end }}
    {{- with .exposedPorts }}
    {{- /* A Service on the nodes (NodePort/LoadBalancer): callers outside the cluster, from the
         site's declared networks only (networkPolicy.exposedTo), on the exposed ports only. */}}
    {{- if not $np.exposedTo }}
    {{- fail "a Service exposed on the nodes needs networkPolicy.exposedTo: the CIDRs of the devices and hosts that call it" }}
    {{- end }}
    - from:
        {{- range $np.exposedTo }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        {{- range . }}
        - protocol: TCP
          port: {{ . }}
        {{- end }}
    {{- end }}
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ .ctx.Release.Name }}
        {{- range $np.egressNamespaces }}
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ . }}
        {{- end }}
        {{- range $np.egressCIDRs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
{{- end }}
{{- end -}}
