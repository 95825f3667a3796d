"""Take docs/img/live-view.png: the live view of a desktop session, in headless Chromium.

``python docs/diagrams/live_view.py`` (as root, with the desktop packages and Chromium of the
computer-use guide) creates a ``linux_latest`` session on the embedded runtime, opens a
terminal and an editor on its desktop, waits until the screen stops changing, and has
headless Chromium screenshot the session's ``ResourceUrl`` page (the live view).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from agentbay import AgentBay, Config
from agentbay.session import Session
from agentbay.session_params import CreateSessionParams

OUTPUT = Path(__file__).resolve().parents[1] / "img" / "live-view.png"
SETTLE_TIMEOUT_S = 30.0


def screen(session: Session) -> bytes:
    """One screenshot of the session's desktop, as PNG bytes."""
    shot = session.computer.screenshot()
    if not shot.success:
        raise RuntimeError(shot.error_message)
    with urllib.request.urlopen(shot.data, timeout=30) as answer:
        data: bytes = answer.read()
    return data


def wait_until_settled(session: Session, windows: int) -> None:
    """Wait until ``windows`` windows are listed and two screenshots in a row are equal."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    previous = b""
    while time.monotonic() < deadline:
        listed = session.computer.list_root_windows().windows or []
        current = screen(session)
        if len(listed) >= windows and current == previous:
            return
        previous = current
        time.sleep(0.3)
    raise TimeoutError("the desktop kept changing")


def main() -> int:
    """Make the picture; 1 when Chromium is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs Chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with AgentBay(cfg=Config(endpoint="local", timeout_ms=60000)) as agent_bay:
        created = agent_bay.create(CreateSessionParams(image_id="linux_latest"))
        if not created.success:
            raise SystemExit(created.error_message)
        with created.session as session:
            session.file_system.write_file(
                "/root/plan.md", "# Plan\n\n1. look at the screen\n2. act\n3. look again\n"
            )
            for command in (
                "xterm -geometry 72x18+40+40 -e sh -c "
                "'echo hello from $(hostname); uname -sr; python3 -V; exec sh'",
                "mousepad /root/plan.md",
            ):
                started = session.computer.start_app(command)
                if not started.success:
                    raise SystemExit(started.error_message)
            wait_until_settled(session, windows=2)
            url = session.info().data.resource_url
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run(
                    [
                        chromium,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--hide-scrollbars",
                        "--force-device-scale-factor=1",
                        "--window-size=1024,800",
                        f"--user-data-dir={profile}",
                        f"--screenshot={OUTPUT}",
                        url,
                    ],
                    capture_output=True,
                    timeout=120,
                    check=True,
                )
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
