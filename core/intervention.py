"""What is done to the model: SAE edits, a direction ablation, or nothing (the baseline).

One object that generation, evaluation and the cost functions take, so every measurement of a
recipe or a direction goes through the same code.

    iv = Intervention("recipe", edits=load_recipe("recipe.json"), sae=sae)
    with iv.context(subject, prompt_lengths): logits = subject.model(ids).logits
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass

from core.generate import Generation, generate_batch


@dataclass
class Intervention:
    name: str
    edits: list | None = None
    sae: object | None = None
    direction: object | None = None
    """A core.direction.Direction, projected out of the residual stream."""
    layers: str | list = "all"
    """Where the direction is projected out: "all" (Arditi et al.) or a list of hook names; for
    a donor patch, the one hook name whose output is replaced."""
    alpha: float | None = None
    """With a direction: add alpha * direction at its layer (activation addition) instead of
    projecting it out."""
    donor: object | None = None
    """A model whose residual replaces the subject's at `layers[0]` (core/patching.py)."""

    def context(self, subject, prompt_lengths) -> AbstractContextManager:
        """Hooks for one forward or generate call; `prompt_lengths` [batch] marks where the
        generated positions start (edits with where=prompt|generated need it)."""
        if self.donor is not None:
            from core.patching import patched_from

            return patched_from(subject, self.donor, self.layers[0])
        if self.direction is not None and self.alpha is not None:
            from core.direction import direction_addition

            return direction_addition(subject, self.direction, self.alpha)
        if self.direction is not None:
            from core.direction import direction_ablation

            return direction_ablation(subject, self.direction, self.layers)
        if self.edits:
            from core.splice import steering

            return steering(subject, self.sae, self.edits, prompt_lengths)
        return nullcontext()

    def generate(self, subject, prompts, settings, batch_size=16) -> list[Generation]:
        return generate_batch(subject, prompts, settings, batch_size=batch_size, intervention=self)

    def to_json(self) -> dict:
        out: dict = {"name": self.name}
        if self.edits:
            out["edits"] = [asdict(e) for e in self.edits]
        if self.direction is not None:
            out["direction"] = {"hook_name": self.direction.hook_name, "layers": self.layers}
            if self.alpha is not None:
                out["direction"]["add_alpha"] = self.alpha
        if self.donor is not None:
            out["patch"] = {"from": getattr(self.donor, "name", "donor"), "after": self.layers[0]}
        return out


BASELINE = Intervention("baseline")
