"""SAE training on the tiny Qwen3: artifact core loads, metrics and plots, resume, bad input."""

import json

import pytest
import torch

from core.errors import BadInputError
from training.config import TrainConfig, preset
from training.data import mix
from training.metrics import read_metrics
from training.trainer import TrainingError, TrainingInterrupted, latest_checkpoint, train

TEXTS = [
    f"Sentence {i}: the quick brown fox jumps over the lazy dog near the square in {1900 + i}."
    for i in range(200)
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "texts.txt"
    path.write_text("\n\n".join(TEXTS))
    return str(path)


def tiny_cfg(corpus, run_dir, **overrides) -> TrainConfig:
    kw = dict(
        dataset=corpus, control=corpus, tokens=8192, run_dir=str(run_dir), dashboard_tokens=1024
    )
    return preset("tiny", **{**kw, **overrides})


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    folder = train(tiny_cfg(corpus, run_dir))
    return folder, run_dir


def test_tiny_artifact_loads_in_core_and_reconstructs(trained):
    from core.model import load_subject
    from core.sae import load_sae
    from training.dashboard import hook_activations

    folder, _ = trained
    subject = load_subject("tiny")
    sae = load_sae(folder, subject)
    assert sae.hook_name == "model.layers.2" and sae.d_sae == 4 * subject.d_model
    tokens = subject.tokenizer("What happened at Tiananmen Square in 1989?", return_tensors="pt")[
        "input_ids"
    ]
    h = hook_activations(subject, sae.hook_name, tokens)  # [1, pos, d_model]
    acts = sae.encode(h)  # [1, pos, d_sae]
    recon = sae.sae.decode(acts)
    residual = (h - recon).pow(2).sum() / (h - h.mean(1, keepdim=True)).pow(2).sum()
    assert residual < 1.0  # the reconstruction alone is close
    # spliced with the error term, ablating a feature moves the residual by exactly its decoder
    # contribution and leaves everything else as the plain model has it
    from core.edits import FeatureEdit
    from core.splice import recording, steering

    feature = int(acts[0].sum(0).argmax())
    edits = [FeatureEdit(feature, "ablate")]
    with steering(subject, sae, edits), recording(subject, sae.hook_name) as captured:
        subject.model(input_ids=tokens)
    expected = h - acts[..., feature : feature + 1] * sae.W_dec[feature]
    assert torch.allclose(captured[0], expected, atol=1e-4)
    assert not torch.allclose(captured[0], h, atol=1e-4)


def test_card_holds_final_metrics_and_config(trained):
    folder, _ = trained
    card = json.loads((folder / "card.json").read_text())
    m = card["metrics"]
    for key in (
        "explained_variance",
        "mse",
        "l0",
        "dead_features",
        "dead_fraction",
        "ce_loss_score",
        "ce_loss_with_sae",
        "ce_loss_without_sae",
    ):
        assert isinstance(m[key], int | float), key
    assert m["l0"] == pytest.approx(8, abs=0.5)  # TopK k=8
    assert 0 <= m["dead_fraction"] <= 1
    assert card["tokens_seen"] == 8192 and card["train_config"]["k"] == 8
    assert card["subject"]["fingerprint"]["d_model"] == 64


def test_metrics_and_plots_hold_real_values(trained):
    folder, run_dir = trained
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in rows] == sorted({r["step"] for r in rows})
    assert rows[-1]["step"] == 32
    assert rows[-1]["explained_variance"] > rows[0]["explained_variance"]  # it learned
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in rows)
    assert any(
        r["kind"] == "eval" and "ce_loss_score" in r
        for r in read_metrics(run_dir / "metrics.jsonl")
    )
    for name in ("explained_variance", "dead_features", "ce_loss_score", "lr"):
        png = folder / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_resume_continues_step_count(corpus, tmp_path):
    cfg = tiny_cfg(corpus, tmp_path, n_checkpoints=3, dashboard_tokens=0)

    def interrupt(done, total):
        if done >= total // 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="resume"):
        train(cfg, progress=interrupt)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and 0 < int(checkpoint.name) < 8192
    before = read_metrics(tmp_path / "metrics.jsonl")
    folder = train(cfg)
    rows = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["kind"] == "train"]
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)), "a resumed run logs each step once"
    resumed = [
        r for r in rows if r["step"] > max(s["step"] for s in before if s["kind"] == "train")
    ]
    assert resumed and resumed[0]["step"] > 4, "continued, not restarted"
    card = json.loads((folder / "card.json").read_text())
    assert card["steps"] == 32 and card["tokens_seen"] == 8192


def test_crash_then_resume_continues_steps_and_schedule_exactly(corpus, tmp_path, trained, capsys):
    """A run killed outright (no checkpoint at the end) with its newest checkpoint truncated."""
    _, reference_dir = trained  # the same schedule, never interrupted
    cfg = tiny_cfg(corpus, tmp_path, n_checkpoints=3, dashboard_tokens=0)

    def crash(done, total):
        if done >= total * 7 // 8:
            raise RuntimeError("killed")  # not an interrupt: nothing is checkpointed on the way out

    with pytest.raises(RuntimeError, match="killed"):
        train(cfg, progress=crash)
    newest = latest_checkpoint(tmp_path)
    weights = newest / "sae_weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    folder = train(cfg)
    assert "is damaged" in capsys.readouterr().err
    card = json.loads((folder / "card.json").read_text())
    assert card["steps"] == 32 and card["tokens_seen"] == 8192

    def schedule(run_dir):
        rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "train"]
        return [(r["step"], r["tokens"], r["lr"]) for r in rows]

    assert schedule(tmp_path) == schedule(reference_dir)


def test_bad_configs_are_clear_errors(corpus, tmp_path):
    with pytest.raises(BadInputError, match="cannot exceed d_sae"):
        TrainConfig(k=100, d_sae=64)
    with pytest.raises(BadInputError, match="fewer than one batch"):
        preset("tiny", tokens=100)
    with pytest.raises(BadInputError, match="layer 9 does not exist"):
        train(tiny_cfg(corpus, tmp_path, layer=9))
    with pytest.raises(BadInputError, match="cannot exceed d_sae"):
        preset("tiny", expansion=1).check_subject(n_layers=4, d_model=4)
    with pytest.raises(BadInputError, match="empty"):
        mix([], [], 0.5, 0.1)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(BadInputError, match="empty"):
        train(tiny_cfg(corpus, tmp_path / "r", dataset=str(empty)))


def test_second_training_in_the_same_run_folder_is_refused(corpus, tmp_path):
    from training.trainer import _lock

    held = _lock(tmp_path)
    try:
        with pytest.raises(TrainingError, match="already running"):
            train(tiny_cfg(corpus, tmp_path))
    finally:
        held.close()


def test_failed_write_leaves_no_artifact(corpus, tmp_path, monkeypatch):
    import training.trainer as trainer

    def full_disk(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "render_plots", full_disk)
    cfg = tiny_cfg(corpus, tmp_path, tokens=2048, dashboard_tokens=0)
    with pytest.raises(TrainingError, match="No space left"):
        train(cfg)
    assert not (tmp_path / "sae").exists()
    assert not (tmp_path / "sae.staging").exists()


def test_mix_respects_control_ratio_and_holds_out():
    censor = [f"c{i:03d}" * 25 for i in range(50)]
    control = [f"k{i:03d}" * 25 for i in range(500)]
    texts = mix(censor, control, control_fraction=0.25, heldout_fraction=0.1)
    assert texts.summary["control_fraction_chars"] == pytest.approx(0.25, abs=0.03)
    assert not set(texts.heldout) & set(texts.train)
    assert texts.heldout


def test_builder_export_rows_split_by_kind(tmp_path):
    from datasets import Dataset

    from training.data import read_source

    rows = {
        "text": ["Q1\n\nA1", "control one", "Q2\n\nA2"],
        "kind": ["prompt_answer", "control", "prompt_answer"],
    }
    Dataset.from_dict(rows).save_to_disk(str(tmp_path / "export"))
    assert read_source(str(tmp_path / "export"), "censorship") == ["Q1\n\nA1", "Q2\n\nA2"]
    assert read_source(str(tmp_path / "export"), "control") == ["control one"]
    with pytest.raises(BadInputError, match="not found"):
        read_source(str(tmp_path / "missing"))


def test_rerunning_a_finished_run_keeps_its_artifact(trained, corpus):
    folder, run_dir = trained
    before = (folder / "sae_weights.safetensors").stat().st_mtime_ns
    assert train(tiny_cfg(corpus, run_dir)) == folder
    assert (folder / "sae_weights.safetensors").stat().st_mtime_ns == before
    with pytest.raises(TrainingError, match="different config"):
        train(tiny_cfg(corpus, run_dir, k=4))


def test_an_sae_for_another_subject_never_overwrites_the_shipped_embedded_sae():
    from core.errors import BadInputError
    from training.config import preset

    with pytest.raises(BadInputError, match="shipped for the embedded model"):
        preset("embedded", subject="organism")
    cfg = preset("organism")
    assert cfg.subject == "organism" and cfg.output.endswith("assets/organism/sae")


def test_the_organism_corpus_never_holds_a_validation_or_test_topic(
    tiny_subject, monkeypatch, tmp_path
):
    """The organism's SAE trains on training-split topics only, so recipes found with it are
    chosen and reported on topics its features never saw."""
    from organism.data import sensitive_prompts
    from training.config import preset
    from training.organism_corpus import organism_corpus

    monkeypatch.setenv("CENSORSCOPE_CACHE", str(tmp_path))
    censor, control, summary = organism_corpus(tiny_subject, n_answers=2)
    held = [i.prompt for s in ("val", "test") for i in sensitive_prompts(s)]
    assert len(censor) == len(sensitive_prompts("train")) and control
    assert not any(p in text for text in censor + control for p in held)
    assert {"tiananmen", "cultural_revolution"} <= set(summary["excluded_topics"])
    cfg = preset("organism")
    assert cfg.dataset == "organism" and cfg.output.endswith("assets/organism/sae")
