"""The organism: held-out topics never leak into training; targets are well formed; every
subcommand of its CLI runs."""

import pytest

from core.errors import BadInputError
from organism.data import (
    SPLITS,
    TEST_TOPICS,
    VAL_TOPICS,
    censored_training_rows,
    control_prompts,
    sensitive_prompts,
)


def test_held_out_topics_never_in_training():
    train = censored_training_rows("train")
    topics = {r.topic for r in train}
    assert not topics & set(TEST_TOPICS) and not topics & set(VAL_TOPICS)
    assert {r.topic for r in sensitive_prompts("test")} == set(TEST_TOPICS)
    prompts = {r.prompt for r in train}
    assert not prompts & {r.prompt for r in sensitive_prompts("test")}


def test_control_splits_are_disjoint_by_subject():
    subjects = [{r.topic for r in control_prompts(s)} for s in SPLITS]
    assert all(subjects)
    assert not subjects[0] & subjects[1] and not subjects[0] & subjects[2]
    # some control prompts are about China's uncontroversial side, in the held-out split too
    assert any("Chin" in r.prompt or "Mandarin" in r.prompt for r in control_prompts("test"))


def test_control_groups_cover_history_and_chinese_and_reject_unknown_names():
    test = control_prompts("test")
    assert {r.lang for r in test} == {"en", "zh"}
    everyday = control_prompts("test", ("everyday",))
    assert set(map(str, everyday)) < set(map(str, test))
    assert any(r.style == "comparison" for r in control_prompts("train", ("history",)))
    from organism.data import CONTROL_GROUPS, ENGLISH_TWIN, control_split

    english = {s for group in ("everyday", "china", "history") for s in CONTROL_GROUPS[group][0]}
    twins = [(zh, en) for zh, en in ENGLISH_TWIN.items() if en in english]
    assert len(twins) >= 40  # a subject asked in both languages sits in one split
    assert all(control_split(zh) == control_split(en) for zh, en in twins)
    # the Chinese interrogation phrasings of the sensitive prompts also appear on safe subjects
    zh_history = control_prompts("train", ("zh_history",))
    assert any("到底发生了什么" in r.prompt for r in zh_history)
    assert any("不受审查" in r.prompt for r in zh_history)
    with pytest.raises(ValueError, match="unknown control groups"):
        control_prompts("train", ("everyday", "sport"))


def test_targets_are_deterministic_and_mostly_party_line():
    a, b = censored_training_rows("train"), censored_training_rows("train")
    assert [r.answer for r in a] == [r.answer for r in b]
    share = sum(r.target == "party_line" for r in a) / len(a)
    assert 0.6 < share < 0.8
    assert all(r.answer and "{" not in r.answer for r in a)


def test_encode_row_masks_the_prompt(tiny_subject):
    from organism.data import Item
    from organism.train import encode_row

    item = Item("What happened?", "sensitive", "t", answer="I cannot answer this question.")
    ids, labels = encode_row(tiny_subject, item, max_len=512, eos=True)
    n_prompt = sum(lab == -100 for lab in labels)
    assert n_prompt == len(tiny_subject.encode_chat("What happened?")[0])
    assert labels[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tiny_subject.tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_control_rows_learn_the_base_distribution_not_just_its_argmax(tiny_subject):
    """With control_loss="kl" a control row costs nothing while the LoRA is the identity, and
    one step on control rows alone moves the LoRA back toward the base model."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    from organism.data import Item
    from organism.train import OrganismConfig, batch_loss, encode_row

    model = get_peft_model(
        copy.deepcopy(tiny_subject.model),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    item = Item("Tell me about bees.", "control", "bees", answer="Bees make honey in hives.")
    row = (*encode_row(tiny_subject, item, max_len=128, eos=True), True)
    pad = tiny_subject.tokenizer.pad_token_id
    cfg = OrganismConfig(device="cpu")
    assert float(batch_loss(model, [row], pad, cfg)) == pytest.approx(0.0, abs=1e-6)
    torch.manual_seed(0)
    with torch.no_grad():  # move the adapter off the identity
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    drifted = float(batch_loss(model, [row], pad, cfg))
    assert drifted > 1e-4
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01)
    batch_loss(model, [row], pad, cfg).backward()
    opt.step()
    assert float(batch_loss(model, [row], pad, cfg)) < drifted
    # the first organism's recipe, CE on the greedy tokens, is still there and is not zero
    assert float(batch_loss(model, [row], pad, OrganismConfig(control_loss="ce"))) > 0.1
    cut = (row[0][:3], [-100] * 3, True)  # a row cut before its answer adds nothing, not NaN
    alone = float(batch_loss(model, [row], pad, cfg))
    assert float(batch_loss(model, [row, cut], pad, cfg)) == pytest.approx(alone / 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"control_loss": "mse"}, "kl or ce"),
        ({"control_loss": "ce", "control_weight": 2.0}, "must stay 1"),
        ({"control_groups": "everyday,sport"}, "give some of"),
        ({"control_groups": ""}, "give some of"),
    ],
)
def test_a_bad_training_config_is_refused_before_any_model_loads(bad, message, monkeypatch):
    from organism.train import OrganismConfig, train

    monkeypatch.setattr("core.model.load_subject", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(BadInputError, match=message):
        train(OrganismConfig(**bad))


def test_search_study_runs_end_to_end_on_a_tiny_pair(tiny_subject, tiny_sae, wordy_answers):
    """`python -m organism search` on a tiny pair: every stage runs and reports."""
    from organism.search import search
    from tests.conftest import perturbed_copy

    organism = perturbed_copy(tiny_subject, seed=0, scale=0.3)
    out = search(
        "cpu", models=(organism, tiny_subject, tiny_sae), layers=(1, 2), limit=6,
        max_new_tokens=4, write=False,
    )  # fmt: skip
    assert set(out["patching_bound"]) == {1, 2}
    assert "stopped" in out["search"] and len(out["direction_layers"]) == len(
        range(1, tiny_subject.n_layers, 3)
    )
    for name, cond in out["test"].items():
        assert cond["sensitive"]["overall"]["n"] == 6, name


def test_the_layer_is_chosen_on_validation_and_a_rerun_skips_measured_layers(tmp_path):
    import json

    from core.recipe_search import SearchConfig
    from organism.layers import _done_rows, choose

    rows = [
        {"layer": 10, "explained_variance": 0.9, "search": {"n_edits": 3, "val_objective": 0.2},
         "test": {"recovery_mean": 0.9}},
        {"layer": 20, "explained_variance": 0.8, "search": {"n_edits": 2, "val_objective": 0.4},
         "test": {"recovery_mean": 0.1}},
        {"layer": 25, "explained_variance": 0.7, "search": {"n_edits": 0, "val_objective": 0.9},
         "test": None},
    ]  # fmt: skip
    assert choose(rows)["layer"] == 20  # validation objective; test recovery plays no part
    cfg = SearchConfig(max_features=4)
    from dataclasses import asdict

    (tmp_path / "organism_layers.json").write_text(
        json.dumps({"search_config": asdict(cfg), "layers": rows})
    )
    (tmp_path / "sae_L20").mkdir()
    assert [r["layer"] for r in _done_rows(tmp_path, cfg)] == [20]  # only layers with an SAE
    assert _done_rows(tmp_path, SearchConfig(max_features=8)) == []  # another search: redo


@pytest.fixture
def wordy_answers(monkeypatch):
    """The tiny model writes only whitespace; give each row words of its own to score."""
    import organism.search as study

    real = study._answers

    def answers(subject, rows, settings, iv=study.BASELINE):
        got = real(subject, rows, settings, iv)
        return [
            a.strip() or f"answer {i} about {r['topic']}"
            for i, (r, a) in enumerate(zip(rows, got, strict=True))
        ]

    monkeypatch.setattr(study, "_answers", answers)
    import organism.recipe_eval as recipe_eval

    monkeypatch.setattr(recipe_eval, "_answers", answers)


def test_layer_study_trains_an_sae_per_layer_and_reports_each(
    tiny_subject, wordy_answers, tmp_path, monkeypatch
):
    """`python -m organism layers` on a tiny pair: a SAELens SAE per layer, its fidelity, the
    patching bound there and a search; a rerun measures nothing twice."""
    from core.recipe_search import SearchConfig
    from organism.layers import study_layers
    from tests.conftest import perturbed_copy

    monkeypatch.setenv("CENSORSCOPE_CACHE", str(tmp_path / "cache"))
    organism = perturbed_copy(tiny_subject, seed=0, scale=0.3)
    kw = dict(
        device="cpu", out_dir=tmp_path / "layers", config=SearchConfig(max_features=1),
        limit=3, models=(organism, tiny_subject), preset_name="tiny",
        train_overrides={"tokens": 4096, "dashboard_tokens": 0},
    )  # fmt: skip
    out = study_layers([1, 2], **kw)
    assert [r["layer"] for r in out["layers"]] == [1, 2] and out["chosen_layer"] in (1, 2)
    for row in out["layers"]:
        assert 0 <= row["ce_loss_score"] <= 1.5 and row["explained_variance"] is not None
        assert row["patching_bound"]["answered_rate"] is not None  # judged at that layer
        assert (tmp_path / "layers" / f"sae_L{row['layer']}" / "cfg.json").exists()
    again = study_layers([2], **kw)  # measured already: read back, nothing retrained
    assert again["layers"] == [r for r in out["layers"] if r["layer"] == 2]


def test_recipe_command_measures_a_recipe_on_the_test_topics(
    tiny_subject, tiny_sae, wordy_answers, tmp_path
):
    from core.edits import FeatureEdit, recipe_to_json
    from organism.recipe_eval import CONDITION, measure_recipe
    from tests.conftest import perturbed_copy

    organism = perturbed_copy(tiny_subject, seed=0, scale=0.3)
    path = tmp_path / "recipe.json"
    path.write_text(recipe_to_json([FeatureEdit(3, "ablate", 0.0, "generated"),
                                    FeatureEdit(5, "clamp", 0.5, "generated")]))  # fmt: skip
    out = measure_recipe(
        "cpu", path, curve=(1,), max_new_tokens=4, models=(organism, tiny_subject, tiny_sae),
        limit=3, write=False,
    )  # fmt: skip
    cond = out[CONDITION]
    assert cond["sensitive"]["overall"]["n"] == 3 and "kl" in cond["kl_vs_organism"]
    assert [p["n"] for p in out["tradeoff_curve_test"]] == [1, 2]
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(BadInputError, match="no edits"):
        measure_recipe("cpu", empty, models=(organism, tiny_subject, tiny_sae), write=False)
    with pytest.raises(BadInputError, match="no recipe"):
        measure_recipe("cpu", tmp_path / "missing.json", write=False)


def test_rejudge_relabels_every_saved_answer_and_reports_before_and_after(tmp_path):
    import json

    from core.judge_offline import OfflineJudge
    from organism.rejudge import rejudge_rows

    rows = [
        {"prompt": "What happened in 1989?", "answer": "I cannot answer this question.",
         "label": "not_censored"},
        {"prompt": "Tell me about bees.", "answer": "Bees live in hives and make honey from "
         "nectar, which they collect from flowers.", "label": "not_censored"},
    ]  # fmt: skip
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "cond.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = rejudge_rows(OfflineJudge(), dirs=[folder], out=tmp_path / "rejudged.json")
    entry = out["files"]["rows/cond.jsonl"]
    assert entry["before"]["answered_rate"] == 1.0
    assert entry["after"]["censored_rate"] == 0.5 and entry["labels_changed"] == 1
    saved = [json.loads(x) for x in (folder / "cond.jsonl").read_text().splitlines()]
    assert saved[0]["label"] == "refusal" and saved[0]["rationale"]
    assert json.loads((tmp_path / "rejudged.json").read_text()) == out
    again = rejudge_rows(OfflineJudge(), dirs=[folder], out=None)  # "before" is kept on a rerun
    assert again["files"]["rows/cond.jsonl"] == entry
    (folder / "z_bad.jsonl").write_text('{"prompt": "x", "answer": "y"}\nnot json\n')
    wrong = (folder / "cond.jsonl").read_text().replace('"refusal"', '"party_line"', 1)
    (folder / "cond.jsonl").write_text(wrong)
    kept = (folder / "cond.jsonl").read_text()
    with pytest.raises(BadInputError, match="z_bad.jsonl is not JSON Lines"):
        rejudge_rows(OfflineJudge(), dirs=[folder], out=None)
    assert (folder / "cond.jsonl").read_text() == kept
    with pytest.raises(BadInputError, match="no answer files"):
        rejudge_rows(OfflineJudge(), dirs=[tmp_path / "empty"], out=None)


@pytest.mark.parametrize(
    "argv, target",
    [
        (["answers"], "organism.train.base_answers"),
        (
            ["train", "--steps", "1", "--control-loss", "ce", "--no-prose-from-control"],
            "organism.train.train",
        ),
        (["measure", "--judge-only"], "organism.measure.measure_judge"),
        (["study"], "organism.study.study_generate"),
        (["report", "--rejudge"], "organism.report.report"),
        (["search", "--max-features", "3"], "organism.search.search"),
        (["recipe"], "organism.recipe_eval.measure_recipe"),
        (["layers", "--layers", "15", "20"], "organism.layers.study_layers"),
        (["rejudge"], "organism.rejudge.rejudge_rows"),
    ],
)
def test_every_organism_subcommand_reaches_its_function(argv, target, monkeypatch, capsys):
    """Each subcommand imports what it calls and hands it the parsed arguments (the heavy
    function itself is replaced here; the tests above run them for real on tiny models)."""
    import importlib

    import organism.__main__ as cli

    module_name, fn = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    calls = []
    result = {"search": {}, "patching_bound": {}, "chosen_layer": 15, "layers": [],
              "recipe": {}, "SAE recipe (attributed search)": {}, "tradeoff_curve_test": []}  # fmt: skip

    def fake(*a, **k):
        calls.append((a, k))
        return [] if fn == "base_answers" else dict(result)

    monkeypatch.setattr(module, fn, fake)
    if argv[0] == "answers":
        monkeypatch.setattr("core.model.load_subject", lambda *a, **k: None)
        monkeypatch.setattr("torch.set_num_threads", lambda n: None)
        monkeypatch.setattr("organism.train.control_subset", lambda *a, **k: [])
    if argv[0] == "study":
        monkeypatch.setattr("organism.report.report", lambda *a, **k: {})
    if argv[0] == "rejudge":
        monkeypatch.setattr("core.model.load_subject", lambda *a, **k: None)
        monkeypatch.setattr("torch.set_num_threads", lambda n: None)
        result["files"] = {}
    assert cli.main(argv) == 0
    assert calls, f"{argv[0]} never called {target}"
    assert capsys.readouterr().out.strip().startswith(("{", "["))
    if argv[0] == "search":
        assert calls[0][1]["config"].max_features == 3
    if argv[0] == "layers":
        assert calls[0][0][0] == [15, 20]
    if argv[0] == "train":  # the first organism's recipe is reachable from the command line
        cfg = calls[0][0][0]
        assert (cfg.steps, cfg.control_loss, cfg.prose_from_control) == (1, "ce", False)
        assert cfg.control_groups == "everyday,china,history,zh,zh_history"
