"""Malformed calls through the raw Gradio HTTP API get a message, never a bare error."""

import json
import urllib.request

import pytest


def raw_call(url: str, api_name: str, body: str) -> tuple[str, dict | list | None]:
    """POST `body` (JSON text as sent, NaN and escapes included) and read the event stream's end."""
    base = f"{url}gradio_api/call/{api_name}"
    request = urllib.request.Request(
        base, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        event_id = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{base}/{event_id}", timeout=120) as resp:
        lines = resp.read().decode().strip().splitlines()
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    datas = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    return events[-1], json.loads(datas[-1])


@pytest.mark.parametrize(
    "api_name,data,message",
    [
        ("inspect", '["hi", "three", ""]', "top-k must be a whole number"),
        ("inspect", '["hi", NaN, ""]', "top-k must be a whole number"),
        ("inspect", '["hi \\ud800 there", 3, ""]', "invalid character"),
        ("feature", "[NaN]", "feature id must be a whole number"),
        ("feature", '["seven"]', "feature id must be a whole number"),
        ("feature", "[1.5]", "feature id must be a whole number"),
        ("compare", '["hi", "", 4, 0.0, 0.95, 1.5, ""]', "seed must be a whole number"),
        ("compare", '["hi", "", 4, NaN, 0.95, 0, ""]', "temperature must be a finite number"),
        ("add_edit", '["' + "[" * 20000 + '", 1, "ablate", 0, "all"]', "nested too deeply"),
        ("nearest", '["bread", 2.5, "answers"]', "k must be a whole number"),
    ],
)
def test_malformed_api_call_gets_a_message(app, api_name, data, message):
    url, _, _ = app
    event, payload = raw_call(url, api_name, f'{{"data": {data}}}')
    assert event == "error"
    assert payload["error"] and message in payload["error"]


def test_a_good_call_still_works_after_bad_ones(app):
    url, _, _ = app
    event, payload = raw_call(url, "feature", '{"data": [3]}')
    assert event == "complete" and payload[0].startswith("### Feature #3")
