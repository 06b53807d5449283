#!/usr/bin/env bash
# Package charts/tierq for a release: version and appVersion from the tag, default images
# pointed at the release registry. Used by .github/workflows/release.yaml and tested by
# tests/chart/test_workflows.py.
#
#   .github/scripts/package-chart.sh VERSION REGISTRY OUT_DIR [HELM]
#   e.g. .github/scripts/package-chart.sh 1.2.3 ghcr.io/acme dist   -> dist/tierq-1.2.3.tgz
set -euo pipefail
version="${1:?version, e.g. 1.2.3}"
registry="${2:?registry, e.g. ghcr.io/acme}"
out="${3:?output directory}"
helm="${4:-helm}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "bad version $version" >&2; exit 1; }
[[ "$registry" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] || { echo "bad registry $registry" >&2; exit 1; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/charts/tierq" "$work/tierq"
sed -i -E "s/^version: .*/version: $version/; s/^appVersion: .*/appVersion: \"$version\"/" \
  "$work/tierq/Chart.yaml"
sed -i "s#repository: ghcr.io/tierq/#repository: $registry/#" "$work/tierq/values.yaml"
grep -q "repository: $registry/tierq-operator" "$work/tierq/values.yaml" ||
  { echo "values.yaml: the operator image was not repointed" >&2; exit 1; }
"$helm" lint --strict "$work/tierq" >&2
mkdir -p "$out"
"$helm" package "$work/tierq" --destination "$out" >&2
echo "$out/tierq-$version.tgz"
