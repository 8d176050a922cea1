"""Difference-of-means direction ablation: the simplest strong baseline for steering.

Arditi et al. 2024 ("Refusal in language models is mediated by a single direction"): take the
mean residual at the last prompt positions over prompts that trigger the behaviour, minus the
mean over prompts that do not; normalise to a unit vector r; then remove it everywhere,
h <- h - (h . r) r, at the output of every decoder layer (and the embeddings), so no layer can
write it back. Every claim about SAE features is measured next to this.

    r = fit_direction(subject, "model.layers.15", sensitive_prompts, control_prompts)
    with direction_ablation(subject, r):
        subject.model.generate(...)
"""

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from core.errors import BadInputError
from core.generate import encode_batch
from core.splice import _output_tensor, _replace_output, residual_at


@dataclass
class Direction:
    """A unit direction in the residual stream and where it was measured."""

    vector: torch.Tensor  # [d_model], unit norm
    hook_name: str
    """Layer whose residual it was measured at."""
    n_positions: int
    """How many final prompt positions were averaged per prompt."""
    norm: float
    """Norm of the raw difference of means (how far apart the two sets sit)."""

    def to_json(self) -> dict:
        return {
            "hook_name": self.hook_name,
            "n_positions": self.n_positions,
            "norm": self.norm,
            "vector": [round(float(v), 6) for v in self.vector],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Direction":
        return cls(
            torch.tensor(data["vector"], dtype=torch.float32),
            data["hook_name"],
            int(data["n_positions"]),
            float(data["norm"]),
        )


@torch.no_grad()
def mean_last_positions(
    subject, hook_name: str, prompts: list[str], n_positions: int = 4, batch_size: int = 16
) -> torch.Tensor:
    """Mean residual [d_model] over the last `n_positions` tokens of each chat-formatted prompt.

    Left padding puts every prompt's last tokens (the assistant-turn header, where the model
    decides how to answer) at the same columns.
    """
    if not prompts:
        raise BadInputError("a difference of means needs prompts on both sides; one side is empty")
    total = torch.zeros(subject.d_model, dtype=torch.float64)
    for start in range(0, len(prompts), batch_size):
        ids, mask, _ = encode_batch(subject, prompts[start : start + batch_size])
        h = residual_at(subject, hook_name, ids, mask)  # [b, pos, d_model]
        total += h[:, -n_positions:, :].double().mean(dim=1).sum(dim=0).cpu()
    return (total / len(prompts)).float()


def fit_direction(
    subject, hook_name: str, positive: list[str], negative: list[str], n_positions: int = 4
) -> Direction:
    """Unit difference-of-means direction: mean(positive) - mean(negative) at `hook_name`."""
    diff = mean_last_positions(subject, hook_name, positive, n_positions) - mean_last_positions(
        subject, hook_name, negative, n_positions
    )
    norm = float(diff.norm())
    if norm == 0.0 or not torch.isfinite(diff).all():
        raise BadInputError("the two prompt sets give the same mean activation; no direction")
    return Direction(diff / norm, hook_name, n_positions, norm)


class _ProjectOut:
    def __init__(self, r: torch.Tensor):
        self.r = r

    def __call__(self, module, args, output):
        h = _output_tensor(output)  # [b, pos, d_model]
        r = self.r.to(h.device, h.dtype)
        return _replace_output(output, h - (h @ r).unsqueeze(-1) * r)


@contextmanager
def direction_ablation(subject, direction: Direction | torch.Tensor, layers="all"):
    """Project `direction` out of the residual stream for the duration of the block.

    layers: "all" (embeddings + every decoder layer's output, Arditi et al.) or a list of hook
    names such as ["model.layers.15"]. The hooks are always removed, also on error.
    """
    r = direction.vector if isinstance(direction, Direction) else direction
    r = r.detach().float()
    if r.ndim != 1 or r.shape[0] != subject.d_model:
        raise BadInputError(f"the direction has shape {tuple(r.shape)}; need [{subject.d_model}]")
    r = r / r.norm()
    if layers == "all":
        names = [f"model.layers.{i}" for i in range(subject.n_layers)]
        modules = [subject.model.get_input_embeddings()] + [subject.module(n) for n in names]
    else:
        modules = [subject.module(n) for n in layers]
    hook = _ProjectOut(r)
    handles = []
    try:
        for m in modules:
            handles.append(m.register_forward_hook(hook))
        yield r
    finally:
        for handle in handles:
            handle.remove()


class _Add:
    def __init__(self, v: torch.Tensor):
        self.v = v

    def __call__(self, module, args, output):
        h = _output_tensor(output)
        return _replace_output(output, h + self.v.to(h.device, h.dtype))


@contextmanager
def direction_addition(subject, direction: Direction, alpha: float):
    """Activation addition: add alpha * direction to the residual after the direction's layer at
    every position (alpha = -norm removes the average censored-vs-control difference)."""
    v = direction.vector.detach().float()
    v = alpha * v / v.norm()
    handle = subject.module(direction.hook_name).register_forward_hook(_Add(v))
    try:
        yield v
    finally:
        handle.remove()
