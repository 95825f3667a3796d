"""Sessions on their images' own root filesystems against the host's ``/``, root and rootless.

``make bench`` runs this section (``section_image_roots``); ``python -m bench.rootless``
prints the same figures alone. Create -> first command from a warm pool and with none, on
code_latest's tree and on the host's ``/`` (``serve --host-root``, the baseline), as root
and as the ordinary user ``.ci/test-rootless --prepare`` sets up, all in one run with the
rounds alternating.
"""

from __future__ import annotations

import os

from bench.harness import Report, Target, p50
from bench.rootless import measure, prepare, summary

ROUNDS = 3
SESSIONS = 10


def section_image_roots(report: Report) -> None:
    """The table, and the targets: warm create -> first command on the image no worse than
    on the host's ``/`` (1.1x allows the noise), rootless within 1.3x of root."""
    if os.geteuid() != 0:
        report.table("Sessions on image trees", ["scenario"], [["not run: run make bench as root"]])
        return
    user = os.environ.get("AGENTBAY_CI_USER", "agentbay-ci")
    python, checkout = prepare(user)
    totals = measure(ROUNDS, SESSIONS, user, python, checkout)
    report.table(
        f"Create -> first command on the image's tree and on the host's / ({ROUNDS} rounds x "
        f"{SESSIONS} sessions per scenario, root and rootless alternating)",
        ["scenario", "p50 root", "p50 rootless", "rootless/root", "image/host (root / rootless)"],
        summary(totals),
        note="cold: no pool (each sandbox started for its create); warm: one started sandbox "
        "waiting (what serve gives a client). image: code_latest's own root filesystem; host: "
        "the host's / (serve --host-root). In-process SandboxManager, no HTTP.",
    )
    warm = {mode: p50(totals[mode]["warm image"]) for mode in ("root", "rootless")}
    host = {mode: p50(totals[mode]["warm host"]) for mode in ("root", "rootless")}
    for mode in ("root", "rootless"):
        report.target(
            Target(
                f"warm create -> first command on the image ({mode}) vs the host's /",
                "<= 1.1x",
                f"{warm[mode] * 1000:.1f} ms vs {host[mode] * 1000:.1f} ms "
                f"({warm[mode] / host[mode]:.2f}x)",
                warm[mode] <= 1.1 * host[mode],
            )
        )
    report.target(
        Target(
            "warm create -> first command on the image, rootless vs root",
            "<= 1.3x",
            f"{warm['rootless'] / warm['root']:.2f}x",
            warm["rootless"] <= 1.3 * warm["root"],
        )
    )
