"""The worker: what a tierq Job's pod runs (`tierq-worker`, the worker image).

    db          Site / UserRecords on the application's (Django) tables; DATABASE_URL
    tasks       Task, the registry (entry points `tierq.tasks`) and the brief's five tasks
    runner      one task over one site's active records: pages, pacing, progress, SIGTERM
    summary     the outcome -> exit code, and the termination-log summary
    seed        demo data in the three volume bands (COPY on PostgreSQL)
    sync_sites  one CustomerTier per Site (`tierq sync-sites`)
    main        the `tierq-worker` command line

The contract with the operator (arguments, environment, exit codes) lives in
`tierq.api.contract`. This package never imports kopf or the operator (.importlinter).
"""
