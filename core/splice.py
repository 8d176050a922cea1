"""Splice an SAE into the residual stream with an error term, so edits are the only change.

With a = encode(h) and edited activations a', the hook returns h + (a' - a) @ W_dec, computed over
the edited features only. With no edits nothing runs, so the model is the plain model, bit for bit.

    with steering(subject, sae, edits, prompt_lengths):
        subject.model.generate(...)

Two ways the hook lives on the model:
  - eager (default): registered on entering `steering` and removed on exit, also on error;
  - persistent (`make_persistent`, for compiled generation with a static KV cache): registered
    once and refilled in place, inert outside a `steering` block. Re-registering a hook makes
    torch.compile recompile (tens of seconds on an 8B model); refilling buffers does not.
"""

import threading
from contextlib import contextmanager

import torch

from core.edits import EditTensors, FeatureEdit, apply_edits, validate_edits

MAX_EDITS = 32
MAX_BATCH = 64
_NO_PROMPT_END = 2**62


def _output_tensor(output):
    return output[0] if isinstance(output, tuple) else output


def _replace_output(output, h):
    return (h, *output[1:]) if isinstance(output, tuple) else h


class SteeringHook:
    """Forward hook applying packed edits with tensor ops only (static cache and compile safe)."""

    def __init__(self, sae, capacity: int = MAX_EDITS, max_batch: int = MAX_BATCH):
        self.sae = sae
        device, dtype = sae.W_dec.device, sae.W_dec.dtype
        self.packed = EditTensors.empty(capacity, device, dtype)
        self.w_dec = torch.zeros(capacity, sae.d_in, device=device, dtype=dtype)  # [n, d_in]
        self.prompt_lengths = torch.full((max_batch, 1), _NO_PROMPT_END, device=device)
        self.active = False
        self.handle = None
        self.thread: int | None = None
        """When set, only forwards run by this thread are steered (a baseline may run beside)."""

    def fill(self, edits: list[FeatureEdit], prompt_lengths) -> None:
        """Load a recipe and the batch's prompt lengths into the hook's buffers, in place."""
        self.packed.fill(edits)
        self.w_dec.copy_(self.sae.W_dec[self.packed.features])
        self.w_dec[len(edits) :] = 0
        lengths = torch.as_tensor(prompt_lengths, device=self.prompt_lengths.device).view(-1, 1)
        if lengths.shape[0] > self.prompt_lengths.shape[0]:
            self.prompt_lengths = torch.full(
                (lengths.shape[0], 1), _NO_PROMPT_END, device=lengths.device
            )
        self.prompt_lengths.fill_(_NO_PROMPT_END)
        self.prompt_lengths[: lengths.shape[0]] = lengths

    def __call__(self, module, args, kwargs, output):
        if not self.active:  # a guard for torch.compile, not a per-token branch
            return output
        if self.thread is not None and threading.get_ident() != self.thread:
            return output  # another thread's forward: the unsteered side of a compare
        h = _output_tensor(output)  # [b, pos, d_model]
        b, pos = h.shape[0], h.shape[1]
        position_ids = kwargs.get("position_ids")
        if position_ids is None:
            position_ids = torch.arange(pos, device=h.device).unsqueeze(0)
        is_generated = (position_ids.to(h.device) >= self.prompt_lengths[:b]).expand(b, pos)
        acts = self.sae.acts_of(h, self.packed.features)  # [b, pos, n]
        edited = apply_edits(acts, self.packed, is_generated)
        delta = (edited - acts) @ self.w_dec  # [b, pos, d_model]
        return _replace_output(output, h + delta.to(h.dtype))


def make_persistent(subject, sae) -> SteeringHook:
    """Register one inert hook for (subject, sae) that `steering` refills instead of re-registering.

    The hook lives on the subject (`subject.steering_hooks`, by id of the SAE it holds, so the
    id cannot be reused while it is there) until release_persistent removes it.
    """
    hooks = subject.steering_hooks
    if id(sae) not in hooks:
        hook = SteeringHook(sae)
        hook.handle = subject.module(sae.hook_name).register_forward_hook(hook, with_kwargs=True)
        hooks[id(sae)] = hook
    return hooks[id(sae)]


def release_persistent(subject, sae) -> None:
    """Remove the persistent hook of `sae` from the model, so the SAE's memory can be freed."""
    hook = subject.steering_hooks.pop(id(sae), None)
    if hook is not None and hook.handle is not None:
        hook.handle.remove()


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
        prompt_lengths = torch.tensor([_NO_PROMPT_END])
    persistent = subject.steering_hooks.get(id(sae))
    hook = persistent or SteeringHook(sae, capacity=len(edits), max_batch=len(prompt_lengths))
    hook.fill(edits, prompt_lengths)
    handle = None
    if persistent is None:
        hook.thread = threading.get_ident()  # an eager hook steers only its own thread
        handle = subject.module(sae.hook_name).register_forward_hook(hook, with_kwargs=True)
    hook.active = True
    try:
        yield hook
    finally:
        hook.active = False
        if handle is not None:
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
