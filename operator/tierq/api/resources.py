"""The three tierq kinds as Kubernetes sees them: names, scope, printer columns.

Together with the spec/status models this is everything `crdgen` needs; clients use the
same records for their group/version/plural, so a name is written exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tierq.api.common import JsonDict, cel
from tierq.api.contract import GROUP, VERSION
from tierq.api.customer import CustomerTierSpec, CustomerTierStatus
from tierq.api.policy import POLICY_NAME, TierPolicySpec, TierPolicyStatus
from tierq.api.tieredjob import TieredJobSpec, TieredJobStatus


@dataclass(frozen=True)
class Resource:
    """One custom resource kind of tierq."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    printer_columns: tuple[dict[str, Any], ...]
    root_validations: tuple[JsonDict, ...] = field(default=())

    group = GROUP
    version = VERSION

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"

    def manifest(self, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        """A whole object of this kind, ready to create."""
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata,
                "spec": spec}


def _col(name: str, path: str, type_: str = "string", priority: int = 0, desc: str = "") -> dict[
    str, Any
]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if desc:
        column["description"] = desc
    return column


_AGE = _col("Age", ".metadata.creationTimestamp", "date")

TIER_POLICY = Resource(
    kind="TierPolicy",
    plural="tierpolicies",
    short_names=("tp", "tierpolicy"),
    namespaced=False,
    description=(
        "TierPolicy configures tierq: customer tiers by record volume, duration classes by "
        "run time, job types, node pools and the lanes (tier x class) with their worker "
        "slots. One cluster-scoped object named 'default'."
    ),
    spec=TierPolicySpec,
    status=TierPolicyStatus,
    printer_columns=(
        _col("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        _col("Lanes", ".status.lanes", "integer"),
        _col("Slots", ".status.totalSlots", "integer"),
        _col("Active", ".status.activeGeneration", "integer", desc="generation in force"),
        _col("Message", ".status.message", priority=1),
        _AGE,
    ),
    root_validations=(
        cel(f"self.metadata.name == '{POLICY_NAME}'",
            f"the TierPolicy must be named '{POLICY_NAME}'"),
    ),
)

CUSTOMER_TIER = Resource(
    kind="CustomerTier",
    plural="customertiers",
    short_names=("ct", "customer", "customers"),
    namespaced=True,
    description=(
        "CustomerTier is one customer (a row of the application's Site table). The operator "
        "assigns its tier from spec.recordVolume, or from the pin spec.tier."
    ),
    spec=CustomerTierSpec,
    status=CustomerTierStatus,
    printer_columns=(
        _col("Site", ".spec.siteId", "integer"),
        _col("Display", ".spec.displayName", priority=1),
        _col("Volume", ".spec.recordVolume", "integer"),
        _col("Tier", ".status.tier"),
        _col("By", ".status.assignedBy"),
        _col("Queued", ".status.queued", "integer"),
        _col("Running", ".status.running", "integer"),
        _col("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        _AGE,
    ),
)

TIERED_JOB = Resource(
    kind="TieredJob",
    plural="tieredjobs",
    short_names=("tj",),
    namespaced=True,
    description=(
        "TieredJob is one execution of a job type for a customer. tierq places it in the "
        "lane of the customer's tier and the job's duration class, and runs it as one "
        "batch/v1 Job when the lane has a free slot."
    ),
    spec=TieredJobSpec,
    status=TieredJobStatus,
    printer_columns=(
        _col("Customer", ".spec.customer"),
        _col("Type", ".spec.jobType"),
        _col("Lane", ".status.lane"),
        _col("Phase", ".status.phase"),
        _col("Reason", ".status.reason"),
        _col("Pos", ".status.queuePosition", "integer", desc="place in the lane's queue"),
        _col("ETA", ".status.estimatedStartTime", "date", desc="estimated start"),
        _col("Job", ".status.jobName", priority=1),
        _col("Message", ".status.message", priority=1),
        _AGE,
    ),
)

RESOURCES: tuple[Resource, ...] = (TIER_POLICY, CUSTOMER_TIER, TIERED_JOB)
