{{/* Names are truncated to 63 characters: the DNS label limit of Kubernetes names. */}}
{{- define "medley.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "medley.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "medley.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "medley.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", truncated. Usage: include "medley.component" (list . "minio") */}}
{{- define "medley.component" -}}
{{- printf "%s-%s" (include "medley.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* All labels of a component. Usage: include "medley.labels" (list . "minio") */}}
{{- define "medley.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/part-of: medley
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
{{ include "medley.selectorLabels" . }}
{{- with $.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "medley.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "medley.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* An image reference; a digest wins over a tag. Usage: include "medley.image" (list $image $defaultTag) */}}
{{- define "medley.image" -}}
{{- $img := index . 0 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default (index . 1) $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "medley.jobImage" -}}
{{- include "medley.image" (list .Values.images.job .Chart.AppVersion) -}}
{{- end -}}

{{- define "medley.s3SecretName" -}}
{{- default (include "medley.component" (list . "s3")) .Values.objectStore.auth.existingSecret -}}
{{- end -}}

{{- define "medley.minioHost" -}}
{{- include "medley.component" (list . "minio") -}}
{{- end -}}

{{- define "medley.s3Endpoint" -}}
{{- if eq .Values.objectStore.mode "bundled" -}}
{{- printf "http://%s.%s.svc:9000" (include "medley.minioHost" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.medley.storage.endpoint -}}
{{- end -}}
{{- end -}}

{{/* The bundled Druid's router Service: the same name the umbrella gives druid-helm's router. */}}
{{- define "medley.druidRouterHost" -}}
{{- include "medley.component" (list . "druid-router") -}}
{{- end -}}

{{/* The router the druid hop talks to: the bundled Druid's Service, else druid.routerUrl. */}}
{{- define "medley.druidUrl" -}}
{{- if .Values.druid.bundled.enabled -}}
{{- printf "http://%s:8888" (include "medley.druidRouterHost" .) -}}
{{- else -}}
{{- .Values.druid.routerUrl -}}
{{- end -}}
{{- end -}}

{{/* medley.yaml as the job pods read it (MEDLEY_CONFIG); the endpoint resolved for the mode. */}}
{{- define "medley.config" -}}
{{- $storage := merge (dict "endpoint" (include "medley.s3Endpoint" .)) (omit .Values.medley.storage "endpoint") -}}
storage:
  {{- toYaml $storage | nindent 2 }}
spark:
  {{- toYaml .Values.medley.spark | nindent 2 }}
quality:
  {{- toYaml .Values.medley.quality | nindent 2 }}
lock:
  {{- toYaml .Values.medley.lock | nindent 2 }}
orchestration:
  {{- toYaml .Values.medley.orchestration | nindent 2 }}
services:
  druid:
    url: {{ include "medley.druidUrl" . | quote }}
  superset:
    url: {{ .Values.superset.url | quote }}
    admin_user: {{ .Values.superset.adminUser | quote }}
    analyst_user: {{ .Values.superset.analystUser | quote }}
{{- end -}}

{{/* Environment every Medley job container gets: config path and S3 credentials from the Secret. */}}
{{- define "medley.jobEnv" -}}
- name: MEDLEY_CONFIG
  value: /etc/medley/medley.yaml
- name: MEDLEY_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "medley.s3SecretName" . }}
      key: access-key
- name: MEDLEY_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "medley.s3SecretName" . }}
      key: secret-key
- name: GX_ANALYTICS_ENABLED
  value: "false"
{{- end -}}

{{- define "medley.configVolume" -}}
- name: medley-config
  configMap:
    name: {{ include "medley.component" (list . "config") }}
{{- end -}}

{{- define "medley.configMount" -}}
- name: medley-config
  mountPath: /etc/medley
  readOnly: true
{{- end -}}

{{/* Spark and Python need a writable /tmp even with a read-only root filesystem. */}}
{{- define "medley.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{- define "medley.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Render a file of the repo's k8s/ folder (linked into the chart) with extra context. */}}
{{- define "medley.k8sFile" -}}
{{- $ := index . 0 -}}
{{- $ctx := merge (dict "Values" $.Values "Release" $.Release "Chart" $.Chart "Capabilities" $.Capabilities "Template" $.Template) (index . 2) -}}
{{- tpl ($.Files.Get (printf "k8s/%s" (index . 1))) $ctx -}}
{{- end -}}

{{/* Validate once: collect every message, then fail (bitnami's validateValues pattern). */}}
{{- define "medley.validateValues" -}}
{{- $messages := list -}}
{{- if not (has .Values.objectStore.mode (list "bundled" "external")) -}}
{{- $messages = append $messages "objectStore.mode must be \"bundled\" or \"external\"" -}}
{{- end -}}
{{- if and (eq .Values.objectStore.mode "external") (not .Values.medley.storage.endpoint) -}}
{{- $messages = append $messages "objectStore.mode=external needs medley.storage.endpoint (the S3 URL)" -}}
{{- end -}}
{{- if and (eq .Values.objectStore.mode "external") (not .Values.objectStore.auth.existingSecret) -}}
{{- $messages = append $messages "objectStore.mode=external needs objectStore.auth.existingSecret (keys access-key, secret-key)" -}}
{{- end -}}
{{- if and (eq .Values.objectStore.mode "bundled") .Values.medley.storage.endpoint -}}
{{- $messages = append $messages "medley.storage.endpoint is only for objectStore.mode=external; the bundled MinIO endpoint is derived" -}}
{{- end -}}
{{- if $messages -}}
{{- fail (printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages)) -}}
{{- end -}}
{{- end -}}

{{/* The EventSim streams of the landing contract (medley/landing.py STREAMS), as a JSON list. */}}
{{- define "medley.streams" -}}
["listen_events","page_view_events","auth_events","status_change_events","interana_events"]
{{- end -}}

{{/* The bundled Superset's environment: its config (superset_config.py imports medley_superset.py
     beside it) and its secret key. */}}
{{- define "medley.supersetEnv" -}}
- name: SUPERSET_CONFIG_PATH
  value: /etc/superset/superset_config.py
- name: PYTHONPATH
  value: /etc/superset
- name: SUPERSET_HOME
  value: /app/superset_home
- name: SUPERSET_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "medley.component" (list . "superset-key") }}
      key: secret-key
{{- end -}}

{{- define "medley.supersetMounts" -}}
- name: config
  mountPath: /etc/superset
  readOnly: true
- name: data
  mountPath: /app/superset_home
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* data: of a Secret generated once and kept across upgrades: each key keeps the live Secret's
     value (lookup) and otherwise gets the fresh value given, never a default.
     Usage: include "medley.keptSecretData" (list . <name> (dict "key" <fresh value>)) */}}
{{- define "medley.keptSecretData" -}}
{{- $existing := lookup "v1" "Secret" (index . 0).Release.Namespace (index . 1) -}}
{{- $lines := list -}}
{{- range $key, $fresh := index . 2 -}}
{{- $value := $fresh | b64enc -}}
{{- if and $existing $existing.data (hasKey $existing.data $key) -}}
{{- $value = index $existing.data $key -}}
{{- end -}}
{{- $lines = append $lines (printf "%s: %s" $key $value) -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}
