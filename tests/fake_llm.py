"""Fake OpenAI-compatible and Anthropic Messages servers for tests: real sockets, real HTTP.

They answer deterministically, report usage, stream with SSE, and inject the faults a
flaky provider shows: 429 with Retry-After, 500, timeouts, malformed bodies, resets, and
200 replies that are not what was asked (an HTML page, a JSON error, an empty body, a
stream of only ``[DONE]``, cut-off JSON, no choices), streams without usage and slow
chunks. Queue faults with ``server.fail("429", "html", ...)``; each is used by one request.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer"]


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v.get("text", "") if isinstance(v, dict) else v) for v in value)
    return 0


class FakeLLMServer:
    """One server, both APIs: ``/v1/chat/completions`` (OpenAI) and ``/v1/messages``."""

    def __init__(
        self, *, latency_s: float = 0.0, hang_s: float = 5.0, chunk_gap_s: float = 0.7
    ) -> None:
        self.latency_s, self.hang_s, self.chunk_gap_s = latency_s, hang_s, chunk_gap_s
        self.usage = True  # False: never report usage, even when asked
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.reply_count = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return None

            def do_POST(self) -> None:
                server._handle(self)

        class Server(ThreadingHTTPServer):
            # the default listen backlog (5) drops connections of many concurrent runs:
            # their SYNs are retried after 1, 2, 4 s and the test measures the kernel instead
            request_queue_size = 512

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # resets and abandoned requests are the point of some tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, *faults: str) -> None:
        """Queue faults, one per request.

        HTTP errors: 429, 500, 503, 400, 401, ``401-echo`` (the message quotes the key it
        got, as OpenAI's does). Transport: timeout, reset. Malformed: malformed, html,
        json-error (an error body with 200), empty, only-done, truncated, no-choices.
        Slow: ``slow`` streams its chunks ``chunk_gap_s`` apart. ``no-usage``: a good
        reply without usage.
        """
        self.faults.extend(faults)

    # -- request handling -----------------------------------------------------------------

    def _reply_text(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.reply_count += 1
            n = self.reply_count
        system = body.get("system") or next(
            (m.get("content") for m in body.get("messages", []) if m.get("role") == "system"),
            "",
        )
        role = "reviewer" if "review" in str(system).lower() else "writer"
        return f"Fake {role} reply {n}: concise, specific and ready for the next step."

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        self.requests.append(
            {
                "path": h.path,
                "at": time.monotonic(),
                "body": body,
                "has_auth": bool(h.headers.get("Authorization") or h.headers.get("x-api-key")),
            }
        )
        fault = self.faults.popleft() if self.faults else None
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault == "reset":
            # SO_LINGER 0 makes close() send a TCP RST: the client sees a connection reset
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault == "401-echo":
            sent = h.headers.get("Authorization", "").removeprefix("Bearer ")
            sent = sent or h.headers.get("x-api-key", "")
            message = f"Incorrect API key provided: {sent}. Find your key at example.test."
            return self._send_json(h, 401, {"error": {"message": message, "type": "auth"}})
        if fault == "html":
            page = b"<!DOCTYPE html><html><body><h1>Sign in to the proxy</h1></body></html>"
            return self._send_raw(h, 200, page, "text/html; charset=utf-8")
        if fault == "json-error":
            error = {"error": {"message": "model overloaded, try later", "code": 503}}
            return self._send_json(h, 200, error)
        if fault == "empty":
            ctype = "text/event-stream" if body.get("stream") else "application/json"
            return self._send_raw(h, 200, b"", ctype)
        if fault == "only-done":
            if body.get("stream"):
                return self._send_stream(h, [b"data: [DONE]\n\n"])
            return self._send_raw(h, 200, b"data: [DONE]\n\n", "application/json")
        if fault == "timeout":
            time.sleep(self.hang_s)
            return self._send_json(h, 500, {"error": {"message": "too late"}})
        if fault in ("429", "500", "400", "401", "503"):
            status = int(fault)
            headers = {"Retry-After": "0.2"} if status == 429 else {}
            message = {
                429: "Rate limit reached",
                500: "Internal error",
                503: "Overloaded",
                400: "Bad request: invalid model",
                401: "Invalid API key",
            }[status]
            return self._send_json(
                h, status, {"error": {"message": message, "type": "fake"}}, headers
            )
        if fault == "malformed":
            if body.get("stream"):
                event = b"event: message_start\n" if h.path.endswith("/messages") else b""
                return self._send_stream(h, [event + b"data: {not json\n\n"])
            return self._send_raw(h, 200, b"{not json", "application/json")
        text = self._reply_text(body)
        prompt = sum(_words(m.get("content")) for m in body.get("messages", []))
        prompt += _words(body.get("system", ""))
        completion = _words(text)
        if h.path.endswith("/messages"):
            return self._anthropic(h, body, text, prompt, completion, fault)
        return self._openai(h, body, text, prompt, completion, fault)

    def _openai(
        self,
        h: BaseHTTPRequestHandler,
        body: dict[str, Any],
        text: str,
        prompt: int,
        completion: int,
        fault: str | None = None,
    ) -> None:
        usage: dict[str, int] | None = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if fault == "no-usage" or not self.usage:
            usage = None
        base = {"id": "chatcmpl-fake", "created": 1700000000, "model": body.get("model")}
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": text},
        }
        if not body.get("stream"):
            reply = {
                **base,
                "object": "chat.completion",
                "choices": [] if fault == "no-choices" else [choice],
            }
            if usage is not None:
                reply["usage"] = usage
            payload = json.dumps(reply).encode()
            if fault == "truncated":
                payload = payload[: len(payload) // 2]
            return self._send_raw(h, 200, payload, "application/json")
        if fault == "no-choices":
            last = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            chunks = [f"data: {json.dumps(last)}\n\n".encode(), b"data: [DONE]\n\n"]
            return self._send_stream(h, chunks)
        events = []
        for i, word in enumerate(text.split(" ")):
            piece = word if i == 0 else " " + word
            events.append(
                {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
        events.append(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
        )
        if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
            events.append(
                {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            )
        chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
        if fault == "truncated":  # the connection ends inside the first event's JSON
            chunks = [chunks[0][: len(chunks[0]) // 2]]
        self._send_stream(h, chunks, gap_s=self.chunk_gap_s if fault == "slow" else 0.0)

    def _anthropic(
        self,
        h: BaseHTTPRequestHandler,
        body: dict[str, Any],
        text: str,
        prompt: int,
        completion: int,
        fault: str | None = None,
    ) -> None:
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        if not body.get("stream"):
            content = [] if fault == "no-choices" else [{"type": "text", "text": text}]
            reply = {
                **message,
                "content": content,
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            }
            payload = json.dumps(reply).encode()
            if fault == "truncated":
                payload = payload[: len(payload) // 2]
            return self._send_raw(h, 200, payload, "application/json")
        events = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        **message,
                        "content": [],
                        "stop_reason": None,
                        "usage": {"input_tokens": prompt, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        ]
        for i, word in enumerate(text.split(" ")):
            piece = word if i == 0 else " " + word
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            )
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": completion},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        if fault == "no-choices":  # a message with no content blocks at all
            events = [events[0], *events[-2:]]
        chunks = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
        if fault == "truncated":
            chunks = [chunks[0][: len(chunks[0]) // 2]]
        self._send_stream(h, chunks, gap_s=self.chunk_gap_s if fault == "slow" else 0.0)

    # -- HTTP plumbing --------------------------------------------------------------------

    @staticmethod
    def _send_raw(
        h: BaseHTTPRequestHandler,
        status: int,
        payload: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(payload)

    def _send_json(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        data: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send_raw(h, status, json.dumps(data).encode(), "application/json", headers)

    @staticmethod
    def _send_stream(h: BaseHTTPRequestHandler, chunks: list[bytes], gap_s: float = 0.0) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for i, chunk in enumerate(chunks):
            if gap_s and i:
                time.sleep(gap_s)
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")
