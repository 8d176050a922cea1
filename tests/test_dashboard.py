"""Feature dashboards: the stored top contexts are the true highest activations; HTML opens."""

import pytest
import torch

from core.errors import BadInputError, SaeLoadError
from core.sae import make_sae
from training.dashboard import (
    build_dashboard,
    hook_activations,
    load_feature_dashboard,
    load_store,
    token_sequences,
)

TEXTS = [
    f"Tiananmen {i} square students tanks {i * 7} freedom press Xinjiang Taiwan." * 3
    for i in range(40)
]


class _Sae:
    """A random TopK SAE wrapped like core.sae.LoadedSae (encode, hook_name, d_sae, W_dec)."""

    def __init__(self, d_in, d_sae=32, k=4):
        self.sae = make_sae(d_in, d_sae, k, "model.layers.1", seed=1)
        self.hook_name, self.d_sae, self.W_dec = "model.layers.1", d_sae, self.sae.W_dec

    def encode(self, h):
        return self.sae.encode(h)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from core.model import load_subject

    subject = load_subject("tiny")
    sae = _Sae(subject.d_model)
    folder = tmp_path_factory.mktemp("sae")
    build_dashboard(sae, subject, TEXTS, folder, n_tokens=640, context_size=32)
    return subject, sae, folder


def test_top_contexts_are_the_highest_activations(built):
    subject, sae, folder = built
    seqs = token_sequences(subject.tokenizer, TEXTS, 32, 640)
    with torch.no_grad():
        acts = sae.encode(hook_activations(subject, sae.hook_name, seqs))  # [n_seq, pos, d_sae]
    acts = acts.reshape(-1, sae.d_sae)
    special = torch.tensor(sorted(subject.tokenizer.all_special_ids))
    acts[torch.isin(seqs.reshape(-1), special)] = 0
    flat_tokens = seqs.reshape(-1)
    checked = 0
    for f in range(sae.d_sae):
        dash = load_feature_dashboard(folder, f)
        n_fired = int((acts[:, f] > 0).sum())
        assert dash.density == pytest.approx(
            n_fired / int((~torch.isin(flat_tokens, special)).sum())
        )
        if n_fired == 0:
            assert dash.top_contexts == []
            continue
        direct = acts[:, f].topk(min(10, n_fired)).values
        stored = torch.tensor([c.value for c in dash.top_contexts])
        assert torch.allclose(stored, direct, atol=1e-5), f"feature {f}"
        best = dash.top_contexts[0]
        # the highlighted token carries the max activation, and the window shows it
        assert best.activations[best.index] == pytest.approx(best.value, rel=1e-2)
        assert max(best.activations) == pytest.approx(best.value, rel=1e-2)
        assert dash.max_activation == pytest.approx(float(direct[0]), rel=1e-5)
        assert sum(dash.histogram_counts) == n_fired
        checked += 1
    assert checked > 5


def test_logit_effects_follow_the_decoder_through_the_unembedding(built):
    subject, sae, folder = built
    t, _, tokens = load_store(folder)
    w_u = subject.model.get_output_embeddings().weight
    gamma = subject.model.model.norm.weight
    logits = (sae.W_dec[3] * gamma) @ w_u.T
    assert int(t["pos_ids"][3, 0]) == int(logits.argmax())
    assert int(t["neg_ids"][3, 0]) == int(logits.argmin())
    dash = load_feature_dashboard(folder, 3)
    assert dash.promoted[0][0] == tokens[int(logits.argmax())]


def test_html_dashboard_is_a_standalone_page(built):
    _, _, folder = built
    html = (folder / "dashboard" / "index.html").read_text()
    assert html.startswith("<!doctype html>") and "const D=" in html and "</html>" in html


def test_bad_feature_ids_and_missing_dashboards_are_clear(built, tmp_path):
    _, sae, folder = built
    with pytest.raises(BadInputError, match="0..31"):
        load_feature_dashboard(folder, sae.d_sae)
    with pytest.raises(BadInputError):
        load_feature_dashboard(folder, -1)
    with pytest.raises(SaeLoadError, match="python -m training dashboard"):
        load_feature_dashboard(tmp_path, 0)
