"""A scripted OpenAI-compatible server on loopback, for testing the real `openai` client.

Each POST /v1/chat/completions takes the next step of the script: ("status", 429), ("status", 500),
("status", 401) or ("reply", "text the assistant says"). When the script is empty, `default(body)` answers
with a reply string or a step. Every request body is recorded in `requests`.

    with OpenAIStub([("status", 429), ("reply", '{"label": "refusal", ...}')]) as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="test")
"""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OpenAIStub:
    def __init__(self, script=None, default: Callable[[dict], str] | None = None):
        self.script = list(script or [])
        self.default = default or (lambda body: "{}")
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    step = stub.script.pop(0) if stub.script else stub.default(body)
                if isinstance(step, str):
                    step = ("reply", step)
                kind, value = step
                if kind == "status":
                    payload = json.dumps(
                        {"error": {"message": f"scripted {value}", "type": "test"}}
                    )
                    self._send(int(value), payload, {"retry-after": "0"})
                    return
                reply = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "stub"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": value},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(200, json.dumps(reply))

            def _send(self, code, payload, headers=None):
                data = payload.encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
