"""The tierq operator: kopf handlers around the pure scheduling core.

    kopf run --all-namespaces -m tierq.operator.main      (make run)

- handlers.py   raw watch events of TierPolicy, CustomerTier, TieredJob, batch/v1 Job -> the
                shell; one daemon on TierPolicy `default` marks the active replica (kopf
                stops daemons when peering pauses it) and ticks the safety-net refresh.
- state.py      the shell: one Scheduler, caches of the objects, dirty sets; one writer task
                turns them into Jobs, status patches, labels and Events, pass by pass.
- jobtemplate.py, status.py   pure builders of what is written (unit-tested).
- kube.py       the few API calls, on kubernetes_asyncio without its models.
- settings.py   environment -> Settings; metrics.py   Prometheus metrics.
"""
