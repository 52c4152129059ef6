"""A fake VK API (5.199) served over HTTP in the test's event loop, for the product's VK adapter."""

from tests.vk_fake.fake import API_VERSION, Call, FakeVk, MethodError, Token
from tests.vk_fake.session import rebased_session
from tests.vk_fake.vkscript import Script, ScriptError, parse_execute

__all__ = [
    "API_VERSION",
    "Call",
    "FakeVk",
    "MethodError",
    "Script",
    "ScriptError",
    "Token",
    "parse_execute",
    "rebased_session",
]
