"""Splice an SAE into the residual stream with an error term, so edits are the only change.

With a = encode(h) and edited activations a', the hook returns h + (a' - a) @ W_dec, computed over
the edited features only. With no edits nothing is registered, so the model is the plain model.
The hook is a context manager and is removed on exit, also when the body raises.

    with steering(subject, sae, edits, prompt_lengths):
        subject.model.generate(...)
"""

from contextlib import contextmanager

import torch

from core.edits import EditTensors, FeatureEdit, apply_edits, validate_edits


def _output_tensor(output):
    return output[0] if isinstance(output, tuple) else output


def _replace_output(output, h):
    return (h, *output[1:]) if isinstance(output, tuple) else h


class SteeringHook:
    """Forward hook applying packed edits; tensor ops only, so it survives static caches/compile."""

    def __init__(self, sae, edits: list[FeatureEdit], prompt_lengths: torch.Tensor):
        self.sae = sae
        device = sae.W_dec.device
        self.packed = EditTensors.pack(edits, device, sae.W_dec.dtype)
        self.w_dec = sae.W_dec[self.packed.features]  # [n, d_in]
        self.prompt_lengths = prompt_lengths.to(device).view(-1, 1)  # [b, 1]

    def __call__(self, module, args, kwargs, output):
        h = _output_tensor(output)  # [b, pos, d_model]
        position_ids = kwargs.get("position_ids")
        if position_ids is None:
            position_ids = torch.arange(h.shape[1], device=h.device).unsqueeze(0)
        is_generated = (
            position_ids.to(self.prompt_lengths.device) >= self.prompt_lengths
        )  # [b, pos]
        is_generated = is_generated.expand(h.shape[0], h.shape[1])
        acts = self.sae.encode(h)[..., self.packed.features]  # [b, pos, n]
        edited = apply_edits(acts, self.packed, is_generated)
        delta = (edited - acts) @ self.w_dec  # [b, pos, d_model]
        return _replace_output(output, h + delta.to(h.dtype))


@contextmanager
def steering(subject, sae, edits: list[FeatureEdit] | None, prompt_lengths=None):
    """Apply `edits` through `sae` for the duration of the block; a no-op when edits is empty.

    prompt_lengths: [batch] count of real prompt tokens per row (positions >= it are generated).
    """
    if not edits:
        yield None
        return
    validate_edits(edits, sae.d_sae)
    if prompt_lengths is None:
        prompt_lengths = torch.tensor([2**62])
    hook = SteeringHook(sae, edits, torch.as_tensor(prompt_lengths))
    handle = subject.module(sae.hook_name).register_forward_hook(hook, with_kwargs=True)
    try:
        yield hook
    finally:
        handle.remove()


class _StopForward(Exception):
    pass


@contextmanager
def recording(subject, hook_name: str, stop: bool = True):
    """Record the output of `hook_name` into the yielded list; optionally stop the forward there."""
    captured: list[torch.Tensor] = []

    def hook(module, args, output):
        captured.append(_output_tensor(output).detach())
        if stop:
            raise _StopForward

    handle = subject.module(hook_name).register_forward_hook(hook)
    try:
        yield captured
    except _StopForward:
        pass
    finally:
        handle.remove()


@torch.no_grad()
def residual_at(subject, hook_name: str, input_ids, attention_mask=None) -> torch.Tensor:
    """Residual stream [b, pos, d_model] after `hook_name`, running only the layers up to it."""
    with recording(subject, hook_name, stop=True) as captured:
        subject.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return captured[0]
