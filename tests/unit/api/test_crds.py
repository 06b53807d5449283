"""The CRDs are build outputs of the pydantic models: up to date, structural, documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tierq.api.crdgen import rendered_files
from tierq.api.defaults import default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.api.tieredjob import TieredJobSpec

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"}


@pytest.mark.parametrize("folder", ["crds", "charts/tierq/crds"])
def test_generated_crds_are_up_to_date(folder: str) -> None:
    for name, text in rendered_files().items():
        path = ROOT / folder / name
        assert path.exists(), f"{path} is missing: run `make crds`"
        assert path.read_text() == text, f"{path} is stale: run `make crds`"


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += walk(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("name", sorted(rendered_files()))
def test_schemas_are_structural(name: str) -> None:
    crd = yaml.safe_load(rendered_files()[name])
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["categories"] == ["tierq"]
    assert crd["spec"]["names"]["shortNames"]
    for path, node in walk(schema["properties"]["spec"]) + walk(schema["properties"]["status"]):
        if ".properties." in path and path.count(".") and not path.endswith(
            ("x-kubernetes-validations", "properties")
        ):
            assert not FORBIDDEN & node.keys(), f"{path}: {FORBIDDEN & node.keys()}"
        for flag in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(flag, True) is True, f"{path}.{flag} must be a boolean (OpenAPI v3.0)"
        if "properties" in node:
            assert node.get("type") == "object", path
            assert "additionalProperties" not in node, path
            for field, sub in node["properties"].items():
                assert sub.get("description"), f"{path}.{field} has no description"


def test_printer_columns_answer_what_is_waiting_where_and_why() -> None:
    crd = yaml.safe_load(rendered_files()["tierq.dev_tieredjobs.yaml"])
    columns = {c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert {"Customer", "Type", "Lane", "Phase", "Reason", "Pos", "ETA", "Age"} <= columns


def test_default_policy_round_trips_through_the_wire_format() -> None:
    wire = default_policy_spec().to_wire()
    assert TierPolicySpec.model_validate(wire) == default_policy_spec()
    assert wire["durationClasses"][0] == {"name": "instant", "maxSeconds": 10,
                                          "description": "up to 10 s"}


def test_job_spec_rejects_unknown_fields_naming_them() -> None:
    with pytest.raises(ValueError, match="jobtype"):
        TieredJobSpec.model_validate({"customer": "a", "jobType": "task_01", "jobtype": "x"})
