"""Run-time estimates: the job type's cost model until observed runs take over."""

from __future__ import annotations

from tierq.core.policy import CompiledPolicy


def model_estimate(policy: CompiledPolicy, job_type: str, volume: int) -> float:
    """secondsPerRecord x volume, or the job type's fixed expectedSeconds."""
    spec = policy.job_types[job_type]
    if spec.expected_seconds is not None:
        return float(spec.expected_seconds)
    assert spec.seconds_per_record is not None  # the model validator guarantees one of them
    return spec.seconds_per_record * volume


class Estimator:
    """Exponentially weighted averages of observed durations per (job type, customer)."""

    __slots__ = ("_observed",)

    def __init__(self) -> None:
        self._observed: dict[tuple[str, str], float] = {}

    def estimate(self, policy: CompiledPolicy, job_type: str, customer: str,
                 volume: int) -> float:
        observed = self._observed.get((job_type, customer))
        return observed if observed is not None else model_estimate(policy, job_type, volume)

    def observe(self, policy: CompiledPolicy, job_type: str, customer: str,
                seconds: float) -> float:
        alpha = policy.spec.estimates.ewma_alpha
        key = (job_type, customer)
        previous = self._observed.get(key)
        value = seconds if previous is None else alpha * seconds + (1 - alpha) * previous
        self._observed[key] = value
        return value

    def forget_customer(self, customer: str) -> None:
        for key in [k for k in self._observed if k[1] == customer]:
            del self._observed[key]

    def __len__(self) -> int:
        return len(self._observed)
