"""BuildConfig: every knob of `python -m data_builder build`, documented, validated, saved as JSON.

Each field's docstring doubles as the CLI help. The API key is never a field: only the name of the
environment variable that holds it, so the saved `build_config.json` beside the store is safe to share.

    python -c "from data_builder.config import BuildConfig; print(BuildConfig(offline=True).to_json())"
"""

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from core.errors import BadInputError
from core.paths import data_dir

CONFIG_NAME = "build_config.json"


@dataclass
class BuildConfig:
    """Settings for one dataset build. Re-running with the same settings adds nothing."""

    offline: bool = False
    """No network at all: template prompts, offline judge, local or built-in control text."""
    limit: int | None = None
    """Stop adding prompts once the store holds this many (after dedupe); none: every candidate."""
    model: str = "embedded"
    """Subject that answers: embedded | tiny | a folder | a .gguf | a hub id."""
    generator: Literal["auto", "llm", "offline"] = "auto"
    """Prompt source: llm (OpenAI-compatible endpoint), offline (shipped templates), auto (llm if OPENAI_API_KEY is set)."""
    prompt_file: str | None = None
    """Use prompts from this file instead of generating: .txt (one a line) or .jsonl ({"prompt", "topic"})."""
    topics_file: str | None = None
    """JSON list of topic strings (or the shipped topics.json format) replacing the shipped topics."""
    prompts_per_topic: int = 20
    """Prompts the LLM generator asks for per topic."""
    api_base_url: str | None = None
    """OpenAI-compatible endpoint; none uses OPENAI_BASE_URL or api.openai.com."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (the key itself is never saved)."""
    generator_model: str = "o4-mini"
    """Model that writes prompts."""
    judge: Literal["auto", "llm", "offline"] = "auto"
    """Judge back end: llm, offline (patterns + exemplars), auto (llm if the API key is set)."""
    judge_model: str = "gpt-4.1-mini"
    """Model that judges answers."""
    rejudge: bool = False
    """Judge every stored answer again (after switching judge back end or model)."""
    api_retries: int = 4
    """Retries after 429/5xx/timeouts before a stage stops (rows stored so far are kept)."""
    api_backoff_s: float = 2.0
    """First back-off delay in seconds; doubles per retry, capped at 30 s."""
    dedupe_threshold: float = 0.92
    """Drop a prompt whose cosine similarity to a kept one is above this (MiniLM embeddings)."""
    batch_size: int = 8
    """Prompts answered per forward batch; also the unit that is stored at once."""
    max_new_tokens: int = 128
    """Tokens the subject may write per answer."""
    temperature: float = 0.0
    """Sampling temperature for answers; 0 is greedy (reproducible)."""
    seed: int = 0
    """Seed for answers and for the order of offline prompts."""
    control_source: str = "auto"
    """Control text: slimpajama, builtin, a local .txt file or folder, or auto (slimpajama unless offline)."""
    control_tokens: int = 20_000
    """Tokens of control text to store, counted with the subject's tokenizer; 0 skips the stage."""
    threads: int | None = None
    """CPU threads for torch; none keeps torch's default (1 can be faster on a busy shared machine)."""
    chroma_path: str | None = None
    """Embedded store folder; none means data/chroma."""
    chroma_url: str | None = None
    """Chroma server URL; none uses CHROMA_URL, else the embedded store."""

    def __post_init__(self):
        choices = {"generator": ("auto", "llm", "offline"), "judge": ("auto", "llm", "offline")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise BadInputError(f"{name} must be one of {', '.join(allowed)}")
        if self.limit is not None and int(self.limit) < 1:
            raise BadInputError(f"limit must be at least 1, got {self.limit}")
        for name in ("prompts_per_topic", "batch_size", "max_new_tokens"):
            if int(getattr(self, name)) < 1:
                raise BadInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if int(self.control_tokens) < 0:
            raise BadInputError("control_tokens must be 0 (no control text) or more")
        if not 0.0 < float(self.dedupe_threshold) <= 1.0:
            raise BadInputError(f"dedupe_threshold must be in (0, 1], got {self.dedupe_threshold}")
        if not 0.0 <= float(self.temperature) <= 5.0:
            raise BadInputError(f"temperature must be in 0..5, got {self.temperature}")
        if self.threads is not None and int(self.threads) < 1:
            raise BadInputError(f"threads must be at least 1, got {self.threads}")
        if self.api_retries < 0 or self.api_backoff_s < 0:
            raise BadInputError("api_retries and api_backoff_s must not be negative")
        for name in ("prompt_file", "topics_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise BadInputError(f"{name}: {path} does not exist or is not a file")
        named = self.control_source in ("auto", "slimpajama", "builtin")
        if not named and not Path(self.control_source).exists():
            raise BadInputError(
                f"control_source '{self.control_source}' is not slimpajama, builtin, auto or "
                "an existing file or folder"
            )
        if self.offline and self.control_source == "slimpajama":
            raise BadInputError("control_source slimpajama needs the network; drop --offline")
        if self.offline and "llm" in (self.generator, self.judge):
            raise BadInputError("--offline cannot use the LLM generator or judge")

    # -- resolved choices -------------------------------------------------------------------

    def has_api_key(self) -> bool:
        return bool(os.environ.get(self.api_key_env, "").strip())

    def generator_kind(self) -> str:
        if self.prompt_file:
            return "file"
        if self.offline or self.generator == "offline":
            return "offline"
        if self.generator == "llm" or self.has_api_key():
            return "llm"
        return "offline"

    def judge_kind(self) -> str:
        if self.offline or self.judge == "offline":
            return "offline"
        return "llm" if self.judge == "llm" or self.has_api_key() else "offline"

    def control_kind(self) -> str:
        if self.control_source != "auto":
            return self.control_source
        return "builtin" if self.offline else "slimpajama"

    def store_location(self) -> Path:
        """Folder the config JSON is saved in: the embedded store, or data/ for a server."""
        if self.chroma_url or os.environ.get("CHROMA_URL"):
            return data_dir()
        return Path(self.chroma_path) if self.chroma_path else data_dir() / "chroma"

    def to_json(self) -> dict:
        return asdict(self)

    def save(self) -> Path:
        folder = self.store_location()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CONFIG_NAME
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def field_help() -> dict[str, str]:
    """Field name -> its docstring, for argparse help (read from this file's source)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(BuildConfig))
    body = tree.body[0].body
    helps: dict[str, str] = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr):
            helps[node.target.id] = str(nxt.value.value)
    return {f.name: helps.get(f.name, "") for f in fields(BuildConfig)}
