#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from the Go
# module proxy into $TIERQ_CACHE_DIR/k8s/<version>/bin (default ~/.cache/tierq/...).
#
# Idempotent: when every binary is there and the stamp (versions + wrapper go.mod/go.sum)
# matches, it does nothing. A cold build takes a while on 2 cores; Go's own build cache
# (GOCACHE) makes a rebuild after a stamp change much faster.
#
#   hack/build-binaries.sh           build what is missing
#   hack/build-binaries.sh --check   exit 0 when up to date, 1 otherwise (builds nothing)
#   hack/build-binaries.sh --print   print the bin directory
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stamp_of() {
  {
    echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"
    cat "$HACK_DIR"/{k8s,etcd,kwok}/go.{mod,sum}
  } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  local b
  [[ -f "$K8S_BIN_DIR/.stamp" && "$(cat "$K8S_BIN_DIR/.stamp")" == "$(stamp_of)" ]] || return 1
  for b in "${K8S_BINARIES[@]}"; do [[ -x "$K8S_BIN_DIR/$b" ]] || return 1; done
}

case "${1:-}" in
  --check) up_to_date; exit $? ;;
  --print) echo "$K8S_BIN_DIR"; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1" ;;
esac

if up_to_date; then
  log "binaries up to date in $K8S_BIN_DIR"
  exit 0
fi
command -v go >/dev/null || die "Go is needed to build the control plane binaries (none on PATH)"

# One builder at a time (tests and `make binaries` may race).
mkdir -p "$K8S_BIN_DIR"
exec 9>"$K8S_BIN_DIR/.lock"
flock 9
if up_to_date; then
  log "binaries up to date in $K8S_BIN_DIR (built by another process)"
  exit 0
fi

export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export CGO_ENABLED=0
tmp="$(mktemp -d "$K8S_BIN_DIR/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

kmaj="${K8S_VERSION#v}"; kmaj="${kmaj%%.*}"
kmin="${K8S_VERSION#v*.}"; kmin="${kmin%%.*}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$kmaj -X $pkg.gitMinor=$kmin"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=module-proxy-$K8S_VERSION"
done
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-proxy-$ETCD_VERSION"
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
kwok_ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"

build() {  # build <module dir> <ldflags> <packages...>
  local mod="$1" ldflags="$2" t0=$SECONDS
  shift 2
  log "building $mod: $* ..."
  (cd "$HACK_DIR/$mod" && GOBIN="$tmp" go install -ldflags "$ldflags" "$@")
  log "built $mod in $((SECONDS - t0))s"
}

t_start=$SECONDS
build etcd "$etcd_ldflags" .   # hack/etcd/main.go calls etcdmain.Main
build kwok "$kwok_ldflags" tool
build k8s "$k8s_ldflags" tool
for b in "${K8S_BINARIES[@]}"; do
  [[ -x "$tmp/$b" ]] || die "build produced no $b"
  mv -f "$tmp/$b" "$K8S_BIN_DIR/$b"
done
stamp_of >"$K8S_BIN_DIR/.stamp"
log "all binaries built in $((SECONDS - t_start))s into $K8S_BIN_DIR ($(du -sh "$K8S_BIN_DIR" | cut -f1))"
