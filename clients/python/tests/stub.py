"""A stub stsvend: answers each request with the next scripted reply and records what it was asked."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"


def vend(key_id: str, seconds: float, **extra: Any) -> Dict[str, Any]:
    """A vend whose keys expire ``seconds`` from now."""
    expiration = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "Version": 1, "AccessKeyId": key_id, "SecretAccessKey": f"secret-of-{key_id}",
        "SessionToken": f"session-of-{key_id}", "Expiration": expiration, "Bucket": "stsvend-stub",
        "Prefix": "users/u1/", "Region": "eu-west-1", "Access": "read-write", "Endpoint": "http://127.0.0.1:4566",
    }
    body.update(extra)
    return {"status": 200, "body": body}


def error(status: int, code: str, retry_after: Optional[int] = None) -> Dict[str, Any]:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return {"status": status, "headers": headers, "body": {"error": {"code": code, "message": f"stub says {code}"}}}


class Stub:
    def __init__(self, replies: List[Dict[str, Any]]):
        self.replies = list(replies)
        self.seen: List[Dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                stub.seen.append({"path": self.path, "authorization": self.headers.get("Authorization", ""), "body": body})
                reply = stub.replies.pop(0) if stub.replies else error(500, "stub_exhausted")
                data = json.dumps(reply["body"]).encode()
                self.send_response(reply["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.get("headers", {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
