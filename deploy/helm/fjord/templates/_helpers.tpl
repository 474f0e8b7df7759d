{{/* Names. */}}
{{- define "fjord.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fjord.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fjord.server.fullname" -}}{{ include "fjord.fullname" . | trunc 56 | trimSuffix "-" }}-server{{- end -}}
{{- define "fjord.agent.fullname" -}}{{ include "fjord.fullname" . | trunc 57 | trimSuffix "-" }}-agent{{- end -}}
{{- define "fjord.secret.fullname" -}}{{ include "fjord.fullname" . }}{{- end -}}
{{- define "fjord.agentCA.fullname" -}}{{ include "fjord.fullname" . | trunc 54 | trimSuffix "-" }}-agent-ca{{- end -}}

{{- define "fjord.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fjord.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fjord
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "server"). */}}
{{- define "fjord.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fjord.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fjord.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fjord.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fjord.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* Where each secret value lives: the chart's own Secret unless existingSecret is set. */}}
{{/* With neither database.url nor database.existingSecret, the URL is read from the Secret
<fullname>-database, key "uri", that the operator creates. */}}
{{- define "fjord.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}
{{- else if .Values.database.url -}}{{ include "fjord.secret.fullname" . }}
{{- else -}}{{ include "fjord.fullname" . | trunc 54 | trimSuffix "-" }}-database
{{- end -}}
{{- end -}}
{{- define "fjord.databaseKey" -}}{{ ternary "database-url" .Values.database.existingSecretKey (and (not .Values.database.existingSecret) (ne .Values.database.url "")) }}{{- end -}}
{{- define "fjord.keySecret" -}}{{ default (include "fjord.secret.fullname" .) .Values.encryptionKey.existingSecret }}{{- end -}}
{{- define "fjord.keyKey" -}}{{ ternary .Values.encryptionKey.existingSecretKey "encryption-key" (ne .Values.encryptionKey.existingSecret "") }}{{- end -}}
{{/* fjord server requires --credentials-file (the file is the truth for who may sign): with
neither credentials.json nor credentials.existingSecret, it is read from the Secret
<fullname>-credentials, key "credentials.json", that the operator creates. */}}
{{- define "fjord.credsSecret" -}}
{{- if .Values.credentials.existingSecret -}}{{ .Values.credentials.existingSecret }}
{{- else if .Values.credentials.json -}}{{ include "fjord.secret.fullname" . }}
{{- else -}}{{ include "fjord.fullname" . | trunc 51 | trimSuffix "-" }}-credentials
{{- end -}}
{{- end -}}
{{- define "fjord.credsKey" -}}{{ ternary .Values.credentials.existingSecretKey "credentials.json" (ne .Values.credentials.existingSecret "") }}{{- end -}}
{{- define "fjord.hasCreds" -}}true{{- end -}}
{{- define "fjord.tokenSecret" -}}{{ default (include "fjord.secret.fullname" .) .Values.agentToken.existingSecret }}{{- end -}}
{{- define "fjord.tokenKey" -}}{{ ternary .Values.agentToken.existingSecretKey "agent-token" (ne .Values.agentToken.existingSecret "") }}{{- end -}}
{{/* The servers get a join token when agents run or one is given (agents elsewhere). */}}
{{- define "fjord.hasToken" -}}{{ if or .Values.agentToken.value .Values.agentToken.existingSecret .Values.agents.enabled }}true{{ end }}{{- end -}}

{{/* The operator's Fjord CA (agentCA): servers import it, agents pin it (--server-ca). */}}
{{- define "fjord.hasAgentCA" -}}{{ if or .Values.agentCA.existingSecret (and .Values.agentCA.crt .Values.agentCA.key) }}true{{ end }}{{- end -}}
{{- define "fjord.agentCASecret" -}}{{ default (include "fjord.agentCA.fullname" .) .Values.agentCA.existingSecret }}{{- end -}}

{{/* Checks that fail the render with a message naming the value. */}}
{{- define "fjord.validate" -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "set one of database.url and database.existingSecret, not both" -}}
{{- end -}}
{{- if lt (int .Values.server.replicas) 1 -}}
{{- fail "server.replicas must be at least 1" -}}
{{- end -}}
{{- end -}}

{{/* The /tmp emptyDir and the secret files every server-like pod mounts. */}}
{{- define "fjord.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "fjord.env" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}
