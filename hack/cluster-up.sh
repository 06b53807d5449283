#!/usr/bin/env bash
# Start a Kubernetes cluster for tierq and write its admin kubeconfig to $TIERQ_KUBECONFIG_LOCAL.
#
# Runtime (TIERQ_CLUSTER_RUNTIME=auto|kind|local, default auto):
#   kind   when `docker info` works and `kind` is on PATH: real nodes from hack/kind-config.yaml
#          (one worker per pool, labelled and tainted like the fake nodes below);
#   local  otherwise: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok as
#          local processes on 127.0.0.1 (binaries from hack/build-binaries.sh), with fake nodes
#          per pool kept Ready by kwok, whose Stages (hack/kwok/stages.yaml) run pods.
#
# Node pools: $TIERQ_POOLS (default "interactive standard batch"), $TIERQ_NODES_PER_POOL fake
# nodes each (default 2), labelled tierq.dev/pool=<pool> and type=kwok, tainted
# tierq.dev/pool=<pool>:NoSchedule, 16 cpu / 64Gi / 110 pods.
#
# Idempotent: when the kubeconfig already reaches a ready API server it does nothing.
# State (certificates, etcd data, logs, pids) lives beside the kubeconfig; hack/cluster-down.sh
# stops the processes and removes it.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECTL="$("$HACK_DIR/tools.sh")/kubectl"
KCFG="$TIERQ_KUBECONFIG_LOCAL"
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

api_ready() { [[ -f "$KCFG" ]] && "$KUBECTL" --kubeconfig "$KCFG" --request-timeout=3s get --raw /readyz >/dev/null 2>&1; }

if api_ready; then
  log "cluster already running: $KCFG"
  exit 0
fi

# One starter at a time per state folder (parallel pytest sessions share it): the second one
# waits, then finds the cluster running.
if [[ -z "${TIERQ_CLUSTER_LOCKED:-}" ]]; then
  mkdir -p "$(dirname "$CLUSTER_DIR")"
  exec 8>"$CLUSTER_DIR.lock"
  flock 8
  export TIERQ_CLUSTER_LOCKED=1
  if api_ready; then
    log "cluster already running: $KCFG (started meanwhile)"
    exit 0
  fi
fi

runtime="${TIERQ_CLUSTER_RUNTIME:-auto}"
if [[ "$runtime" == auto ]]; then
  runtime=local
  if command -v kind >/dev/null && docker info >/dev/null 2>&1; then runtime=kind; fi
fi

# ---------------------------------------------------------------------------------------------
# kind (Docker)
# ---------------------------------------------------------------------------------------------
if [[ "$runtime" == kind ]]; then
  name="${TIERQ_KIND_NAME:-tierq}"
  mkdir -p "$CLUSTER_DIR"
  echo kind >"$CLUSTER_DIR/runtime"
  echo "$name" >"$CLUSTER_DIR/kind-name"
  if ! kind get clusters 2>/dev/null | grep -qx "$name"; then
    log "creating kind cluster $name from hack/kind-config.yaml"
    kind create cluster --name "$name" --config "$HACK_DIR/kind-config.yaml" \
      --kubeconfig "$KCFG" --wait 120s
  else
    kind get kubeconfig --name "$name" >"$KCFG"
  fi
  "$KUBECTL" --kubeconfig "$KCFG" get nodes -L tierq.dev/pool
  log "kind cluster $name ready in $(elapsed); KUBECONFIG=$KCFG"
  exit 0
fi
[[ "$runtime" == local ]] || die "TIERQ_CLUSTER_RUNTIME must be auto, kind or local (got $runtime)"

# ---------------------------------------------------------------------------------------------
# local control plane
# ---------------------------------------------------------------------------------------------
if ! "$HACK_DIR/build-binaries.sh" --check; then
  command -v go >/dev/null ||
    die "no control plane binaries in $K8S_BIN_DIR and no Go to build them (or use kind + Docker)"
  "$HACK_DIR/build-binaries.sh"
fi
command -v openssl >/dev/null || die "openssl is needed to make the cluster's certificates"

# A cluster whose API server still runs but answered slowly (a busy machine) is waited for, not
# replaced: other sessions may be using it.
if [[ -f "$CLUSTER_DIR/pids/kube-apiserver" ]] &&
  kill -0 "$(cat "$CLUSTER_DIR/pids/kube-apiserver")" 2>/dev/null; then
  for _ in $(seq 20); do
    if api_ready; then log "cluster already running: $KCFG"; exit 0; fi
    sleep 3
  done
  log "the API server in $CLUSTER_DIR runs but does not answer: replacing the cluster"
fi
# A stale state (a crashed run) is cleared first; its processes too.
if [[ -d "$CLUSTER_DIR/pids" ]]; then "$HACK_DIR/cluster-down.sh" >/dev/null 2>&1 || true; fi
mkdir -p "$CLUSTER_DIR"/{pki,logs,pids,etcd}
echo local >"$CLUSTER_DIR/runtime"
PKI="$CLUSTER_DIR/pki"

free_ports() {  # free_ports N: N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r P_ETCD P_ETCD_PEER P_API P_KCM P_SCHED P_KWOK < <(free_ports 6)
cat >"$CLUSTER_DIR/ports" <<EOF
etcd=$P_ETCD etcd-peer=$P_ETCD_PEER apiserver=$P_API controller-manager=$P_KCM scheduler=$P_SCHED kwok=$P_KWOK
EOF

# ---- certificates (EC P-256: fast to make) ---------------------------------------------------
ossl() { openssl "$@" 2>/dev/null; }
ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key"
ossl req -x509 -new -key "$PKI/ca.key" -days 3650 -subj "/CN=tierq-local-ca" -out "$PKI/ca.crt"
cert() {  # cert NAME SUBJECT EXTENDED_KEY_USAGE [SAN]
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext
  ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$ext"
  ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key"
  ossl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$ext"
}
cert apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=tierq-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert kwok "/O=system:masters/CN=kwok" clientAuth
cert kwok-serving "/CN=kwok" serverAuth "IP:127.0.0.1,DNS:localhost"
ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key"
ossl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

b64() { base64 -w0 <"$1"; }
kubeconfig() {  # kubeconfig FILE CERT_NAME
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tierq-local
  cluster:
    server: https://127.0.0.1:$P_API
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: tierq-local
  context:
    cluster: tierq-local
    user: $2
current-context: tierq-local
EOF
  chmod 600 "$1"
}
for c in admin controller-manager scheduler kwok; do kubeconfig "$PKI/$c.kubeconfig" "$c"; done
K=("$KUBECTL" --kubeconfig "$PKI/admin.kubeconfig")

# ---- processes -------------------------------------------------------------------------------
start() {  # start NAME ARGS...: run in its own session, log and pid under the state dir
  local name="$1"
  shift
  # 8>&-: the daemons must not inherit the start lock.
  setsid "$K8S_BIN_DIR/$name" "$@" >"$CLUSTER_DIR/logs/$name.log" 2>&1 </dev/null 8>&- &
  echo $! >"$CLUSTER_DIR/pids/$name"
}
wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "timed out waiting for $what; last log lines:"
      tail -n 20 "$CLUSTER_DIR"/logs/*.log >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}
alive() { kill -0 "$(cat "$CLUSTER_DIR/pids/$1")" 2>/dev/null; }

start etcd --name=tierq --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$P_ETCD" --advertise-client-urls="http://127.0.0.1:$P_ETCD" \
  --listen-peer-urls="http://127.0.0.1:$P_ETCD_PEER" \
  --initial-advertise-peer-urls="http://127.0.0.1:$P_ETCD_PEER" \
  --initial-cluster="tierq=http://127.0.0.1:$P_ETCD_PEER" \
  --listen-metrics-urls="" --unsafe-no-fsync --quota-backend-bytes=4294967296 \
  --auto-compaction-retention=1 --log-level=warn

start kube-apiserver --etcd-servers="http://127.0.0.1:$P_ETCD" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$P_API" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
  --profiling=false --v=1

wait_for etcd 30 alive etcd
api_up() { alive kube-apiserver && "${K[@]}" --request-timeout=2s get --raw /readyz; }
wait_for kube-apiserver 60 api_up
log "kube-apiserver ready after $(elapsed)"

start kube-controller-manager --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_KCM" --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --kube-api-qps=200 --kube-api-burst=400 --concurrent-job-syncs=10 \
  --profiling=false --v=1
start kube-scheduler --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_SCHED" --leader-elect=false \
  --profiling=false --v=1
start kwok --kubeconfig="$PKI/kwok.kubeconfig" --config="$HACK_DIR/kwok/stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-label-selector=type=kwok \
  --node-ip=127.0.0.1 --node-port="$P_KWOK" --server-address="127.0.0.1:$P_KWOK" \
  --tls-cert-file="$PKI/kwok-serving.crt" --tls-private-key-file="$PKI/kwok-serving.key" \
  --cidr=10.244.0.1/16 --node-lease-duration-seconds=40


# ---- node pools ------------------------------------------------------------------------------
nodes_yaml() {
  local pool i
  for pool in $TIERQ_POOLS; do
    for ((i = 0; i < TIERQ_NODES_PER_POOL; i++)); do
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $pool-$i
  labels:
    type: kwok
    tierq.dev/pool: $pool
    kubernetes.io/hostname: $pool-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
spec:
  taints:
  - key: tierq.dev/pool
    value: $pool
    effect: NoSchedule
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
EOF
    done
  done
}
nodes_yaml | "${K[@]}" apply -f - >/dev/null

for c in kube-controller-manager kube-scheduler kwok; do
  alive "$c" || { tail -n 30 "$CLUSTER_DIR/logs/$c.log" >&2; die "$c exited"; }
done
# Ready pool nodes, and the default ServiceAccount (pods are refused until it exists).
wait_for "Ready nodes" 60 "${K[@]}" wait --for=condition=Ready node -l type=kwok --timeout=1s
wait_for "the default ServiceAccount" 60 "${K[@]}" -n default get serviceaccount default
wait_for "the kube-root-ca.crt ConfigMap" 60 "${K[@]}" -n default get configmap kube-root-ca.crt
# The kubeconfig appears only once the cluster is usable (others poll for it).
mkdir -p "$(dirname "$KCFG")"
cp "$PKI/admin.kubeconfig" "$KCFG.tmp" && mv -f "$KCFG.tmp" "$KCFG"
log "local control plane ready in $(elapsed); KUBECONFIG=$KCFG"
"${K[@]}" get nodes -L tierq.dev/pool >&2
