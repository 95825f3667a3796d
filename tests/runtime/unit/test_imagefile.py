"""The Imagefile parser: every instruction, continuations, and a clear error per bad line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbay_local.images.imagefile import Copy, Env, ImagefileError, Run, Workdir, expand, parse


def test_every_instruction_parses_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "a.txt").write_text("a")
    text = (
        "# comment\n"
        "\n"
        "from code_latest\n"
        'ENV A=1 B="two words"\n'
        "WORKDIR /app\n"
        "COPY a.txt src /app/\n"
        "RUN echo one && \\\n"
        "    # a comment inside a continuation\n"
        "    echo two\n"
        'RUN ["printf", "%s", "it\'s"]\n'
    )
    recipe = parse(text, tmp_path)
    assert recipe.base == "code_latest"
    assert recipe.steps == (
        Env((("A", "1"), ("B", "two words")), 4),
        Workdir("/app", 5),
        Copy((tmp_path / "a.txt", tmp_path / "src"), "/app/", 6, ("a.txt", "src")),
        Run("echo one && echo two", 7),
        Run("printf %s 'it'\"'\"'s'", 10),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Imagefile: no FROM instruction"),
        ("# only a comment\n", "Imagefile: no FROM instruction"),
        ("ENV A=1\n", "Imagefile:1: the first instruction must be FROM, not ENV"),
        ("FROM a\nFROM b\n", "Imagefile:2: only one FROM is supported"),
        ("FROM a b\n", "Imagefile:1: FROM takes one image name"),
        ("FROM a\nRUN\n", "Imagefile:2: RUN needs an argument"),
        ('FROM a\nCMD ["x"]\n', "Imagefile:2: unsupported instruction CMD"),
        ("FROM a\nRUN [1, 2]\n", "Imagefile:2: RUN [...] must be a non-empty JSON array"),
        ("FROM a\nRUN [oops\n", "Imagefile:2: RUN [...] must be a JSON array of strings"),
        ("FROM a\nENV 1A=x\n", "Imagefile:2: ENV: invalid variable name '1A'"),
        ("FROM a\nENV A 1\n", "Imagefile:2: ENV takes KEY=VALUE pairs"),
        ("FROM a\nCOPY --chown=1 a b\n", "Imagefile:2: COPY --chown=1 is not supported"),
        ("FROM a\nCOPY onlyone\n", "Imagefile:2: COPY needs a source and a destination"),
        ("FROM a\nCOPY missing /x\n", "Imagefile:2: COPY source 'missing' does not exist"),
        ("FROM a\nCOPY /etc/passwd /x\n", "Imagefile:2: COPY source '/etc/passwd' is outside"),
        ("FROM a\n\nCOPY ../up /x\n", "Imagefile:3: COPY source '../up' is outside"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ImagefileError) as caught:
        parse(text, tmp_path)
    assert message in str(caught.value)


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "escape").symlink_to("/etc")
    with pytest.raises(ImagefileError, match="outside the Imagefile's folder"):
        parse("FROM a\nCOPY escape /x\n", tmp_path)


def test_expand_reads_earlier_settings() -> None:
    env = {"HOME": "/root", "PATH": "/bin"}
    assert expand("$HOME/x:${PATH}:$NOPE:$", env) == "/root/x:/bin::$"


def test_the_quick_image_catalogue_equals_the_full_description() -> None:
    from agentbay_local.protocol import description

    assert description.image_servers() == description.load().image_servers
