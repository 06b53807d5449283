"""The chart on a real API server: installs under `restricted`, RBAC proven by impersonation.

Uses the `cluster` and `namespace` fixtures (tests/fixtures/cluster.py). Everything the chart
makes outside its namespace (ClusterRole, binding, ClusterKopfPeering, the TierPolicy
`default`) is removed by `helm uninstall`; a TierPolicy that existed before is put back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart.conftest import CHART, Helm
from fixtures.cluster import Cluster, apply_crds
from tierq.api.defaults import default_policy_spec

pytestmark = pytest.mark.cluster

PEERING_CRD = "clusterkopfpeerings.kopf.dev"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Release:
    name: str
    namespace: str
    other_namespace: str  # a second namespace: what the chart's accounts may not touch there
    fullname: str
    peering: bool

    @property
    def operator_sa(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.fullname}-operator"

    @property
    def worker_sa(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.fullname}-worker"


def _helm(helm: Helm, cluster: Cluster, *args: str, check: bool = True) -> Any:
    return helm.run(*args, "--kubeconfig", cluster.kubeconfig, check=check, timeout=180)


def _delete_policy(cluster: Cluster) -> None:
    """Delete the TierPolicy `default`, dropping the operator's finalizer: the operator that
    would remove it may be gone (a test's local operator stops before the uninstall)."""
    cluster.kubectl("patch", "tierpolicy", "default", "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}', check=False)  # fmt: skip
    cluster.kubectl("delete", "tierpolicy", "default", "--ignore-not-found", "--wait=true")


def _set_aside_policy(cluster: Cluster) -> dict[str, Any] | None:
    """Remove a TierPolicy `default` made by someone else (cluster-scoped: one per cluster)."""
    proc = cluster.kubectl("get", "tierpolicy", "default", "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    saved: dict[str, Any] = json.loads(proc.stdout)
    _delete_policy(cluster)
    meta = saved["metadata"]
    saved["metadata"] = {k: meta[k] for k in ("name", "labels", "annotations") if k in meta}
    saved.pop("status", None)
    return saved


@contextmanager
def installed(
    cluster: Cluster, namespace: str, helm: Helm, *sets: str
) -> Iterator[Release]:
    """The chart installed into `namespace`, which enforces the restricted Pod Security Standard.

    CRDs are applied server-side from the chart's crds/ first (helm never updates CRDs), then
    the release is installed with --skip-crds.
    """
    crds = apply_crds(cluster, CHART / "crds")
    peering = PEERING_CRD in crds
    for mode in ("enforce", "warn", "audit"):
        cluster.kubectl("label", "namespace", namespace,
                        f"pod-security.kubernetes.io/{mode}=restricted")  # fmt: skip
    other = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", other)
    cluster.kubectl("label", "namespace", other, "tierq.dev/test=true")
    saved = _set_aside_policy(cluster)
    name = f"tq-{namespace[2:]}"
    args = [
        "install", name, str(CHART), "--namespace", namespace, "--skip-crds",
        "--set", f"operator.peering.name={name}", "--timeout", "2m",
    ]  # fmt: skip
    if not peering:  # the peering CRD is not shipped: one standalone replica
        args += ["--set", "operator.replicas=1", "--set", "operator.peering.enabled=false"]
    for s in sets:
        args += ["--set", s]
    try:
        proc = _helm(helm, cluster, *args)
        assert "violate" not in proc.stderr.lower(), proc.stderr  # PodSecurity warnings
        yield Release(name, namespace, other, f"{name}-tierq", peering)
    finally:
        _delete_policy(cluster)
        _helm(helm, cluster, "uninstall", name, "--namespace", namespace, check=False)
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
        if saved is not None:
            cluster.apply(saved)


@pytest.fixture(scope="module")
def release(cluster: Cluster, helm: Helm) -> Iterator[Release]:
    """The chart with every optional pod template (demo PostgreSQL, the sync CronJob), once
    for the tests that only look at it."""
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("label", "namespace", namespace, "tierq.dev/test=true")
    try:
        with installed(cluster, namespace, helm, "demo.postgres.enabled=true",
                       "syncSites.enabled=true", "database.createSecret=true") as rel:  # fmt: skip
            yield rel
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _pods(cluster: Cluster, ns: str, component: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "-n", ns, "pods", "-l", f"app.kubernetes.io/component={component}"
    )["items"]
    return items


def test_chart_installs_under_restricted_pod_security(
    cluster: Cluster, release: Release, helm: Helm
) -> None:
    ns = release.namespace
    dep = cluster.get("-n", ns, "deployment", f"{release.fullname}-operator")
    replicas = dep["spec"]["replicas"]
    assert replicas == (2 if release.peering else 1)

    # Pods exist only if the PodSecurity admission of this namespace let them in.
    cluster.wait_for(lambda: len(_pods(cluster, ns, "operator")) == replicas, timeout=60,
                     what="the operator pods to be admitted")  # fmt: skip
    cluster.wait_for(lambda: _pods(cluster, ns, "demo-postgres"), timeout=60,
                     what="the demo PostgreSQL pod to be admitted")  # fmt: skip
    # The CronJob's pod template too: run it once.
    cluster.kubectl("-n", ns, "create", "job", "sync-now",
                    f"--from=cronjob/{release.fullname}-sync-sites")  # fmt: skip
    cluster.wait_for(
        lambda: cluster.get("-n", ns, "pods", "-l", "job-name=sync-now")["items"], timeout=60,
        what="the sync-sites pod to be admitted",
    )  # fmt: skip
    # The demo seed Job (a post-install hook, not installed here): a server-side dry run in this
    # namespace answers with a PodSecurity warning if its pod template would be refused.
    seed = [o for o in helm.template("demo.postgres.enabled=true", "demo.seed.enabled=true",
                                     "database.createSecret=true", namespace=ns)
            if o["kind"] == "Job"]  # fmt: skip
    dry = cluster.kubectl("-n", ns, "create", "--dry-run=server", "-f", "-",
                          input=yaml.safe_dump_all(seed))  # fmt: skip
    assert "PodSecurity" not in dry.stderr, dry.stderr
    events = cluster.get("-n", ns, "events", "--field-selector", "reason=FailedCreate")["items"]
    assert not [e["message"] for e in events if "PodSecurity" in e["message"]]

    policy = cluster.get("tierpolicy", "default")
    assert policy["spec"] == default_policy_spec().to_wire()
    assert policy["metadata"]["annotations"]["meta.helm.sh/release-name"] == release.name
    if release.peering:
        cluster.get("clusterkopfpeering", release.name)


def _can(cluster: Cluster, who: str, verb: str, resource: str, ns: str | None,
         sub: str | None = None) -> bool:  # fmt: skip
    args = ["auth", "can-i", verb, resource, f"--as={who}"]
    args += ["-n", ns] if ns else []
    args += [f"--subresource={sub}"] if sub else []
    proc = cluster.kubectl(*args, check=False)
    assert proc.stdout.strip() in ("yes", "no"), proc.stdout + proc.stderr
    return proc.stdout.strip() == "yes"


def test_operator_service_account_has_exactly_what_it_needs(
    cluster: Cluster, release: Release
) -> None:
    sa, other = release.operator_sa, release.other_namespace
    allowed = [
        ("create", "jobs.batch", other, None),
        ("delete", "jobs.batch", other, None),
        ("watch", "jobs.batch", None, None),
        ("watch", "tieredjobs.tierq.dev", None, None),
        ("patch", "tieredjobs.tierq.dev", other, "status"),
        ("patch", "customertiers.tierq.dev", other, "status"),
        ("patch", "tierpolicies.tierq.dev", None, "status"),
        ("create", "events", other, None),
        ("patch", "clusterkopfpeerings.kopf.dev", None, None),
        ("list", "customresourcedefinitions.apiextensions.k8s.io", None, None),
    ]
    denied = [
        ("get", "secrets", other, None),
        ("get", "secrets", "kube-system", None),
        ("list", "secrets", None, None),
        ("get", "configmaps", other, None),
        ("create", "pods", other, None),
        ("list", "pods", None, None),
        ("delete", "pods", other, None),
        ("create", "tieredjobs.tierq.dev", other, None),
        ("update", "tieredjobs.tierq.dev", other, None),
        ("delete", "customertiers.tierq.dev", other, None),
        ("delete", "tierpolicies.tierq.dev", None, None),
        ("create", "clusterroles.rbac.authorization.k8s.io", None, None),
        ("create", "rolebindings.rbac.authorization.k8s.io", other, None),
        ("impersonate", "serviceaccounts", other, None),
        ("create", "serviceaccounts/token", other, None),
        ("delete", "namespaces", None, None),
    ]
    wrong = [f"may not {v} {r} {s or ''} in {n}" for v, r, n, s in allowed
             if not _can(cluster, sa, v, r, n, s)]  # fmt: skip
    wrong += [f"may {v} {r} {s or ''} in {n}" for v, r, n, s in denied
              if _can(cluster, sa, v, r, n, s)]  # fmt: skip
    assert not wrong, wrong
    # And through the API, not only `can-i`: reading a Secret elsewhere is Forbidden.
    proc = cluster.kubectl("-n", "kube-system", "get", "secrets", f"--as={sa}", check=False)
    assert proc.returncode != 0 and "forbidden" in proc.stderr.lower(), proc.stderr


def test_worker_service_account_may_only_report_progress(
    cluster: Cluster, release: Release
) -> None:
    sa, ns, other = release.worker_sa, release.namespace, release.other_namespace
    assert _can(cluster, sa, "patch", "tieredjobs.tierq.dev", ns, "status")
    for verb, resource, where, sub in [
        ("patch", "tieredjobs.tierq.dev", other, "status"),  # not outside its namespace
        ("patch", "tieredjobs.tierq.dev", ns, None),  # not the spec
        ("get", "tieredjobs.tierq.dev", ns, None),
        ("list", "customertiers.tierq.dev", ns, None),
        ("get", "secrets", ns, None),  # the database URL comes as an env var, not via the API
        ("create", "jobs.batch", ns, None),
        ("list", "pods", ns, None),
    ]:
        assert not _can(cluster, sa, verb, resource, where, sub), (verb, resource, where, sub)


# ---- the operator, running with nothing but its ServiceAccount's rights ----------------------


def _token_kubeconfig(cluster: Cluster, namespace: str, sa: str, path: Path) -> None:
    """A kubeconfig that authenticates as the ServiceAccount itself (a TokenRequest token)."""
    token = cluster.kubectl("-n", namespace, "create", "token", sa, "--duration=30m").stdout
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    ctx = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    server = next(c for c in admin["clusters"] if c["name"] == ctx["context"]["cluster"])
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": server["cluster"]}],
        "users": [{"name": sa, "user": {"token": token.strip()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": sa}}],
    }))  # fmt: skip
    path.chmod(0o600)


def _operator_container(helm: Helm, cluster: Cluster, release: Release) -> dict[str, Any]:
    """The operator container as the release renders it (command, args, env)."""
    manifest = _helm(helm, cluster, "get", "manifest", release.name, "-n", release.namespace)
    for doc in yaml.safe_load_all(manifest.stdout):
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"].endswith("-operator"):
            (c,) = doc["spec"]["template"]["spec"]["containers"]
            return dict(c)
    raise AssertionError("no operator Deployment in the release")


def _phase(cluster: Cluster, ns: str, name: str) -> str | None:
    tj = cluster.get("-n", ns, "tieredjob", name)
    phase: str | None = (tj.get("status") or {}).get("phase")
    return phase


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["all-namespaces", "watched-namespace"])
def test_operator_runs_a_scenario_with_only_its_service_account(
    cluster: Cluster, namespace: str, helm: Helm, tmp_path: Path, scope: str
) -> None:
    """The operator's command line and env from the release, its ServiceAccount's token as its
    only credential: two customers, two jobs, both run to the end (pods simulated by kwok)."""
    if not cluster.get("nodes", "-l", "type=kwok")["items"]:
        pytest.skip("needs the local control plane's simulated pool nodes (kwok)")
    sets = ["operator.replicas=0", "database.createSecret=true",
            "database.url=postgresql://u:p@nowhere/db", "worker.timeScale=0.01"]  # fmt: skip
    if scope == "watched-namespace":  # Roles in this namespace only, a KopfPeering there
        sets.append(f"operator.watchNamespaces={{{namespace}}}")
    with installed(cluster, namespace, helm, *sets) as rel:
        kubeconfig = tmp_path / "operator.kubeconfig"
        _token_kubeconfig(cluster, rel.namespace, f"{rel.fullname}-operator", kubeconfig)
        container = _operator_container(helm, cluster, rel)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "TIERQ_REFRESH_SECONDS": "1",
               **{e["name"]: e["value"] for e in container["env"] if "value" in e},
               "TIERQ_METRICS_PORT": "0"}  # fmt: skip
        args = [a for a in container["args"] if not a.startswith("--liveness=")]
        assert container["command"] == ["kopf"] and args[0] == "run"
        log = tmp_path / "operator.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(VENV_BIN / "kopf"), *args], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)  # fmt: skip
        try:
            ns = rel.namespace
            cluster.apply([
                {"apiVersion": "tierq.dev/v1alpha1", "kind": "CustomerTier",
                 "metadata": {"name": "acme"}, "spec": {"siteId": 1, "recordVolume": 5000}},
                {"apiVersion": "tierq.dev/v1alpha1", "kind": "CustomerTier",
                 "metadata": {"name": "globex"}, "spec": {"siteId": 2, "recordVolume": 80000}},
            ], namespace=ns)  # fmt: skip
            jobs = {"acme-1": ("acme", "task_01"), "globex-1": ("globex", "task_02")}
            cluster.apply([
                {"apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
                 "metadata": {"name": name, "annotations": {"sim.tierq.dev/duration": "1s"}},
                 "spec": {"customer": customer, "jobType": job_type}}
                for name, (customer, job_type) in jobs.items()
            ], namespace=ns)  # fmt: skip
            deadline = time.monotonic() + 120
            for name in jobs:
                while proc.poll() is None and time.monotonic() < deadline:
                    if _phase(cluster, ns, name) in ("Succeeded", "Failed"):
                        break
                    time.sleep(0.5)
                status = cluster.get("-n", ns, "tieredjob", name).get("status")
                assert status and status.get("phase") == "Succeeded", (
                    f"TieredJob {name}: {status}\noperator log:\n{log.read_text()[-3000:]}"
                )
            # The Jobs ran under the worker ServiceAccount, admitted by `restricted`.
            for job in cluster.get("-n", ns, "jobs")["items"]:
                pod = job["spec"]["template"]["spec"]
                assert pod["serviceAccountName"] == f"{rel.fullname}-worker"
            lanes = {cluster.get("-n", ns, "tieredjob", n)["status"]["lane"] for n in jobs}
            assert lanes == {"small.instant", "large.medium"}  # 5 s and 800 s estimates

            # Moving a customer, a job that fails for good, a running job deleted: every
            # other write the operator makes.
            cluster.kubectl("-n", ns, "patch", "customertier", "acme", "--type=merge",
                            "-p", '{"spec":{"tier":"medium"}}')  # fmt: skip
            cluster.wait_for(
                lambda: (cluster.get("-n", ns, "customertier", "acme").get("status") or {})
                .get("tier") == "medium", timeout=60, what="acme to move to medium",
            )  # fmt: skip
            doomed = {"apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
                      "metadata": {"name": "doomed", "annotations": {
                          "sim.tierq.dev/duration": "1s", "sim.tierq.dev/exit-code": "10"}},
                      "spec": {"customer": "acme", "jobType": "task_01"}}  # fmt: skip
            slow = {"apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
                    "metadata": {"name": "slow", "annotations": {"sim.tierq.dev/duration": "5m"}},
                    "spec": {"customer": "globex", "jobType": "task_01"}}  # fmt: skip
            cluster.apply([doomed, slow], namespace=ns)
            cluster.wait_for(lambda: _phase(cluster, ns, "doomed") == "Failed", timeout=90,
                             what="doomed to fail (exit code 10: no retry)")  # fmt: skip
            cluster.wait_for(lambda: _phase(cluster, ns, "slow") == "Running", timeout=60,
                             what="slow to run")  # fmt: skip
            job_name = cluster.get("-n", ns, "tieredjob", "slow")["status"]["jobName"]
            cluster.kubectl("-n", ns, "delete", "tieredjob", "slow", "--wait=false")
            cluster.wait_for(
                lambda: cluster.kubectl("-n", ns, "get", "job", job_name, check=False).returncode,
                timeout=60, what=f"Job {job_name} of the deleted TieredJob to go",
            )  # fmt: skip
            events = cluster.get("-n", ns, "events", "--field-selector",
                                 "involvedObject.kind=TieredJob")["items"]  # fmt: skip
            assert events, "the operator posts Events on TieredJobs"
            assert proc.poll() is None, log.read_text()[-4000:]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        text = log.read_text()
        assert "Forbidden" not in text and " 403" not in text, text[-4000:]


def test_operator_watching_one_namespace_may_not_touch_another(
    cluster: Cluster, namespace: str, helm: Helm
) -> None:
    with installed(cluster, namespace, helm, f"operator.watchNamespaces={{{namespace}}}") as rel:
        sa, ns, other = rel.operator_sa, rel.namespace, rel.other_namespace
        assert _can(cluster, sa, "create", "jobs.batch", ns)
        assert _can(cluster, sa, "patch", "tieredjobs.tierq.dev", ns, "status")
        assert _can(cluster, sa, "patch", "kopfpeerings.kopf.dev", ns)
        assert _can(cluster, sa, "watch", "tierpolicies.tierq.dev", None)
        for verb, resource, sub in [
            ("create", "jobs.batch", None), ("list", "tieredjobs.tierq.dev", None),
            ("patch", "tieredjobs.tierq.dev", "status"), ("create", "events", None),
        ]:  # fmt: skip
            assert not _can(cluster, sa, verb, resource, other, sub), (verb, resource, other)
        assert not _can(cluster, sa, "list", "jobs.batch", None)  # not cluster-wide
        assert not _can(cluster, sa, "patch", "clusterkopfpeerings.kopf.dev", None)
