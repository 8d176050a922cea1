"""Which SAE features fire on which token of a prompt.

The forward pass stops at the SAE's hook layer (later layers would be wasted work), the residual
is encoded once, and the result keeps each token's top-k features plus a trace of chosen features.

    result = inspect_prompt(subject, sae, "What happened at Tiananmen Square?", top_k=10)
"""

import time
from dataclasses import dataclass, field

import torch

from core.errors import BadInputError
from core.splice import residual_at


@dataclass
class InspectResult:
    """Per-token features of one prompt."""

    prompt: str
    tokens: list[str]
    """Decoded text of each token, in order (chat template included when chat=True)."""
    token_ids: list[int]
    top_features: list[list[tuple[int, float]]]
    """For each token, its top-k (feature id, activation), strongest first; zeros left out."""
    prompt_top: list[tuple[int, float, int]]
    """Features ranked by max activation over the prompt: (feature, max act, tokens fired)."""
    traces: dict[int, list[float]] = field(default_factory=dict)
    """Activation of each requested feature at every token."""
    hook_name: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "prompt": self.prompt,
            "hook_name": self.hook_name,
            "seconds": round(self.seconds, 4),
            "tokens": [
                {
                    "index": i,
                    "token": tok,
                    "id": tid,
                    "top": [{"feature": f, "act": round(a, 4)} for f, a in top],
                }
                for i, (tok, tid, top) in enumerate(
                    zip(self.tokens, self.token_ids, self.top_features, strict=True)
                )
            ],
            "prompt_top": [
                {"feature": f, "max_act": round(a, 4), "n_tokens": n} for f, a, n in self.prompt_top
            ],
            "traces": {str(f): [round(v, 4) for v in vals] for f, vals in self.traces.items()},
        }


@torch.no_grad()
def feature_acts(subject, sae, input_ids, attention_mask=None) -> torch.Tensor:
    """SAE feature activations [b, pos, d_sae] at the SAE's hook, forward stopped there."""
    from core.generate import model_lock

    with model_lock(subject):  # a stop-forward hook must not cut into a running generation
        h = residual_at(subject, sae.hook_name, input_ids, attention_mask)  # [b, pos, d_model]
    return sae.encode(h.to(sae.W_dec.device))


def inspect_prompt(
    subject,
    sae,
    prompt: str,
    top_k: int = 10,
    features: list[int] | None = None,
    chat: bool = True,
) -> InspectResult:
    """Top-k features of every token; `features` adds full traces for those ids."""
    if not 1 <= top_k <= sae.d_sae:
        raise BadInputError(f"top-k must be in 1..{sae.d_sae}, got {top_k}")
    features = list(features or [])
    bad = [f for f in features if not 0 <= f < sae.d_sae]
    if bad:
        raise BadInputError(f"feature id(s) {bad} out of range 0..{sae.d_sae - 1}")
    if chat:
        ids = subject.encode_chat(prompt)
    else:
        from core.model import check_prompt

        check_prompt(prompt)
        ids = subject.tokenizer(prompt, return_tensors="pt")["input_ids"].to(subject.device)
        if ids.shape[1] > subject.max_context:
            raise BadInputError(
                f"the text is {ids.shape[1]} tokens; the limit is {subject.max_context}"
            )
    t0 = time.perf_counter()
    acts = feature_acts(subject, sae, ids)[0].float()  # [pos, d_sae]
    values, indices = acts.topk(top_k, dim=-1)  # [pos, k]
    max_act, _ = acts.max(dim=0)  # [d_sae]
    fired = (acts > 0).sum(dim=0)  # [d_sae]
    order = max_act.argsort(descending=True)[:50]
    traces = {f: acts[:, f].tolist() for f in features}
    seconds = time.perf_counter() - t0
    id_list = ids[0].tolist()
    tokens = [subject.tokenizer.decode([t]) for t in id_list]
    top = [
        [(int(f), float(v)) for v, f in zip(vals.tolist(), idx.tolist(), strict=True) if v > 0]
        for vals, idx in zip(values, indices, strict=True)
    ]
    prompt_top = [
        (int(f), float(max_act[f]), int(fired[f])) for f in order.tolist() if max_act[f] > 0
    ]
    return InspectResult(
        prompt=prompt,
        tokens=tokens,
        token_ids=id_list,
        top_features=top,
        prompt_top=prompt_top,
        traces=traces,
        hook_name=sae.hook_name,
        seconds=seconds,
    )


@dataclass
class AnswerTokens:
    """Per-token features of a prompt followed by an answer, as the model saw them."""

    result: InspectResult
    """Tokens of prompt and answer; traces of the requested features (edited values where
    the answer was steered)."""
    answer_start: int
    """Index of the first answer token in `result.tokens`."""


@torch.no_grad()
def inspect_answer(
    subject, sae, prompt: str, answer: str, top_k: int = 10, features=(), edits=()
) -> AnswerTokens:
    """Top-k features of every prompt and answer token; with `edits`, the edited features show
    the values the steered model got (a' = the edit applied to a), so an ablated feature reads 0.

    The answer is re-tokenised from its text; the activations at the SAE's layer are exact,
    since an edit there changes only what later layers see.
    """
    from core.edits import EditTensors, apply_edits, validate_edits

    features = list(features)
    bad = [f for f in features if not 0 <= f < sae.d_sae]
    if bad:
        raise BadInputError(f"feature id(s) {bad} out of range 0..{sae.d_sae - 1}")
    prompt_ids = subject.encode_chat(prompt)
    answer_ids = subject.tokenizer(answer or "", return_tensors="pt", add_special_tokens=False)[
        "input_ids"
    ].to(prompt_ids.device)
    ids = torch.cat([prompt_ids, answer_ids], dim=1)[:, : subject.max_context]  # [1, pos]
    t0 = time.perf_counter()
    acts = feature_acts(subject, sae, ids)[0].float()  # [pos, d_sae]
    n_prompt = prompt_ids.shape[1]
    if edits:
        validate_edits(list(edits), sae.d_sae)
        packed = EditTensors.pack(list(edits), acts.device, acts.dtype)
        generated = torch.arange(acts.shape[0], device=acts.device) >= n_prompt  # [pos]
        cols = packed.features
        acts[:, cols] = apply_edits(acts[:, cols], packed, generated)
    values, indices = acts.topk(min(top_k, sae.d_sae), dim=-1)
    id_list = ids[0].tolist()
    result = InspectResult(
        prompt=prompt,
        tokens=[subject.tokenizer.decode([t]) for t in id_list],
        token_ids=id_list,
        top_features=[
            [(int(f), float(v)) for v, f in zip(vs.tolist(), fs.tolist(), strict=True) if v > 0]
            for vs, fs in zip(values, indices, strict=True)
        ],
        prompt_top=[],
        traces={f: acts[:, f].tolist() for f in features},
        hook_name=sae.hook_name,
        seconds=time.perf_counter() - t0,
    )
    return AnswerTokens(result, n_prompt)


def trace_differences(base_ids, base_vals, steer_ids, steer_vals, tol: float) -> dict:
    """Where one feature differs between two answers, position by position.

    While the token ids agree (the shared beginning), a position differs when the values
    differ by more than `tol`; from the first different token on, the texts have parted.
    """
    shared = 0
    while shared < min(len(base_ids), len(steer_ids)) and base_ids[shared] == steer_ids[shared]:
        shared += 1
    changed = [i for i in range(shared) if abs(base_vals[i] - steer_vals[i]) > tol]
    same = shared == len(base_ids) == len(steer_ids)
    return {"shared": shared, "changed": changed, "parted_at": None if same else shared}
