"""Fixtures of the chart tests: a real helm binary and a renderer of the chart."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# $TIERQ_CHART_DIR tests another copy of the chart, e.g. the unpacked release artifact.
CHART = Path(os.environ.get("TIERQ_CHART_DIR", REPO / "charts" / "tierq"))


def find_helm() -> str | None:
    """helm from $TIERQ_HELM, else the one hack/tools.sh puts in the cache (fetched once)."""
    explicit = os.environ.get("TIERQ_HELM")
    if explicit:
        return explicit
    cache = Path(os.environ.get("TIERQ_CACHE_DIR", Path.home() / ".cache" / "tierq"))
    cached = cache / "tools" / "bin" / "helm"
    if not cached.exists():
        subprocess.run(
            [str(REPO / "hack" / "tools.sh")], capture_output=True, timeout=300, check=False
        )
    return str(cached) if cached.exists() else None


class HelmFailed(AssertionError):
    """helm exited non-zero; `stderr` holds its message."""

    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"helm {' '.join(args)} failed:\n{stderr}")
        self.stderr = stderr


@dataclass
class Helm:
    binary: str

    def run(
        self, *args: str, check: bool = True, timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        proc = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise HelmFailed(args, proc.stderr)
        return proc

    def template(
        self, *set_args: str, values: dict[str, Any] | None = None, namespace: str = "tierq",
        release: str = "tierq", extra: Sequence[str] = (),
    ) -> list[dict[str, Any]]:  # fmt: skip
        """`helm template` of the chart: the rendered objects (values as --set or a dict)."""
        args = ["template", release, str(CHART), "--namespace", namespace, *extra]
        for s in set_args:  # "--values=FILE" and other flags pass through
            args += [s] if s.startswith("--") else ["--set", s]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            if values:
                yaml.safe_dump(values, f)
                f.flush()
                args += ["--values", f.name]
            proc = self.run(*args)
        return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="session")
def helm() -> Helm:
    binary = find_helm()
    if binary is None:
        pytest.skip("no helm: hack/tools.sh could not fetch it and $TIERQ_HELM is not set")
    return Helm(binary)
