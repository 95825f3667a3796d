"""Draw docs/img/architecture.svg: description -> generator -> client/layer -> runtime -> sandbox.

Plain SVG from the standard library, so the picture is reproducible byte for byte:
``python docs/diagrams/architecture.py`` rewrites it; ``--check`` fails if the checked-in
file differs (``make docs`` runs the check).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUTPUT = Path(__file__).resolve().parents[1] / "img" / "architecture.svg"

WIDTH, HEIGHT = 980, 470
LINE = 17  # px between text lines
MIDDLE = 'text-anchor="middle"'
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13" fill="#222"'
COLOURS = {
    "source": ("#eef4ff", "#3b6fd6"),  # written by hand
    "generated": ("#eefaf0", "#2f9a4a"),  # produced by make generate
    "runtime": ("#fff6e8", "#d08a1e"),  # runs sessions
    "outside": ("#f4f4f4", "#888888"),  # not part of this repository
}


@dataclass(frozen=True)
class Box:
    """A rounded box with a bold title and a few lines of text."""

    x: int
    y: int
    w: int
    h: int
    title: str
    lines: tuple[str, ...]
    kind: str

    def svg(self) -> str:
        fill, stroke = COLOURS[self.kind]
        dash = ' stroke-dasharray="6 4"' if self.kind == "outside" else ""
        parts = [
            f'<rect x="{self.x}" y="{self.y}" width="{self.w}" height="{self.h}" rx="10" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>',
            f'<text x="{self.x + self.w // 2}" y="{self.y + 24}" {MIDDLE} font-weight="bold" '
            f'font-size="15">{escape(self.title)}</text>',
        ]
        for i, line in enumerate(self.lines):
            parts.append(
                f'<text x="{self.x + self.w // 2}" y="{self.y + 46 + i * LINE}" {MIDDLE}>'
                f"{escape(line)}</text>"
            )
        return "\n".join(parts)

    def right(self) -> tuple[int, int]:
        return self.x + self.w, self.y + self.h // 2

    def left(self) -> tuple[int, int]:
        return self.x, self.y + self.h // 2

    def bottom(self, dx: int = 0) -> tuple[int, int]:
        return self.x + self.w // 2 + dx, self.y + self.h

    def top(self, dx: int = 0) -> tuple[int, int]:
        return self.x + self.w // 2 + dx, self.y


def arrow(points: list[tuple[int, int]], label: str = "", at: tuple[int, int] | None = None) -> str:
    path = " ".join(f"{x},{y}" for x, y in points)
    svg = (
        f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="1.6" '
        'marker-end="url(#head)"/>'
    )
    if label and at:
        svg += (
            f'\n<text x="{at[0]}" y="{at[1]}" {MIDDLE} font-size="12" fill="#555" '
            f'font-style="italic">{escape(label)}</text>'
        )
    return svg


def drawing() -> str:
    description = Box(
        20,
        30,
        220,
        118,
        "API description",
        ("openapi/agentbay.yaml", "38 actions, /callTool,", "the tool catalogue"),
        "source",
    )
    generator = Box(
        300,
        30,
        250,
        118,
        "make generate",
        ("generator/ + openapi-python-client", "+ Jinja and templates/", "deterministic, offline"),
        "source",
    )
    sdk = Box(
        610,
        30,
        350,
        118,
        "SDK (generated, checked in)",
        (
            "_rendered/openapi: low-level client",
            "AgentBay, Session, managers",
            "sync + async (agentbay.aio)",
        ),
        "generated",
    )
    user = Box(800, 200, 160, 80, "your code", ("file_system.read_file()",), "outside")
    cloud = Box(
        20,
        330,
        220,
        118,
        "AgentBay cloud",
        ("same API, same wire", "(api_key + endpoint)"),
        "outside",
    )
    runtime = Box(
        300,
        330,
        250,
        118,
        "local runtime",
        (
            "agentbay_local: control plane;",
            "routes and validates by the",
            "description; contexts, SQLite",
        ),
        "runtime",
    )
    sandbox = Box(
        610,
        330,
        350,
        118,
        "sandbox, one per session",
        (
            "overlay root; PID, mount, UTS, IPC, net ns;",
            "process and memory limits; inside it, the",
            "tool server (stdlib only)",
        ),
        "runtime",
    )
    boxes = [description, generator, sdk, user, cloud, runtime, sandbox]
    http_y = 240
    sdk_out = sdk.bottom(-110)
    arrows = [
        arrow([description.right(), generator.left()]),
        arrow([generator.right(), sdk.left()]),
        arrow(
            [user.top(), (user.top()[0], sdk.bottom()[1] + 2)], "calls", (user.top()[0] + 24, 178)
        ),
        # The SDK speaks HTTP to the local runtime, or to the cloud.
        arrow([sdk_out, (sdk_out[0], http_y), (runtime.top(60)[0], http_y), runtime.top(60)]),
        arrow([(runtime.top(60)[0], http_y), (cloud.top()[0], http_y), cloud.top()]),
        f'<text x="{sdk_out[0] - 110}" y="{http_y - 8}" {MIDDLE} font-size="12" fill="#555" '
        'font-style="italic">HTTP: POST /?Action=...</text>',
        # The runtime reads the description at run time.
        arrow(
            [
                description.bottom(40),
                (description.bottom(40)[0], 300),
                (runtime.top(-60)[0], 300),
                runtime.top(-60),
            ],
            "read at run time",
            (235, 292),
        ),
        arrow([runtime.right(), sandbox.left()], "tool calls", (580, 380)),
    ]
    legend = []
    for i, (kind, text) in enumerate(
        [
            ("source", "written by hand"),
            ("generated", "generated"),
            ("runtime", "runs sessions"),
            ("outside", "outside the repository"),
        ]
    ):
        fill, stroke = COLOURS[kind]
        x = 300 + i * 170
        legend.append(
            f'<rect x="{x}" y="8" width="14" height="14" rx="3" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 20}" y="20" font-size="12">{text}</text>'
        )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="agentbay architecture">',
            f"<g {FONT}>",
            '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
            'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#444"/></marker></defs>',
            '<rect width="100%" height="100%" fill="#ffffff"/>',
            *legend,
            *(box.svg() for box in boxes),
            *arrows,
            "</g>",
            "</svg>",
            "",
        ]
    )


def main(argv: list[str]) -> int:
    """Write the picture, or with ``--check`` fail when the checked-in one differs."""
    svg = drawing()
    if "--check" in argv:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != svg:
            print(f"{OUTPUT} is stale: run python docs/diagrams/architecture.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(svg, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
