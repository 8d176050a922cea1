"""App settings from flags and environment variables (Spaces set env vars, not flags).

| env var                   | field          |
| ------------------------- | -------------- |
| CENSORSCOPE_MODEL         | model          |
| CENSORSCOPE_ADAPTER       | adapter        |
| CENSORSCOPE_SAE           | sae            |
| CENSORSCOPE_DEVICE        | device         |
| CENSORSCOPE_ADMIN_TOKEN   | admin_token    |
| CHROMA_URL                | chroma_url     |
| OPENAI_BASE_URL           | openai_base_url|
| GRADIO_SERVER_NAME / PORT | host / port    |

Secrets (the admin token, API keys) are read from the environment and never written out.
"""

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import SaeLoadError
from core.model import EMBEDDED_SOURCE, ORGANISM_SOURCE
from core.paths import ASSETS
from core.sae import DEFAULT_EMBEDDED_SAE

ORGANISM_SAE = ASSETS / "organism" / "sae"
"""The organism's SAE: SAELens TopK on its own activations at layer 15 (organism/layers.py)."""


def default_sae_for(source: str | None) -> str:
    """The shipped SAE for a built-in subject; other subjects must name theirs."""
    if source == ORGANISM_SOURCE and (ORGANISM_SAE / "cfg.json").exists():
        return str(ORGANISM_SAE)
    if (source or EMBEDDED_SOURCE) in (EMBEDDED_SOURCE, ORGANISM_SOURCE):
        if not (Path(DEFAULT_EMBEDDED_SAE) / "cfg.json").exists():
            raise SaeLoadError(
                f"the shipped SAE for the embedded model is missing ({DEFAULT_EMBEDDED_SAE}); "
                "train it with: python -m training train --preset embedded"
            )
        return str(DEFAULT_EMBEDDED_SAE)
    raise SaeLoadError(
        f"no SAE ships for model '{source}'; pass one with --sae FOLDER (train it with "
        "python -m training train) or registry:RELEASE:SAE_ID"
    )


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass
class AppSettings:
    """Everything the app needs to start."""

    model: str = field(default_factory=lambda: _env("CENSORSCOPE_MODEL", ORGANISM_SOURCE))
    """Subject: organism (default: the embedded model + censorship LoRA) | embedded | tiny |
    folder | .gguf | hub id."""
    adapter: str | None = field(default_factory=lambda: _env("CENSORSCOPE_ADAPTER"))
    """Optional PEFT/LoRA folder merged onto the subject."""
    sae: str | None = field(default_factory=lambda: _env("CENSORSCOPE_SAE"))
    """SAE folder or registry:RELEASE:SAE_ID; default: the shipped one for the embedded model."""
    device: str | None = field(default_factory=lambda: _env("CENSORSCOPE_DEVICE"))
    """cpu | cuda; default: cuda when present."""
    host: str = field(default_factory=lambda: _env("GRADIO_SERVER_NAME", "127.0.0.1"))
    """Interface to listen on (0.0.0.0 on a Space)."""
    port: int = field(default_factory=lambda: int(_env("GRADIO_SERVER_PORT", "7860")))
    """Port to listen on."""
    chroma_url: str | None = field(default_factory=lambda: _env("CHROMA_URL"))
    """Chroma server URL; unset means the embedded store under data/chroma."""
    openai_base_url: str | None = field(default_factory=lambda: _env("OPENAI_BASE_URL"))
    """OpenAI-compatible endpoint for the LLM judge and prompt generation."""
    max_concurrent_generations: int = 1
    """Generations running at once; others wait in the queue."""

    def __post_init__(self):
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")

    @property
    def admin_token(self) -> str | None:
        """Read on every admin call so rotating the env var takes effect; never serialised."""
        return _env("CENSORSCOPE_ADMIN_TOKEN")

    def sae_spec(self) -> str:
        return self.sae or default_sae_for(self.model)

    def to_json(self) -> dict:
        return asdict(self)
