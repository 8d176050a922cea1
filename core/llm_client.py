"""A thin wrapper over the official `openai` client for any OpenAI-compatible endpoint.

It adds what the dataset builder and the LLM judge need and the raw client leaves to the caller:
the key read from the environment (never stored), bounded retries with exponential back-off on
429, 5xx and dropped connections, errors a person can act on, and JSON replies validated by the
caller with a re-ask on malformed output.

    python -c "from core.llm_client import LlmClient, LlmEndpoint; \
print(LlmClient(LlmEndpoint(model='gpt-4.1-mini')).chat([{'role': 'user', 'content': 'hi'}]))"
"""

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import CensorscopeError

T = TypeVar("T")
MAX_BACKOFF_S = 30.0


class LlmError(CensorscopeError):
    """The LLM endpoint could not be used (no key, refused key, or still failing after retries)."""


class LlmAuthError(LlmError):
    """No API key, or the endpoint refused it."""


@dataclass
class LlmEndpoint:
    """Where and how to reach an OpenAI-compatible chat endpoint. Holds the key's env var, not the key."""

    model: str
    """Model name on the endpoint (o4-mini, gpt-4.1-mini, a vLLM or Ollama model name)."""
    base_url: str | None = None
    """Endpoint URL; None uses OPENAI_BASE_URL or api.openai.com."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key. Keyless local servers: set it to any value."""
    timeout_s: float = 120.0
    """Seconds one request may take before it counts as failed and is retried."""
    max_retries: int = 4
    """Retries after a 429, 5xx, timeout or dropped connection, before giving up."""
    backoff_s: float = 2.0
    """First back-off delay; doubles on each retry, capped at 30 s (a Retry-After header wins)."""

    def resolved_base_url(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def describe(self) -> str:
        return f"{self.model} at {self.resolved_base_url() or 'api.openai.com'}"


class LlmClient:
    """Chat completions with bounded retries; `chat_json` validates and re-asks on bad JSON."""

    def __init__(self, endpoint: LlmEndpoint):
        import openai

        key = os.environ.get(endpoint.api_key_env, "").strip()
        if not key:
            raise LlmAuthError(
                f"no API key: set {endpoint.api_key_env} for {endpoint.describe()} "
                "(for a keyless local server any value works), or run with --offline"
            )
        self.endpoint = endpoint
        # The client's own retries are off so that ours (bounded, logged) are the only ones.
        self._client = openai.OpenAI(
            api_key=key,
            base_url=endpoint.resolved_base_url(),
            timeout=endpoint.timeout_s,
            max_retries=0,
        )

    def chat(self, messages: list[dict], json_mode: bool = False, **kwargs) -> str:
        """The reply text of one chat completion, retried on transient failures."""
        import openai

        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        for attempt in range(self.endpoint.max_retries + 1):
            try:
                reply = self._client.chat.completions.create(
                    model=self.endpoint.model, messages=messages, **kwargs
                )
                return (reply.choices[0].message.content or "") if reply.choices else ""
            except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
                raise LlmAuthError(
                    f"{self.endpoint.describe()} refused the key in {self.endpoint.api_key_env} "
                    f"({err.status_code}); check the key or the endpoint URL"
                ) from err
            except openai.NotFoundError as err:
                raise LlmError(
                    f"{self.endpoint.describe()}: model or path not found (404); check the "
                    "model name and the base URL (it usually ends in /v1)"
                ) from err
            except (openai.RateLimitError, openai.InternalServerError) as err:
                reason, delay = f"HTTP {err.status_code}", _retry_after(err)
                last: Exception = err
            except (openai.APIConnectionError, openai.APITimeoutError) as err:
                reason, delay, last = type(err).__name__, None, err
            except openai.APIStatusError as err:
                if err.status_code < 500:
                    raise LlmError(
                        f"{self.endpoint.describe()} rejected the request ({err.status_code}): "
                        f"{_short(err.message)}"
                    ) from err
                reason, delay, last = f"HTTP {err.status_code}", _retry_after(err), err
            if attempt == self.endpoint.max_retries:
                break
            wait = delay if delay is not None else self.endpoint.backoff_s * 2**attempt
            wait = min(wait, MAX_BACKOFF_S)
            print(
                f"[llm] {reason} from {self.endpoint.describe()}; retry "
                f"{attempt + 1}/{self.endpoint.max_retries} in {wait:.1f}s",
                file=sys.stderr,
            )
            time.sleep(wait)
        raise LlmError(
            f"{self.endpoint.describe()} still failing after {self.endpoint.max_retries} retries "
            f"({reason}); stored rows are intact, run the same command again to resume"
        ) from last

    def chat_json(
        self,
        messages: list[dict],
        validate: Callable[[dict], T],
        attempts: int = 3,
        **kwargs,
    ) -> T | None:
        """Ask for a JSON object and pass it through `validate`; None after `attempts` bad replies.

        `validate` raises ValueError (or KeyError/TypeError) on an unusable object. Malformed
        replies are re-asked with the error appended, never repaired by guessing.
        """
        convo = list(messages)
        for _ in range(attempts):
            text = self.chat(convo, json_mode=True, **kwargs)
            try:
                return validate(parse_json_object(text))
            except (ValueError, KeyError, TypeError) as err:
                convo = [
                    *messages,
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That reply was not valid ({_short(str(err))}). "
                        "Answer again with only the JSON object described above.",
                    },
                ]
        return None


def parse_json_object(text: str) -> dict:
    """The JSON object in a reply, tolerating a ```json fence around it; ValueError otherwise."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _retry_after(err) -> float | None:
    try:
        return float(err.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
