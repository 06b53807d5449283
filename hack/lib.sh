# Shared settings of the hack/ scripts. Source it; it only sets variables and functions.
# shellcheck shell=bash disable=SC2034

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"

# One Kubernetes release for the control plane; etcd and kwok versions are pinned in their
# wrapper modules (hack/etcd/go.mod, hack/kwok/go.mod).
K8S_VERSION="v1.34.4"
ETCD_VERSION="v3.6.17"
KWOK_VERSION="v0.8.0"

# Outside the repo, so another clone on the same machine (CI clones elsewhere) reuses it.
TIERQ_CACHE_DIR="${TIERQ_CACHE_DIR:-$HOME/.cache/tierq}"
K8S_BIN_DIR="${TIERQ_K8S_BIN_DIR:-$TIERQ_CACHE_DIR/k8s/$K8S_VERSION/bin}"
TOOLS_BIN_DIR="${TIERQ_TOOLS_BIN_DIR:-$TIERQ_CACHE_DIR/tools/bin}"

# State of the local cluster (pids, logs, certificates, etcd data) lives in the repo's .cache.
TIERQ_KUBECONFIG_LOCAL="${TIERQ_KUBECONFIG_LOCAL:-$REPO_DIR/.cache/cluster/kubeconfig}"
CLUSTER_DIR="$(dirname "$TIERQ_KUBECONFIG_LOCAL")"

TIERQ_POOLS="${TIERQ_POOLS:-interactive standard batch}"
TIERQ_NODES_PER_POOL="${TIERQ_NODES_PER_POOL:-2}"

K8S_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
