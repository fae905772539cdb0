{{/*
Shared names, labels and checks of the mpcium chart.
*/}}

{{/* Chart name. */}}
{{- define "mpcium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: "mpcium" for a release named mpcium (the guide's names). */}}
{{- define "mpcium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "mpcium.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "mpcium.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mpcium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
component: mpcium
{{- end -}}

{{/* Selects every node pod of this release. */}}
{{- define "mpcium.selectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
component: mpcium
{{- end -}}

{{/* The node names as a JSON list: .Values.nodes, or node0..node<nodeCount-1>. */}}
{{- define "mpcium.nodes" -}}
{{- if .Values.nodes -}}
{{- toJson .Values.nodes -}}
{{- else -}}
{{- $names := list -}}
{{- range $i := until (int .Values.nodeCount) -}}
{{- $names = append $names (printf "node%d" $i) -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}
{{- end -}}

{{/* mpc_threshold, checked like the node does: floor(n/2)+1 <= t <= n. */}}
{{- define "mpcium.threshold" -}}
{{- $n := len (fromJsonArray (include "mpcium.nodes" .)) -}}
{{- $t := int .Values.threshold -}}
{{- $min := add1 (div $n 2) -}}
{{- if or (lt $t $min) (gt $t $n) -}}
{{- fail (printf "threshold %d is invalid for %d nodes: set it between %d and %d (it is the number of signers required)" $t $n $min $n) -}}
{{- end -}}
{{- $t -}}
{{- end -}}

{{/* Image reference. */}}
{{- define "mpcium.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Service account name. */}}
{{- define "mpcium.serviceAccountName" -}}
{{- default (include "mpcium.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The node's config.yaml (crates/node/src/config/mod.rs), extraConfig merged over it. */}}
{{- define "mpcium.config" -}}
{{- $cfg := dict
  "environment" .Values.environment
  "registry" .Values.registry
  "db_path" "/app/data/db"
  "backup_dir" "/app/data/backups"
  "consul" (dict "address" .Values.consul.address)
  "nats" (dict "url" .Values.nats.url)
  "mpc_threshold" (int (include "mpcium.threshold" .))
  "event_initiator_pubkey" (required "eventInitiator.pubkey is required: copy public_key from initiator_identity.json" .Values.eventInitiator.pubkey)
  "event_initiator_algorithm" .Values.eventInitiator.algorithm
  "chain_code" (required "chainCode is required: 64 hex characters from `openssl rand -hex 32`, the same for every node" .Values.chainCode)
  "backup_enabled" .Values.backup.enabled
  "backup_period_seconds" (int .Values.backup.periodSeconds)
  "backup_retention" (int .Values.backup.retention)
  "max_concurrent_keygen" (int .Values.maxConcurrentKeygen)
  "max_concurrent_signing" (int .Values.maxConcurrentSigning)
  "healthcheck" (dict "enabled" .Values.healthcheck.enabled "address" (printf "0.0.0.0:%d" (int .Values.healthcheck.port)))
-}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.extraConfig)) -}}
{{- end -}}
