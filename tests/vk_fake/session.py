"""A requests session that sends vk-api's calls for the official VK hosts to another base URL (the fake)."""

from __future__ import annotations

from typing import Any, Final

import requests

# vk-api 11.10 posts to api.vk.ru; older releases and the product's docs use api.vk.com: both are rewritten.
OFFICIAL_HOSTS: Final = ("https://api.vk.com", "https://api.vk.ru")


class RebasedSession(requests.Session):
    def __init__(self, base: str, timeout: float | None = None) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str):
            for host in OFFICIAL_HOSTS:
                if url.startswith(host):
                    url = self.base + url[len(host) :]
                    break
        # vk-api passes no timeout, so without one here a silent server would hang the calling thread forever.
        if self.timeout is not None:
            kwargs.setdefault("timeout", self.timeout)
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, url, *args, **kwargs)


def rebased_session(base: str, timeout: float | None = None) -> requests.Session:
    """A session for `vk_api.VkApi(session=...)` whose calls to api.vk.com / api.vk.ru go to `base`."""
    return RebasedSession(base, timeout)
