"""tierq: fair multi-tenant job scheduling on Kubernetes."""

__version__ = "0.1.0"
