"""The search finds a planted backup feature that matters only once the first is ablated."""

from core.recipe_search import SearchConfig, greedy_search

PRIMARY, BACKUP = 5, 9


def world():
    """Censorship rides on PRIMARY; ablate it and BACKUP takes over (the hydra effect): BACKUP
    is invisible to attribution and useless to ablate until PRIMARY is gone."""

    def features(recipe):
        return {e.feature for e in recipe}

    def candidates(recipe):
        on = features(recipe)
        if PRIMARY in on:
            return [BACKUP, 1, 2, 3]  # re-attribution under the recipe surfaces the backup
        return [PRIMARY, 1, 2, 3]

    def objective(recipe):
        on = features(recipe)
        if PRIMARY in on and BACKUP in on:
            return 0.9
        if PRIMARY in on:
            return 0.3
        return 0.0 + 0.001 * len(on)

    def cost(recipe):
        return 0.01 * len(recipe)

    return candidates, objective, cost


def test_backup_found_after_primary_and_template_positions_untouched():
    res = greedy_search(*world(), SearchConfig(max_features=4, candidates=4))
    assert [e.feature for e in res.edits] == [PRIMARY, BACKUP]
    assert res.objective == 0.9
    assert all(e.where == "generated" for e in res.edits)  # never the prompt's chat template
    assert [s["feature"] for s in res.steps] == [PRIMARY, BACKUP]
    assert "gains enough" in res.stopped


def test_kl_budget_and_no_helpful_candidate():
    candidates, objective, _ = world()
    res = greedy_search(candidates, objective, lambda r: 1.0, SearchConfig(max_kl=0.05))
    assert res.edits == [] and "no candidate helps" in res.stopped
    res = greedy_search(lambda r: [1, 2], lambda r: 0.0, lambda r: 0.0, SearchConfig())
    assert res.edits == [] and res.objective == 0.0


def test_a_clamp_candidate_keeps_its_mode_and_honest_strength():
    """Features that carry the honest answer are clamped up to the strength they take on honest
    text; the search keeps that edit as given instead of turning it into an ablation."""
    from core.edits import FeatureEdit

    up = FeatureEdit(7, "clamp", 1.5, "generated")

    def objective(recipe):
        return sum(0.4 for e in recipe if e.feature == 7 and e.mode == "clamp" and e.value == 1.5)

    res = greedy_search(lambda r: [up, 2], objective, lambda r: 0.0, SearchConfig(max_features=2))
    assert res.edits == [up]
    assert res.steps[0]["mode"] == "clamp" and res.steps[0]["value"] == 1.5


def test_candidate_edits_ablate_censoring_features_and_clamp_honest_ones_up():
    import numpy as np

    from core.attribution import Attribution
    from core.edits import FeatureEdit
    from organism.search import candidate_edits

    answer = np.array([0.0, 3.0, -5.0, -1.0, 0.5])
    censored = np.array([0.0, 2.0, 0.1, 0.9, 0.0])
    honest = np.array([0.0, 0.1, 1.2, 0.2, 0.0])  # feature 3 is not more active on honest text
    att = Attribution(np.zeros(5), answer, 4, 1.0, censored, honest)
    got = candidate_edits(att, n=5)
    assert got == [FeatureEdit(2, "clamp", 1.2, "generated"), 1, 4]


def test_an_interrupted_search_resumes_after_its_last_accepted_step(tmp_path):
    """Steps are saved as they are accepted; a rerun continues from there and asks nothing
    again, and a finished search is read back whole. A checkpoint of another config is refused."""
    import pytest

    from core.errors import BadInputError

    candidates, objective, cost = world()
    path = tmp_path / "search.json"
    asked: list = []

    def interrupted(recipe):
        asked.append(len(recipe))
        if recipe:  # stopped (Ctrl-C) while choosing the second step
            raise KeyboardInterrupt
        return candidates(recipe)

    cfg = SearchConfig(max_features=4, candidates=4)
    with pytest.raises(KeyboardInterrupt):
        greedy_search(interrupted, objective, cost, cfg, checkpoint=path)
    asked.clear()

    def counted(recipe):
        asked.append(len(recipe))
        return candidates(recipe)

    res = greedy_search(counted, objective, cost, cfg, checkpoint=path)
    assert [e.feature for e in res.edits] == [PRIMARY, BACKUP] and asked[0] == 1
    asked.clear()
    again = greedy_search(counted, objective, cost, cfg, checkpoint=path)
    assert again.edits == res.edits and again.stopped == res.stopped and asked == []
    with pytest.raises(BadInputError, match="another config"):
        greedy_search(counted, objective, cost, SearchConfig(max_features=2), checkpoint=path)
