"""The direction-ablation baseline removes its direction exactly and always unhooks."""

import pytest
import torch

from core.direction import direction_ablation, fit_direction
from core.errors import BadInputError
from core.splice import residual_at

SENSITIVE = [
    "What happened at Tiananmen Square in 1989?",
    "Tell me about Tibet and the Dalai Lama.",
]
CONTROL = ["Please write a short poem about the sea.", "A recipe for bread needs flour?"]


def test_projection_is_zero_after_ablation(tiny_subject):
    direction = fit_direction(tiny_subject, "model.layers.2", SENSITIVE, CONTROL)
    assert direction.vector.norm() == pytest.approx(1.0, abs=1e-5)
    ids = tiny_subject.encode_chat(SENSITIVE[0])
    before = residual_at(tiny_subject, "model.layers.2", ids)[0] @ direction.vector
    assert before.abs().max() > 1e-3  # there was something to remove
    with direction_ablation(tiny_subject, direction):
        for layer in range(tiny_subject.n_layers):
            h = residual_at(tiny_subject, f"model.layers.{layer}", ids)[0]
            assert (h @ direction.vector).abs().max() < 1e-4
    after = residual_at(tiny_subject, "model.layers.2", ids)[0] @ direction.vector
    assert torch.allclose(after, before)  # hooks removed on exit


def test_hooks_removed_on_error(tiny_subject):
    r = torch.zeros(tiny_subject.d_model)
    r[0] = 1.0
    with pytest.raises(RuntimeError), direction_ablation(tiny_subject, r):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in tiny_subject.model.modules())


def test_bad_direction(tiny_subject):
    with (
        pytest.raises(BadInputError, match="shape"),
        direction_ablation(tiny_subject, torch.ones(3)),
    ):
        pass
    with pytest.raises(BadInputError, match="empty"):
        fit_direction(tiny_subject, "model.layers.2", [], CONTROL)


def test_activation_addition_adds_exactly_alpha_times_the_direction(tiny_subject):
    from core.direction import direction_addition

    direction = fit_direction(tiny_subject, "model.layers.2", SENSITIVE, CONTROL)
    ids = tiny_subject.tokenizer("Hello there", return_tensors="pt")["input_ids"]
    before = residual_at(tiny_subject, "model.layers.2", ids)[0]
    with direction_addition(tiny_subject, direction, -3.0):
        after = residual_at(tiny_subject, "model.layers.2", ids)[0]
    assert torch.allclose(after - before, -3.0 * direction.vector.expand_as(before), atol=1e-5)
    assert torch.allclose(residual_at(tiny_subject, "model.layers.2", ids)[0], before)
