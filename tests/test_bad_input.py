"""Bad input that only the raw API can send gets a message, and whole numbers are never rounded."""

import math

import gradio as gr
import pytest

from ui import runtime


@pytest.fixture
def rt(tiny_subject, tiny_sae, tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    return runtime.set_runtime(tiny_subject, tiny_sae)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda h: h.on_inspect("hi", "abc", ""), "top-k must be a whole number, got 'abc'"),
        (lambda h: h.on_inspect("hi", math.nan, ""), "top-k must be a whole number"),
        (lambda h: h.on_inspect("hi", 3, "2.5"), "feature id must be a whole number"),
        (lambda h: h.on_inspect("hi \ud800 there", 3, ""), "invalid character .*U\\+D800"),
        (lambda h: h.on_add_edit("", 1.5, "ablate", 0, "all"), "feature id must be a whole"),
        (lambda h: h.on_add_edit("", 2, "clamp", "lots", "all"), "clamp value must be a number"),
        (lambda h: h.on_add_edit("[" * 50_000, 2, "ablate", 0, "all"), "nested too deeply"),
        (
            lambda h: h.on_add_edit(
                '{"edits": ' + "[" * 3000 + "]" * 3000 + "}", 2, "ablate", 0, "all"
            ),
            "nested too deeply",
        ),  # fmt: skip
        (lambda h: list(h.on_generate("hi", "", 4, 0.0, 0.95, 1.5)), "seed must be a whole"),
        (lambda h: list(h.on_generate("hi", "", "4", "hot", 0.95, 0)), "temperature must be a"),
        (lambda h: list(h.on_generate("hi", "", 4, 0.0, math.inf, 0)), "top-p must be a finite"),
        (lambda h: list(h.on_generate("hi", "", 2.5, 0.0, 0.95, 0)), "max new tokens must be"),
    ],
)
def test_inspect_tab_refuses_with_a_message(rt, call, message):
    from ui import inspect_tab

    with pytest.raises(gr.Error, match=message):
        call(inspect_tab)


def test_other_tabs_refuse_non_integers(rt):
    from ui.dataset_tab import on_nearest
    from ui.features_tab import on_add_top, on_feature

    for value in (1.5, "abc", math.nan, None):
        with pytest.raises(gr.Error, match="feature id"):
            on_feature(value)
    with pytest.raises(gr.Error, match="k must be a whole number"):
        on_nearest("bread", 2.5, "answers")
    with pytest.raises(gr.Error, match="top n must be a whole number"):
        on_add_top("", 2.5)


def test_an_unexpected_failure_still_says_something(rt, monkeypatch):
    from ui import inspect_tab

    def boom(*_a, **_k):
        raise RuntimeError("CUDA error: device-side assert")

    monkeypatch.setattr(inspect_tab, "inspect_prompt", boom)
    with pytest.raises(gr.Error, match=r"could not handle this request \(RuntimeError\)"):
        inspect_tab.on_inspect("hi", 3, "")


def test_raw_inputs_are_not_rounded_and_render_as_plain_components():
    from ui.common import raw_value

    number = raw_value(gr.Number(precision=0))
    assert number.preprocess(1.5) == 1.5 and number.preprocess("x") == "x"
    assert number.get_block_name() == "number"
    assert raw_value(gr.Slider(1, 32, step=1)).get_block_name() == "slider"
    assert gr.Number(precision=0).preprocess(1.5) == 2  # what the plain component would do
