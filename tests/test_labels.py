"""Offline labels: a planted feature is named by its word and its text; labels predict firing."""

import json

import numpy as np

from core.labels import Evidence, Rule, accuracy, sample_windows
from tests.planted import PLANTED, WORD


def _evidence(subject, sae, records):
    from training.dashboard import encode_records, firings, token_strings

    ids, starts, regions = encode_records(subject.tokenizer, subject.chat_text, records)
    tok, feat, val = firings(sae, subject, ids, starts, regions)
    text, _ = token_strings(subject.tokenizer, np.unique(ids).tolist())
    return Evidence(
        ids, regions, starts, [r.meta for r in records], text, tok, feat, val, sae.d_sae
    )


def test_the_planted_feature_fires_on_its_word(planted):
    subject, sae, folder, records, word_id = planted
    ev = _evidence(subject, sae, records)
    pos, _ = ev.firing(PLANTED)
    on_word = ev.tokens[pos] == word_id
    occurrences = int(((ev.tokens == word_id) & (ev.region > 0)).sum())
    assert on_word.mean() > 0.9 and on_word.sum() >= 0.9 * occurrences  # the test's premise


def test_offline_label_names_the_planted_word_and_where_it_occurs(planted):
    _, _, folder, _, _ = planted
    card = json.loads((folder / "card.json").read_text())
    label = card["label_details"][str(PLANTED)]
    assert label["rule"]["tokens"][0] == WORD.strip().lower()  # matched in any case
    assert card["labels"][str(PLANTED)].startswith(label["text"][:10])
    assert WORD.strip() in label["text"]
    # the word only ever occurs in the organism's party-line answers
    assert "answer" in label["stats"] and "party_line" in label["stats"]
    assert label["detection"] >= 0.9 and label["n_test"] >= 2 * 4


def test_a_correct_label_detects_better_than_a_shuffled_one(planted):
    subject, sae, folder, records, _ = planted
    card = json.loads((folder / "card.json").read_text())
    ev = _evidence(subject, sae, records)
    rng = np.random.default_rng(1)
    windows = sample_windows(ev, PLANTED, ev.heldout, 20, rng)
    own = card["label_details"][str(PLANTED)]["rule"]
    own_acc = accuracy(ev, Rule(tuple(own["tokens"]), tuple(own["where"].items())), windows)
    others = []
    for f, lab in card["label_details"].items():
        if int(f) != PLANTED:
            rule = Rule(tuple(lab["rule"]["tokens"]), tuple(lab["rule"]["where"].items()))
            others.append(accuracy(ev, rule, windows))
    assert own_acc > max(others[:50]) or own_acc > np.mean(others) + 0.3
    summary = card["labels_summary"]["offline"]
    assert summary["shuffled_mean_detection"] < summary["mean_detection"]
    assert summary["labelled"] == summary["live"] > 0


def test_every_firing_feature_has_a_label_and_dead_ones_none(planted):
    _, sae, folder, _, _ = planted
    from core.dashboard import load_store

    store = load_store(folder)
    card = json.loads((folder / "card.json").read_text())
    fired = {int(f) for f in np.flatnonzero(store.t["density"] > 0)}
    assert {int(f) for f in card["label_details"]} == fired
    assert set(card["labels"]) == {str(f) for f in fired}


def test_a_feature_missing_from_the_sample_gets_records_and_a_label_from_the_pool(
    planted, tmp_path
):
    """The planted word occurs only in the pool: topping the sample up gives its feature the
    records it needs, a label naming the word and a score; features already common add none."""
    from core.sae import save_sae
    from training.dashboard import build_dashboard

    subject, sae, _, records, _ = planted
    sample = [r for r in records if r.meta["label"] == "not_censored"]  # no " China" in these
    pool = [r for r in records if r.meta["label"] == "party_line"]
    folder = save_sae(sae.sae, tmp_path / "sae", sae.card)
    build_dashboard(sae, subject, sample, folder, pool=pool, need=8)
    card = json.loads((folder / "card.json").read_text())
    report = card["labels_summary"]["offline"]["top_up"]
    assert 8 <= report["added"] < len(pool) and report["silent_after"] < report["silent_before"]
    label = card["label_details"][str(PLANTED)]
    assert label["rule"]["tokens"][0] == WORD.strip().lower() and label["detection"] is not None


def test_a_feature_seen_only_in_explain_records_gets_held_out_ones_and_a_score(planted, tmp_path):
    """Enough records overall is not enough: a label is scored on held-out records only, so a
    feature firing on one side of the split is topped up from the other, and scored."""
    from core.sae import save_sae
    from training.dashboard import build_dashboard

    subject, sae, _, records, _ = planted
    china = [r for r in records if r.meta["label"] == "party_line"]
    explain = [r for r in china if r.meta["split"] == "explain"]
    heldout = [r for r in china if r.meta["split"] == "heldout"]
    assert len(explain) >= 8 and len(heldout) >= 4  # the test's premise
    sample = [r for r in records if r.meta["label"] == "not_censored"] + explain
    folder = save_sae(sae.sae, tmp_path / "sae", sae.card)
    build_dashboard(sae, subject, sample, folder, pool=heldout, need=8)
    card = json.loads((folder / "card.json").read_text())
    report = card["labels_summary"]["offline"]["top_up"]
    assert report["added"] >= 4
    label = card["label_details"][str(PLANTED)]
    assert label["detection"] is not None and label["n_test"] >= 8


def test_a_pool_record_whose_tokens_were_all_scanned_is_not_added(planted, tmp_path):
    """A prefix of a sample record (same prompt, its answer cut short) brings no token that is
    not already counted, so it is no evidence for a rare feature, however short that is."""
    from core.labels import token_heldout
    from training.dashboard import encode_records, firings
    from training.rare_records import records_per_feature, top_up

    subject, sae, _, records, _ = planted

    china = [r for r in records if r.meta["label"] == "party_line"][:3]
    sample = [r for r in records if r.meta["label"] == "not_censored"] + china
    cut = [type(r)(r.prompt, r.text[: r.text.index(" The people")], r.meta) for r in china]
    ids, starts, regions = encode_records(subject.tokenizer, subject.chat_text, sample)
    tok, feat, _ = firings(sae, subject, ids, starts, regions)
    counts = records_per_feature(tok, feat, starts, sae.d_sae,
                                 token_heldout([r.meta for r in sample], starts))  # fmt: skip
    assert counts[:, PLANTED].sum() == 3  # short: it wants 8
    added, report = top_up(sae, subject, counts, sample, cut, need=8, chunk=2)
    assert added == [] and report["scanned"] == len(cut)
    more = [r for r in records if r.meta["label"] == "party_line"][3:6]
    fresh, _ = top_up(sae, subject, counts, sample, more, need=8)
    assert len(fresh) == 3  # while new records with the word are


def test_top_up_records_leave_the_usual_range_of_common_features_as_the_sample_has_it(
    planted, tmp_path
):
    """Records added for a rare feature are no fair draw for the others: the median and 99th
    percentile that the app colours by and marks on its sliders stay the sample's own for every
    feature that fires often there, while the rare feature still gets its range; density counts
    every scanned token, over the same total the dashboard names."""
    from core.dashboard import load_store
    from core.sae import save_sae
    from training.dashboard import MIN_SAMPLE_FIRINGS, build_dashboard

    subject, sae, _, records, _ = planted
    sample = [r for r in records if r.meta["label"] == "not_censored"]
    pool = [r for r in records if r.meta["label"] == "party_line"]
    alone = build_dashboard(sae, subject, sample, save_sae(sae.sae, tmp_path / "a", sae.card),
                            label=False)  # fmt: skip
    topped = build_dashboard(sae, subject, sample, save_sae(sae.sae, tmp_path / "b", sae.card),
                             pool=pool, need=8, label=False)  # fmt: skip
    a, b = load_store(alone.parent).t, load_store(topped.parent).t
    common = a["density"] * int((a["region"] > 0).sum()) >= MIN_SAMPLE_FIRINGS
    assert common.sum() > 10
    for key in ("median", "p99"):
        assert np.array_equal(a[key][common], b[key][common])
    assert a["density"][PLANTED] == 0 and b["density"][PLANTED] > 0 and b["p99"][PLANTED] > 0
    assert (b["max_activation"] >= a["max_activation"]).all()  # examples still see the pool
    n_b = int(load_store(topped.parent).meta["n_tokens"])  # density: every scanned token
    assert np.allclose(b["density"] * n_b, b["hist_counts"].sum(1))


def _synthetic(fire, n_records=200, length=40, special=0, seed=0, vocab=50):
    """Evidence over random prose-like records of ids 1..vocab-1 with a special token id 0 at
    random places; latent 5 fires where `fire(tokens, i, since)` says (since: tokens after a
    special)."""
    rng = np.random.default_rng(seed)
    tokens, region, starts, records = [], [], [0], []
    for r in range(n_records):
        ids = rng.integers(1, vocab, size=length)
        ids[rng.random(length) < 0.1] = special
        tokens += ids.tolist()
        region += [0 if t == special else 4 for t in ids]
        starts.append(len(tokens))
        records.append({"kind": "prose", "split": "heldout" if r % 2 else "explain"})
    tokens, region, starts = np.array(tokens), np.array(region), np.array(starts)
    from core.labels import since_special

    since = np.zeros(len(tokens), int)  # counted by hand: since_special is under test
    for r in range(n_records):
        for i in range(starts[r] + 1, starts[r + 1]):
            since[i] = 0 if tokens[i] == special else since[i - 1] + 1
    assert (since == since_special(tokens, starts, (special,))).all()
    hits = np.array([i for i in range(len(tokens)) if region[i] > 0 and fire(tokens, i, since)])
    text = {i: f" w{i}" for i in range(vocab)}
    return Evidence(tokens, region, starts, records, text, hits, np.full(len(hits), 5),
                    np.ones(len(hits), np.float32), 8, (special,))  # fmt: skip


def test_a_latent_firing_at_text_starts_is_labelled_by_its_place():
    """Whatever the token, a latent that fires on the first tokens after a special token (a new
    text or turn in a packed window) is named by that place, and the label predicts it."""
    from core.labels import NEAR, label_feature

    ev = _synthetic(lambda t, i, since: 1 <= since[i] <= NEAR)
    label = label_feature(ev, 5, np.random.default_rng(0))
    assert label["rule"]["where"] == {"place": "start"} and "special token" in label["text"]
    assert label["detection"] >= 0.9


def test_a_latent_on_a_few_uses_of_a_common_token_still_names_the_token():
    """A latent that fires on 1 in 100 uses of a common token has no precise token, but its
    token is still the evidence a reader can check; the label says how few uses it is."""
    from core.labels import label_feature

    ev = _synthetic(lambda t, i, since: t[i] == 7 and i % 97 == 0, n_records=2000)
    assert len(ev.firing(5)[0]) >= 10 and (ev.tokens == 7).sum() > 50 * len(ev.firing(5)[0])
    label = label_feature(ev, 5, np.random.default_rng(0))
    assert label["rule"]["tokens"][:1] == ["w7"]
    assert "under 2% of their occurrences" in label["text"]


def test_a_window_s_tokens_keep_the_split_of_the_text_they_come_from():
    """A training window holds texts of both sides: its segments, not its majority, say which
    tokens a label may be scored on."""
    from core.labels import token_heldout

    records = [{"split": "explain"}, {"split": "explain", "segments": [[3, "explain"], [5, "heldout"]]},
               {"split": "heldout"}]  # fmt: skip
    held = token_heldout(records, np.array([0, 2, 10, 12]))
    assert held.tolist() == [False] * 5 + [True] * 5 + [True] * 2


def test_a_pool_record_repeating_one_kept_from_the_pool_is_not_added(planted):
    """Prefixes of the records the top-up keeps count as scanned for the rest of the pool too."""
    from core.labels import token_heldout
    from training.dashboard import encode_records, firings
    from training.rare_records import records_per_feature, top_up

    subject, sae, _, records, _ = planted
    sample = [r for r in records if r.meta["label"] == "not_censored"]
    china = [r for r in records if r.meta["label"] == "party_line"][:3]
    cut = [type(r)(r.prompt, r.text[: r.text.index(" The people")], r.meta) for r in china]
    ids, starts, regions = encode_records(subject.tokenizer, subject.chat_text, sample)
    tok, feat, _ = firings(sae, subject, ids, starts, regions)
    counts = records_per_feature(tok, feat, starts, sae.d_sae,
                                 token_heldout([r.meta for r in sample], starts))  # fmt: skip
    pool = [x for pair in zip(china, cut, strict=True) for x in pair]
    added, _ = top_up(sae, subject, counts, sample, pool, need=8, chunk=1)
    assert added == china  # each cut-short copy follows its kept original


def test_a_window_s_first_tokens_are_no_text_start_unless_a_special_token_says_so():
    """A training window may begin mid-text: its first tokens are a text's start only after a
    special token of its own, while a plain record's first tokens are one."""
    from core.labels import FAR, since_special

    tokens = np.array([5, 6, 7, 0, 8, 9, 5, 6, 7])  # records [0, 3), [3, 6), [6, 9); 0 special
    starts = np.array([0, 3, 6, 9])
    since = since_special(tokens, starts, (0,), text_starts=[True, False, False])
    assert since.tolist() == [0, 1, 2, 0, 1, 2, FAR, FAR, FAR]
    ev = Evidence(tokens, np.full(9, 4), starts,
                  [{"split": "explain"}, {"split": "explain", "kind": "window"},
                   {"split": "explain", "kind": "window"}],
                  {i: f" w{i}" for i in range(10)}, np.array([0]), np.array([0]),
                  np.ones(1, np.float32), 2, (0,))  # fmt: skip
    assert (ev.codes["place"] == 0).tolist() == [True] * 6 + [False] * 3


def test_a_rare_latent_seen_once_on_the_explain_half_is_scored_there_instead():
    """Made from the held-out half and scored on the explain one, so it is still scored on texts
    its label was not made from; one seen on one half only is scored on its other texts there,
    one seen in a single text is not scored, and says why."""
    from core.labels import label_feature, label_features, score_phrase

    tokens = _synthetic(lambda t, i, s: False).tokens
    sevens, nines = np.flatnonzero(tokens == 7), np.flatnonzero(tokens == 9)
    explain_one = next(i for i in nines if (i // 40) % 2 == 0)  # even records: explain half
    fired = {int(explain_one)} | {int(i) for i in sevens if i // 40 in range(1, 40, 2)}
    ev = _synthetic(lambda t, i, s: i in fired)
    label = label_feature(ev, 5, np.random.default_rng(0))
    assert label["firings"] == {"explain": 1, "heldout": len(fired) - 1} and len(fired) > 3
    assert label["scored_on"] == "explain" and label["detection"] is not None
    assert label["n_test"] == 2 and "explain half, too few for the mean" in score_phrase(label)
    # made from the held-out half alone, where every firing is on w7 (the explain one is on w9)
    assert label["rule"]["tokens"][:1] == ["w7"] and "'w7' 100%" in label["stats"]
    assert label_features(ev)[1]["scored_on_explain_half"] == 1

    # seen on the held-out half only: made from some of its texts there, scored on the others
    one_side = _synthetic(lambda t, i, s: i in fired and i != explain_one)
    label = label_feature(one_side, 5, np.random.default_rng(0))
    assert label["firings"]["explain"] == 0 and label["scored_on"] == "other texts"
    assert label["rule"]["tokens"][:1] == ["w7"] and label["detection"] >= 0.8
    assert "other texts than its label was made from" in score_phrase(label)
    summary = label_features(one_side)[1]
    assert summary["on_one_half_only"] == 1 and summary["scored_on_other_texts_of_one_half"] == 1

    one_text = _synthetic(lambda t, i, s: t[i] < 25 and i // 40 == 3)  # a held-out record
    label = label_feature(one_text, 5, np.random.default_rng(0))
    assert label["detection"] is None and label["firings"]["heldout"] > 1
    assert "of its firings are in a held-out text, so there is no other" in score_phrase(label)

    held_one = min(i for i in sevens if (i // 40) % 2 == 1)
    once_each = _synthetic(lambda t, i, s: i in (explain_one, held_one))
    label = label_feature(once_each, 5, np.random.default_rng(0))  # made from one, scored on one
    assert label["firings"] == {"explain": 1, "heldout": 1} and "scored_on" not in label
    assert label["detection"] is not None and label["n_test"] == 2
    assert "on 2 held-out windows, too few for the mean" in score_phrase(label)
    assert label["rule"]["tokens"][:1] == [f"w{tokens[explain_one]}"]


def test_one_text_packed_in_two_records_is_not_split_between_making_and_scoring():
    """A training window repeats a text of the dataset, cut and joined to other texts in its
    own way: the two records are one text's whether the latent fires on the same token after the
    same context, at the window's edge, or on other tokens of the copy, so a latent seen there
    only is not scored on the copy of the text it was made from. A run of tokens many records
    share (a system prompt) makes no copy."""
    from core.labels import label_feature, score_phrase

    ev = _synthetic(lambda t, i, s: False)

    def label(tokens, fired):
        e = Evidence(tokens, np.where(tokens == 0, 0, 4), ev.record_start, ev.records,
                     ev.token_text, np.array(fired), np.full(len(fired), 5),
                     np.ones(len(fired), np.float32), 8, (0,))  # fmt: skip
        return label_feature(e, 5, np.random.default_rng(0))

    copy = ev.tokens.copy()
    copy[120:160] = copy[40:80]  # held-out records 1 and 3 hold the same text
    lab = label(copy, [60, 140])
    assert lab["firings"] == {"explain": 0, "heldout": 2} and lab["detection"] is None
    assert "all 2 of its firings are in a held-out text" in score_phrase(lab)
    assert label(copy, [45, 150])["detection"] is None  # other tokens of the copy

    edge = ev.tokens.copy()
    edge[150:160] = edge[40:50]  # the window ends with the text's first 10 tokens, after another
    assert label(edge, [42, 152])["detection"] is None
    mid = ev.tokens.copy()
    mid[120:130] = mid[50:60]  # the window starts mid-text: the dataset record holds more
    assert label(mid, [52, 122])["detection"] is None

    template = ev.tokens.copy()
    for r in (1, 3):  # two texts, each with the same 12 tokens after the firing
        template[40 * r + 21 : 40 * r + 34] = ev.tokens[61:74]
    lab = label(template, [60, 140])
    assert lab["detection"] is not None and lab["scored_on"] == "other texts"

    shared = ev.tokens.copy()
    for r in range(1, 20, 2):  # 10 held-out records open with the same 20 tokens
        shared[40 * r : 40 * r + 20] = shared[40:60]
    lab = label(shared, [70, 150])  # fired after it in two of them: two texts
    assert lab["detection"] is not None and lab["scored_on"] == "other texts"


def test_a_dense_latent_is_scored_on_as_many_silent_windows_as_its_half_holds():
    """Silent in 1 record of 10 of each half only, random draws find few silent windows; a scan
    of the half finds the rest, so it is scored on as many windows as a sparse latent."""
    from core.labels import N_TEST, label_feature

    dense = _synthetic(lambda t, i, s: (i // 40) % 20 not in (0, 1))
    label = label_feature(dense, 5, np.random.default_rng(0))
    assert label["detection"] is not None and label["n_test"] == 2 * N_TEST


def test_a_latent_firing_everywhere_is_not_scored_for_want_of_silent_windows():
    from core.labels import label_feature, score_phrase

    label = label_feature(_synthetic(lambda t, i, s: True), 5, np.random.default_rng(0))
    assert label["detection"] is None and min(label["firings"].values()) > 1
    assert "no silent one" in score_phrase(label)


def test_one_latent_s_label_does_not_depend_on_the_others():
    """Each latent draws its windows from its own generator: a latent added to the evidence (or
    labelled by another path) leaves every other latent's label as it was."""
    from core.labels import label_features

    ev = _synthetic(lambda t, i, since: t[i] == 7 or (t[i] == 8 and i % 3 == 0))
    pos, vals = ev.firing(5)
    extra = np.flatnonzero(ev.tokens == 9)
    more = Evidence(ev.tokens, ev.region, ev.record_start, ev.records, ev.token_text,
                    np.r_[pos, extra], np.r_[np.full(len(pos), 5), np.full(len(extra), 2)],
                    np.ones(len(pos) + len(extra), np.float32), 8, ev.special_ids)  # fmt: skip
    alone, _ = label_features(ev)
    both, _ = label_features(more)
    assert set(both) == {2, 5} and both[5] == alone[5]


def test_an_empty_record_marks_no_start_and_a_short_window_none_either():
    from core.labels import FAR, NEAR, since_special

    tokens = np.array([5, 6, 7, 8, 9, 5])  # records [0, 3), [3, 3) empty, [3, 6) a window
    since = since_special(tokens, np.array([0, 3, 3, 6]), (0,), text_starts=[True, True, False])
    assert since.tolist() == [0, 1, 2, FAR, FAR, FAR]
    short = since_special(np.array([5, 6]), np.array([0, 2]), (0,), text_starts=[False])
    assert (short > NEAR).all()


def test_relabelling_a_dashboard_makes_its_labels_again_from_the_records_it_holds(
    planted, tmp_path
):
    """After a change to how labels are made, `--relabel` makes them again from the stored
    records without a new scan: the same labels a build makes, and the page rendered again."""
    from core.sae import save_sae
    from training.dashboard import build_dashboard, relabel_dashboard

    subject, sae, _, records, _ = planted
    sample = [r for r in records if r.meta["label"] == "not_censored"]
    pool = [r for r in records if r.meta["label"] == "party_line"]
    copy = save_sae(sae.sae, tmp_path / "sae", sae.card)
    build_dashboard(sae, subject, sample, copy, pool=pool, need=8)  # records chosen by top-up
    built = json.loads((copy / "card.json").read_text())
    card = dict(built, label_details={}, labels={})
    (copy / "card.json").write_text(json.dumps(card))
    (copy / "dashboard" / "index.html").unlink()
    summary = relabel_dashboard(sae, subject, copy)
    again = json.loads((copy / "card.json").read_text())
    assert again["label_details"] == built["label_details"] and again["labels"] == built["labels"]
    assert summary == built["labels_summary"]["offline"] and summary["top_up"]["added"] > 0
    page = (copy / "dashboard" / "index.html").read_text()
    assert "__DATA__" not in page and len(page) > 1000


def test_a_latent_on_every_use_of_many_words_is_named_by_all_of_them():
    """A latent firing on each of 15 words: a rule naming 8 of them misses the windows of the
    other 7, so the rule names all 15, and the label shows 5 and says how many more there are."""
    from core.labels import label_feature

    ev = _synthetic(lambda t, i, since: 1 <= t[i] <= 15, n_records=400, vocab=200)
    label = label_feature(ev, 5, np.random.default_rng(0))
    assert sorted(label["rule"]["tokens"]) == sorted(f"w{i}" for i in range(1, 16))
    assert label["text"].endswith(" and 10 more") and label["detection"] >= 0.9


def test_the_html_page_sorts_by_the_label_scores_the_card_holds(planted):
    """ "By label score" sorts on the number in each label's second slot; the words saying how
    it was scored ride beside it."""
    import base64
    import gzip
    import re

    _, _, folder, _, _ = planted
    page = (folder / "dashboard" / "index.html").read_text()
    assert "D.f[b][8][1]" in page
    blob = re.search(r'const B64="([^"]+)"', page).group(1)
    data = json.loads(gzip.decompress(base64.b64decode(blob)))
    details = json.loads((folder / "card.json").read_text())["label_details"]
    scored = {f: lab for f, lab in details.items() if lab["detection"] is not None}
    assert scored and all(
        data["f"][int(f)][8][1] == lab["detection"] and "chance" in data["f"][int(f)][8][3]
        for f, lab in scored.items()
    )


def test_a_label_scored_on_enough_windows_is_shown_before_one_scored_on_two():
    from core.labels import shown_labels

    few = {"text": "few", "detection": 1.0, "n_test": 2}
    many = {"text": "many", "detection": 0.8, "n_test": 40}
    card = {"label_details": {"1": few, "2": many}, "llm_labels": {"1": many, "2": few}}
    assert shown_labels(card) == {"1": "many", "2": "many"}


def test_the_relabel_command_remakes_labels_and_the_search_embeddings(
    planted, tmp_path, monkeypatch
):
    import argparse
    import shutil

    import core.model
    import core.sae
    from core.feature_search import SEARCH_FILE
    from training.__main__ import cmd_dashboard

    subject, sae, folder, _, _ = planted
    copy = shutil.copytree(folder, tmp_path / "sae")
    monkeypatch.setattr(core.model, "load_subject", lambda source, device=None: subject)
    monkeypatch.setattr(core.sae, "load_sae", lambda path, subj: sae)
    args = argparse.Namespace(sae=str(copy), subject="tiny", device=None, relabel=True)
    out = cmd_dashboard(args)
    assert out["labels"]["offline"]["labelled"] > 0 and out["html"].endswith("index.html")
    assert (copy / "dashboard" / SEARCH_FILE).exists()
