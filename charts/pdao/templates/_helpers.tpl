{{/* vim: set filetype=mustache: */}}

{{/* Chart name, truncated to 63 characters. */}}
{{- define "pdao.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: release name, plus the chart name unless the release name contains it.
Truncated to 40 characters so that "<fullname>-<service>-metrics" style names stay within 63.
*/}}
{{- define "pdao.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pdao.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object of the release. */}}
{{- define "pdao.labels" -}}
helm.sh/chart: {{ include "pdao.chart" . }}
app.kubernetes.io/name: {{ include "pdao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: pdao
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one service. Call with (dict "root" $ "name" $name). */}}
{{- define "pdao.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pdao.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Selector matching every PDAO pod of this release (for NetworkPolicy peers). */}}
{{- define "pdao.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "pdao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Object name of one service: <fullname>-<service>. Call with (dict "root" $ "name" $name). */}}
{{- define "pdao.serviceName" -}}
{{- printf "%s-%s" (include "pdao.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pdao.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pdao.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pdao.calendarConfigMap" -}}
{{- default (printf "%s-calendar" (include "pdao.fullname" .)) .Values.calendar.existingConfigMap }}
{{- end }}

{{/*
The effective settings of one service: .Values.serviceDefaults overlaid with services.<name>.
Call with (dict "root" $ "name" $name "svc" $svc); returns YAML (use fromYaml).
*/}}
{{- define "pdao.serviceConfig" -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy .svc) }}
{{- if not (regexMatch "^[a-z][a-z0-9-]{0,14}$" .name) }}
{{- fail (printf "services.%s: service names must be lowercase DNS labels of at most 15 characters" .name) }}
{{- end }}
{{- toYaml $merged }}
{{- end }}

{{/* The container image of one service. Call with (dict "root" $ "cfg" $cfg). */}}
{{- define "pdao.image" -}}
{{- $img := default dict .cfg.image }}
{{- $repo := default .root.Values.image.repository $img.repository }}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) $img.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
