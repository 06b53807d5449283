#!/usr/bin/env bash
# `make up`: a working tierq on this machine in one command.
#
#   1. a cluster (hack/cluster-up.sh): kind when Docker works, else the local control plane;
#   2. tierq: CRDs applied server-side, then the chart (helm upgrade --install);
#        kind   the operator and worker images are built and loaded, the chart runs the
#               operator (2 peered replicas), a demo PostgreSQL and a seed Job whose sites
#               become CustomerTiers; the workers really execute the tasks;
#        local  the chart installs with operator.replicas=0 (policy, RBAC, Secret) and the
#               operator runs here as a local process, logged in with the chart's operator
#               ServiceAccount token. Pods are SIMULATED there: kwok marks them Running and
#               then Succeeded after their sim.tierq.dev/duration; no container runs;
#   3. sample customers in the three tiers (local: hack/samples/customers.yaml; kind: the
#      seeded sites) and a burst of TieredJobs of all five job types for each;
#   4. a live view of the lanes (`tierq lanes` and the jobs by phase) until every job is done
#      or Ctrl-C. The operator keeps running afterwards (`hack/up.sh --stop` ends it).
#
# Settings: TIERQ_NAMESPACE (tierq-demo), TIERQ_BURST (rounds of 5 jobs per customer, 2),
# TIERQ_TIME_SCALE (run time / estimate; default 0.0002 on kind, 0.001 simulated),
# TIERQ_UP_WATCH (1: live view; 0: print once and exit), TIERQ_CLUSTER_RUNTIME (auto|kind|local).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_DIR"

NS="${TIERQ_NAMESPACE:-tierq-demo}"
RELEASE=tierq
BURST="${TIERQ_BURST:-2}"
SCALE="${TIERQ_TIME_SCALE:-}"
WATCH="${TIERQ_UP_WATCH:-1}"
PY="$REPO_DIR/.venv/bin/python"
STATE_DIR="$REPO_DIR/.cache/up"
OP_PID="$STATE_DIR/operator.pid"
OP_LOG="$STATE_DIR/operator.log"

# Stop the local operator this script started (only that pid, only if it is still kopf).
stop_operator() {
  [[ -f "$OP_PID" ]] || return 0
  local pid
  pid="$(cat "$OP_PID")"
  if grep -q "tierq.operator.main" "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping the local operator (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$OP_PID"
}
if [[ "${1:-}" == "--stop" ]]; then stop_operator; exit 0; fi

BIN="$("$HACK_DIR/tools.sh")"
KUBECTL="$BIN/kubectl"
HELM="$BIN/helm"
[[ -x "$PY" ]] || die "no .venv: run \`make install\` (or \`make up\`, which does)"

"$HACK_DIR/cluster-up.sh"
export KUBECONFIG="$TIERQ_KUBECONFIG_LOCAL"
runtime="$(cat "$CLUSTER_DIR/runtime")"
# Real workers on kind take the scaled time of the real estimate (a 10-day task: ~3 min);
# simulated pods on the local control plane are capped at 4 min anyway.
[[ -n "$SCALE" ]] || { [[ "$runtime" == kind ]] && SCALE=0.0002 || SCALE=0.001; }
k() { "$KUBECTL" "$@"; }
mkdir -p "$STATE_DIR"

log "CRDs (server-side apply: helm never upgrades CRDs)"
k apply --server-side --force-conflicts -f charts/tierq/crds/ >/dev/null
k wait --for=condition=Established --timeout=60s -f charts/tierq/crds/ >/dev/null
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null

chart_args=(upgrade --install "$RELEASE" charts/tierq --namespace "$NS" --skip-crds
  --set "worker.timeScale=$SCALE" --set database.createSecret=true)

if [[ "$runtime" == kind ]]; then
  # ---------------------------------------------------------------------------------------
  # kind: real images, real pods, the demo PostgreSQL.
  # ---------------------------------------------------------------------------------------
  kind_name="$(cat "$CLUSTER_DIR/kind-name")"
  log "building the operator and worker images"
  docker build -q -t tierq-operator:dev -f Dockerfile . >/dev/null
  docker build -q -t tierq-worker:dev -f worker-image/Dockerfile . >/dev/null
  log "loading them into kind cluster $kind_name"
  kind load docker-image --name "$kind_name" tierq-operator:dev tierq-worker:dev >/dev/null
  log "helm upgrade --install $RELEASE (operator, demo PostgreSQL, seed Job)"
  "$HELM" "${chart_args[@]}" \
    --set operator.image.repository=tierq-operator --set operator.image.tag=dev \
    --set worker.image.repository=tierq-worker --set worker.image.tag=dev \
    --set operator.image.pullPolicy=Never --set worker.image.pullPolicy=Never \
    --set demo.postgres.enabled=true --set demo.seed.enabled=true \
    --wait --timeout 10m
  k -n "$NS" rollout status "deployment/$RELEASE-operator" --timeout=120s
else
  # ---------------------------------------------------------------------------------------
  # local control plane: the chart without operator pods, the operator as a local process.
  # ---------------------------------------------------------------------------------------
  log "helm upgrade --install $RELEASE (policy, RBAC, accounts; operator.replicas=0)"
  # The database URL is never used: pods are simulated and no worker process runs.
  "$HELM" "${chart_args[@]}" --set operator.replicas=0 \
    --set database.url=postgresql://simulated:simulated@simulated/tierq >/dev/null
  log "customers: hack/samples/customers.yaml"
  k -n "$NS" apply -f hack/samples/customers.yaml >/dev/null

  stop_operator
  # The operator logs in with its own ServiceAccount's token: the chart's RBAC, nothing more.
  kcfg="$STATE_DIR/operator.kubeconfig"
  TOKEN="$(k -n "$NS" create token "$RELEASE-operator" --duration=24h)" \
    "$PY" - "$KUBECONFIG" "$kcfg" <<'EOF'
import os, sys, yaml
admin_path, out = sys.argv[1:]
token = os.environ["TOKEN"]
admin = yaml.safe_load(open(admin_path))
ctx = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
cluster = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])
cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "operator",
       "clusters": [cluster], "users": [{"name": "operator", "user": {"token": token}}],
       "contexts": [{"name": "operator", "context": {"cluster": cluster["name"], "user": "operator"}}]}
with open(out, "w") as f:
    yaml.safe_dump(cfg, f)
EOF
  chmod 600 "$kcfg"
  # The operator's settings exactly as the chart renders them for its Deployment.
  "$HELM" get manifest "$RELEASE" -n "$NS" | "$PY" -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator"):
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]:
            if "value" in e:
                print(e["name"] + "=" + e["value"])
' >"$STATE_DIR/operator.env"
  mapfile -t op_env <"$STATE_DIR/operator.env"
  ((${#op_env[@]})) || die "no operator env in the rendered chart"
  health_port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  log "starting the operator locally (log: $OP_LOG)"
  env "${op_env[@]}" KUBECONFIG="$kcfg" TIERQ_METRICS_PORT=0 \
    setsid "$REPO_DIR/.venv/bin/kopf" run --all-namespaces -m tierq.operator.main \
    --peering=tierq --liveness="http://127.0.0.1:$health_port/healthz" \
    >"$OP_LOG" 2>&1 </dev/null &
  echo $! >"$OP_PID"
  for _ in $(seq 120); do
    curl -fs "http://127.0.0.1:$health_port/healthz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$OP_PID")" 2>/dev/null || { tail -n 30 "$OP_LOG" >&2; die "the operator exited"; }
    sleep 0.5
  done
fi

# ---- customers and the burst ------------------------------------------------------------------
log "waiting for the customers to be tiered"
for _ in $(seq 120); do
  n="$(k -n "$NS" get customertiers -o jsonpath='{range .items[*]}{.status.tier}{"\n"}{end}' | grep -c . || true)"
  total="$(k -n "$NS" get customertiers -o name | wc -l)"
  ((total > 0 && n == total)) && break
  sleep 1
done
k -n "$NS" get customertiers

log "a burst: $BURST round(s) of the five job types for every customer"
"$PY" - "$BURST" "$SCALE" "$runtime" "$NS" "$KUBECTL" <<'EOF'
import json, subprocess, sys
import yaml
from tierq.api.defaults import default_policy_spec

rounds, scale, runtime, ns, kubectl = int(sys.argv[1]), float(sys.argv[2]), *sys.argv[3:]
spr = {t.name: t.seconds_per_record for t in default_policy_spec().job_types}
out = subprocess.run([kubectl, "-n", ns, "get", "customertiers", "-o", "json"],
                     check=True, capture_output=True, text=True).stdout
customers = json.loads(out)["items"]
docs = []
for r in range(rounds):
    for c in customers:
        volume = c["spec"].get("recordVolume", 0)
        for job_type, seconds in spr.items():
            job = {"apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
                   "metadata": {"generateName": f"{c['metadata']['name']}-{job_type.replace('_', '-')}-"},
                   "spec": {"customer": c["metadata"]["name"], "jobType": job_type}}
            if runtime != "kind":  # kwok: the pod "runs" for the scaled estimate, 1-240 s
                sim = min(max(volume * seconds * scale, 1.0), 240.0)
                job["metadata"]["annotations"] = {"sim.tierq.dev/duration": f"{sim:.1f}s"}
            docs.append(job)
subprocess.run([kubectl, "-n", ns, "create", "-f", "-"], input=yaml.safe_dump_all(docs),
               check=True, text=True, stdout=subprocess.DEVNULL)
print(f"created {len(docs)} TieredJobs for {len(customers)} customers", file=sys.stderr)
EOF

if [[ "$runtime" != kind ]]; then
  echo
  echo "NOTE: local control plane: worker pods are SIMULATED by kwok (no container runs; each"
  echo "      pod ends after its sim.tierq.dev/duration). The scheduling, the Jobs and the"
  echo "      status you see are real. With Docker + kind, \`make up\` runs the real workers."
  echo
fi

# ---- live view --------------------------------------------------------------------------------
view() {
  "$REPO_DIR/.venv/bin/tierq" lanes -n "$NS" 2>/dev/null || k get tierpolicy default
  echo
  k -n "$NS" get tieredjobs -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' |
    sed 's/^$/New/' | sort | uniq -c | awk '{printf "%s %s   ", $2, $1} END {print ""}'
}
if [[ "$WATCH" == 0 ]]; then
  view
else
  trap 'echo; exit 0' INT
  tty=0 interval=10
  if [[ -t 1 ]]; then tty=1 interval=2; fi
  while :; do
    out="$(view)"
    ((tty)) && clear
    echo "tierq lanes in namespace $NS ($runtime) - $(date +%T) - Ctrl-C to leave"
    echo "$out"
    echo "$out" | grep -qE '(New|Pending|Queued|Running) ' || break
    sleep "$interval"
  done
  echo "every TieredJob has finished."
fi
cat <<EOF

Next:
  export KUBECONFIG=$KUBECONFIG
  kubectl -n $NS get tieredjobs            # what is waiting, where, and why
  .venv/bin/tierq lanes -n $NS             # slots, queues and borrowing per lane
  .venv/bin/tierq customers move acorn-bakery --tier large -n $NS
$( [[ "$runtime" != kind ]] && echo "  hack/up.sh --stop                        # stop the local operator (log: $OP_LOG)")
  make cluster-down                        # remove the cluster
EOF
