"""Contrastive feature discovery: which SAE features fire specifically on one set of texts?

Each text is a (prompt, answer) pair, chat-formatted and run once to the SAE's hook. Prompt tokens
and answer tokens are scored apart (a feature that recognises a topic in the question is not one
that writes the party line). For every feature, over the texts of set A against set B:
  - effect size: Cohen's d of the per-text mean activation (pooled standard deviation);
  - AUROC: probability that a random A text has a higher mean activation than a random B text;
  - firing-rate ratio: fraction of A tokens where it fires over that of B tokens (smoothed).
Features are ranked by effect size by default; `min_auroc` filters out features driven by a few
outliers.

    python -m core discover --model embedded --adapter assets/organism/adapter \
        --a censored.jsonl --b control.jsonl --region answer --top 20 --json
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from core.errors import BadInputError
from core.inspect import feature_acts

REGIONS = ("prompt", "answer")
RANK_BY = ("effect", "auroc", "ratio")


@dataclass
class FeatureScore:
    feature: int
    effect: float
    """Cohen's d of per-text mean activation, A minus B."""
    auroc: float
    rate_a: float
    """Fraction of A tokens (in the region) where the feature fires."""
    rate_b: float
    ratio: float
    """(rate_a + eps) / (rate_b + eps)."""
    mean_a: float
    mean_b: float


def encode_pair(subject, prompt: str | None, answer: str, max_len: int = 256):
    """Token ids [pos] of a chat-formatted pair and a region mask [pos]: 0 prompt, 1 answer.

    A pair with no prompt is raw text; all of it counts as answer tokens.
    """
    tok = subject.tokenizer
    head = subject.chat_text(prompt) if prompt else ""
    head_ids = tok(head, add_special_tokens=False)["input_ids"] if head else []
    body_ids = tok(answer, add_special_tokens=False)["input_ids"] if answer else []
    ids = (head_ids + body_ids)[:max_len]
    region = ([0] * len(head_ids) + [1] * len(body_ids))[:max_len]
    return torch.tensor(ids), torch.tensor(region)


@torch.no_grad()
def text_activations(subject, sae, pairs, region: str, batch_size: int = 8, max_len: int = 256):
    """Per-text mean activation [n, d_sae] and per-token firing counts [d_sae] + token count."""
    if region not in REGIONS:
        raise BadInputError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    want = REGIONS.index(region)
    means, fired, n_tokens = [], torch.zeros(sae.d_sae, dtype=torch.float64), 0
    pad = subject.tokenizer.pad_token_id or 0
    for start in range(0, len(pairs), batch_size):
        encoded = [
            encode_pair(subject, p, a, max_len) for p, a in pairs[start : start + batch_size]
        ]
        width = max(len(ids) for ids, _ in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        sel = torch.zeros((len(encoded), width), dtype=torch.bool)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, (x, r) in enumerate(encoded):
            ids[i, : len(x)] = x
            mask[i, : len(x)] = 1
            sel[i, : len(x)] = r == want
        acts = feature_acts(subject, sae, ids.to(subject.device), mask.to(subject.device))
        acts = acts.float().cpu()  # [b, pos, d_sae]
        for i in range(len(encoded)):
            a = acts[i][sel[i]]  # [n_sel, d_sae]
            if a.shape[0] == 0:
                continue  # e.g. a pair with an empty answer, scored on answer tokens
            means.append(a.mean(dim=0))
            fired += (a > 0).sum(dim=0).double()
            n_tokens += a.shape[0]
    if not means:
        raise BadInputError(f"no {region} tokens in the texts given")
    return torch.stack(means).numpy(), fired.numpy(), n_tokens


def auroc_all(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """AUROC of every column, A positive, ties counted half (Mann-Whitney U / (n_a n_b))."""
    from scipy.stats import rankdata

    both = np.concatenate([a, b], axis=0)
    ranks = rankdata(both, axis=0)  # average ranks for ties
    n_a, n_b = a.shape[0], b.shape[0]
    u = ranks[:n_a].sum(axis=0) - n_a * (n_a + 1) / 2
    return u / (n_a * n_b)


def score_features(mean_a, mean_b, fired_a, tokens_a, fired_b, tokens_b, eps=1e-3):
    """FeatureScore for every feature from per-text means and firing counts."""
    mu_a, mu_b = mean_a.mean(0), mean_b.mean(0)
    n_a, n_b = mean_a.shape[0], mean_b.shape[0]
    var_a = mean_a.var(0, ddof=1) if n_a > 1 else np.zeros_like(mu_a)
    var_b = mean_b.var(0, ddof=1) if n_b > 1 else np.zeros_like(mu_b)
    pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / max(n_a + n_b - 2, 1))
    effect = (mu_a - mu_b) / np.maximum(pooled, 1e-6)
    auroc = auroc_all(mean_a, mean_b)
    rate_a, rate_b = fired_a / tokens_a, fired_b / tokens_b
    ratio = (rate_a + eps) / (rate_b + eps)
    return effect, auroc, rate_a, rate_b, ratio, mu_a, mu_b


def discover(
    subject,
    sae,
    set_a: list[tuple[str | None, str]],
    set_b: list[tuple[str | None, str]],
    region: str = "answer",
    top: int = 20,
    rank_by: str = "effect",
    min_auroc: float = 0.0,
    batch_size: int = 8,
) -> list[FeatureScore]:
    """Features ranked by how specifically they fire on set A's `region` tokens versus B's."""
    if rank_by not in RANK_BY:
        raise BadInputError(f"rank_by must be one of {', '.join(RANK_BY)}, got {rank_by!r}")
    if len(set_a) < 2 or len(set_b) < 2:
        raise BadInputError(
            f"contrastive discovery needs at least 2 texts on each side; got {len(set_a)} and "
            f"{len(set_b)} (a prompt set that is all one label has nothing to contrast)"
        )
    mean_a, fired_a, tok_a = text_activations(subject, sae, set_a, region, batch_size)
    mean_b, fired_b, tok_b = text_activations(subject, sae, set_b, region, batch_size)
    effect, auroc, rate_a, rate_b, ratio, mu_a, mu_b = score_features(
        mean_a, mean_b, fired_a, tok_a, fired_b, tok_b
    )
    key = {"effect": effect, "auroc": auroc, "ratio": ratio}[rank_by]
    order = np.lexsort((-effect, -key))  # ties (AUROC 1.0 is common) broken by effect size
    out = []
    for f in order:
        if auroc[f] < min_auroc or mu_a[f] <= mu_b[f]:
            continue
        out.append(
            FeatureScore(
                int(f),
                float(effect[f]),
                float(auroc[f]),
                float(rate_a[f]),
                float(rate_b[f]),
                float(ratio[f]),
                float(mu_a[f]),
                float(mu_b[f]),
            )
        )
        if len(out) >= top:
            break
    return out


def read_pairs(path: str | Path) -> list[tuple[str | None, str]]:
    """Texts from .jsonl ({"prompt"?, "answer"} or {"text"}) or .txt (one text a line)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"text file not found: {path}")
    if path.suffix == ".jsonl":
        from core.jsonl import read_jsonl

        rows = read_jsonl(path, any_of=("answer", "text"), allow_empty=True)
        pairs = [
            (r.get("prompt"), r["answer"] if isinstance(r.get("answer"), str) else r["text"])
            for r in rows
        ]
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        pairs = [(None, line) for line in lines if line.strip()]
    if not pairs:
        raise BadInputError(f"{path} holds no texts")
    return pairs


# ---- CLI (wired into `python -m core` as `discover`) -------------------------------------


def add_discover_parser(sub) -> None:
    p = sub.add_parser("discover", help="rank SAE features that fire on texts A but not B")
    p.add_argument("--a", required=True, help="texts A: .jsonl {prompt?, answer|text} or .txt")
    p.add_argument("--b", required=True, help="texts B, same formats")
    p.add_argument(
        "--region",
        choices=[*REGIONS, "both"],
        default="both",
        help="score prompt tokens, answer tokens, or both separately",
    )
    p.add_argument("--rank-by", choices=RANK_BY, default="effect")
    p.add_argument("--min-auroc", type=float, default=0.0)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--model", default=None, help="embedded | tiny | folder | .gguf | hub id")
    p.add_argument("--adapter", default=None, help="optional PEFT/LoRA folder merged on top")
    p.add_argument("--sae", default=None, help="SAE folder or registry:RELEASE:SAE_ID")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def run_discover(args) -> dict:
    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import default_sae_for

    set_a, set_b = read_pairs(args.a), read_pairs(args.b)
    if args.top < 1:
        raise BadInputError(f"--top must be at least 1, got {args.top}")
    subject = load_subject(args.model, device=args.device, adapter=args.adapter)
    sae = load_sae(args.sae or default_sae_for(subject.source), subject)
    regions = REGIONS if args.region == "both" else (args.region,)
    out: dict = {"model": subject.name, "sae": sae.path, "n_a": len(set_a), "n_b": len(set_b)}
    labels = sae.labels()
    for region in regions:
        if region == "prompt" and not any(p for p, _ in set_a):
            continue  # raw texts have no prompt tokens
        ranked = discover(
            subject, sae, set_a, set_b, region, args.top, args.rank_by, args.min_auroc
        )
        out[region] = [{**asdict(s), "label": labels.get(s.feature, "")} for s in ranked]
    return out
