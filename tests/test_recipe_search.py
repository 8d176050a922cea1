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
