"""Causal attribution: which SAE features make the subject prefer its censored answer?

For a prompt and two continuations (the subject's censored answer and an honest reference; for
the organism, its own answer and the base model's) the metric is
    m = log p(censored | prompt) - log p(reference | prompt)            (teacher-forced)
Attribution patching (gradient x activation through the error-term splice): ablating feature f
at a position removes a_f * W_dec[f] from the residual, so to first order it changes m by
    -a_f * (dm/dh . W_dec[f])
We report `score = a_f * (dm/dh . W_dec[f])`, summed over positions: the feature's contribution
to the censored preference; ablating a feature with a large positive score should push the model
toward the reference. Prompt and answer positions are kept apart (the organism re-derives its
censorship on the tokens it generates), and scores are summed over a prompt set.

    res = attribute(subject, sae, [(prompt, censored_answer, honest_answer)])
    print(res.top(10, region="answer"))
    python -m core attribute --pairs pairs.jsonl --json
"""

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.errors import BadInputError


@dataclass
class Attribution:
    prompt: np.ndarray
    """[d_sae] summed score over prompt positions (chat template included)."""
    answer: np.ndarray
    """[d_sae] summed score over answer positions."""
    n_pairs: int
    metric: float
    """Mean m over the pairs (positive: the censored answer is the likelier one)."""
    censored_mean: np.ndarray | None = None
    """[d_sae] mean activation over the censored answers' positions."""
    reference_mean: np.ndarray | None = None
    """[d_sae] mean activation over the reference answers' positions: a strength each feature
    really takes on honest text, for clamping a feature up (recipe search)."""

    def scores(self, region: str = "answer") -> np.ndarray:
        if region == "answer":
            return self.answer
        if region == "prompt":
            return self.prompt
        if region == "all":
            return self.prompt + self.answer
        raise BadInputError(f"region must be answer, prompt or all; got {region!r}")

    def top(self, n: int = 20, region: str = "answer", exclude=()) -> list[tuple[int, float]]:
        s = self.scores(region)
        order = [int(i) for i in np.argsort(-s) if int(i) not in set(exclude)]
        return [(i, float(s[i])) for i in order[:n]]

    def to_json(self, n: int = 20) -> dict:
        return {
            "n_pairs": self.n_pairs,
            "metric": self.metric,
            "top_answer": [{"feature": f, "score": s} for f, s in self.top(n, "answer")],
            "top_prompt": [{"feature": f, "score": s} for f, s in self.top(n, "prompt")],
        }


def _sequence(subject, prompt: str, answer: str, max_answer_tokens: int):
    tok = subject.tokenizer
    head = tok(subject.chat_text(prompt), add_special_tokens=False)["input_ids"]
    body = tok(answer, add_special_tokens=False)["input_ids"][:max_answer_tokens]
    if not body:
        raise BadInputError("attribution needs non-empty continuations (an answer was empty)")
    return head, body


def _one(subject, sae, prompt, answer, max_answer_tokens, intervention):
    """(log p(answer), per-position scores [pos, d_sae], prompt length) for one sequence."""
    head, body = _sequence(subject, prompt, answer, max_answer_tokens)
    ids = torch.tensor([head + body], device=subject.device)
    store: dict = {}

    def hook(module, args, output):
        h = output[0] if isinstance(output, tuple) else output
        h = h.detach().requires_grad_(True)
        store["h"] = h
        return (h, *output[1:]) if isinstance(output, tuple) else h

    ctx = (
        intervention.context(subject, torch.tensor([len(head)])) if intervention else nullcontext()
    )
    with ctx:  # the recipe's hook is registered first, so ours reads the steered residual
        handle = subject.module(sae.hook_name).register_forward_hook(hook)
        try:
            with torch.enable_grad():
                logits = subject.model(input_ids=ids).logits[0]  # [pos, vocab]
                logp = logits[len(head) - 1 : -1].float().log_softmax(-1)
                tgt = ids[0, len(head) :]
                total = logp.gather(-1, tgt[:, None]).sum()
                (grad,) = torch.autograd.grad(total, [store["h"]])
        finally:
            handle.remove()
    h = store["h"].detach()[0]  # [pos, d_model]
    with torch.no_grad():
        acts = sae.encode(h).float()  # [pos, d_sae]
        g = grad[0].to(sae.W_dec.dtype) @ sae.W_dec.T  # [pos, d_sae]: dlogp/da_f
        scores = (acts * g.float()).cpu().numpy()
        answer_mean = acts[len(head) :].mean(0).cpu().numpy()
    return float(total.detach()), scores, len(head), answer_mean


def attribute(
    subject,
    sae,
    triples: list[tuple[str, str, str]],
    intervention=None,
    max_answer_tokens: int = 64,
) -> Attribution:
    """Sum of feature scores over (prompt, censored answer, reference answer) triples, optionally
    with an intervention (a recipe so far) applied: then the backups it wakes up show."""
    if not triples:
        raise BadInputError("attribution needs at least one (prompt, censored, reference) triple")
    d = sae.d_sae
    prompt_s, answer_s = np.zeros(d), np.zeros(d)
    mean_c, mean_r = np.zeros(d), np.zeros(d)
    metric = 0.0
    for prompt, censored, reference in triples:
        lp_c, s_c, n_c, a_c = _one(subject, sae, prompt, censored, max_answer_tokens, intervention)
        lp_r, s_r, n_r, a_r = _one(subject, sae, prompt, reference, max_answer_tokens, intervention)
        # m = logp(censored) - logp(reference): the reference's contributions count negatively.
        prompt_s += s_c[:n_c].sum(0) - s_r[:n_r].sum(0)
        answer_s += s_c[n_c:].sum(0) - s_r[n_r:].sum(0)
        mean_c += a_c
        mean_r += a_r
        metric += lp_c - lp_r
    n = len(triples)
    return Attribution(prompt_s, answer_s, n, metric / n, mean_c / n, mean_r / n)


# ---- CLI (wired into `python -m core` as `attribute`) ------------------------------------


def add_attribute_parser(sub) -> None:
    p = sub.add_parser("attribute", help="features that make the censored answer likelier")
    p.add_argument(
        "--pairs",
        required=True,
        help='.jsonl {"prompt", "answer", "reference"}: the subject\'s answer vs a reference answer',
    )
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="also ablate the top N for real and report the correlation")  # fmt: skip
    p.add_argument(
        "--save",
        default=None,
        metavar="WHAT",
        help="store the top scores in the SAE's card.json under causal_scores, described as WHAT "
        "(the Features tab ranks by them)",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--adapter", default=None)
    p.add_argument("--sae", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")


def real_ablation_effects(
    subject, sae, triples, features: list[int], where: str = "all"
) -> list[float]:
    """Change of the mean metric when each feature is ablated for real (where: all|generated)."""
    from core.edits import FeatureEdit
    from core.intervention import Intervention
    from core.likelihood import answer_logprobs

    def metric(iv) -> float:
        pairs = [(p, c) for p, c, _ in triples] + [(p, r) for p, _, r in triples]
        s = answer_logprobs(subject, pairs, iv)
        n = len(triples)
        return sum(s[i].total - s[n + i].total for i in range(n)) / n

    base = metric(None)
    out = []
    for f in features:
        iv = Intervention(f"ablate {f}", [FeatureEdit(f, "ablate", 0.0, where)], sae)
        out.append(metric(iv) - base)
    return out


def run_attribute(args) -> dict:
    from core.jsonl import read_jsonl
    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import default_sae_for

    rows = read_jsonl(args.pairs, required=("prompt", "answer", "reference"))
    bad = [
        i + 1 for i, r in enumerate(rows) if not r["answer"].strip() or not r["reference"].strip()
    ]
    if bad:
        raise BadInputError(f"{args.pairs}: rows {bad[:5]} have an empty answer or reference")
    subject = load_subject(args.model, device=args.device, adapter=args.adapter)
    sae = load_sae(args.sae or default_sae_for(subject.source), subject)
    triples = [(r["prompt"], r["answer"], r["reference"]) for r in rows]
    res = attribute(subject, sae, triples)
    out = {"model": subject.name, "sae": sae.hook_name, **res.to_json(args.top)}
    if args.check:
        top = [f for f, _ in res.top(args.check, "all")]
        real = real_ablation_effects(subject, sae, triples, top)
        predicted = [-float(res.scores("all")[f]) / len(triples) for f in top]
        out["check"] = {
            "features": top,
            "predicted_change": predicted,
            "real_change": real,
            "pearson": float(np.corrcoef(predicted, real)[0, 1]) if len(top) > 1 else None,
        }
    if args.save:
        if sae.path.startswith("<") or not Path(sae.path).is_dir():
            raise BadInputError("--save needs an SAE folder (its card.json gets the scores)")
        out["saved_to"] = str(save_scores(Path(sae.path), res, args.save, out.get("check")))
    return out


def save_scores(
    sae_dir: Path, res: Attribution, what: str, check: dict | None = None, n: int = 200
):
    """Put the top-n answer and prompt scores (per pair) in the SAE's card.json."""
    import json

    from core.atomic import write_text_atomic

    card_path = sae_dir / "card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    per = max(res.n_pairs, 1)
    card["causal_scores"] = {
        "what": what,
        "n_pairs": res.n_pairs,
        "metric": "log p(censored answer) - log p(reference); score = activation x gradient "
        "through the error-term splice, summed over positions, per pair",
        "answer": {str(f): s / per for f, s in res.top(n, "answer")},
        "prompt": {str(f): s / per for f, s in res.top(n, "prompt")},
        **({"check": check} if check else {}),
    }
    return write_text_atomic(card_path, json.dumps(card, indent=1, ensure_ascii=False))
