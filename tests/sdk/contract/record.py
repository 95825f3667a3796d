"""Record what an official client sends: a recording server on loopback, answering each
action with a canned answer the client accepts, and the capture driver run against it.

``python -m tests.sdk.contract.record 0.22.3`` writes
``captures/sdk-<version>-new-actions.jsonl`` (one request a line, in the format of the 0.9.3
walkthrough captures: the raw request target, headers, body, form and the answer given).
The official client runs in its own virtual environment (tests/support/official.py) and its
traffic never leaves loopback (tests/support/loopback_only.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.sdk.contract.wire import CAPTURES
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("capture_driver.py")
KEY = "akm-fake-0000"
SESSION = "session-rec0000000000001"


def _ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "RequestId": "rec-req",
        "Success": True,
        "Code": "ok",
        "Message": "",
        "HttpStatusCode": 200,
        "Data": data,
        **extra,
    }


def _not_found(session_id: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "RequestId": "rec-req",
        "Success": False,
        "Code": "InvalidMcpSession.NotFound",
        "Message": f"The session {session_id} does not exist.",
        "HttpStatusCode": 400,
        "Data": None,
    }


class Recorder:
    """A server's worth of canned answers with just enough state for the clients' polling
    loops (pause until PAUSED, resume until RUNNING, delete until not found)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.lock = threading.Lock()

    def answer(self, action: str, form: dict[str, str], query: dict[str, str]) -> tuple[int, Any]:
        sid = form.get("SessionId") or query.get("SessionId") or SESSION
        status = self.status.get(sid, "RUNNING")
        match action:
            case "CreateMcpSession":
                new = f"session-rec{len(self.status) + 1:014d}"
                self.status[new] = "RUNNING"
                return 200, _ok({"SessionId": new, "ResourceUrl": "http://x", "Success": True})
            case "GetSession":
                if status == "GONE":
                    return _not_found(sid)
                return 200, _ok({"SessionId": sid, "Status": status, "Success": True})
            case "GetSessionDetail":
                if status == "GONE":
                    return _not_found(sid)
                return 200, _ok({"Id": sid, "Status": status, "ImageId": "linux_latest"})
            case "PauseSessionAsync":
                self.status[sid] = "PAUSED"
                return 200, _ok()
            case "ResumeSessionAsync":
                self.status[sid] = "RUNNING"
                return 200, _ok()
            case "DeleteSessionAsync" | "ReleaseMcpSession":
                self.status[sid] = "GONE"
                return 200, _ok()
            case "ListSession":
                ids = [s for s, state in self.status.items() if state != "GONE"]
                data = [{"SessionId": s, "SessionStatus": self.status[s]} for s in ids]
                return 200, _ok(data, NextToken="", MaxResults=10, TotalCount=len(ids))
            case "RefreshSessionIdleTime":
                return 200, _ok()
            case "GetContext":
                name = form.get("Name", "rec-context")
                return 200, _ok(
                    {
                        "Id": form.get("ContextId", "ctx-1"),
                        "Name": name,
                        "State": "available",
                        "CreateTime": "2025-01-01T00:00:00Z",
                        "LastUsedTime": "2025-01-01T00:00:00Z",
                        "OsType": "linux",
                    }
                )
            case "GetContextInfo":
                return 200, _ok({"ContextStatus": ""})
            case "DescribeSessionContexts":
                return 200, _ok(
                    [{"ContextId": "ctx-1", "ContextName": "rec", "Path": "/tmp/bound"}]
                )
            case "CreateNetwork":
                return 200, _ok({"NetworkId": "net-rec-1", "NetworkToken": "tok"})
            case "DescribeNetwork":
                return 200, _ok({"Online": True})
            case "GetCdpLink" | "GetAdbLink":
                return 200, _ok({"Url": "ws://127.0.0.1:9/rec"})
            case "InitBrowser":
                return 200, _ok({"Port": 9222})
            case "GetAndLoadInternalContext":
                return 200, _ok(
                    [
                        {
                            "ContextId": "ctx-ft",
                            "ContextPath": "/tmp/file-transfer",
                            "ContextType": "file_transfer",
                        }
                    ]
                )
            case "ListSkillMetaData" | "GetSkillMetaData":
                return 200, _ok({"MetaDataList": [], "TotalCount": 0})
            case "CallMcpTool":
                text = [{"type": "text", "text": "recorded\n"}]
                return 200, _ok({"content": text, "isError": False})
        return 200, _ok()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                form = dict(parse_qsl(body, keep_blank_values=True))
                action = query.get("Action") or self.headers.get("x-acs-action", "")
                with recorder.lock:
                    status, answer = recorder.answer(action, form, query)
                    tool = form.get("Name") if action == "CallMcpTool" else None
                    recorder.records.append(
                        {
                            "seq": len(recorder.records) + 1,
                            "ts": round(time.time(), 3),
                            "client": "127.0.0.1",
                            "tls": False,
                            "request_line": self.requestline,
                            "method": self.command,
                            "raw_target": self.path,
                            "path": urlsplit(self.path).path,
                            "query": query,
                            "headers": [list(pair) for pair in self.headers.items()],
                            "body_text": body,
                            "body_b64": None,
                            "form": form,
                            "json": None,
                            "action": action,
                            "tool": tool,
                            "response_status": status,
                            "response": answer,
                        }
                    )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def record(version: str) -> Path:
    """Run the capture driver with official client ``version``; the capture file written."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        with tempfile.TemporaryDirectory() as scratch:
            steps = run_driver(official_python(version), DRIVER, endpoint, KEY, Path(scratch), 300)
    finally:
        server.shutdown()
        server.server_close()
    for name, outcome in steps.items():
        if outcome.startswith(("failed", "absent")):
            print(f"{version} {name}: {outcome.splitlines()[-1]}", file=sys.stderr)
    out = CAPTURES / f"sdk-{version}-new-actions.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        for entry in recorder.records:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    for wanted in sys.argv[1:] or ["0.13.1", "0.15.2", "0.22.3"]:
        print(record(wanted))
