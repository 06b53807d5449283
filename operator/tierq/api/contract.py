"""The contract between the operator's Job template and the worker process.

Both sides import these names from here, so a Job the operator writes and the worker that
reads it can never disagree on an argument, an environment variable or an exit code.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "tierq.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# ---- labels (selection) -------------------------------------------------------------------
LABEL_CUSTOMER: Final = "tierq.dev/customer"
LABEL_TIER: Final = "tierq.dev/tier"
LABEL_CLASS: Final = "tierq.dev/class"
LABEL_LANE: Final = "tierq.dev/lane"
LABEL_TIEREDJOB: Final = "tierq.dev/tieredjob"
LABEL_POOL: Final = "tierq.dev/pool"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"

# ---- simulation annotations ---------------------------------------------------------------
# Annotations with this prefix on a TieredJob are copied onto its pod template. On the local
# control plane kwok reads them to decide how a pod ends (no container really runs there).
SIM_ANNOTATION_PREFIX: Final = "sim.tierq.dev/"
SIM_DURATION: Final = "sim.tierq.dev/duration"  # Go duration string, e.g. "2s"; default 1s
SIM_EXIT_CODE: Final = "sim.tierq.dev/exit-code"  # when set and non-zero, the pod fails with it

# ---- worker command line and environment ---------------------------------------------------
WORKER_COMMAND: Final = ("tierq-worker", "run")
ARG_JOB_TYPE: Final = "--job-type"
ARG_SITE_ID: Final = "--site-id"
ENV_DATABASE_URL: Final = "DATABASE_URL"
ENV_TIME_SCALE: Final = "TIERQ_TIME_SCALE"
ENV_TIEREDJOB_NAME: Final = "TIERQ_TIEREDJOB_NAME"  # from the downward API
ENV_TIEREDJOB_NAMESPACE: Final = "TIERQ_TIEREDJOB_NAMESPACE"
ENV_TERMINATION_LOG: Final = "TIERQ_TERMINATION_LOG"  # default /dev/termination-log
DEFAULT_TERMINATION_LOG: Final = "/dev/termination-log"

# ---- worker exit codes (mapped by the Job's podFailurePolicy) ------------------------------
EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_SITE_NOT_FOUND: Final = 10  # never worth a retry: FailJob
EXIT_UNKNOWN_JOB_TYPE: Final = 11  # never worth a retry: FailJob
EXIT_DATABASE_UNREACHABLE: Final = 20  # worth a retry: counts against backoffLimit
EXIT_INTERRUPTED: Final = 30  # SIGTERM: stopped at a record boundary, partial progress reported
EXIT_TASK_ERROR: Final = 40  # the task itself raised

NON_RETRYABLE_EXIT_CODES: Final = (EXIT_SITE_NOT_FOUND, EXIT_UNKNOWN_JOB_TYPE, EXIT_USAGE)

# ---- what the operator writes on a batch/v1 Job (read back after a restart) ----------------
MANAGED_BY: Final = "tierq-operator"
ANNOTATION_TIEREDJOB: Final = "tierq.dev/tieredjob"  # full name (labels may be shortened)
ANNOTATION_SLOT_LANE: Final = "tierq.dev/slot-lane"  # the lane whose slot the job occupies
ANNOTATION_ESTIMATE: Final = "tierq.dev/estimated-seconds"
ANNOTATION_QUEUED_AT: Final = "tierq.dev/queued-at"  # epoch seconds
ANNOTATION_PRIORITY: Final = "tierq.dev/priority"
WORKER_CONTAINER: Final = "worker"
WORKER_UID: Final = 10001
