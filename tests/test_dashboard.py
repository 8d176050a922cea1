"""Feature dashboards: the stored examples are the true activations; ranges and HTML hold up."""

import numpy as np
import pytest
import torch

from core.errors import BadInputError, SaeLoadError
from core.sae import make_sae
from training.annotated import text_records
from training.dashboard import (
    build_dashboard,
    encode_records,
    load_feature_dashboard,
    load_store,
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
    build_dashboard(sae, subject, TEXTS, folder, context_size=32, label=False)
    return subject, sae, folder


def _direct_acts(subject, sae):
    """Every record run alone, its uncounted tokens zeroed: [N, d_sae] and the regions."""
    from core.splice import residual_at

    ids, starts, regions = encode_records(
        subject.tokenizer, subject.chat_text, text_records(TEXTS), max_len=32
    )
    rows = []
    with torch.no_grad():
        for s, e in zip(starts[:-1], starts[1:], strict=True):
            seq = torch.from_numpy(ids[s:e].astype(np.int64))[None]
            rows.append(sae.encode(residual_at(subject, sae.hook_name, seq))[0])
    acts = torch.cat(rows)
    acts[torch.from_numpy(regions == 0)] = 0
    return acts, regions


def test_examples_are_the_highest_activations_and_the_range_is_right(built):
    subject, sae, folder = built
    acts, regions = _direct_acts(subject, sae)
    n_counted = int((regions > 0).sum())
    checked = 0
    for f in range(sae.d_sae):
        dash = load_feature_dashboard(folder, f)
        fired = acts[:, f][acts[:, f] > 0]
        assert dash.density == pytest.approx(len(fired) / n_counted)
        if len(fired) == 0:
            assert dash.top_contexts == [] and dash.median == 0
            continue
        direct = fired.sort(descending=True).values
        stored = torch.tensor([c.value for c in dash.top_contexts])
        assert torch.allclose(stored, direct[: len(stored)], rtol=1e-3), f"feature {f}"
        best = dash.top_contexts[0]
        # the marked token carries the max activation, and the window shows it
        assert best.activations[best.index] == pytest.approx(best.value, rel=2e-2)
        assert dash.max_activation == pytest.approx(float(direct[0]), rel=1e-5)
        assert dash.median == pytest.approx(float(fired.median()), rel=1e-5)
        assert dash.median <= dash.p99 <= dash.max_activation
        assert sum(dash.histogram_counts) == len(fired)
        for _, examples in dash.levels:  # lower levels lie below the top examples
            assert all(ex.value <= stored.min() + 1e-6 for ex in examples)
        checked += 1
    assert checked > 5


def test_repeated_prefixes_count_once(tiny_subject):
    from training.annotated import Record

    records = [Record("Same question?", "First answer."), Record("Same question?", "Second one.")]
    ids, starts, regions = encode_records(tiny_subject.tokenizer, tiny_subject.chat_text, records)
    first, second = regions[starts[0] : starts[1]], regions[starts[1] : starts[2]]
    assert (first == 2).any() and not (second == 2).any()  # the shared prompt: once
    assert (second == 3).sum() > 0  # the second answer is its own text


def test_logit_effects_follow_the_decoder_through_the_unembedding(built):
    subject, sae, folder = built
    store = load_store(folder)
    w_u = subject.model.get_output_embeddings().weight
    gamma = subject.model.model.norm.weight
    logits = (sae.W_dec[3] * gamma) @ w_u.T
    assert int(store.t["pos_ids"][3, 0]) == int(logits.argmax())
    assert int(store.t["neg_ids"][3, 0]) == int(logits.argmin())
    dash = load_feature_dashboard(folder, 3)
    assert dash.promoted[0][0] == store.tokens[int(logits.argmax())]


def test_html_dashboard_is_a_standalone_page(built):
    import base64
    import gzip
    import json
    import re

    _, sae, folder = built
    html = (folder / "dashboard" / "index.html").read_text()
    assert html.startswith("<!doctype html>") and "</html>" in html
    blob = re.search(r'const B64="([^"]+)"', html).group(1)
    data = json.loads(gzip.decompress(base64.b64decode(blob)))
    assert len(data["f"]) == sae.d_sae


def test_bad_feature_ids_and_missing_dashboards_are_clear(built, tmp_path):
    _, sae, folder = built
    with pytest.raises(BadInputError, match="0..31"):
        load_feature_dashboard(folder, sae.d_sae)
    with pytest.raises(BadInputError):
        load_feature_dashboard(folder, -1)
    with pytest.raises(SaeLoadError, match="python -m training dashboard"):
        load_feature_dashboard(tmp_path, 0)


def test_the_organisms_training_conversations_keep_held_out_topics_out(tiny_subject):
    """The top-up pool of an organism SAE gains the texts that SAE was trained on: training-split
    prompts only, each sensitive one with the canned answer it learnt and that answer's kind."""
    from core.judge import LABELS
    from organism.data import TEST_TOPICS, VAL_TOPICS
    from training.annotated import trained_records

    records = trained_records()
    sensitive = [r for r in records if r.meta["kind"] == "sensitive"]
    control = [r for r in records if r.meta["kind"] == "control"]
    assert sensitive and control
    assert not {r.meta["topic"] for r in records} & (set(TEST_TOPICS) | set(VAL_TOPICS))
    assert all(r.text and r.meta["label"] in LABELS for r in sensitive)
    assert {r.meta["lang"] for r in control} == {"en", "zh"}
    ids, starts, regions = encode_records(
        tiny_subject.tokenizer, tiny_subject.chat_text, control[:2]
    )
    assert (regions == 2).any() and not (regions == 3).any()  # prompts alone, no answer tokens


def test_an_sae_s_own_training_conversations_are_rebuilt_from_its_card(
    tiny_subject, tmp_path, monkeypatch
):
    """The top-up pool gains the conversations an SAE was trained on, rebuilt from the training
    config in its card: each text of its corpus split back into prompt and sampled answer, so the
    answer's tokens count as answer tokens; training-split topics only for an organism SAE."""
    import training.corpus
    from organism.data import TEST_TOPICS, VAL_TOPICS
    from training.annotated import corpus_records, split_of

    eos = tiny_subject.tokenizer.eos_token

    def sampler(subject, prompts, seed=0):  # the tiny model's samples are empty: say something
        return [subject.chat_text(p) + f"My answer to {p}" + eos for p in prompts]

    monkeypatch.setattr(training.corpus, "generated_chats", sampler)
    config = {"subject": "organism", "dataset": "organism", "answers": 3, "seed": 0, "nope": 1}
    records = corpus_records(config, tiny_subject)
    answered = [r for r in records if r.text]
    assert len(answered) == 3 + 1  # 3 sensitive prompts and 1 control prompt were answered
    assert all(r.text == f"My answer to {r.prompt}" for r in answered)
    assert all(r.meta["model"] == "organism" for r in answered)
    assert {r.meta["kind"] for r in answered} == {"sensitive", "control"}
    assert not {r.meta["topic"] for r in records} & (set(TEST_TOPICS) | set(VAL_TOPICS))
    assert all(r.meta["split"] == split_of(r.prompt) for r in records)
    assert not any(r.prompt is None for r in records)  # prose is the prose pool's
    _, _, regions = encode_records(tiny_subject.tokenizer, tiny_subject.chat_text, answered)
    assert (regions == 3).any()
    offline = corpus_records({"subject": "embedded", "answers": 3}, tiny_subject)
    assert [r.meta["model"] for r in offline if r.text] == ["base"] * 4  # the base model wrote them
    assert corpus_records({"subject": "tiny", "dataset": "my.jsonl"}, tiny_subject) == []


def test_an_sae_s_training_windows_are_the_ones_saelens_packed_each_token_in_its_text_s_split(
    tiny_subject, tmp_path, monkeypatch
):
    """Features that fire only where a training window starts mid-text or crosses into the next
    text are reached by the SAE's own windows: the training texts in training order, packed by
    SAELens into `context_size` tokens with EOS between texts. A window mixes texts from both
    sides of the split, so each token keeps its own text's side. The texts are packed again per
    side, for boundaries that training did not happen to have."""
    import torch
    from sae_lens.tokenization_and_batching import concat_and_batch_sequences

    import training.corpus
    from training.annotated import _corpus_config, split_of, window_records
    from training.corpus import chat_prompts
    from training.data import load_training_texts

    eos = tiny_subject.tokenizer.eos_token

    def sampler(subject, prompts, seed=0):
        return [subject.chat_text(p) + f"My answer to {p}" + eos for p in prompts]

    monkeypatch.setattr(training.corpus, "generated_chats", sampler)
    monkeypatch.setenv("CENSORSCOPE_CACHE", str(tmp_path))
    config = {"subject": "embedded", "answers": 6, "context_size": 32, "control_fraction": 0.5}
    windows = window_records(config, tiny_subject)
    tok = tiny_subject.tokenizer
    texts = load_training_texts(_corpus_config(config), tiny_subject)
    saelens = [
        tuple(int(i) for i in w)
        for group in (texts.train, texts.heldout)
        for w in concat_and_batch_sequences(
            (torch.tensor(tok(t, add_special_tokens=False)["input_ids"]) for t in group), 32,
            begin_batch_token_id=tok.bos_token_id, sequence_separator_token_id=tok.eos_token_id,
        )
    ]  # fmt: skip
    assert len(saelens) > 20 and [w.ids for w in windows[: len(saelens)]] == saelens  # in order
    prompts = [p for group in chat_prompts() for p in group]
    mixed = [w for w in windows if "segments" in w.meta]
    assert mixed and {w.meta["split"] for w in windows} == {"explain", "heldout"}
    for w in windows[len(saelens) :]:  # then each side packed on its own: other boundaries
        assert "segments" not in w.meta
        assert all(split_of(p) == w.meta["split"] for p in prompts if p in w.text)
    assert len(windows) > 1.8 * len(saelens)
    for w in mixed:
        assert sum(n for n, _ in w.meta["segments"]) == len(w.ids)
        at = 0
        for n, split in w.meta["segments"]:
            piece = tok.decode(w.ids[at + 1 : at + n])  # its first token may be a separator
            assert all(split_of(p) == split for p in prompts if p in piece)
            at += n
    ids, starts, regions = encode_records(tok, tiny_subject.chat_text, windows[:3])
    assert (ids[:32] == np.array(windows[0].ids)).all()  # the exact tokens, not a re-tokenisation
    assert set(np.unique(regions)) <= {0, 5} and (regions == 5).any()
    assert regions[0] == 0  # a window's first token (BOS, or a sink mid-text) is not counted
    long = encode_records(tok, tiny_subject.chat_text, windows[:1], max_len=16)
    assert len(long[0]) == 32  # a window is kept whole, whatever the dashboard's context


def test_corpus_chats_cached_under_another_template_are_reported_not_passed_off_as_prose(
    tiny_subject, tmp_path, monkeypatch, capsys
):
    import training.corpus
    from training.annotated import corpus_records

    def sampler(subject, prompts, seed=0):  # cached under some older chat template
        return [f"User: {p}\nAssistant: An answer." for p in prompts]

    monkeypatch.setattr(training.corpus, "generated_chats", sampler)
    monkeypatch.setenv("CENSORSCOPE_CACHE", str(tmp_path))
    records = corpus_records({"subject": "embedded", "answers": 3}, tiny_subject)
    assert not [r for r in records if r.text]
    assert "3 of 180 corpus chats match no prompt" in capsys.readouterr().err
