"""Time the local control plane: start (warm binaries), first Job done, stop. Figures printed.

    .venv/bin/python bench/cluster_start.py [--runs 3]

Each run uses its own state folder under a temporary directory, so a cluster started with
`make cluster` is left alone. Needs the binaries (`make binaries`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HACK = REPO / "hack"

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: bench}
spec:
  backoffLimit: 0
  template:
    metadata: {annotations: {sim.tierq.dev/duration: 1s}}
    spec:
      restartPolicy: Never
      nodeSelector: {tierq.dev/pool: batch}
      tolerations: [{key: tierq.dev/pool, value: batch, effect: NoSchedule}]
      containers: [{name: task, image: busybox:1.36}]
"""


def run_once(kubectl: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tierq-bench-") as tmp:
        kcfg = str(Path(tmp) / "cluster" / "kubeconfig")
        env = dict(os.environ, TIERQ_KUBECONFIG_LOCAL=kcfg, TIERQ_CLUSTER_RUNTIME="local")
        t0 = time.monotonic()
        subprocess.run([str(HACK / "cluster-up.sh")], env=env, check=True, capture_output=True)
        up = time.monotonic() - t0
        k = [kubectl, "--kubeconfig", kcfg]
        subprocess.run([*k, "apply", "-f", "-"], input=JOB, text=True, check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([*k, "wait", "--for=condition=Complete", "job/bench", "--timeout=60s"],
                       check=True, capture_output=True)  # fmt: skip
        job = time.monotonic() - t0 - up
        t1 = time.monotonic()
        subprocess.run([str(HACK / "cluster-down.sh")], env=env, check=True, capture_output=True)
        down = time.monotonic() - t1
    return {"up_s": up, "first_job_s": job, "down_s": down}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run([str(HACK / "build-binaries.sh"), "--check"], check=True)
    kubectl = (
        subprocess.run(
            [str(HACK / "tools.sh")], check=True, capture_output=True, text=True
        ).stdout.strip()
        + "/kubectl"
    )
    runs = [run_once(kubectl) for _ in range(args.runs)]
    for r in runs:
        print(json.dumps({k: round(v, 2) for k, v in r.items()}))
    print(
        "median: " + ", ".join(f"{k}={statistics.median(r[k] for r in runs):.2f}" for k in runs[0])
    )


if __name__ == "__main__":
    main()
