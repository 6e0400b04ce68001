{{/* Name of the release's objects. */}}
{{- define "chemchat-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades. */}}
{{- define "chemchat-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Recommended labels. */}}
{{- define "chemchat-operator.labels" -}}
{{ include "chemchat-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chemchat
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The autoscaler flag of the operator; fails on anything but the two modes. */}}
{{- define "chemchat-operator.autoscaler" -}}
{{- if eq .Values.autoscaling.mode "prometheus-adapter" -}}hpa
{{- else if eq .Values.autoscaling.mode "keda" -}}keda
{{- else -}}{{ fail "autoscaling.mode must be prometheus-adapter or keda" }}
{{- end -}}
{{- end -}}
