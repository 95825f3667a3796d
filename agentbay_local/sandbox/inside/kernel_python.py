"""The Python kernel: one persistent interpreter of a session running cells (stdlib only).

The tool server (``kernels.py``) runs this file's source with the session's ``python3 -c``
and talks to it over three descriptors:

- stdin: one JSON line per cell, ``{"code": str}``; the next is sent after ``done``;
- fd 1 and 2: what the cell prints (the tool server turns them into stdout/stderr chunks);
- fd 3: events as JSON lines: ``{"ready": pid}`` once, then per cell ``{"result": bundle,
  "main": bool}`` (a MIME bundle: ``text/plain``, ``text/html``, ``image/png``, ... and
  ``chart``), ``{"error": {"name", "value", "traceback"}}`` and ``{"done": count}``.

A cell is compiled like IPython's: its last statement, if an expression, is evaluated for
the main result. ``display(obj)`` adds a result; matplotlib figures are rendered (Agg) to
PNG when shown or when the cell ends. SIGINT (the tool server's time limit) interrupts the
running cell with KeyboardInterrupt; the namespace survives.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import os
import signal
import sys
import traceback
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Formats asked of ``_repr_<name>_`` methods, by MIME type (the Jupyter convention).
_REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
)
#: A figure larger than this many pixels is refused, not rendered: a 10,000 x 10,000 one
#: needs 400 MB of memory in Agg and takes seconds.
MAX_FIGURE_PIXELS = 25_000_000
#: One result's formats together, at most (larger ones are replaced by a note).
MAX_RESULT_BYTES = 32 * 1024 * 1024
#: matplotlib's backend here: Agg, with ``show()`` sending the figures as results.
BACKEND_MODULE = "agentbay_inline_backend"

_events = os.fdopen(3, "w", encoding="utf-8", errors="backslashreplace")
_namespace = {"__name__": "__main__", "__builtins__": __builtins__}
_count = 0
#: Whether a cell runs: SIGINT interrupts only then (a late one is ignored).
_running = False


def _send(event: dict[str, Any]) -> None:
    _events.write(json.dumps(event, ensure_ascii=True, default=str) + "\n")
    _events.flush()


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _bundle(value: Any) -> dict[str, Any]:
    """The MIME bundle of ``value``: ``text/plain`` always, others its methods offer."""
    bundle = {}
    mimebundle = getattr(value, "_repr_mimebundle_", None)
    if callable(mimebundle) and not isinstance(value, type):
        try:
            got = mimebundle()
            if isinstance(got, tuple):
                got = got[0]
            if isinstance(got, dict):
                bundle.update({k: v for k, v in got.items() if isinstance(k, str)})
        except Exception:
            pass
    for mime, method_name in _REPR_METHODS:
        method = getattr(value, method_name, None)
        if mime in bundle or not callable(method) or isinstance(value, type):
            continue
        try:
            got = method()
        except Exception:
            continue
        if isinstance(got, tuple):  # (data, metadata)
            got = got[0]
        if got is None:
            continue
        if isinstance(got, bytes):
            got = base64.b64encode(got).decode("ascii")
        bundle[mime] = got
    if "text/plain" not in bundle:
        try:
            bundle["text/plain"] = repr(value)
        except Exception as exc:
            bundle["text/plain"] = f"<repr failed: {type(exc).__name__}: {exc}>"
    size = sum(
        len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in bundle.values()
    )
    if size > MAX_RESULT_BYTES:
        text = bundle["text/plain"]
        note = f"[result too large: {size} bytes of formats; the limit is {MAX_RESULT_BYTES}]"
        bundle = {"text/plain": (text[:10000] + "\n" if isinstance(text, str) else "") + note}
    return bundle


def display(*objects: Any, **_options: Any) -> None:
    """Adds each object as a result of the running cell (Jupyter's ``display``)."""
    _flush_streams()
    for value in objects:
        if _is_figure(value):
            _send_figure(value)
        else:
            _send({"result": _bundle(value), "main": False})


def _is_figure(value: Any) -> bool:
    figure_module = sys.modules.get("matplotlib.figure")
    return figure_module is not None and isinstance(value, figure_module.Figure)


def _send_figure(figure: Any) -> None:
    """One matplotlib figure as a PNG result (with the chart's data where it is found)."""
    width, height = (float(n) * figure.dpi for n in figure.get_size_inches())
    if width * height > MAX_FIGURE_PIXELS:
        text = (
            f"<Figure of {width:.0f} x {height:.0f} pixels: not rendered, it is larger than "
            f"{MAX_FIGURE_PIXELS} pixels; make it smaller (figsize or dpi)>"
        )
        _send({"result": {"text/plain": text}, "main": False})
        return
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", bbox_inches="tight")
    except Exception as exc:
        text = f"<Figure: rendering failed: {type(exc).__name__}: {exc}>"
        _send({"result": {"text/plain": text}, "main": False})
        return
    bundle: dict[str, Any] = {
        "text/plain": f"<Figure size {width:.0f}x{height:.0f} with {len(figure.axes)} Axes>",
        "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
    }
    try:
        chart = _chart(figure)
    except Exception:
        chart = None
    if chart is not None:
        bundle["chart"] = chart
    _send({"result": bundle, "main": False})


def _flush_figures() -> None:
    """Send and close every open figure (what a cell drew without calling show)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    try:
        numbers = pyplot.get_fignums()
    except Exception:
        return
    for number in numbers:
        try:
            figure = pyplot.figure(number)
        except Exception:
            continue
        _send_figure(figure)
    with contextlib.suppress(Exception):
        pyplot.close("all")


def _plain(value: Any) -> Any:
    """A number or text of a plot as JSON (numpy scalars and dates included)."""
    if hasattr(value, "item"):
        with contextlib.suppress(Exception):
            value = value.item()
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def _label(artist: Any) -> str:
    """An artist's label; matplotlib's own placeholders ("_child0") are no label."""
    label = artist.get_label() or ""
    return "" if label.startswith("_") else label


def _chart(figure: Any) -> dict[str, Any] | None:
    """The data of a figure's single Axes, e2b's chart shape: ``{"type": "line" | "scatter" |
    "bar" | "pie", "title", "x_label", "y_label", "elements": [...]}``; None for others."""
    if len(figure.axes) != 1:
        return None
    axes = figure.axes[0]
    base = {
        "title": axes.get_title() or None,
        "x_label": axes.get_xlabel() or None,
        "y_label": axes.get_ylabel() or None,
    }
    patches_module = sys.modules.get("matplotlib.patches")
    wedges = [p for p in axes.patches if patches_module and isinstance(p, patches_module.Wedge)]
    if wedges:
        texts = [t.get_text() for t in axes.texts]
        elements = []
        for index, wedge in enumerate(wedges):
            label = _label(wedge) or (texts[index * 2] if len(texts) > index * 2 else str(index))
            elements.append(
                {
                    "label": label,
                    "angle": _plain(wedge.theta2 - wedge.theta1),
                    "radius": _plain(wedge.r),
                }
            )
        return dict(base, type="pie", elements=elements)
    bars = [p for p in axes.patches if patches_module and isinstance(p, patches_module.Rectangle)]
    if bars:
        labels = [t.get_text() for t in axes.get_xticklabels()]
        ticks = list(axes.get_xticks())
        elements = []
        for bar in bars:
            center = bar.get_x() + bar.get_width() / 2
            label = str(_plain(center))
            for tick, text in zip(ticks, labels, strict=False):
                if abs(tick - center) < 1e-9 and text:
                    label = text
            container_label = ""
            for container in axes.containers:
                if bar in container.patches:
                    container_label = _label(container)
            elements.append(
                {"label": label, "group": container_label, "value": _plain(bar.get_height())}
            )
        return dict(base, type="bar", elements=elements)
    lines = [line for line in axes.get_lines() if len(line.get_xdata()) > 0]
    if lines:
        elements = [
            {
                "label": _label(line),
                "points": [
                    [_plain(x), _plain(y)]
                    for x, y in zip(line.get_xdata(), line.get_ydata(), strict=False)
                ],
            }
            for line in lines
        ]
        return dict(base, type="line", elements=elements)
    if axes.collections:
        elements = []
        for collection in axes.collections:
            offsets = collection.get_offsets()
            elements.append(
                {
                    "label": _label(collection),
                    "points": [[_plain(x), _plain(y)] for x, y in offsets],
                }
            )
        return dict(base, type="scatter", elements=elements)
    return None


def _inline_backend() -> types.ModuleType:
    """A module matplotlib takes as its backend: Agg's classes, with ``show`` sending the
    open figures as results. Filled in on first use, so matplotlib is imported only by
    the cells that use it."""
    module = types.ModuleType(BACKEND_MODULE)

    def fill(name: str) -> Any:
        from matplotlib.backends import backend_agg

        module.__dict__.update(
            {k: v for k, v in vars(backend_agg).items() if not k.startswith("__")}
        )
        module.__dict__["show"] = show
        del module.__dict__["__getattr__"]
        return getattr(module, name)

    def show(*args: Any, **kwargs: Any) -> None:
        _flush_streams()
        _flush_figures()

    module.__getattr__ = fill  # type: ignore[method-assign]  # PEP 562: on first use
    return module


class _Shown:
    """What ``IPython.display``'s wrappers are: data shown in one format (the stand-in's)."""

    def __init__(
        self, data: Any = None, url: Any = None, filename: Any = None, **_options: Any
    ) -> None:
        if data is None and filename is not None:
            with open(filename, "rb") as handle:
                data = handle.read()
        self.data = data
        self.url = url

    def _text(self) -> Any:
        return self.data.decode("utf-8") if isinstance(self.data, bytes) else self.data

    def __repr__(self) -> str:
        return f"<IPython.core.display.{type(self).__name__} object>"


def _display_module() -> types.ModuleType:
    """``IPython.display`` for a session without IPython: ``display`` (this kernel's) and the
    wrappers cells written for Jupyter use (HTML, Markdown, SVG, Latex, Math, JSON, Image)."""
    module = types.ModuleType("IPython.display")
    module.__doc__ = "The code kernel's stand-in for IPython.display (no IPython here)."
    formats = {
        "HTML": "_repr_html_",
        "Markdown": "_repr_markdown_",
        "SVG": "_repr_svg_",
        "Latex": "_repr_latex_",
    }
    for name, method in formats.items():
        made = type(name, (_Shown,), {method: _Shown._text})
        setattr(module, name, made)

    def math(self: Any) -> str:
        return f"$\\displaystyle {self._text()}$"

    def as_json(self: Any) -> Any:
        data = self._text()
        return json.loads(data) if isinstance(data, str) else data

    def image(self: Any) -> Any:
        data = self.data if isinstance(self.data, bytes) else b""
        return (data, {}) if data else None

    module.Math = type("Math", (_Shown,), {"_repr_latex_": math})  # type: ignore[attr-defined]
    module.JSON = type("JSON", (_Shown,), {"_repr_json_": as_json})  # type: ignore[attr-defined]
    module.Image = type(  # type: ignore[attr-defined]
        "Image",
        (_Shown,),
        {
            "_repr_png_": lambda self: image(self) if self.data[:4] == b"\x89PNG" else None,
            "_repr_jpeg_": lambda self: image(self) if self.data[:2] == b"\xff\xd8" else None,
        },
    )
    module.display = display  # type: ignore[attr-defined]
    module.clear_output = lambda wait=False: None  # type: ignore[attr-defined]
    return module


class _IPythonDisplay:
    """An import hook: a real IPython's ``display`` becomes this kernel's (without a shell
    IPython's would only print the object)."""

    MODULES = ("IPython.core.display_functions", "IPython.core.display")

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None or spec.loader is None:
                continue
            run = spec.loader.exec_module

            def exec_module(module: types.ModuleType, run: Any = run) -> None:
                run(module)
                if hasattr(module, "display"):
                    module.display = display  # type: ignore[attr-defined]

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec
        return None


def _offer_ipython_display() -> None:
    """Make ``from IPython.display import display, HTML`` show results in this kernel."""
    import importlib.util

    if importlib.util.find_spec("IPython") is not None:
        sys.meta_path.insert(0, _IPythonDisplay())
        return
    shown = _display_module()
    package = types.ModuleType("IPython")
    package.__doc__ = "The code kernel's stand-in for IPython (no IPython here)."
    package.__path__ = []  # a package: its submodules resolve
    package.display = shown  # type: ignore[attr-defined]
    package.get_ipython = lambda: None  # type: ignore[attr-defined]
    core = types.ModuleType("IPython.core")
    core.__path__ = []
    core.display = shown  # type: ignore[attr-defined]
    package.core = core  # type: ignore[attr-defined]
    sys.modules.update(
        {
            "IPython": package,
            "IPython.display": shown,
            "IPython.core": core,
            "IPython.core.display": shown,
        }
    )


def _interrupt(_signal: int, _frame: Any) -> None:
    if _running:
        raise KeyboardInterrupt


def _run(code: str) -> None:
    """Run one cell: statements, then the last expression as the main result."""
    global _running
    _running = True
    try:
        _run_cell(code)
    finally:
        _running = False


def _run_cell(code: str) -> None:
    try:
        tree = ast.parse(code, "<cell>", "exec")
    except SyntaxError:
        _send_error()
        return
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
    try:
        if tree.body:
            exec(compile(tree, "<cell>", "exec"), _namespace)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), _namespace)
            _flush_streams()
            if value is not None and not _is_figure(value):
                _namespace["_"] = value
                _send({"result": _bundle(value), "main": True})
        _flush_streams()
        _flush_figures()
    except BaseException:  # KeyboardInterrupt and SystemExit are a cell's errors too
        _flush_streams()
        _send_error()
        with contextlib.suppress(BaseException):
            _flush_figures()


def _send_error() -> None:
    kind, value, trace = sys.exc_info()
    # The frames of this driver (run as "<string>") are left out: the user's code is what
    # the traceback shows.
    frames = [frame for frame in traceback.extract_tb(trace) if frame.filename != "<string>"]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames) + traceback.format_exception_only(kind, value)
    name = kind.__name__ if kind is not None else "Error"
    _send({"error": {"name": name, "value": str(value), "traceback": "".join(lines)}})


def main() -> None:
    global _count
    # Programs a cell starts must not hold the event channel: the tool server sees the
    # kernel's end as the channel's end of file.
    os.set_inheritable(3, False)
    # The cells' own stdin is /dev/null: the kernel's is its command channel.
    commands = os.fdopen(os.dup(0), "r", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (for the session)
    # Line-buffered: a print is one write, so one chunk; flushed before every event.
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    signal.signal(signal.SIGINT, _interrupt)
    sys.modules[BACKEND_MODULE] = _inline_backend()
    os.environ["MPLBACKEND"] = "module://" + BACKEND_MODULE
    import builtins

    builtins.display = display  # type: ignore[attr-defined]
    _offer_ipython_display()
    sys.argv = [""]
    sys.path.insert(0, "")
    _send({"ready": os.getpid()})
    while True:
        line = commands.readline()
        if not line:
            return
        request = json.loads(line)
        _count += 1
        _run(request.get("code", ""))
        _flush_streams()
        _send({"done": _count})


main()
