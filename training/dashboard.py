"""Feature dashboards: what makes each SAE latent fire, and what it writes to the output.

Over a sample of text, for every latent: the top activating contexts (tokens shaded by the
latent's activation), an activation histogram, the density (fraction of tokens where it fires),
and the output tokens its decoder direction promotes and suppresses (W_dec -> final norm -> W_U).
Written into `<sae>/dashboard/`: `features.safetensors` + `tokens.json` (the compact store the
app's Features tab reads through `load_feature_dashboard`) and `index.html` (open it in a browser).

SAEDashboard / sae-vis expect TransformerLens models and hub loading, so this is our own, small.

    python -m training dashboard --sae assets/sae/embedded --tokens 100000
"""

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from core.atomic import staged_dir
from core.errors import BadInputError, SaeLoadError
from core.splice import residual_at

DASHBOARD_DIR = "dashboard"
STORE_FILE = "features.safetensors"
TOKENS_FILE = "tokens.json"
HTML_FILE = "index.html"
N_TOP = 10  # contexts kept per latent
LEFT, RIGHT = 16, 6  # tokens shown before / after the activating token
N_BINS = 20
N_LOGITS = 10


@dataclass(frozen=True)
class TopContext:
    tokens: list[str]
    activations: list[float]
    """The latent's activation at each token of the window."""
    index: int
    """Position of the max-activating token within `tokens`."""
    value: float


@dataclass(frozen=True)
class FeatureDashboard:
    feature: int
    density: float
    """Fraction of sampled tokens where the latent fires (> 0)."""
    max_activation: float
    histogram_edges: list[float]
    histogram_counts: list[int]
    """Counts of non-zero activations per bin (edges from 0 to max_activation)."""
    top_contexts: list[TopContext]
    promoted: list[tuple[str, float]]
    """Output tokens the decoder direction raises most (logit effect)."""
    suppressed: list[tuple[str, float]]
    n_tokens: int
    """Tokens in the sample the statistics come from."""
    label: str | None = None


# ---------------------------------------------------------------- computing


def token_sequences(tokenizer, texts: list[str], context_size: int, n_tokens: int) -> torch.Tensor:
    """Texts -> [n_seq, context_size] token ids: concatenated with EOS between texts, as in
    training, and cut into full windows until `n_tokens`."""
    sep = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    seqs: list[list[int]] = []
    buffer: list[int] = []
    n_seq = max(1, n_tokens // context_size)
    for text in texts:
        buffer.extend(tokenizer(text, add_special_tokens=False)["input_ids"] + sep)
        while len(buffer) >= context_size and len(seqs) < n_seq:
            seqs.append(buffer[:context_size])
            buffer = buffer[context_size:]
        if len(seqs) >= n_seq:
            break
    if not seqs:
        raise BadInputError(f"the sample text is shorter than one context ({context_size} tokens)")
    return torch.tensor(seqs, dtype=torch.long)


def hook_activations(subject, hook_name: str, tokens: torch.Tensor) -> torch.Tensor:
    """Residual activations [batch, pos, d_model] at `hook_name`; the forward stops there."""
    return residual_at(subject, hook_name, tokens.to(subject.device)).float()


@torch.no_grad()
def sparse_feature_acts(sae, subject, seqs: torch.Tensor, batch_size: int = 16, special_ids=()):
    """All non-zero (token, feature, value) triples over `seqs` (flattened token index)."""
    tok_idx, feat_idx, values = [], [], []
    special = torch.tensor(sorted(special_ids), dtype=torch.long)
    for start in range(0, len(seqs), batch_size):
        batch = seqs[start : start + batch_size]
        acts = sae.encode(hook_activations(subject, sae.hook_name, batch).to(sae.W_dec.device))
        acts = acts.reshape(-1, acts.shape[-1]).float().cpu()  # [batch*pos, d_sae]
        if len(special):
            acts[torch.isin(batch.reshape(-1), special)] = 0  # attention sinks, as in training
        nz = acts.nonzero()
        tok_idx.append(nz[:, 0] + start * seqs.shape[1])
        feat_idx.append(nz[:, 1])
        values.append(acts[nz[:, 0], nz[:, 1]])
        print(
            f"dashboard: {min(start + batch_size, len(seqs))}/{len(seqs)} sequences",
            file=sys.stderr,
        )
    return torch.cat(tok_idx), torch.cat(feat_idx), torch.cat(values)


@torch.no_grad()
def logit_effects(sae, subject, n: int = N_LOGITS, chunk: int = 512):
    """Top promoted / suppressed token ids and values per latent: W_dec, final norm scale, W_U."""
    w_u = subject.model.get_output_embeddings().weight.float()  # [vocab, d_model]
    norm = getattr(getattr(subject.model, "model", None), "norm", None)
    gamma = norm.weight.float() if norm is not None and hasattr(norm, "weight") else None
    out = {k: [] for k in ("pos_ids", "pos_vals", "neg_ids", "neg_vals")}
    w_dec = sae.W_dec.float().to(w_u.device)  # [d_sae, d_model]
    for start in range(0, w_dec.shape[0], chunk):
        d = w_dec[start : start + chunk]
        if gamma is not None:
            d = d * gamma  # RMSNorm's learned scale sits between the residual and W_U
        logits = d @ w_u.T  # [chunk, vocab]
        pos = logits.topk(n, dim=-1)
        neg = (-logits).topk(n, dim=-1)
        out["pos_ids"].append(pos.indices.cpu())
        out["pos_vals"].append(pos.values.cpu())
        out["neg_ids"].append(neg.indices.cpu())
        out["neg_vals"].append(-neg.values.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def build_dashboard(
    sae,
    subject,
    texts: list[str],
    sae_dir: str | Path,
    n_tokens: int = 100_000,
    context_size: int = 128,
    n_top: int = N_TOP,
) -> Path:
    """Compute the dashboard data of `sae` (a core.sae.LoadedSae) and write store + HTML."""
    tok = subject.tokenizer
    seqs = token_sequences(tok, texts, context_size, n_tokens)  # [n_seq, pos]
    n_seq, pos = seqs.shape
    special = set(getattr(tok, "all_special_ids", []) or [])
    t_idx, f_idx, vals = sparse_feature_acts(sae, subject, seqs, special_ids=special)
    d_sae = sae.d_sae
    n_valid = int((~torch.isin(seqs, torch.tensor(sorted(special) or [-1]))).sum())

    counts = torch.bincount(f_idx, minlength=d_sae)
    density = counts.float() / max(n_valid, 1)
    max_act = torch.zeros(d_sae).scatter_reduce(0, f_idx, vals, reduce="amax")
    bins = ((vals / max_act[f_idx].clamp_min(1e-12)) * N_BINS).long().clamp(0, N_BINS - 1)
    hist = torch.bincount(f_idx * N_BINS + bins, minlength=d_sae * N_BINS).reshape(d_sae, N_BINS)

    # Top n_top per latent: sort by value, then stably by latent; rank within each latent's run.
    order = torch.argsort(vals, descending=True, stable=True)
    order = order[torch.argsort(f_idx[order], stable=True)]
    f_sorted = f_idx[order]
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order)) - starts[f_sorted]
    keep = order[rank < n_top]
    top_tok = torch.full((d_sae, n_top), -1, dtype=torch.long)
    top_val = torch.zeros(d_sae, n_top)
    top_tok[f_idx[keep], rank[rank < n_top]] = t_idx[keep]
    top_val[f_idx[keep], rank[rank < n_top]] = vals[keep]

    # The latent's activation over each context window, looked up in the sparse triples.
    width = LEFT + 1 + RIGHT
    seq_of = top_tok.clamp_min(0) // pos
    at = top_tok.clamp_min(0) % pos
    start = (at - LEFT).clamp_min(0)
    start = torch.minimum(start, torch.full_like(start, max(pos - width, 0)))
    key = t_idx * d_sae + f_idx
    sorted_key, key_order = torch.sort(key)
    window_tok = seq_of[..., None] * pos + (start[..., None] + torch.arange(width)).clamp_max(
        pos - 1
    )
    query = window_tok * d_sae + torch.arange(d_sae)[:, None, None]
    found = torch.searchsorted(sorted_key, query.reshape(-1)).clamp_max(len(sorted_key) - 1)
    hit = sorted_key[found] == query.reshape(-1)
    window_vals = torch.where(hit, vals[key_order[found]], torch.zeros(())).reshape(
        d_sae, n_top, width
    )
    window_vals[top_tok < 0] = 0

    effects = logit_effects(sae, subject)
    used = set(seqs.unique().tolist()) | set(effects["pos_ids"].unique().tolist())
    used |= set(effects["neg_ids"].unique().tolist())
    tokens = {int(i): tok.decode([int(i)]) for i in sorted(used)}

    # Written beside the final folder, then renamed in: the app never reads half a dashboard.
    final = Path(sae_dir) / DASHBOARD_DIR
    from safetensors.torch import save_file

    with staged_dir(final) as stage:
        save_file(
            {
                "seqs": seqs.to(torch.int32),
                "density": density,
                "max_activation": max_act,
                "hist_counts": hist.to(torch.int32),
                "top_token": top_tok.to(torch.int32),
                "top_value": top_val,
                "window_start": start.to(torch.int32),
                "window_values": window_vals.to(torch.float16),
                **{k: (v.to(torch.int32) if "ids" in k else v) for k, v in effects.items()},
            },
            str(stage / STORE_FILE),
            metadata={
                "n_tokens": str(n_valid),
                "context_size": str(pos),
                "hook_name": sae.hook_name,
            },
        )
        (stage / TOKENS_FILE).write_text(json.dumps(tokens))
        from training.dashboard_html import write_html

        write_html(Path(sae_dir), stage, stage / HTML_FILE)
    _load_store.cache_clear()
    return final


# ---------------------------------------------------------------- reading


@lru_cache(maxsize=4)
def _load_store(folder: str, _mtime: float):
    from safetensors.torch import load_file

    path = Path(folder)
    tensors = load_file(str(path / STORE_FILE))
    from safetensors import safe_open

    with safe_open(str(path / STORE_FILE), "pt") as f:
        meta = f.metadata() or {}
    tokens = {int(k): v for k, v in json.loads((path / TOKENS_FILE).read_text()).items()}
    return tensors, meta, tokens


def load_store(sae_dir: str | Path):
    folder = Path(sae_dir) / DASHBOARD_DIR
    if not (folder / STORE_FILE).exists():
        raise SaeLoadError(
            f"{sae_dir} has no feature dashboard; build it with "
            f"`python -m training dashboard --sae {sae_dir}`"
        )
    return _load_store(str(folder), (folder / STORE_FILE).stat().st_mtime)


def load_feature_dashboard(sae_dir: str | Path, feature_id: int) -> FeatureDashboard:
    """One latent's dashboard, read from the compact store (no model needed)."""
    t, meta, tokens = load_store(sae_dir)
    d_sae = t["density"].shape[0]
    if not isinstance(feature_id, int) or not 0 <= feature_id < d_sae:
        raise BadInputError(f"feature id must be an integer in 0..{d_sae - 1}, got {feature_id!r}")
    f = feature_id
    seqs, pos = t["seqs"], t["seqs"].shape[1]
    width = t["window_values"].shape[-1]
    contexts = []
    for r in range(t["top_token"].shape[1]):
        flat = int(t["top_token"][f, r])
        if flat < 0:
            break
        s, p, start = flat // pos, flat % pos, int(t["window_start"][f, r])
        ids = seqs[s, start : start + width].tolist()
        contexts.append(
            TopContext(
                tokens=[tokens.get(i, f"<{i}>") for i in ids],
                activations=[float(v) for v in t["window_values"][f, r, : len(ids)]],
                index=p - start,
                value=float(t["top_value"][f, r]),
            )
        )
    max_act = float(t["max_activation"][f])
    card_labels = _labels(sae_dir)
    return FeatureDashboard(
        feature=f,
        density=float(t["density"][f]),
        max_activation=max_act,
        histogram_edges=[max_act * i / N_BINS for i in range(N_BINS + 1)],
        histogram_counts=[int(c) for c in t["hist_counts"][f]],
        top_contexts=contexts,
        promoted=[
            (tokens.get(int(i), str(int(i))), float(v))
            for i, v in zip(t["pos_ids"][f], t["pos_vals"][f], strict=True)
        ],
        suppressed=[
            (tokens.get(int(i), str(int(i))), float(v))
            for i, v in zip(t["neg_ids"][f], t["neg_vals"][f], strict=True)
        ],
        n_tokens=int(meta.get("n_tokens", 0)),
        label=card_labels.get(f),
    )


def _labels(sae_dir) -> dict[int, str]:
    card = Path(sae_dir) / "card.json"
    if not card.exists():
        return {}
    try:
        return {int(k): v for k, v in json.loads(card.read_text()).get("labels", {}).items()}
    except (json.JSONDecodeError, ValueError, AttributeError):
        return {}
