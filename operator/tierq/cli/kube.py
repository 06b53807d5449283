"""The CLI's view of the cluster: a sync `kubernetes` client over tierq's three kinds.

The CLI is not in an event loop, so it uses the sync client (the operator uses the asyncio
one). Group, version and plural come from `tierq.api.resources`, written once there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierq.api.policy import POLICY_NAME
from tierq.api.resources import CUSTOMER_TIER, TIER_POLICY, TIERED_JOB, Resource

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException


class CliError(Exception):
    """An error the user can act on; printed as one line, exit code 1."""


def api_error_message(error: ApiException) -> str:
    """The API server's own message (a Status object), else the HTTP reason."""
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or f"{error.status} {error.reason}")


def _short(error: Exception) -> str:
    """urllib3's retry errors nest the cause; the innermost reason is the readable part."""
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error).splitlines()[0]


@dataclass
class Kube:
    """CustomObjectsApi bound to one kubeconfig context, and that context's namespace."""

    objects: Any
    namespace: str

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None,
                namespace: str | None) -> Kube:
        # Imported here: the client takes seconds to import, and `simulate` or
        # `policy show --file` never talk to a cluster.
        from kubernetes import client
        from kubernetes import config as kube_config
        from kubernetes.config.config_exception import ConfigException

        config: Any = kube_config  # the kubeconfig loader has no type hints
        if kubeconfig is not None and not Path(kubeconfig).is_file():
            raise CliError(f"kubeconfig {kubeconfig}: no such file")
        try:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            if context is not None:
                contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
                active = next((c for c in contexts if c.get("name") == context), active)
        except (ConfigException, FileNotFoundError) as error:
            raise CliError(f"kubeconfig: {error}") from None
        default_ns = (active or {}).get("context", {}).get("namespace") or "default"
        return cls(client.CustomObjectsApi(api_client), namespace or default_ns)

    # ---- generic ----------------------------------------------------------------------
    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as error:
            if error.status == 404 and "the server could not find the requested resource" in (
                error.body or ""
            ):
                raise CliError(f"{what}: the tierq CRDs are not installed (kubectl apply -f "
                               "crds/)") from None
            raise CliError(f"{what}: {api_error_message(error)}") from None
        except (OSError, urllib3.exceptions.HTTPError) as error:
            raise CliError(f"{what}: cannot reach the API server: {_short(error)}") from None

    def list_objects(self, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
        """Every object of a kind (namespace None: all namespaces), page by page."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500}
            if token:
                kwargs["_continue"] = token
            if not resource.namespaced or namespace is None:
                page = self._call(f"list {resource.plural}",
                                  self.objects.list_cluster_custom_object,
                                  resource.group, resource.version, resource.plural, **kwargs)
            else:
                page = self._call(f"list {resource.plural}",
                                  self.objects.list_namespaced_custom_object,
                                  resource.group, resource.version, namespace, resource.plural,
                                  **kwargs)
            items.extend(page.get("items", []))
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items

    def get(self, resource: Resource, name: str) -> dict[str, Any]:
        what = f"{resource.kind} {name}"
        if resource.namespaced:
            return dict(self._call(what, self.objects.get_namespaced_custom_object,
                                   resource.group, resource.version, self.namespace,
                                   resource.plural, name))
        return dict(self._call(what, self.objects.get_cluster_custom_object,
                               resource.group, resource.version, resource.plural, name))

    def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"].get("name") or body["metadata"].get("generateName", "")
        return dict(self._call(f"create {resource.kind} {name}",
                               self.objects.create_namespaced_custom_object,
                               resource.group, resource.version, self.namespace,
                               resource.plural, body))

    def merge_patch(self, resource: Resource, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        # The python client sends a dict body as a merge patch (application/merge-patch+json)
        # to the custom objects API: the same patch `kubectl patch --type merge` sends.
        return dict(self._call(f"patch {resource.kind} {name}",
                               self.objects.patch_namespaced_custom_object,
                               resource.group, resource.version, self.namespace,
                               resource.plural, name, patch,
                               _content_type="application/merge-patch+json"))

    def delete(self, resource: Resource, name: str) -> None:
        self._call(f"delete {resource.kind} {name}",
                   self.objects.delete_namespaced_custom_object,
                   resource.group, resource.version, self.namespace, resource.plural, name)

    # ---- tierq ------------------------------------------------------------------------
    def policy(self) -> dict[str, Any] | None:
        """The TierPolicy `default`, or None when there is none."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            return dict(self.objects.get_cluster_custom_object(
                TIER_POLICY.group, TIER_POLICY.version, TIER_POLICY.plural, POLICY_NAME))
        except ApiException as error:
            if error.status == 404:
                return None
            raise CliError(f"TierPolicy {POLICY_NAME}: {api_error_message(error)}") from None
        except (OSError, urllib3.exceptions.HTTPError) as error:
            raise CliError(f"cannot reach the API server: {_short(error)}") from None

    def customers(self, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_objects(CUSTOMER_TIER, namespace)

    def tiered_jobs(self, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_objects(TIERED_JOB, namespace)
