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
     beside it; its secret key is on the volume). */}}
{{- define "medley.supersetEnv" -}}
- name: SUPERSET_CONFIG_PATH
  value: /etc/superset/superset_config.py
- name: PYTHONPATH
  value: /etc/superset
- name: SUPERSET_HOME
  value: /app/superset_home
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

{{/* The bundled Airflow's environment, the same in its set-up and its three processes. The keys
     it signs and encrypts with are in $AIRFLOW_HOME/airflow.cfg on its volume (medley/airflow_pod.py);
     its metadata database is the pod's own PostgreSQL, on a socket only the pod shares. */}}
{{- define "medley.airflowEnv" -}}
{{- $a := .Values.airflow.bundled -}}
- name: AIRFLOW_HOME
  value: /data/airflow
- name: MEDLEY_CONFIG
  value: /etc/medley/medley.yaml
- name: MEDLEY_HOURLY_START_DATE
  value: {{ $a.hourlyStartDate | quote }}
- name: MEDLEY_AIRFLOW_ADMIN_USER
  value: {{ $a.adminUser | quote }}
- name: MEDLEY_AIRFLOW_POSTGRES_SOCKET_DIR
  value: /var/run/postgresql
- name: MEDLEY_AIRFLOW_POSTGRES_USER
  value: airflow
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: postgresql+psycopg2://airflow@/airflow?host=/var/run/postgresql
- name: AIRFLOW__CORE__EXECUTOR
  value: LocalExecutor
- name: AIRFLOW__CORE__PARALLELISM
  value: {{ $a.parallelism | quote }}
- name: AIRFLOW__CORE__AUTH_MANAGER
  value: airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
- name: AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS
  value: {{ printf "%s:admin" $a.adminUser | quote }}
- name: AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE
  value: /data/airflow/simple_auth_manager_passwords.json
- name: AIRFLOW__CORE__EXECUTION_API_SERVER_URL
  value: http://127.0.0.1:8080/execution/
- name: AIRFLOW__API__BASE_URL
  value: {{ printf "http://%s:8080" (include "medley.component" (list . "airflow")) | quote }}
- name: AIRFLOW__API_AUTH__JWT_ALGORITHM
  value: HS256
- name: AIRFLOW__LOGGING__BASE_LOG_FOLDER
  value: /data/airflow/logs
- name: AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY
  value: /data/airflow/logs/dag_processor
# the DAG files are baked into the image: reparse every 5 minutes, not every 30 s
- name: AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL
  value: "300"
{{- end -}}

{{- define "medley.airflowMounts" -}}
- name: data
  mountPath: /data
- name: postgres-socket
  mountPath: /var/run/postgresql
- name: tmp
  mountPath: /tmp
- name: job-templates
  mountPath: {{ .Values.medley.orchestration.kubernetes.job_templates }}
  readOnly: true
{{ include "medley.configMount" . }}
{{- end -}}

{{/* Python that exits 0 when the bundled Airflow's api-server reports a component healthy.
     Usage: include "medley.airflowHealthy" "dag_processor" */}}
{{- define "medley.airflowHealthy" -}}
import json, urllib.request; health = json.load(urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=5)); raise SystemExit(health['{{ . }}']['status'] != 'healthy')
{{- end -}}

{{/* The pod's and a container's security context: the chart's (podSecurityContext,
     containerSecurityContext) with a bundled service's own user and group set on top (zeros kept).
     Usage: include "medley.podSecurity" (list . (dict "runAsUser" 1000 "runAsGroup" 1000 "fsGroup" 1000)) */}}
{{- define "medley.podSecurity" -}}
{{- $security := deepCopy (index . 0).Values.podSecurityContext -}}
{{- range $key, $value := index . 1 }}{{ $_ := set $security $key $value }}{{ end -}}
{{- toYaml $security -}}
{{- end -}}

{{- define "medley.containerSecurity" -}}
{{- $security := deepCopy (index . 0).Values.containerSecurityContext -}}
{{- range $key, $value := index . 1 }}{{ $_ := set $security $key $value }}{{ end -}}
{{- toYaml $security -}}
{{- end -}}
