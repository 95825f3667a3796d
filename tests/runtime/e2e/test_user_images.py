"""User images: built (while the runtime serves) into its data dir, then used by sessions.

Real builds in real sandboxes, real sessions over HTTP; nothing is mocked. The module's
image uses every Imagefile instruction, and each test checks what it promised in sessions.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay import AgentBay
from agentbay.session_params import CreateSessionParams
from agentbay_local.images import user_images
from agentbay_local.images.registry import ImageRegistry
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError

IMAGE = "imgc-07eksy57nw6r759fb"  # a cloud custom image id, mirrored locally

IMAGEFILE = """\
# every instruction of the subset, comments and blank lines included
FROM code_latest

ENV GREETING="hello world" APP_HOME=/srv/app
ENV PATH=$APP_HOME/bin:$PATH
WORKDIR $APP_HOME
COPY tool.sh bin/
COPY data data
RUN echo built > built.txt && \\
    chmod 640 built.txt && \\
    echo scratch > /tmp/scratch.txt && mkdir -p /root/.config && echo kept > /root/.config/app
RUN ["/bin/sh", "-c", "echo exec-form > /srv/app/exec.txt"]
WORKDIR sub
"""


@pytest.fixture(scope="module")
def image(runtime: EmbeddedRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's image, built into the running runtime's data dir."""
    folder = tmp_path_factory.mktemp("imagefile")
    (folder / "Imagefile").write_text(IMAGEFILE)
    (folder / "tool.sh").write_text("#!/bin/sh\necho tool ran in $(pwd)\n")
    (folder / "tool.sh").chmod(0o750)
    (folder / "data" / "nested").mkdir(parents=True)
    (folder / "data" / "nested" / "f.txt").write_text("nested data\n")
    (folder / "data" / "nested" / "f.txt").chmod(0o604)
    output: list[str] = []
    info = user_images.build_image(
        IMAGE,
        imagefile_path=folder / "Imagefile",
        data_dir=runtime.data_dir,
        output=output.append,
    )
    text = "".join(output)
    assert "Step 6/8 : RUN echo built" in text and f"Built image {IMAGE}" in text
    assert info.base == "code_latest" and info.builtin == "code_latest"
    yield IMAGE
    user_images.remove_image(IMAGE, runtime.data_dir)


def test_every_instruction_shapes_the_sessions(api: Api, image: str) -> None:
    sid = api.create_session(ImageId=image)
    try:
        assert api.text(sid, "shell", command="ls -A /tmp", timeout_ms=30000) == ""
        text = api.text(
            sid,
            "shell",
            command="echo $GREETING; pwd; tool.sh; cat ../built.txt ../exec.txt "
            "../data/nested/f.txt /root/.config/app; "
            "stat -c '%a %U' ../bin/tool.sh ../built.txt ../data/nested/f.txt",
            timeout_ms=30000,
        )
        assert text.splitlines() == [
            "hello world",
            "/srv/app/sub",
            "tool ran in /srv/app/sub",
            "built",
            "exec-form",
            "nested data",
            "kept",
            "750 root",
            "640 root",
            "604 root",
        ]
        code = "import os; print(os.getcwd(), os.environ['GREETING'], os.environ['PATH'])"
        printed = api.text(sid, "run_code", code=code, language="python", timeout_s=30)
        assert printed.split(" ", 3) == [
            "/srv/app/sub",
            "hello",
            "world",
            "/srv/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        ]
        assert api.call("GetMcpResource", SessionId=sid)["DesktopInfo"]["AppId"] == image
    finally:
        api.call("ReleaseMcpSession", SessionId=sid)


def test_sessions_of_one_image_are_independent_and_leave_the_host_alone(
    api: Api, image: str
) -> None:
    first, second = api.create_session(ImageId=image), api.create_session(ImageId=image)
    try:
        api.text(
            first,
            "shell",
            command="echo mine > /srv/app/new.txt && rm /srv/app/built.txt && "
            "echo x > /etc/agentbay-user-image-test",
            timeout_ms=30000,
        )
        seen = api.text(
            second,
            "shell",
            command="ls /srv/app; test -e /etc/agentbay-user-image-test || echo clean",
            timeout_ms=30000,
        )
        assert seen.split() == ["bin", "built.txt", "data", "exec.txt", "sub", "clean"]
    finally:
        api.call("ReleaseMcpSession", SessionId=first)
        api.call("ReleaseMcpSession", SessionId=second)
    assert not os.path.exists("/etc/agentbay-user-image-test")
    assert not os.path.exists("/srv/app/new.txt") and not os.path.exists("/srv/app/built.txt")


def test_list_tools_of_a_user_image_are_its_base_images(api: Api, image: str) -> None:
    mine = json.loads(api.call("ListMcpTools", ImageId=image))
    assert mine == json.loads(api.call("ListMcpTools", ImageId="code_latest"))


def test_vpc_session_on_a_user_image_calls_tools_through_call_tool(api: Api, image: str) -> None:
    data = api.call("CreateMcpSession", ImageId=image, VpcResource=True)
    try:
        query = {
            "server": "wuying_shell",
            "tool": "shell",
            "args": json.dumps({"command": "echo $GREETING from $(pwd)", "timeout_ms": 30000}),
            "token": data["Token"],
            "requestId": "vpc-image-abcdefghi",
        }
        base = f"http://{data['NetworkInterfaceIp']}:{data['HttpPort']}"
        answer = httpx.get(f"{base}/callTool", params=query, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["data"]["content"][0]["text"] == "hello world from /srv/app/sub\n"
    finally:
        api.call("ReleaseMcpSession", SessionId=data["SessionId"])


def test_our_sdk_creates_sessions_on_a_user_image(bay: AgentBay, image: str) -> None:
    session = bay.create(CreateSessionParams(image_id=image)).session
    try:
        result = session.command.execute_command("cat ../exec.txt", timeout_ms=30000)
        assert result.success and result.output == "exec-form\n"
    finally:
        bay.delete(session)


def test_an_image_built_while_serving_is_usable_at_once_and_removal_waits_for_sessions(
    runtime: EmbeddedRuntime, api: Api
) -> None:
    name = "imgc-built-while-serving"
    user_images.build_image(
        name, base="linux_latest", run=["echo fresh > /opt/fresh.txt"], data_dir=runtime.data_dir
    )
    sid = api.create_session(ImageId=name)
    try:
        assert api.text(sid, "shell", command="cat /opt/fresh.txt", timeout_ms=30000) == "fresh\n"
        with pytest.raises(user_images.ImageError, match="in use by 1 running session"):
            user_images.remove_image(name, runtime.data_dir)
        with pytest.raises(user_images.ImageError, match="cannot replace image"):
            user_images.build_image(name, base="linux_latest", data_dir=runtime.data_dir)
        assert api.text(sid, "shell", command="cat /opt/fresh.txt", timeout_ms=30000) == "fresh\n"
        assert name in [info.name for info in user_images.list_images(runtime.data_dir)]
    finally:
        api.call("ReleaseMcpSession", SessionId=sid)
    user_images.remove_image(name, runtime.data_dir)
    assert name not in [info.name for info in user_images.list_images(runtime.data_dir)]
    with pytest.raises(RpcError) as caught:
        api.create_session(ImageId=name)
    assert caught.value.answer["Code"] == "InvalidImageId.NotFound"


def test_a_base_in_use_by_another_image_is_not_removed(runtime: EmbeddedRuntime) -> None:
    data_dir = runtime.data_dir
    user_images.build_image("imgc-parent", base="code_latest", data_dir=data_dir)
    user_images.build_image("imgc-child", base="imgc-parent", data_dir=data_dir)
    with pytest.raises(user_images.ImageError, match="is the base of imgc-child"):
        user_images.remove_image("imgc-parent", data_dir)
    user_images.remove_image("imgc-child", data_dir)
    user_images.remove_image("imgc-parent", data_dir)


def _leftovers(data_dir: Path) -> tuple[list[str], list[str]]:
    registry = ImageRegistry(data_dir)
    used = {layer for info in registry.all_images() for layer in info.layers}
    layers = [p.name for p in registry.layers_dir.iterdir() if p.name not in used]
    return layers, os.listdir(registry.builds_dir)


def test_a_failing_step_registers_nothing_and_says_why(runtime: EmbeddedRuntime) -> None:
    output: list[str] = []
    with pytest.raises(user_images.BuildError) as caught:
        user_images.build_image(
            "imgc-failing",
            base="code_latest",
            run=["echo first", "echo about to fail; exit 42", "echo never"],
            data_dir=runtime.data_dir,
            output=output.append,
        )
    assert caught.value.exit_code == 42
    assert "step 2 (RUN echo about to fail; exit 42) failed with exit code 42" in str(caught.value)
    assert caught.value.output == "about to fail\n"
    assert "never" not in "".join(output)
    assert user_images.list_images(runtime.data_dir) == [
        info for info in user_images.list_images(runtime.data_dir) if info.name != "imgc-failing"
    ]
    assert _leftovers(runtime.data_dir) == ([], [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM code_latest\nEXPOSE 80\n", "Imagefile:2: unsupported instruction EXPOSE"),
        ("RUN true\n", "Imagefile:1: the first instruction must be FROM, not RUN"),
        ("FROM code_latest\nENV NOEQUALS\n", "Imagefile:2: ENV takes KEY=VALUE pairs"),
        ("FROM code_latest\nCOPY ../x /x\n", "Imagefile:2: COPY source '../x' is outside"),
        ("FROM no_such_image\nRUN true\n", "unknown base image 'no_such_image'"),
    ],
)
def test_a_malformed_imagefile_registers_nothing_and_says_why(
    runtime: EmbeddedRuntime, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "Imagefile").write_text(text)
    before = user_images.list_images(runtime.data_dir)
    with pytest.raises((user_images.ImagefileError, user_images.ImageError)) as caught:
        user_images.build_image(
            "imgc-malformed", imagefile_path=tmp_path / "Imagefile", data_dir=runtime.data_dir
        )
    assert message in str(caught.value)
    assert user_images.list_images(runtime.data_dir) == before


def test_names_that_could_escape_the_data_dir_are_refused(runtime: EmbeddedRuntime) -> None:
    for name in ("../evil", "a/b", ".hidden", "", "linux_latest"):
        with pytest.raises(user_images.ImageError):
            user_images.build_image(name, base="code_latest", data_dir=runtime.data_dir)
    assert not (runtime.data_dir / "evil.json").exists()
    registry = ImageRegistry(runtime.data_dir)
    with registry.locked():  # made as a build makes it (earlier tests may have built none)
        pass
    mode = stat.S_IMODE(os.stat(registry.root).st_mode)
    assert mode & 0o022 == 0
