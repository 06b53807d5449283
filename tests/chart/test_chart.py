"""The chart without a cluster: helm lint, strict Kubernetes schemas, the policy, bad values.

Every rendering goes through the real helm binary (hack/tools.sh); the Kubernetes objects are
validated strictly (unknown fields rejected) against the 1.34 schemas of kubernetes-validate,
the TierPolicy against the CRD the chart ships and against the pydantic model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from chart import schema_gen
from chart.conftest import CHART, REPO, Helm, HelmFailed
from tierq.api.defaults import LANE_SLOTS, default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.core.policy import compile_policy

K8S_VERSION = "1.34.0"

# Realistic installations besides the defaults.
VARIATIONS: dict[str, list[str]] = {
    "defaults": [],
    "kind-demo": [
        "demo.postgres.enabled=true", "demo.seed.enabled=true", "database.createSecret=true",
        "worker.timeScale=0.01", "operator.image.repository=tierq/operator",
        "operator.image.tag=dev", "worker.image.repository=tierq/worker", "worker.image.tag=dev",
    ],
    "production": [
        "operator.replicas=3", "operator.metrics.serviceMonitor.enabled=true",
        "operator.image.digest=sha256:" + "a" * 64, "worker.namespaces={tenants-a,tenants-b}",
        "syncSites.enabled=true", "syncSites.namespace=tenants-a", "syncSites.prune=true",
        "imagePullSecrets={regcred}", "operator.priorityClassName=system-cluster-critical",
        "operator.topologySpread.whenUnsatisfiable=DoNotSchedule",
        "policy.lanes.slots.large.long=8", "policy.keepOnUninstall=true",
    ],
    "single-standalone": [
        "operator.replicas=1", "operator.peering.enabled=false", "operator.metrics.enabled=false",
        "policy.create=false", "operator.serviceAccount.create=false",
        "operator.serviceAccount.name=tierq-existing",
    ],
    "local-control-plane": ["operator.replicas=0"],
    "watched-namespaces": ["operator.watchNamespaces={team-a,team-b}"],
    "ubuntu-vm": [f"--values={REPO / 'deploy' / 'ubuntu-vm' / 'values.yaml'}",
                  "database.createSecret=true", "demo.postgres.enabled=true",
                  "demo.seed.enabled=true"],
}  # fmt: skip

# Custom resources: validated against their CRD, not kubernetes-validate's built-in schemas.
CUSTOM_KINDS = {"TierPolicy", "ClusterKopfPeering", "KopfPeering", "ServiceMonitor"}


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 (a CRD's schema) to JSON Schema: boolean exclusiveMinimum/Maximum."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items()}
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if out.get(exclusive) is True:
            out[exclusive] = out.pop(bound)
        elif out.get(exclusive) is False:
            del out[exclusive]
    return out


def _crd_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in sorted((CHART / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                (version,) = [v for v in doc["spec"]["versions"] if v.get("storage")]
                schema = _json_schema(version["schema"]["openAPIV3Schema"])
                out[doc["spec"]["names"]["kind"]] = schema
    return out


def _by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def _one(objs: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    found = [
        o for o in _by_kind(objs, kind)
        if component is None
        or o["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]  # fmt: skip
    assert len(found) == 1, f"{len(found)} {kind} objects for {component}"
    return found[0]


def _pod_specs(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = {}
    for o in objs:
        spec = o.get("spec") or {}
        if o["kind"] in ("Deployment", "Job"):
            specs[f"{o['kind']}/{o['metadata']['name']}"] = spec["template"]["spec"]
        elif o["kind"] == "CronJob":
            specs[f"CronJob/{o['metadata']['name']}"] = spec["jobTemplate"]["spec"]["template"][
                "spec"
            ]
    return specs


# ---- lint and schemas ------------------------------------------------------------------------


def test_values_schema_is_generated_from_the_models() -> None:
    assert Path(schema_gen.SCHEMA_PATH).read_text() == schema_gen.render(), (
        "charts/tierq/values.schema.json is stale: run .venv/bin/python tests/chart/schema_gen.py"
    )


def test_every_values_key_has_a_comment() -> None:
    """Each key of values.yaml (outside list items) has a comment line right above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    item_indent: int | None = None
    bare: list[str] = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(-\s+)?([A-Za-z][\w.]*):", line)
        if not m:
            continue
        indent = len(m.group(1))
        if m.group(2):
            item_indent = indent
            continue
        if item_indent is not None and indent > item_indent:
            continue
        item_indent = None
        above = next(x for x in reversed(lines[:i]) if x.strip()) if i else ""
        if not above.lstrip().startswith("#"):
            bare.append(f"{i + 1}: {line.strip()}")
    assert not bare, "values.yaml keys without a comment:\n" + "\n".join(bare)


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
def test_helm_lint(helm: Helm, variation: str) -> None:
    args = ["lint", "--strict", str(CHART)]
    for s in VARIATIONS[variation]:
        args += [s] if s.startswith("--") else ["--set", s]
    proc = helm.run(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
def test_rendered_objects_are_valid_kubernetes_1_34(helm: Helm, variation: str) -> None:
    objs = helm.template(*VARIATIONS[variation])
    crds = _crd_schemas()
    errors: list[str] = []
    for o in objs:
        name = f"{o['kind']}/{o['metadata']['name']}"
        if o["kind"] in CUSTOM_KINDS:
            schema = crds.get(o["kind"])
            if schema is None:
                assert o["kind"] != "TierPolicy", "the chart ships the TierPolicy CRD"
                continue  # ServiceMonitor (prometheus-operator), peering CRD not yet shipped
            try:
                jsonschema.validate(o, schema)
            except jsonschema.ValidationError as exc:
                errors.append(f"{name}: {exc.message} at {list(exc.absolute_path)}")
            continue
        try:
            kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {exc.message} at {list(exc.path)}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
def test_every_pod_meets_the_restricted_pod_security_standard(
    helm: Helm, variation: str
) -> None:
    for where, spec in _pod_specs(helm.template(*VARIATIONS[variation])).items():
        pod_sc = spec.get("securityContext") or {}
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext") or {}
            assert sc.get("allowPrivilegeEscalation") is False, (where, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (where, c["name"])
            assert not sc.get("privileged"), (where, c["name"])
            assert c.get("resources", {}).get("requests"), (where, c["name"], "no requests")
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), where


# ---- the operator Deployment -----------------------------------------------------------------


def test_operator_runs_two_peered_replicas_by_default(helm: Helm) -> None:
    objs = helm.template()
    dep = _one(objs, "Deployment", "operator")
    assert dep["spec"]["replicas"] == 2
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["kopf"]
    assert c["args"][:4] == ["run", "--all-namespaces", "-m", "tierq.operator.main"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in c["args"]
    assert "--peering=tierq" in c["args"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert _one(objs, "ClusterKopfPeering")["metadata"]["name"] == "tierq"
    pdb = _one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    spread = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {s["topologyKey"] for s in spread} >= {"kubernetes.io/hostname"}
    svc = _one(objs, "Service", "operator")
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"


def test_operator_settings_reach_the_operator_as_its_env_vars(helm: Helm) -> None:
    from tierq.operator.settings import Settings

    objs = helm.template(
        "worker.image.repository=reg.example/tierq-worker", "worker.image.tag=1.2.3",
        "database.secretName=app-db", "database.secretKey=dsn", "worker.timeScale=0.5",
    )  # fmt: skip
    (c,) = _one(objs, "Deployment", "operator")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    settings = Settings.from_env(env)
    assert settings.worker_image == "reg.example/tierq-worker:1.2.3"
    assert settings.db_secret_name == "app-db" and settings.db_secret_key == "dsn"
    assert settings.time_scale == 0.5
    assert settings.worker_service_account == "tierq-worker"
    assert settings.metrics_port == 9090
    unknown = {k for k in env if k.startswith("TIERQ_")} - _settings_env_names()
    assert not unknown, f"env vars the operator does not read: {unknown}"


def _settings_env_names() -> set[str]:
    import inspect
    import re

    from tierq.operator import settings

    return set(re.findall(r'"(TIERQ_[A-Z_]+)"', inspect.getsource(settings)))


def test_image_tag_defaults_to_app_version_and_digest_wins(helm: Helm) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (c,) = _one(helm.template(), "Deployment", "operator")["spec"]["template"]["spec"][
        "containers"
    ]
    assert c["image"] == f"ghcr.io/tierq/tierq-operator:{chart['appVersion']}"
    digest = "sha256:" + "b" * 64
    (c,) = _one(helm.template(f"operator.image.digest={digest}"), "Deployment", "operator")[
        "spec"
    ]["template"]["spec"]["containers"]
    assert c["image"] == f"ghcr.io/tierq/tierq-operator@{digest}"


# ---- the TierPolicy --------------------------------------------------------------------------


def _policy(objs: list[dict[str, Any]]) -> dict[str, Any]:
    policy = _one(objs, "TierPolicy")
    assert policy["metadata"]["name"] == "default"
    spec: dict[str, Any] = policy["spec"]
    return spec


def test_default_values_render_exactly_the_default_policy(helm: Helm) -> None:
    spec = _policy(helm.template())
    assert spec == default_policy_spec().to_wire()
    # Same order too: overrides apply in list order.
    assert spec["lanes"]["overrides"] == default_policy_spec().to_wire()["lanes"]["overrides"]


def test_rendered_policy_compiles(helm: Helm) -> None:
    compiled = compile_policy(TierPolicySpec.model_validate(_policy(helm.template())))
    assert len(compiled.lanes) == 15
    lane = compiled.lane("large", "long")
    assert lane.max_running == LANE_SLOTS["large"]["long"] and lane.node_pool.name == "batch"


def test_the_ubuntu_vm_values_put_every_pool_on_the_one_node(helm: Helm) -> None:
    spec = _policy(helm.template(*VARIATIONS["ubuntu-vm"]))
    compiled = compile_policy(TierPolicySpec.model_validate(spec))
    assert {tuple(lane.node_selector.items()) for lane in compiled.lanes.values()} == {
        (("kubernetes.io/os", "linux"),)
    }


def test_lane_slots_are_sized_in_one_place(helm: Helm) -> None:
    spec = _policy(
        helm.template("policy.lanes.slots.large.long=9", "policy.lanes.slots.small.marathon=0")
    )
    compiled = compile_policy(TierPolicySpec.model_validate(spec))
    assert compiled.lane("large", "long").max_running == 9
    assert compiled.lane("small", "marathon").max_running == 0
    assert compiled.lane("medium", "long").max_running == LANE_SLOTS["medium"]["long"]


def test_a_platform_team_can_add_a_tier_and_a_pool(helm: Helm) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["policy"]
    values["tiers"].append({"name": "enterprise", "minRecords": 500_000})
    values["nodePools"].append({"name": "gpu", "nodeSelector": {"accelerator": "yes"}})
    values["lanes"]["slots"]["enterprise"] = {"long": 6, "marathon": 4}
    values["lanes"]["overrides"].append({"tier": "enterprise", "nodePool": "gpu", "cohort": "gpu"})
    spec = _policy(helm.template(values={"policy": values}))
    compiled = compile_policy(TierPolicySpec.model_validate(spec))
    assert len(compiled.lanes) == 20
    assert compiled.lane("enterprise", "long").max_running == 6
    assert compiled.lane("enterprise", "long").node_pool.name == "gpu"
    assert compiled.lane("enterprise", "short").max_running == 2  # defaults


# ---- RBAC ------------------------------------------------------------------------------------


def _rules(obj: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, res, verb)
        for r in obj["rules"]
        for group in r["apiGroups"]
        for res in r["resources"]
        for verb in r["verbs"]
    }


def test_operator_role_is_least_privilege(helm: Helm) -> None:
    rules = _rules(_one(helm.template(), "ClusterRole"))
    assert ("batch", "jobs", "create") in rules
    assert ("tierq.dev", "tieredjobs/status", "patch") in rules
    assert ("kopf.dev", "clusterkopfpeerings", "patch") in rules
    resources = {res for _, res, _ in rules}
    assert not resources & {"secrets", "configmaps", "*", "serviceaccounts", "roles"}
    verbs = {v for _, _, v in rules}
    assert "*" not in verbs and "escalate" not in verbs and "impersonate" not in verbs
    assert "pods" not in resources  # Jobs make the pods; the operator never reads them
    assert not {v for g, r, v in rules if r in ("tieredjobs", "customertiers")} & {
        "create", "update", "delete",
    }  # fmt: skip


def test_watched_namespaces_get_roles_and_peering_there_only(helm: Helm) -> None:
    objs = helm.template("operator.watchNamespaces={team-a,team-b}")
    (c,) = _one(objs, "Deployment", "operator")["spec"]["template"]["spec"]["containers"]
    assert "--namespace=team-a" in c["args"] and "--namespace=team-b" in c["args"]
    assert "--all-namespaces" not in c["args"]
    cluster_rules = _rules(_one(objs, "ClusterRole"))
    assert {r for _, r, _ in cluster_rules} == {
        "tierpolicies", "tierpolicies/status", "namespaces", "customresourcedefinitions",
    }  # fmt: skip
    assert not {v for _, _, v in cluster_rules} - {"get", "list", "watch", "patch"}
    roles = [r for r in _by_kind(objs, "Role") if r["metadata"]["name"] == "tierq-operator"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        rules = _rules(role)
        assert ("batch", "jobs", "create") in rules
        assert ("kopf.dev", "kopfpeerings", "patch") in rules
    peerings = _by_kind(objs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["team-a", "team-b"]
    assert not _by_kind(objs, "ClusterKopfPeering")
    # Workers follow the watched namespaces unless worker.namespaces says otherwise.
    workers = [r for r in _by_kind(objs, "Role") if r["metadata"]["name"] == "tierq-worker"]
    assert sorted(r["metadata"]["namespace"] for r in workers) == ["team-a", "team-b"]


def test_worker_pods_may_only_patch_tieredjob_status_in_their_namespaces(helm: Helm) -> None:
    objs = helm.template("worker.namespaces={team-a,team-b}")
    roles = [r for r in _by_kind(objs, "Role") if r["metadata"]["name"] == "tierq-worker"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for r in roles:
        assert _rules(r) == {("tierq.dev", "tieredjobs/status", "patch")}
    sas = [s for s in _by_kind(objs, "ServiceAccount") if s["metadata"]["name"] == "tierq-worker"]
    assert sorted(s["metadata"]["namespace"] for s in sas) == ["team-a", "team-b"]


def test_database_secret_is_only_referenced_unless_asked(helm: Helm) -> None:
    assert not _by_kind(helm.template(), "Secret")
    objs = helm.template("database.createSecret=true", "database.url=postgresql://u:p@db/app")
    (secret,) = _by_kind(objs, "Secret")
    assert secret["stringData"] == {"url": "postgresql://u:p@db/app"}


def test_demo_points_the_database_secret_at_the_demo_postgres(helm: Helm) -> None:
    objs = helm.template(*VARIATIONS["kind-demo"], namespace="demo")
    secret = next(s for s in _by_kind(objs, "Secret") if s["metadata"]["name"] == "tierq-database")
    assert secret["stringData"]["url"] == (
        "postgresql://tierq:tierq-demo@tierq-postgres.demo.svc:5432/tierq"
    )
    seed = _one(objs, "Job", "demo-seed")
    assert seed["metadata"]["annotations"]["helm.sh/hook"] == "post-install"


# ---- bad values fail, naming the key ---------------------------------------------------------

BAD_VALUES: dict[str, tuple[list[str], str]] = {
    "negative maxRunning in slots": (
        ["policy.lanes.slots.small.instant=-1"], "/policy/lanes/slots/small/instant"
    ),
    "negative default maxRunning": (
        ["policy.lanes.defaults.maxRunning=-3"], "/policy/lanes/defaults/maxRunning"
    ),
    "fractional maxRunning": (["policy.lanes.slots.large.long=2.5"], "/policy/lanes/slots"),
    "unknown tier in the slots": (["policy.lanes.slots.huge.long=3"], "policy.lanes.slots.huge"),
    "unknown class in the slots": (
        ["policy.lanes.slots.small.weekly=3"], "policy.lanes.slots.small.weekly"
    ),
    "unknown tier in an override": (
        ["policy.lanes.overrides[0].tier=huge"], "policy.lanes.overrides[0].tier"
    ),
    "unknown pool in an override": (
        ["policy.lanes.overrides[0].durationClass=short", "policy.lanes.overrides[0].nodePool=gpu"],
        "policy.lanes.overrides[0].nodePool",
    ),
    "missing operator image": (["operator.image.repository="], "/operator/image/repository"),
    "missing worker image": (
        ["worker.image.repository=null"], "'/worker/image': missing property 'repository'"
    ),
    "negative replicas": (["operator.replicas=-1"], "/operator/replicas"),
    "misspelt key": (["operator.replica=3"], "replica"),
    "bad tier name": (["policy.tiers[0].name=Small_Tier"], "/policy/tiers/0/name"),
    "replicas without peering": (
        ["operator.replicas=2", "operator.peering.enabled=false"], "operator.peering.enabled"
    ),
    "job type with two estimates": (
        ["policy.jobTypes[0].name=t", "policy.jobTypes[0].secondsPerRecord=1",
         "policy.jobTypes[0].expectedSeconds=1"], "/policy/jobTypes/0",
    ),
    "bad pull policy": (["worker.image.pullPolicy=Sometimes"], "/worker/image/pullPolicy"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_fail_naming_the_key(helm: Helm, case: str) -> None:
    set_args, key = BAD_VALUES[case]
    with pytest.raises(HelmFailed) as failed:
        helm.template(*set_args)
    assert key in failed.value.stderr, failed.value.stderr
