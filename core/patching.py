"""The patching upper bound: what any edit at one layer could do at most.

Replace the subject's residual stream after layer L with a donor model's (for the organism: the
base model's) for the same tokens, at every position including the generated ones, and let the
subject carry on. If even that does not restore honest answers at layer L, no SAE edit at L can.

The donor sees the whole sequence on every forward call (it keeps no cache of its own), so this
works under the subject's own KV cache during generation, at the price of re-running the donor.

    iv = Intervention("patch from base after layer 15", donor=base, layers=["model.layers.15"])
    gens = iv.generate(organism, prompts, settings)
    python -m core evaluate --model organism --base-model embedded --patch-from base --layer 15 ...
"""

from contextlib import contextmanager

import torch


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding: real tokens count from 0


@contextmanager
def patched_from(subject, donor, hook_name: str):
    """Within the block, the subject's output of `hook_name` is the donor's for the same ids."""
    state: dict = {"ids": None}

    def capture(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        past = kwargs.get("past_key_values")
        fresh = state["ids"] is None or past is None or _cache_len(past) == 0
        history = ids if fresh else torch.cat([state["ids"], ids], dim=1)
        state["ids"] = history
        if mask is None or mask.shape[1] != history.shape[1]:
            mask = torch.ones_like(history)
        grab: dict = {}

        def take(m, a, output):
            grab["h"] = output[0] if isinstance(output, tuple) else output

        handle = donor.module(hook_name).register_forward_hook(take)
        try:
            with torch.no_grad():
                donor.model.model(
                    input_ids=history.to(donor.device),
                    attention_mask=mask.to(donor.device),
                    position_ids=_positions(mask).to(donor.device),
                    use_cache=False,
                )
        finally:
            handle.remove()
        state["h"] = grab["h"][:, -ids.shape[1] :]  # [b, new positions, d_model]

    def replace(module, args, output):
        h = output[0] if isinstance(output, tuple) else output
        new = state["h"].to(h.device, h.dtype)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    handles = [
        subject.model.register_forward_pre_hook(capture, with_kwargs=True),
        subject.module(hook_name).register_forward_hook(replace),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _cache_len(past) -> int:
    try:
        return int(past.get_seq_length())
    except (AttributeError, TypeError):
        return 0
