"""The few API calls the operator makes, on kubernetes_asyncio's client without its models.

Bodies stay plain dicts (`_preload_content=False`): deserialising every Job into generated
model classes would cost more CPU than the admission itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from tierq.api.resources import Resource

MERGE_PATCH = "application/merge-patch+json"

__all__ = ["MERGE_PATCH", "ApiException", "Kube"]


class Kube:
    """A thin JSON client of the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @classmethod
    async def login(cls, pool: int = 128) -> Kube:
        """In the cluster: its ServiceAccount; outside: the kubeconfig (KUBECONFIG)."""
        cfg = client.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config(client_configuration=cfg)
        cfg.connection_pool_maxsize = pool
        return cls(client.ApiClient(cfg))

    async def close(self) -> None:
        await self.api.close()

    async def request(self, method: str, path: str, body: Any = None,
                      query: Mapping[str, str] | None = None,
                      content_type: str = "application/json") -> dict[str, Any]:
        resp = await self.api.call_api(
            path, method, query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body, auth_settings=["BearerToken"], _preload_content=False,
            _return_http_data_only=True,
        )
        try:
            data = await resp.read()
        finally:
            resp.release()
        return dict(json.loads(data)) if data else {}

    # ---- paths ----------------------------------------------------------------------------
    @staticmethod
    def custom_path(res: Resource, namespace: str | None, name: str | None = None,
                    sub: str | None = None) -> str:
        path = f"/apis/{res.group}/{res.version}"
        if res.namespaced and namespace:
            path += f"/namespaces/{quote(namespace)}"
        path += f"/{res.plural}"
        if name:
            path += f"/{quote(name)}"
        if sub:
            path += f"/{sub}"
        return path

    @staticmethod
    def jobs_path(namespace: str | None, name: str | None = None) -> str:
        path = "/apis/batch/v1"
        if namespace:
            path += f"/namespaces/{quote(namespace)}"
        path += "/jobs"
        if name:
            path += f"/{quote(name)}"
        return path

    # ---- calls ----------------------------------------------------------------------------
    async def list_all(self, path: str, selector: str | None = None,
                       page: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Every item of a list, page by page (large lists never sit in memory twice)."""
        token = ""
        while True:
            query = {"limit": str(page)}
            if token:
                query["continue"] = token
            if selector:
                query["labelSelector"] = selector
            data = await self.request("GET", path, query=query)
            for item in data.get("items") or ():
                yield item
            token = (data.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", path)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body=dict(body))

    async def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", path, body=dict(body), content_type=MERGE_PATCH)

    async def delete(self, path: str, propagation: str = "Background") -> None:
        try:
            await self.request("DELETE", path, body={"propagationPolicy": propagation})
        except ApiException as exc:
            if exc.status != 404:
                raise
