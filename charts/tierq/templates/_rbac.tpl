{{/* The operator's rules on namespaced objects: in its ClusterRole, or in a Role per watched namespace. */}}
{{- define "tierq.operator.namespacedRules" -}}
# Customers and jobs: listed and watched; patch for their labels (tier, lane), never spec.
- apiGroups: [tierq.dev]
  resources: [customertiers, tieredjobs]
  verbs: [get, list, watch, patch]
# ... and their status: what the operator observed.
- apiGroups: [tierq.dev]
  resources: [customertiers/status, tieredjobs/status]
  verbs: [patch]
# Jobs are owned by their TieredJob with blockOwnerDeletion, which clusters enforcing
# OwnerReferencesPermissionEnforcement allow only to who may update the owner's finalizers.
- apiGroups: [tierq.dev]
  resources: [tieredjobs/finalizers]
  verbs: [update]
# One batch/v1 Job per admitted TieredJob; deleted when the TieredJob is.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, get, list, watch, delete]
# Events on TieredJobs and CustomerTiers, one per transition (kopf posts core/v1 Events).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}
