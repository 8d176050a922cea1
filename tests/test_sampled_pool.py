"""Texts the subject samples for the rarest latents: kept only where a short latent fires,
resumable with the same draws, and scanned by the dashboard's top-up after every other source."""

import json

import pytest

from core.errors import BadInputError

SHORT = 6  # latents the card leaves short; every other one fired plenty on both halves


@pytest.fixture
def sae_dir(tiny_subject, tiny_sae, tmp_path):
    """The tiny SAE with a card whose labels say which latents fired how often per half."""
    # Short latents are ones that really fire in sampled text, so the test can find them.
    import torch

    from core.sae import save_sae
    from training.dashboard import encode_records, firings
    from training.sampled_pool import sample_texts, sampled_record, start_tokens

    gen = torch.Generator().manual_seed(99)
    starts = torch.tensor(start_tokens(tiny_subject.tokenizer, tiny_subject.chat_text) * 4)
    ids = sample_texts(tiny_subject.model, starts, 24, 1.0, gen).tolist()
    recs = [sampled_record(i, tiny_subject.tokenizer.decode(i), "tiny") for i in ids]
    toks, st, reg = encode_records(tiny_subject.tokenizer, tiny_subject.chat_text, recs, 24)
    _, feat, _ = firings(tiny_sae, tiny_subject, toks, st, reg)
    fired = sorted(set(feat.tolist()))
    short = set(fired[:: max(1, len(fired) // SHORT)][:SHORT])
    card = dict(tiny_sae.card)
    card["label_details"] = {
        str(f): {
            "firings": {"explain": 0 if f in short else 50, "heldout": 1 if f in short else 50}
        }
        for f in range(tiny_sae.d_sae)
    }
    folder = save_sae(tiny_sae.sae, tmp_path / "sae", card)
    return folder, short


def _config(folder, out, **kw):
    from training.sampled_pool import SampleConfig

    return SampleConfig(sae=str(folder), out=str(out), tokens=4 * 8 * 24, length=24, batch=8,
                        device="cpu", **kw)  # fmt: skip


def test_every_kept_text_is_one_the_top_up_would_take_for_a_short_latent(
    tiny_subject, tiny_sae, sae_dir, tmp_path
):
    from training.rare_records import record_features
    from training.sampled_pool import read_pool, sample_pool

    folder, short = sae_dir
    out = tmp_path / "pool.jsonl"
    report = sample_pool(_config(folder, out))
    pool = read_pool(out)
    assert report["kept_texts"] == len(pool) > 0
    assert report["sampled_tokens"] == 4 * 8 * 24
    assert all(len(r.ids) == 24 and r.meta["source"] == "sampled" for r in pool)
    # Checked again the way the dashboard's top-up checks a pool record, not by the sampler.
    for rec in pool:
        (fired,) = record_features(tiny_sae, tiny_subject, [rec], context_size=24)
        assert {f for f, _ in fired} & short


def test_a_run_cut_off_part_way_resumes_to_the_texts_of_an_uncut_run(
    tiny_subject, sae_dir, tmp_path, monkeypatch
):
    import training.sampled_pool as sp

    folder, _ = sae_dir
    whole = tmp_path / "whole.jsonl"
    sp.sample_pool(_config(folder, whole))

    cut = tmp_path / "cut.jsonl"
    real, calls = sp.sample_texts, []

    def stop_on_third(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(sp, "sample_texts", stop_on_third)
    with pytest.raises(KeyboardInterrupt):
        sp.sample_pool(_config(folder, cut))
    assert json.loads(sp.config_path(cut).read_text())["batches_done"] == 2
    monkeypatch.setattr(sp, "sample_texts", real)
    sp.sample_pool(_config(folder, cut))
    assert cut.read_text() == whole.read_text()


def test_resuming_with_other_draws_is_refused_and_keeps_the_texts(sae_dir, tmp_path):
    from training.sampled_pool import sample_pool

    folder, _ = sae_dir
    out = tmp_path / "pool.jsonl"
    sample_pool(_config(folder, out))
    before = out.read_text()
    with pytest.raises(BadInputError, match="other settings"):
        sample_pool(_config(folder, out, temperature=0.5))
    assert out.read_text() == before


def test_a_broken_pool_file_names_its_line(tmp_path):
    from training.sampled_pool import read_pool

    bad = tmp_path / "pool.jsonl"
    bad.write_text('{"ids": [1, 2], "text": "ab", "model": "tiny"}\n{"ids": \n')
    with pytest.raises(BadInputError, match="line 2"):
        read_pool(bad)
    with pytest.raises(BadInputError, match="sample-pool"):
        read_pool(tmp_path / "missing.jsonl")


def test_the_dashboard_top_up_takes_sampled_texts_last_and_says_so(
    tiny_subject, tiny_sae, sae_dir, tmp_path
):
    from tests.planted import planted_records
    from training.dashboard import build_dashboard
    from training.sampled_pool import read_pool, sample_pool

    folder, short = sae_dir
    out = tmp_path / "pool.jsonl"
    sample_pool(_config(folder, out))
    sample = planted_records(12)
    build_dashboard(tiny_sae, tiny_subject, sample, folder, pool=read_pool(out), need=8,
                    context_size=48)  # fmt: skip
    card = json.loads((folder / "card.json").read_text())
    report = card["labels_summary"]["offline"]["top_up"]
    assert report["added"] > 0 and report["added_by_source"].get("sampled", 0) == report["added"]
    records = json.loads((folder / "dashboard" / "records.json").read_text())
    assert [r["source"] for r in records[len(sample) :]] == ["sampled"] * report["added"]


def test_the_command_writes_beside_the_sae_and_the_dashboard_refuses_a_pool_without_top_up(
    sae_dir, capsys
):
    from training.__main__ import main

    folder, _ = sae_dir
    args = ["--sae", str(folder), "--tokens", "192", "--batch", "8", "--length", "24"]
    assert main(["sample-pool", *args, "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pool"] == str(folder / "sampled_pool.jsonl") and result["sampled_tokens"] == 192
    code = main(["dashboard", "--sae", str(folder), "--top-up", "0",
                 "--extra-pool", result["pool"], "--device", "cpu"])  # fmt: skip
    assert code == 2 and "needs --top-up" in capsys.readouterr().err


def test_texts_written_in_bfloat16_are_kept_only_where_the_float32_check_finds_a_short_latent(
    tiny_subject, tiny_sae, sae_dir, tmp_path
):
    from training.rare_records import record_features
    from training.sampled_pool import read_pool, sample_pool

    folder, short = sae_dir
    out = tmp_path / "pool.jsonl"
    sample_pool(_config(folder, out, write_dtype="bfloat16"))
    for rec in read_pool(out):
        (fired,) = record_features(tiny_sae, tiny_subject, [rec], context_size=24)
        assert {f for f, _ in fired} & short
    with pytest.raises(BadInputError, match="no torch dtype"):
        sample_pool(_config(folder, tmp_path / "other.jsonl", write_dtype="bf16"))
