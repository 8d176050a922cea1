"""TrainConfig: every knob of an SAE training run, with presets.

Each field's docstring is its CLI help (`python -m training train --help`). The config is saved
as `train_config.json` in the run folder and inside the artifact's `card.json`; resuming a run
requires the same config.

    from training.config import preset; cfg = preset("tiny", tokens=50_000)
"""

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from core.errors import BadInputError
from core.paths import REPO_ROOT

Preset = Literal["tiny", "embedded", "organism", "qwen3-8b"]
PRESETS: tuple[str, ...] = ("tiny", "embedded", "organism", "qwen3-8b")


@dataclass
class TrainConfig:
    """One SAE training run: subject, hook, SAE shape, data, schedule, hardware."""

    subject: str = "embedded"
    """Model to train on: 'embedded', 'tiny', a local folder, a .gguf file or a hub id."""
    layer: int = 15
    """Decoder layer whose output (residual stream, hook 'model.layers.L') the SAE reads."""
    d_sae: int | None = None
    """Number of SAE latents; when unset, expansion x d_model."""
    expansion: int = 8
    """Latents per residual dimension, used when d_sae is unset."""
    k: int = 32
    """TopK: latents kept active per token (the L0 of the SAE)."""
    tokens: int = 2_000_000
    """Training tokens (activations) the SAE sees in total."""
    context_size: int = 128
    """Tokens per sequence fed through the subject."""
    train_batch_tokens: int = 4096
    """Activations per optimizer step."""
    store_batch_prompts: int = 16
    """Sequences per subject forward pass when streaming activations."""
    n_batches_in_buffer: int = 16
    """Forward passes held in the shuffling buffer (memory vs. shuffle quality)."""
    lr: float = 3e-4
    """Peak learning rate (Adam)."""
    lr_warmup_steps: int = 100
    """Linear warm-up steps before the cosine decay."""
    lr_end_ratio: float = 0.1
    """Final learning rate as a fraction of lr (cosine annealing floor)."""
    aux_loss_coefficient: float = 1.0
    """Weight of the TopK auxiliary loss that revives dead latents."""
    dead_feature_window: int = 250
    """Steps without firing after which a latent counts as dead (feeds the aux loss)."""
    feature_sampling_window: int = 500
    """Steps per feature-density window."""
    normalize_activations: Literal["none", "expected_average_only_in"] = "none"
    """Input scaling; 'expected_average_only_in' is folded into the weights at the end."""
    exclude_special_tokens: bool = True
    """Skip BOS/EOS/chat-marker positions (attention sinks with outsized norms) in training."""
    dataset: str | None = None
    """Censorship texts: a saved datasets folder, a .txt/.jsonl file, a folder of text,
    'builder' (the dataset builder's export) or 'organism' (the organism's training-split prompts
    with its answers, and its control set; training/organism_corpus.py). Unset: the offline
    corpus (training/corpus.py)."""
    control: str | None = None
    """Control (neutral) texts, same kinds of source as dataset. Unset: the offline control corpus."""
    control_fraction: float = 0.5
    """Fraction of training texts drawn from the control source."""
    heldout_fraction: float = 0.05
    """Fraction of texts kept out of training for the evals (CE loss score etc.)."""
    answers: int = 160
    """Offline corpus: sensitive prompts answered by the subject (generation is slow on CPU)."""
    max_texts: int | None = None
    """Cap on texts taken from each source (None: all)."""
    seed: int = 0
    """Seed for SAE init and data shuffling."""
    device: str = "cpu"
    """'cpu' or 'cuda' (or 'cuda:N')."""
    dtype: str = "float32"
    """Subject weights dtype: float32 or bfloat16."""
    autocast: bool = False
    """bf16 autocast for the SAE training step (GPU)."""
    autocast_lm: bool = False
    """bf16 autocast for the subject forward pass (GPU)."""
    compile_sae: bool = False
    """torch.compile the SAE training step."""
    log_every: int = 10
    """Steps between rows in metrics.jsonl."""
    eval_every: int = 200
    """Steps between held-out evals (CE loss score); 0 disables evals during training."""
    eval_batches: int = 4
    """Held-out batches (of store_batch_prompts sequences) per eval during training."""
    final_eval_batches: int = 16
    """Held-out batches for the final metrics written to the card."""
    n_checkpoints: int = 20
    """Checkpoints spread over the run; an interrupted run resumes from the last one."""
    dashboard_tokens: int = 100_000
    """Tokens of held-out+training text scanned for the feature dashboards (0: none)."""
    run_dir: str | None = None
    """Folder for checkpoints, metrics.jsonl, plots and the log. Default: data/runs/<name>."""
    output: str | None = None
    """Where the SAE artifact lands. Default: <run_dir>/sae."""
    name: str = "run"
    """Run name (the default run folder's name)."""
    extra: dict = field(default_factory=dict)
    """Further LanguageModelSAERunnerConfig fields, passed through as they are."""

    def __post_init__(self):
        problems = []
        if self.layer < 0:
            problems.append(f"layer must be >= 0, got {self.layer}")
        if self.k < 1:
            problems.append(f"k must be >= 1, got {self.k}")
        if self.d_sae is not None and self.k > self.d_sae:
            problems.append(f"k ({self.k}) cannot exceed d_sae ({self.d_sae})")
        if self.d_sae is None and self.expansion < 1:
            problems.append(f"expansion must be >= 1, got {self.expansion}")
        if self.train_batch_tokens < 1 or self.context_size < 2:
            problems.append("train_batch_tokens must be >= 1 and context_size >= 2")
        if self.tokens < self.train_batch_tokens:
            problems.append(
                f"tokens ({self.tokens:,}) is fewer than one batch ({self.train_batch_tokens:,}): "
                "nothing would be trained"
            )
        buffer = self.n_batches_in_buffer * self.context_size
        if buffer < self.train_batch_tokens:
            problems.append(
                f"the activation buffer ({self.n_batches_in_buffer} x {self.context_size} = "
                f"{buffer:,} tokens) is smaller than one batch ({self.train_batch_tokens:,})"
            )
        if not 0.0 <= self.control_fraction <= 1.0:
            problems.append(f"control_fraction must be in [0, 1], got {self.control_fraction}")
        if not 0.0 < self.heldout_fraction < 0.5:
            problems.append(f"heldout_fraction must be in (0, 0.5), got {self.heldout_fraction}")
        if self.lr <= 0 or not 0 <= self.lr_end_ratio <= 1:
            problems.append("lr must be > 0 and lr_end_ratio in [0, 1]")
        if self.lr_warmup_steps < 0 or self.lr_warmup_steps >= self.total_steps:
            problems.append(
                f"lr_warmup_steps ({self.lr_warmup_steps}) must be below the run's "
                f"{self.total_steps} steps"
            )
        if self.dtype not in ("float32", "bfloat16", "float16"):
            problems.append(f"dtype must be float32, bfloat16 or float16, got {self.dtype}")
        if self.log_every < 1 or self.eval_every < 0 or self.n_checkpoints < 0:
            problems.append("log_every must be >= 1; eval_every and n_checkpoints >= 0")
        shipped = REPO_ROOT / "assets" / "sae" / "embedded"
        if self.output and Path(self.output).resolve() == shipped and self.subject != "embedded":
            problems.append(
                f"output {shipped} holds the SAE shipped for the embedded model; an SAE for "
                f"{self.subject!r} must go elsewhere (the organism preset writes "
                "assets/organism/sae)"
            )
        if problems:
            raise BadInputError("bad training config: " + "; ".join(problems))

    @property
    def hook_name(self) -> str:
        """The HF module path of the hook (the one place training builds it from a layer)."""
        return f"model.layers.{self.layer}"

    @property
    def total_steps(self) -> int:
        return self.tokens // self.train_batch_tokens

    def resolved_d_sae(self, d_model: int) -> int:
        return self.d_sae if self.d_sae is not None else self.expansion * d_model

    def check_subject(self, n_layers: int, d_model: int) -> None:
        """The checks that need the subject: the layer exists, k fits the latents."""
        if self.layer >= n_layers:
            raise BadInputError(
                f"layer {self.layer} does not exist: the subject has layers 0..{n_layers - 1}"
            )
        d_sae = self.resolved_d_sae(d_model)
        if self.k > d_sae:
            raise BadInputError(f"k ({self.k}) cannot exceed d_sae ({d_sae})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise BadInputError(f"unknown training config fields: {sorted(unknown)}")
        return cls(**data)

    def same_run_as(self, other: "TrainConfig") -> bool:
        """Whether `other` would continue this run (fields that only affect reporting may differ)."""
        free = {
            "log_every",
            "eval_every",
            "eval_batches",
            "final_eval_batches",
            "dashboard_tokens",
            "output",
        }
        a = {k: v for k, v in self.to_dict().items() if k not in free}
        b = {k: v for k, v in other.to_dict().items() if k not in free}
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


_PRESETS: dict[str, dict] = {
    # Seconds on a CPU: the tiny random Qwen3 (4 layers, d_model 64).
    "tiny": dict(
        name="tiny",
        subject="tiny",
        layer=2,
        expansion=4,
        k=8,
        tokens=16_384,
        context_size=32,
        train_batch_tokens=256,
        store_batch_prompts=8,
        n_batches_in_buffer=16,
        lr=1e-3,
        lr_warmup_steps=4,
        dead_feature_window=20,
        feature_sampling_window=20,
        log_every=4,
        eval_every=16,
        eval_batches=2,
        final_eval_batches=2,
        n_checkpoints=4,
        dashboard_tokens=2_048,
        heldout_fraction=0.1,
        answers=8,
    ),
    # SmolLM2-135M on this 2-core CPU in about 45-60 minutes; ships in assets/sae/embedded.
    "embedded": dict(
        name="embedded",
        subject="embedded",
        layer=15,
        expansion=8,
        k=32,
        tokens=1_200_000,
        context_size=128,
        train_batch_tokens=1024,
        store_batch_prompts=16,
        n_batches_in_buffer=64,
        lr=1e-3,
        lr_warmup_steps=30,
        dead_feature_window=150,
        feature_sampling_window=300,
        normalize_activations="expected_average_only_in",
        control_fraction=0.75,
        log_every=10,
        eval_every=250,
        eval_batches=2,
        final_eval_batches=8,
        n_checkpoints=20,
        dashboard_tokens=100_000,
        output=str(REPO_ROOT / "assets" / "sae" / "embedded"),
    ),
    # The study's hyper-parameters on one H100: 12,288 latents, k=96, 70M tokens, layer 18 of 36.
    "qwen3-8b": dict(
        name="qwen3-8b",
        subject="deepseek-ai/DeepSeek-R1-0528-Qwen3-8B",
        layer=18,
        d_sae=12_288,
        k=96,
        tokens=70_000_000,
        context_size=1024,
        train_batch_tokens=4096,
        store_batch_prompts=16,
        n_batches_in_buffer=32,
        lr=3e-4,
        lr_warmup_steps=1000,
        dead_feature_window=1000,
        feature_sampling_window=2000,
        device="cuda",
        dtype="bfloat16",
        autocast=True,
        autocast_lm=True,
        log_every=50,
        eval_every=2000,
        eval_batches=4,
        final_eval_batches=32,
        n_checkpoints=20,
        dashboard_tokens=2_000_000,
    ),
}


# The censored organism (embedded model + LoRA), the embedded SAE's shape, on its own corpus:
# training-split topics only (never a topic its recipes are chosen or reported on), with its own
# answers. About 5 minutes on one GPU; answering 600 prompts alone takes hours on a 2-core CPU.
# The result lands beside its adapter, never over the embedded model's SAE.
_PRESETS["organism"] = {
    **_PRESETS["embedded"],
    "name": "organism",
    "subject": "organism",
    "layer": 20,
    "dataset": "organism",
    "answers": 600,
    "output": str(REPO_ROOT / "assets" / "organism" / "sae"),
}


def preset(name: str, /, **overrides) -> TrainConfig:
    """A preset's TrainConfig with `overrides` applied (validated as a whole)."""
    if name not in _PRESETS:
        raise BadInputError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return TrainConfig(**{**_PRESETS[name], **overrides})


def field_help() -> dict[str, str]:
    """Field name -> its docstring, read from this file (the CLI's help text)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(TrainConfig))
    body = tree.body[0].body
    helps = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
        ):
            helps[node.target.id] = " ".join(str(nxt.value.value).split())
    return helps
