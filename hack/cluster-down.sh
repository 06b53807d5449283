#!/usr/bin/env bash
# Stop the cluster started by hack/cluster-up.sh and remove its state (kubeconfig included).
# Only the processes whose pids cluster-up.sh recorded are stopped.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -d "$CLUSTER_DIR" ]] || { log "no cluster state in $CLUSTER_DIR"; exit 0; }
if [[ -z "${TIERQ_CLUSTER_LOCKED:-}" ]]; then
  exec 8>"$CLUSTER_DIR.lock"
  flock 8
fi

if [[ "$(cat "$CLUSTER_DIR/runtime" 2>/dev/null)" == kind ]]; then
  name="$(cat "$CLUSTER_DIR/kind-name" 2>/dev/null || echo tierq)"
  log "deleting kind cluster $name"
  kind delete cluster --name "$name" || true
else
  pids=()
  # Stop the clients of the API server first, etcd last.
  for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    f="$CLUSTER_DIR/pids/$c"
    [[ -f "$f" ]] || continue
    pid="$(cat "$f")"
    # Only a process that still runs our binary (the pid may have been reused since).
    if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */"$c" ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for _ in $(seq 50); do
    left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    ((${#left[@]})) || break
    sleep 0.1
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  log "stopped ${#pids[@]} control plane processes"
fi
rm -rf "${CLUSTER_DIR:?}/pids" "$CLUSTER_DIR/pki" "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/logs" \
  "$CLUSTER_DIR/users" \
  "$CLUSTER_DIR/ports" "$CLUSTER_DIR/runtime" "$CLUSTER_DIR/kind-name" "$TIERQ_KUBECONFIG_LOCAL"
rmdir "$CLUSTER_DIR" 2>/dev/null || true
