"""A stand-in TopK SAE trained on the organism's own activations, for when no SAELens SAE is at hand.

The shipped SAE (training/, SAELens) is the real artifact. This exists because the study runs on a
GPU machine without sae-lens, and the shipped SAE for the embedded model was still training when
the study had to run. Plain TopK (Gao et al. 2024): decoder rows kept at unit norm, b_dec
initialised at the data mean, MSE loss, no auxiliary loss. It is saved in SAELens's format, so
`core.sae.load_sae` reads it and the study's commands run unchanged with the real SAE.

    sae_folder = train_standin(organism, "model.layers.15", texts, "/tmp/sae")
"""

import json
import time
from pathlib import Path

import torch

from core.splice import residual_at


@torch.no_grad()
def collect(subject, hook_name: str, texts: list[str], max_len: int = 128, batch_size: int = 64):
    """Residual activations [n_tokens, d_model] of every real token of `texts` (BOS dropped)."""
    tok = subject.tokenizer
    out = []
    for start in range(0, len(texts), batch_size):
        enc = tok(
            texts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=max_len,
            add_special_tokens=False,
        )
        ids = enc["input_ids"].to(subject.device)
        mask = enc["attention_mask"].to(subject.device)
        h = residual_at(subject, hook_name, ids, mask)  # [b, pos, d]
        keep = mask.bool().clone()
        keep[:, 0] = False  # the first position's norm is an outlier in most LMs
        out.append(h[keep].float())
    return torch.cat(out)


def train_standin(
    subject,
    hook_name: str,
    texts: list[str],
    folder,
    d_sae: int = 2304,
    k: int = 32,
    steps: int = 4000,
    batch: int = 4096,
    lr: float = 4e-4,
    seed: int = 0,
) -> tuple[Path, dict]:
    from safetensors.torch import save_file

    t0 = time.time()
    acts = collect(subject, hook_name, texts)
    n, d = acts.shape
    gen = torch.Generator(device="cpu").manual_seed(seed)
    perm = torch.randperm(n, generator=gen).to(acts.device)
    acts = acts[perm]
    n_eval = min(20_000, n // 10)
    evalset, acts = acts[:n_eval], acts[n_eval:]
    dev = acts.device
    w_dec = torch.randn(d_sae, d, generator=gen).to(dev)
    w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True)
    params = {
        "W_dec": torch.nn.Parameter(w_dec.clone()),
        "W_enc": torch.nn.Parameter(w_dec.T.clone()),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae, device=dev)),
        "b_dec": torch.nn.Parameter(acts.mean(0).clone()),
    }
    opt = torch.optim.Adam(params.values(), lr=lr, betas=(0.9, 0.999))

    def forward(x):
        pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]
        v, i = pre.topk(k, dim=-1)
        z = torch.zeros_like(pre).scatter(-1, i, v.relu())
        return z, z @ params["W_dec"] + params["b_dec"]

    fired = torch.zeros(d_sae, device=dev)
    for step in range(steps):
        idx = torch.randint(0, acts.shape[0], (batch,), device=dev)
        x = acts[idx]
        z, recon = forward(x)
        loss = ((recon - x) ** 2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params["W_dec"].data /= params["W_dec"].data.norm(dim=-1, keepdim=True)
            if step >= steps - 500:
                fired += (z > 0).sum(0)
    with torch.no_grad():
        _, recon = forward(evalset)
        ev = 1 - ((evalset - recon) ** 2).sum() / ((evalset - evalset.mean(0)) ** 2).sum()
    metrics = {
        "explained_variance_heldout": float(ev),
        "tokens": n,
        "steps": steps,
        "dead_fraction_last500": float((fired == 0).float().mean()),
        "seconds": round(time.time() - t0, 1),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {kk: v.detach().float().cpu().contiguous() for kk, v in params.items()},
        str(folder / "sae_weights.safetensors"),
    )
    cfg = {
        "d_in": d,
        "d_sae": d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "k": k,
        "rescale_acts_by_decoder_norm": False,
        "architecture": "topk",
        "metadata": {"hook_name": hook_name},
    }
    (folder / "cfg.json").write_text(json.dumps(cfg))
    from core.sae import subject_fingerprint

    card = {
        "hook_name": hook_name,
        "stand_in": True,
        "subject": {
            "source": "embedded + assets/organism/adapter",
            "fingerprint": subject_fingerprint(subject),
        },
        "training": {
            "kind": "organism.standin_sae (plain TopK, not SAELens)",
            "d_sae": d_sae,
            "k": k,
            "lr": lr,
            "batch": batch,
        },
        "metrics": metrics,
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    return folder, metrics
