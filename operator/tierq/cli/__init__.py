"""The `tierq` / `kubectl-tierq` command line."""
