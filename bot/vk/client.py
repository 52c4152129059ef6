"""A VK API client over vk-api that never blocks the event loop and retries what is worth retrying."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError

log = logging.getLogger(__name__)

# vk-api posts to a fixed host; requests to either official host go to the configured base instead.
_OFFICIAL_HOSTS = ("https://api.vk.ru", "https://api.vk.com")
# A revoked or wrong token, no access: retrying cannot help, the source must stop.
FATAL_CODES = frozenset({5, 15, 17, 18, 27, 28, 203, 212})
# Too many requests, flood control, internal errors: worth another try later.
RETRY_CODES = frozenset({6, 9, 10, 29})
ATTEMPTS = 6
TIMEOUT = 30


class VkError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CODES


class VkUnavailable(Exception):
    """The API did not answer usefully after all retries (network, HTTP 5xx/429)."""


class _RebasedSession(requests.Session):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str):
            for host in _OFFICIAL_HOSTS:
                if url.startswith(host):
                    url = self.base + url[len(host) :]
                    break
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, url, *args, **kwargs)


class VkClient:
    """One token's client. Calls run in a thread; vk-api's lock keeps the token's own request rate."""

    def __init__(self, token: str, *, api_base: str, group: bool, sleep: float = 1.0) -> None:
        api_class = vk_api.VkApiGroup if group else vk_api.VkApi
        self.api = api_class(token=token, api_version="5.199", session=_RebasedSession(api_base))
        # vk-api retries error 6 itself every 0.5 s without end; here it backs off like every other retry.
        self.api.error_handlers.pop(6, None)
        self.group = group
        self.sleep = sleep

    async def call(self, method: str, **params: Any) -> Any:
        """Call a method; raise VkError for an API error that retrying cannot fix, VkUnavailable when it is down."""
        delay = self.sleep
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await asyncio.to_thread(self.api.method, method, params, raw=method == "execute")
            except ApiError as error:
                if error.code not in RETRY_CODES:
                    raise VkError(error.code, str(error.error.get("error_msg", ""))) from error
                reason = str(error)
            except ApiHttpError as error:
                reason = str(error)
            except requests.RequestException as error:
                reason = repr(error)
            if attempt < ATTEMPTS:
                log.warning("VK %s failed (%s), retry %s in %.1f s", method, reason, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        raise VkUnavailable(f"VK {method}: {reason}")

    async def execute(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Up to 25 calls in one request (`execute`); a failed call gives None in its place."""
        results: list[Any] = []
        for start in range(0, len(calls), 25):
            chunk = calls[start : start + 25]
            code = "return [" + ",".join(f"API.{m}({_json(p)})" for m, p in chunk) + "];"
            answer = await self.call("execute", code=code)
            for error in answer.get("execute_errors", []):
                if int(error.get("error_code", 0)) in FATAL_CODES:
                    raise VkError(int(error["error_code"]), str(error.get("error_msg", "")))
            results.extend(r if r is not False else None for r in answer.get("response") or [])
        return results


def _json(params: dict[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False)
