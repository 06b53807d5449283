"""Generate charts/tierq/values.schema.json.

    .venv/bin/python tests/chart/schema_gen.py          # rewrite the file
    .venv/bin/python tests/chart/schema_gen.py --check  # exit 1 when it is stale

The `policy` part comes from the pydantic models of tierq.api.policy (the source of truth the
CRDs are generated from), so values that the TierPolicy CRD would reject are rejected by
`helm install` first, with the values key named. The rest describes the chart's own keys.
test_chart.py checks that the file on disk is what this script writes.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from tierq.api.policy import (
    Borrowing,
    DurationClass,
    Estimates,
    Fairness,
    JobType,
    LaneOverride,
    LaneSettings,
    NodePool,
    Retier,
    Tier,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "charts" / "tierq" / "values.schema.json"

Schema = dict[str, Any]


def _clean(node: Any) -> Any:
    """Pydantic's JSON schema, minus what helm's validator does not need (titles, defaults,
    CEL rules); `anyOf [X, null]` becomes X (an unset key is left out, not null)."""
    if isinstance(node, list):
        return [_clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key in ("title", "default") or key.startswith("x-kubernetes"):
            continue
        out[key] = _clean(value)
    any_of = out.pop("anyOf", None)
    if any_of is not None:
        options = [o for o in any_of if o.get("type") != "null"]
        if len(options) == 1:
            merged = dict(options[0])
            merged.update(out)
            out = merged
        else:
            out["anyOf"] = options
    return out


def _model(model: Any) -> tuple[Schema, Schema]:
    """(schema with refs to #/$defs/..., the $defs it needs)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})
    return _clean(schema), {k: _clean(v) for k, v in defs.items()}


def _obj(props: Schema, required: tuple[str, ...] = (), extra: bool = False, **kw: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props, **kw}
    if not extra:
        out["additionalProperties"] = False
    if required:
        out["required"] = list(required)
    return out


def _str(desc: str, **kw: Any) -> Schema:
    return {"type": "string", "description": desc, **kw}


def _int(desc: str, minimum: int | None = 0, **kw: Any) -> Schema:
    out: Schema = {"type": "integer", "description": desc, **kw}
    if minimum is not None:
        out["minimum"] = minimum
    return out


def _number(desc: str, positive: bool = False) -> Schema:
    """A number; also its string form, as `helm --set x=0.5` passes floats as strings."""
    bound = {"exclusiveMinimum": 0} if positive else {"minimum": 0}
    return {
        "type": ["number", "string"], "description": desc, **bound,
        "pattern": r"^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$",
    }  # fmt: skip


def _bool(desc: str) -> Schema:
    return {"type": "boolean", "description": desc}


ANY_MAP: Schema = {"type": "object"}
STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
LIST: Schema = {"type": "array"}
OPTIONAL_DNS = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"
PULL_POLICY: Schema = {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]}
RESOURCES: Schema = _obj({"requests": ANY_MAP, "limits": ANY_MAP}, description="resources")


def _image(what: str) -> Schema:
    return _obj(
        {
            "repository": _str(f"{what} image repository (required)", minLength=1),
            "tag": {"type": ["string", "number"], "description": "tag; empty: appVersion"},
            "digest": _str("sha256:<64 hex>; wins over tag", pattern=r"^(sha256:[a-f0-9]{64})?$"),
            "pullPolicy": PULL_POLICY,
        },
        required=("repository",),
        description=f"the {what} image",
    )


def _probe() -> Schema:
    return _obj(
        {
            "initialDelaySeconds": _int("seconds before the first probe"),
            "periodSeconds": _int("seconds between probes", 1),
            "timeoutSeconds": _int("seconds a probe may take", 1),
            "failureThreshold": _int("failures in a row", 1),
        }
    )


def build() -> Schema:
    defs: Schema = {}
    for model in (Tier, DurationClass, JobType, NodePool, LaneSettings, LaneOverride,
                  Borrowing, Retier, Fairness, Estimates):  # fmt: skip
        schema, sub = _model(model)
        defs.update(sub)
        defs[model.__name__] = schema
    # JobType's "exactly one estimate" is a model validator (and a CEL rule), not JSON schema.
    defs["JobType"]["oneOf"] = [
        {"required": ["secondsPerRecord"]}, {"required": ["expectedSeconds"]},
    ]  # fmt: skip
    # A lane's slots: tier -> class -> maxRunning. Names are checked by templates/_validate.tpl.
    max_running = _clean(LaneSettings.model_json_schema(by_alias=True)["properties"]["maxRunning"])
    name = _clean(Tier.model_json_schema()["properties"]["name"])
    name.pop("description", None)

    def keyed(ref: str, desc: str, min_items: int = 1) -> Schema:
        return {
            "type": "array", "description": desc, "minItems": min_items,
            "items": {"$ref": f"#/$defs/{ref}"},
        }  # fmt: skip

    policy = _obj(
        {
            "create": _bool("render the TierPolicy `default`"),
            "keepOnUninstall": _bool("annotate it helm.sh/resource-policy: keep"),
            "tiers": keyed("Tier", "customer tiers by record volume, ascending"),
            "durationClasses": keyed("DurationClass", "duration classes, ascending maxSeconds"),
            "jobTypes": keyed("JobType", "registered tasks and their estimates", 0),
            "nodePools": keyed("NodePool", "node pools of the worker pods"),
            "lanes": _obj(
                {
                    "defaults": {
                        "allOf": [{"$ref": "#/$defs/LaneSettings"}],
                        "required": ["maxRunning", "nodePool"],
                    },
                    "overrides": {
                        "type": "array",
                        "items": {
                            "allOf": [{"$ref": "#/$defs/LaneOverride"}],
                            "anyOf": [{"required": ["tier"]}, {"required": ["durationClass"]}],
                        },
                    },
                    "slots": {
                        "type": "object",
                        "description": "maxRunning per tier and duration class",
                        "propertyNames": name,
                        "additionalProperties": {
                            "type": "object",
                            "propertyNames": name,
                            "additionalProperties": max_running,
                        },
                    },
                },
                required=("defaults",),
            ),
            "borrowing": {"$ref": "#/$defs/Borrowing"},
            "retier": {"$ref": "#/$defs/Retier"},
            "fairness": {"$ref": "#/$defs/Fairness"},
            "estimates": {"$ref": "#/$defs/Estimates"},
        },
        required=("tiers", "durationClasses", "jobTypes", "nodePools", "lanes"),
    )

    operator = _obj(
        {
            "image": _image("operator"),
            "replicas": _int("operator pods (0 stops the operator)"),
            "watchNamespaces": _namespaces(),
            "peering": _obj(
                {"enabled": _bool("kopf peering"), "name": _str("ClusterKopfPeering", **_dns())}
            ),
            "logLevel": {"enum": ["", "verbose", "debug", "quiet"]},
            "settings": _obj(
                {
                    "resyncSeconds": _number("safety-net reconcile period", positive=True),
                    "refreshSeconds": _number("status refresh period", positive=True),
                    "writeConcurrency": _int("API writes in flight", 1),
                    "postEvents": _bool("post Events"),
                }
            ),
            "extraArgs": {"type": "array", "items": {"type": "string"}},
            "extraEnv": LIST,
            "healthPort": _int("liveness port", 1, maximum=65535),
            "livenessProbe": _probe(),
            "readinessProbe": _probe(),
            "resources": RESOURCES,
            "metrics": _obj(
                {
                    "enabled": _bool("serve /metrics"),
                    "port": _int("container port", 1, maximum=65535),
                    "service": _obj(
                        {"port": _int("service port", 1, maximum=65535), "annotations": STR_MAP}
                    ),
                    "serviceMonitor": _obj(
                        {
                            "enabled": _bool("render a ServiceMonitor"),
                            "interval": _str("scrape interval"),
                            "scrapeTimeout": _str("scrape timeout"),
                            "labels": STR_MAP,
                        }
                    ),
                }
            ),
            "podDisruptionBudget": _obj(
                {
                    "enabled": _bool("render a PDB"),
                    "maxUnavailable": {"type": ["integer", "string"], "minimum": 0},
                }
            ),
            "topologySpread": _obj(
                {
                    "enabled": _bool("render topologySpreadConstraints"),
                    "maxSkew": _int("max skew", 1),
                    "whenUnsatisfiable": {"enum": ["ScheduleAnyway", "DoNotSchedule"]},
                    "topologyKeys": {"type": "array", "items": {"type": "string"}},
                }
            ),
            "serviceAccount": _sa(),
            "rbac": _obj({"create": _bool("render ClusterRole and binding")}),
            "priorityClassName": _str("priority class"),
            "nodeSelector": STR_MAP,
            "tolerations": LIST,
            "affinity": ANY_MAP,
            "podAnnotations": STR_MAP,
            "podLabels": STR_MAP,
        },
        required=("image", "replicas"),
    )

    worker = _obj(
        {
            "image": _image("worker"),
            "namespaces": _namespaces(),
            "serviceAccount": _sa(),
            "timeScale": _number("task time scale (1: real time)"),
        },
        required=("image",),
    )

    database = _obj(
        {
            "secretName": _str("Secret with the database URL", **_dns(253)),
            "secretKey": _str("key in the Secret", minLength=1),
            "createSecret": _bool("render the Secret from database.url"),
            "url": _str("database URL (only with createSecret)"),
        },
        required=("secretName", "secretKey"),
    )

    sync = _obj(
        {
            "enabled": _bool("render the sync-sites CronJob"),
            "schedule": _str("cron schedule", minLength=1),
            "namespace": _str("namespace; empty: the release's", pattern=OPTIONAL_DNS),
            "prune": _bool("delete CustomerTiers of removed sites"),
            "concurrencyPolicy": {"enum": ["Allow", "Forbid", "Replace"]},
            "suspend": _bool("suspend the CronJob"),
            "resources": RESOURCES,
        }
    )

    demo = _obj(
        {
            "postgres": _obj(
                {
                    "enabled": _bool("demo PostgreSQL"),
                    "image": _str("image", minLength=1),
                    "pullPolicy": PULL_POLICY,
                    "database": _str("database name", minLength=1),
                    "user": _str("user", minLength=1),
                    "password": _str("password", minLength=1),
                    "resources": RESOURCES,
                }
            ),
            "seed": _obj(
                {
                    "enabled": _bool("seed Job"),
                    "sites": _int("demo sites", 1),
                    "records": _int("records per site (0: drawn)"),
                    "syncSites": _bool("run sync-sites after seeding"),
                }
            ),
        }
    )

    security = ANY_MAP | {"description": "Kubernetes security context"}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Values of the tierq chart (generated by tests/chart/schema_gen.py)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "global": ANY_MAP,
            "nameOverride": _str("chart name override"),
            "fullnameOverride": _str("full name override"),
            "commonLabels": STR_MAP,
            "imagePullSecrets": {"type": "array", "items": _str("Secret name", minLength=1)},
            "podSecurityContext": security,
            "containerSecurityContext": security,
            "operator": operator,
            "worker": worker,
            "database": database,
            "policy": policy,
            "syncSites": sync,
            "demo": demo,
        },
        "required": ["operator", "worker", "database", "policy"],
        "$defs": dict(sorted(defs.items())),
    }


def _dns(max_length: int = 63) -> Schema:
    return {"minLength": 1, "maxLength": max_length,
            "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}  # fmt: skip


def _namespaces() -> Schema:
    return {"type": "array", "uniqueItems": True, "items": _str("namespace", **_dns())}


def _sa() -> Schema:
    return _obj(
        {
            "create": _bool("create the ServiceAccount"),
            "name": _str("name; empty: generated", pattern=OPTIONAL_DNS),
            "annotations": STR_MAP,
        }
    )


def render() -> str:
    return json.dumps(copy.deepcopy(build()), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH} is stale: run tests/chart/schema_gen.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
