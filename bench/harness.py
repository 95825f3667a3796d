"""Measuring helpers: timers, distributions, targets and the results table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: One line of the mixed text the transfer figures use: ASCII, accented letters, punctuation.
MIXED_LINE = 'The quick brown fox — café, naïve, Ærøskøbing, über straße; 12345 <tag> & "q"\n'


def mixed_text(size: int) -> str:
    """``size`` characters of mixed text (what files hold; ``"y" * size`` flatters every codec).

    Stdlib-only like this module: the official client's probe imports it from its own venv.
    """
    return (MIXED_LINE * (size // len(MIXED_LINE) + 1))[:size]


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    """Seconds per call of ``fn``, ``repeat`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def interleaved(fns: list[Callable[[], Any]], repeat: int, warmup: int = 3) -> list[list[float]]:
    """Seconds per call of each of ``fns``, called in turn so that drift hits all alike.

    The order rotates every round, so no function always runs right after another.
    """
    return interleaved_samplers([timing(fn) for fn in fns], repeat, warmup)


def timing(fn: Callable[[], Any]) -> Callable[[], float]:
    """A sampler: ``fn`` called once, its seconds."""

    def sample() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return sample


def interleaved_samplers(
    samplers: list[Callable[[], float]], repeat: int, warmup: int = 3
) -> list[list[float]]:
    """``interleaved`` for samplers that measure themselves (another process's calls)."""
    for sampler in samplers:
        for _ in range(warmup):
            sampler()
    samples: list[list[float]] = [[] for _ in samplers]
    for round_ in range(repeat):
        for offset in range(len(samplers)):
            index = (round_ + offset) % len(samplers)
            samples[index].append(samplers[index]())
    return samples


async def ainterleaved(
    fns: list[Callable[[], Awaitable[Any]]], repeat: int, warmup: int = 3
) -> list[list[float]]:
    """``interleaved`` for coroutine functions."""
    for fn in fns:
        for _ in range(warmup):
            await fn()
    samples: list[list[float]] = [[] for _ in fns]
    for round_ in range(repeat):
        for offset in range(len(fns)):
            index = (round_ + offset) % len(fns)
            start = time.perf_counter()
            await fns[index]()
            samples[index].append(time.perf_counter() - start)
    return samples


def pct(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of samples."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def p50(samples: list[float]) -> float:
    """Median."""
    return statistics.median(samples)


def ms(seconds: float) -> str:
    """Seconds as milliseconds text."""
    return f"{seconds * 1000:.2f} ms"


@dataclass
class Target:
    """One target of the benchmark issue and whether this run met it."""

    name: str
    goal: str
    measured: str
    met: bool
    note: str = ""


@dataclass
class Report:
    """Everything one run measured."""

    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)

    def table(self, title: str, header: list[str], rows: list[list[str]], note: str = "") -> None:
        """Add a markdown table section."""
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if note:
            lines += ["", note]
        self.sections.append((title, lines))
        print(f"\n## {title}\n" + "\n".join(lines), flush=True)

    def target(self, target: Target) -> None:
        """Record a target's outcome."""
        self.targets.append(target)
        flag = "PASS" if target.met else "MISS"
        print(f"[{flag}] {target.name}: {target.measured} (goal {target.goal})", flush=True)

    def markdown(self, header: str) -> str:
        """The whole report."""
        out = [
            header,
            "",
            "## Targets",
            "",
            "| target | goal | this run | result |",
            "|---|---|---|---|",
        ]
        for t in self.targets:
            result = "pass" if t.met else "**miss**" + (f" — {t.note}" if t.note else "")
            out.append(f"| {t.name} | {t.goal} | {t.measured} | {result} |")
        for title, lines in self.sections:
            out += ["", f"## {title}", "", *lines]
        for caption, path in self.plots:
            out += ["", f"![{caption}]({path})"]
        return "\n".join(out) + "\n"
