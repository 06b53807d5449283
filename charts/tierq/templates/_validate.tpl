{{/*
Checks a JSON schema cannot express: names that must refer to each other. Each failure names
the values key, like the schema's messages do. Rendered (as nothing) by validate.yaml.
*/}}
{{- define "tierq.validate" -}}
{{- $p := .Values.policy -}}
{{- if $p.create -}}
{{- $tiers := list -}}
{{- range $p.tiers }}{{ $tiers = append $tiers .name }}{{ end -}}
{{- $classes := list -}}
{{- range $p.durationClasses }}{{ $classes = append $classes .name }}{{ end -}}
{{- $pools := list -}}
{{- range $p.nodePools }}{{ $pools = append $pools .name }}{{ end -}}
{{- range $tier, $row := $p.lanes.slots -}}
{{- if not (has $tier $tiers) -}}
{{- fail (printf "policy.lanes.slots.%s: unknown tier %q (policy.tiers has %s)" $tier $tier (join ", " $tiers)) -}}
{{- end -}}
{{- range $class, $n := $row -}}
{{- if not (has $class $classes) -}}
{{- fail (printf "policy.lanes.slots.%s.%s: unknown duration class %q (policy.durationClasses has %s)" $tier $class $class (join ", " $classes)) -}}
{{- end -}}
{{- if not (or (kindIs "float64" $n) (kindIs "int64" $n) (kindIs "int" $n)) -}}
{{- fail (printf "policy.lanes.slots.%s.%s: maxRunning must be an integer >= 0 (got %v)" $tier $class $n) -}}
{{- else if or (lt (float64 $n) 0.0) (ne (float64 (int64 $n)) (float64 $n)) -}}
{{- fail (printf "policy.lanes.slots.%s.%s: maxRunning must be an integer >= 0 (got %v)" $tier $class $n) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $o := $p.lanes.overrides -}}
{{- if and $o.tier (not (has $o.tier $tiers)) -}}
{{- fail (printf "policy.lanes.overrides[%d].tier: unknown tier %q (policy.tiers has %s)" $i $o.tier (join ", " $tiers)) -}}
{{- end -}}
{{- if and $o.durationClass (not (has $o.durationClass $classes)) -}}
{{- fail (printf "policy.lanes.overrides[%d].durationClass: unknown duration class %q (policy.durationClasses has %s)" $i $o.durationClass (join ", " $classes)) -}}
{{- end -}}
{{- if and $o.nodePool (not (has $o.nodePool $pools)) -}}
{{- fail (printf "policy.lanes.overrides[%d].nodePool: unknown node pool %q (policy.nodePools has %s)" $i $o.nodePool (join ", " $pools)) -}}
{{- end -}}
{{- end -}}
{{- if not (has $p.lanes.defaults.nodePool $pools) -}}
{{- fail (printf "policy.lanes.defaults.nodePool: unknown node pool %q (policy.nodePools has %s)" $p.lanes.defaults.nodePool (join ", " $pools)) -}}
{{- end -}}
{{- if ne (len (uniq $tiers)) (len $tiers) -}}
{{- fail "policy.tiers: tier names must be unique" -}}
{{- end -}}
{{- if ne (len (uniq $classes)) (len $classes) -}}
{{- fail "policy.durationClasses: duration class names must be unique" -}}
{{- end -}}
{{- end -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.peering.enabled) -}}
{{- fail "operator.peering.enabled: must be true when operator.replicas > 1 (standalone replicas would all schedule at once)" -}}
{{- end -}}
{{- if and .Values.demo.seed.enabled (not .Values.demo.postgres.enabled) (not .Values.database.secretName) -}}
{{- fail "database.secretName: demo.seed needs a database (enable demo.postgres or name your Secret)" -}}
{{- end -}}
{{- end -}}
