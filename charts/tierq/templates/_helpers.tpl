{{/* Names, labels and images shared by every template. */}}

{{- define "tierq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tierq.fullname" -}}
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

{{- define "tierq.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: include "tierq.selectorLabels" (list . "operator") */}}
{{- define "tierq.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "tierq.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* All labels of one component: include "tierq.labels" (list . "operator") */}}
{{- define "tierq.labels" -}}
{{- $root := index . 0 -}}
{{ include "tierq.selectorLabels" . }}
helm.sh/chart: {{ include "tierq.chart" $root }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: tierq
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* image reference: include "tierq.image" (list . .Values.operator.image "operator.image") */}}
{{- define "tierq.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- $key := index . 2 -}}
{{- $repo := required (printf "%s.repository is required (the image to run)" $key) $img.repository -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (toString (default $root.Chart.AppVersion $img.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "tierq.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "tierq.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tierq.worker.serviceAccountName" -}}
{{- default (printf "%s-worker" (include "tierq.fullname" .)) .Values.worker.serviceAccount.name -}}
{{- end -}}

{{- define "tierq.sync.serviceAccountName" -}}
{{- printf "%s-sync-sites" (include "tierq.fullname" .) -}}
{{- end -}}

{{/* Namespaces where TieredJobs live (worker pods run there). */}}
{{- define "tierq.worker.namespaces" -}}
{{- $ns := .Values.worker.namespaces | default .Values.operator.watchNamespaces -}}
{{- if not $ns -}}{{- $ns = list .Release.Namespace -}}{{- end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

{{- define "tierq.sync.namespace" -}}
{{- default .Release.Namespace .Values.syncSites.namespace -}}
{{- end -}}

{{- define "tierq.postgres.fullname" -}}
{{- printf "%s-postgres" (include "tierq.fullname" .) -}}
{{- end -}}

{{/* The database URL rendered into the Secret when database.createSecret is true. */}}
{{- define "tierq.database.url" -}}
{{- if .Values.database.url -}}
{{- .Values.database.url -}}
{{- else if .Values.demo.postgres.enabled -}}
{{- $pg := .Values.demo.postgres -}}
{{- printf "postgresql://%s:%s@%s.%s.svc:5432/%s" $pg.user $pg.password (include "tierq.postgres.fullname" .) .Release.Namespace $pg.database -}}
{{- else -}}
{{- fail "database.url is required when database.createSecret is true (or enable demo.postgres)" -}}
{{- end -}}
{{- end -}}

{{/* The DATABASE_URL env var from the referenced Secret. */}}
{{- define "tierq.database.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.secretName }}
      key: {{ .Values.database.secretKey }}
{{- end -}}

{{- define "tierq.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "tierq.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{- define "tierq.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Settings of the operator: the env vars tierq.operator.settings.Settings.from_env reads. The
worker Jobs it creates take their image, ServiceAccount and database Secret from here.
*/}}
{{- define "tierq.operator.env" -}}
{{- $s := .Values.operator.settings -}}
- name: TIERQ_WORKER_IMAGE
  value: {{ include "tierq.image" (list . .Values.worker.image "worker.image") | quote }}
- name: TIERQ_WORKER_IMAGE_PULL_POLICY
  value: {{ .Values.worker.image.pullPolicy | quote }}
- name: TIERQ_WORKER_SERVICE_ACCOUNT
  value: {{ include "tierq.worker.serviceAccountName" . | quote }}
- name: TIERQ_DB_SECRET_NAME
  value: {{ .Values.database.secretName | quote }}
- name: TIERQ_DB_SECRET_KEY
  value: {{ .Values.database.secretKey | quote }}
- name: TIERQ_TIME_SCALE
  value: {{ .Values.worker.timeScale | toString | quote }}
- name: TIERQ_METRICS_PORT
  value: {{ if .Values.operator.metrics.enabled }}{{ .Values.operator.metrics.port | toString | quote }}{{ else }}"0"{{ end }}
- name: TIERQ_RESYNC_SECONDS
  value: {{ $s.resyncSeconds | toString | quote }}
- name: TIERQ_REFRESH_SECONDS
  value: {{ $s.refreshSeconds | toString | quote }}
- name: TIERQ_WRITE_CONCURRENCY
  value: {{ $s.writeConcurrency | toString | quote }}
- name: TIERQ_POST_EVENTS
  value: {{ $s.postEvents | toString | quote }}
{{- end -}}
