"""``agentbay local ...``: the local runtime's commands (``serve`` in the foreground, ``image``).

``agentbay`` (the SDK's console script, ``agentbay/cli.py``) hands ``local`` and what follows
to ``main`` here.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agentbay_local import log as runtime_log

KEYS_ENV = "AGENTBAY_LOCAL_API_KEYS"

UNISOLATED_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: the local runtime runs UNISOLATED (--unisolated).                !!
!! Session commands run directly on this machine, as this user, with its     !!
!! files and processes, and they share the HOST NETWORK: every loopback      !!
!! service of this machine, the runtime's own port and other sessions' ports !!
!! (--network and --allow-host-port do not apply). Use it only for code you  !!
!! would run yourself.                                                       !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


HOST_ROOT_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: sessions run on this machine's own / (--host-root), not on root  !!
!! filesystems of their own: a session READS THE HOST'S FILES (/etc, /opt,   !!
!! /usr/local, /var/lib, ...) and runs what the host has installed. Sessions !!
!! stay in namespaces (their writes stay theirs); use it only where that is  !!
!! fine, e.g. where the built-in images cannot be built.                     !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every option's default, unless its text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _port(text: str) -> int:
    """A TCP port number (argparse type)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return port


def _port_or_zero(text: str) -> int:
    """A TCP port number, or 0 for a free one (argparse type)."""
    return 0 if text.strip() == "0" else _port(text)


def _fail(message: str) -> int:
    """Say what went wrong in one line (no traceback); serve's exit status for it."""
    print(f"agentbay local serve: {message}", file=sys.stderr)
    return 2


def _size_arg(text: str) -> int:
    """A size such as 512M or 10G, in bytes (argparse type)."""
    from agentbay_local.sandbox.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds_arg(text: str) -> float:
    """A duration in seconds, 0 or more (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _positive_int(text: str) -> int:
    """A whole number above 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def _cpus(text: str) -> float:
    """A number of CPUs above 0, fractions allowed (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 4096:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of CPUs (e.g. 1 or 0.5)")
    return value


def _parser() -> argparse.ArgumentParser:
    from agentbay_local.data_dir import default_data_dir

    parser = argparse.ArgumentParser(
        prog="agentbay local", description="The local AgentBay runtime."
    )
    local_commands = parser.add_subparsers(dest="local_command", required=True)
    serve = local_commands.add_parser(
        "serve",
        formatter_class=_HelpWithDefaults,
        help="serve the AgentBay API with isolated local sessions (foreground; Ctrl-C stops)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8790, help="port to listen on")
    serve.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help="where state is kept"
    )
    serve.add_argument(
        "--api-key-file",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a file of accepted API keys, one per line, readable by you only (chmod 600); "
        f"keys can also come from {KEYS_ENV} (comma-separated). With neither, one is "
        "generated and shown once",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="an accepted API key (repeatable); visible to every local user in ps: prefer "
        f"--api-key-file or {KEYS_ENV}",
    )
    serve.add_argument(
        "--link-port",
        type=_port_or_zero,
        default=0,
        help="port of the listener serving GetLink URLs (default: a free port)",
    )
    serve.add_argument(
        "--pool-size",
        type=int,
        default=2,
        help="sandboxes kept started for new sessions (refilled once creates pause for a "
        "moment, at once when none is left)",
    )
    serve.add_argument("--max-sessions", type=int, default=100, help="running sessions allowed")
    serve.add_argument(
        "--unisolated",
        action="store_true",
        help="run sessions without namespaces where they cannot be created (unsafe)",
    )
    serve.add_argument(
        "--host-root",
        action="store_true",
        help="run isolated sessions on this machine's own / instead of their images' root "
        "filesystems (sessions then read the host's files; unsafe, for machines where the "
        "images cannot be built)",
    )
    serve.add_argument(
        "--network",
        choices=["egress", "none"],
        default="egress",
        help="what isolated sessions reach besides their own loopback: egress (outbound "
        "connections through user-mode NAT; never this host or 169.254.0.0/16) or none",
    )
    serve.add_argument(
        "--allow-host-port",
        type=_port,
        action="append",
        default=[],
        metavar="PORT",
        help="a TCP port of this host's 127.0.0.1 that sessions may reach at 10.0.2.2:PORT "
        "(repeatable; egress only)",
    )
    serve.add_argument(
        "--screen",
        default="1024x768",
        metavar="WxH",
        help="size of each session's desktop display (96 dpi; default 1024x768)",
    )
    serve.add_argument(
        "--live-view-control",
        choices=["none", "mouse", "keyboard"],
        default="none",
        help="what a session's live view (its ResourceUrl page) may control: none (view "
        "only, the default), mouse (clicks with &input=true) or keyboard (also keys, with "
        "&input=true&keyboard=true); its authcode signs it, so a view-only URL stays so",
    )
    serve.add_argument(
        "--start-desktop",
        action="store_true",
        help="start the desktop of linux_latest sessions at creation, not at the first "
        "desktop tool call",
    )
    serve.add_argument(
        "--link-url",
        action="store_true",
        help="answer LinkUrl, the cloud's direct tool channel: 0.15+ clients then call tools "
        "by POST <LinkUrl>/callTool, and 0.22's beta_take_screenshot works while its "
        "screenshot() refuses (as on such cloud sessions)",
    )
    from agentbay_local.sessions.lifecycle import LifecycleDefaults

    serve.add_argument(
        "--session-idle-timeout",
        type=_seconds_arg,
        default=LifecycleDefaults.idle_timeout_s,
        metavar="SECONDS",
        help="release a session its client set no lifecycle for after this long without "
        "an API or tool call (0: never; default %(default)g)",
    )
    serve.add_argument(
        "--session-max-runtime",
        type=_seconds_arg,
        default=LifecycleDefaults.max_runtime_s,
        metavar="SECONDS",
        help="release such a session this long after its creation (0: never; default %(default)g)",
    )
    from agentbay_local.contexts.files import DEFAULT_QUOTA_BYTES
    from agentbay_local.sandbox.limits import SessionLimits, human_size

    defaults = SessionLimits()
    serve.add_argument(
        "--session-memory",
        type=_size_arg,
        default=defaults.memory_bytes,
        metavar="SIZE",
        help="memory of each session, all its processes together (default: "
        f"{human_size(defaults.memory_bytes or 0)}); a process past it is killed inside the "
        "session and its tool call says so",
    )
    serve.add_argument(
        "--session-disk",
        type=_size_arg,
        default=defaults.disk_bytes,
        metavar="SIZE",
        help=f"disk of each session's own files (default: {human_size(defaults.disk_bytes or 0)}"
        "); as root a filesystem of that size per session (writes past it fail with ENOSPC), "
        "rootless a watched budget",
    )
    serve.add_argument(
        "--context-quota",
        type=_size_arg,
        default=DEFAULT_QUOTA_BYTES,
        metavar="SIZE",
        help="the most each context may hold (default: "
        f"{human_size(DEFAULT_QUOTA_BYTES)}); an upload or sync past it "
        "fails, naming the quota, and the context keeps what it had",
    )
    serve.add_argument(
        "--session-pids",
        type=_positive_int,
        default=defaults.pids,
        metavar="N",
        help=f"processes and threads of each session (default: {defaults.pids}): a fork bomb "
        "stops there",
    )
    serve.add_argument(
        "--session-cpus",
        type=_cpus,
        default=defaults.cpus,
        metavar="CPUS",
        help="CPU time of each session, in CPUs, e.g. 1 or 0.5 (default: the machine's cores "
        f"but one, here {defaults.cpus:g}); cgroups only",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning"],
        help="info: one line per session event and per refused request; debug: also every API "
        "call and tool call with its duration and RequestId",
    )
    serve.add_argument(
        "--log-format",
        default="text",
        choices=runtime_log.FORMATS,
        help="text for people, json for machines (one object per line)",
    )
    _image_parser(local_commands, default_data_dir())
    return parser


def _image_parser(local_commands: Any, data_dir: Path) -> None:
    image = local_commands.add_parser(
        "image", help="images: pull or import base images; build, list and remove user images"
    )
    image_commands = image.add_subparsers(dest="image_command", required=True)
    pull = image_commands.add_parser(
        "pull",
        formatter_class=_HelpWithDefaults,
        help="build built-in images' root filesystems now (else on first use)",
        description="Build each NAME (code_latest, browser_latest, linux_latest; none: "
        "all of them) from Debian packages with mmdebstrap, as "
        "agentbay_local/images/builtin.yaml lists them, into this user's image cache "
        "(shared by every data dir). Does nothing for one that is built and current, "
        "unless --rebuild.",
    )
    pull.add_argument("names", nargs="*", metavar="NAME")
    pull.add_argument(
        "--rebuild", action="store_true", help="build it again (newer package versions)"
    )
    pull.add_argument(
        "--skip-unbuildable",
        action="store_true",
        help="where this machine cannot build images (no mmdebstrap), say so and what "
        "installs it, and exit 0 rather than 2 (make images: the tests that need the images "
        "then skip); a build that fails still fails",
    )
    imported = image_commands.add_parser(
        "import",
        formatter_class=_HelpWithDefaults,
        help="make a base image from a root filesystem tarball",
        description="Make the base image NAME from TARBALL (docker export, debootstrap, "
        "mmdebstrap; plain, gzip, xz, zstd or bzip2), replacing an earlier import of NAME. "
        "Imagefiles build on it with FROM NAME.",
    )
    imported.add_argument("name", metavar="NAME")
    imported.add_argument("tarball", type=Path, metavar="TARBALL")
    show = image_commands.add_parser(
        "show", help="a base image's record: every package and its exact version"
    )
    show.add_argument("name", metavar="NAME")
    build = image_commands.add_parser(
        "build",
        formatter_class=_HelpWithDefaults,
        help="build a user image from a base image and commands, or from an Imagefile",
        description="Build NAME from --from BASE with --run commands, or from -f IMAGEFILE "
        "(FROM, RUN, COPY, ENV, WORKDIR). Sessions use it as CreateMcpSession(ImageId=NAME).",
    )
    build.add_argument("name", metavar="NAME", help="the image id, e.g. imgc-07eksy57nw6r759fb")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="base", metavar="BASE", help="the image to build on")
    source.add_argument("-f", "--file", type=Path, metavar="IMAGEFILE", help="an Imagefile")
    build.add_argument(
        "--run", action="append", default=[], metavar="CMD", help="a shell command (repeatable)"
    )
    build.add_argument(
        "--network",
        choices=["egress", "none"],
        default="egress",
        help="what the build's steps reach, as for sessions (see serve --network)",
    )
    build.add_argument(
        "--allow-host-port",
        type=int,
        action="append",
        default=[],
        metavar="PORT",
        help="a TCP port of this host's 127.0.0.1 the steps may reach at 10.0.2.2:PORT",
    )
    for command in (
        build,
        image_commands.add_parser(
            "list",
            help="list the base images (built-in and imported) and the user images",
            formatter_class=_HelpWithDefaults,
        ),
    ):
        command.add_argument("--data-dir", type=Path, default=data_dir, help="where state is kept")
    remove = image_commands.add_parser(
        "rm",
        help="remove a user image, or an imported or built base image from the cache",
        formatter_class=_HelpWithDefaults,
    )
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--data-dir", type=Path, default=data_dir, help="where state is kept")


def _show(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _image(options: argparse.Namespace) -> int:
    from agentbay_local.images import user_images
    from agentbay_local.images.base_images import BaseImageCache

    cache = BaseImageCache()
    try:
        with _terminate_as_interrupt():
            if options.image_command == "pull":
                _pull(
                    cache,
                    options.names or list(cache.recipes()),
                    options.rebuild,
                    options.skip_unbuildable,
                )
            elif options.image_command == "import":
                cache.import_tarball(options.name, options.tarball, output=_show)
            elif options.image_command == "show":
                _print_base_image(cache, options.name)
            elif options.image_command == "build":
                if options.file is not None and options.run:
                    raise user_images.ImageError("--run goes with --from, not with -f")
                user_images.build_image(
                    options.name,
                    base=options.base,
                    run=options.run,
                    imagefile_path=options.file,
                    data_dir=options.data_dir,
                    output=_show,
                    network=options.network,
                    allow_host_ports=options.allow_host_port,
                )
            elif options.image_command == "list":
                _print_base_images(cache)
                print()
                _print_images(user_images.list_images(options.data_dir))
            else:
                _remove(cache, options)
    except KeyboardInterrupt:
        print(
            f"agentbay local image {options.image_command}: interrupted; nothing was kept",
            file=sys.stderr,
        )
        return 130
    except user_images.BuildError as exc:
        print(f"agentbay local image build: {exc}; nothing was registered", file=sys.stderr)
        return exc.exit_code or 1
    except (user_images.ImageError, user_images.ImagefileError, ValueError) as exc:
        print(f"agentbay local image {options.image_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _pull(cache: Any, names: list[str], rebuild: bool, skip_unbuildable: bool) -> None:
    """Build the built-ins ``names`` where needed; say which were reused, and how long the
    builds took (a first build on this machine takes minutes). With ``skip_unbuildable``,
    those this machine cannot build are named with what installs the builder, not raised."""
    from agentbay_local.images.base_images import NoBuilderHere

    started = time.monotonic()
    built: list[str] = []
    reused: list[str] = []
    unbuildable: list[str] = []
    problem = ""
    for name in names:
        before = cache.get(name)
        try:
            image = cache.pull(name, rebuild=rebuild, output=_show)
        except NoBuilderHere as exc:
            if not skip_unbuildable:
                raise
            unbuildable.append(name)
            problem = exc.problem  # the same for every name: said once
            continue
        (reused if before is not None and before.tree == image.tree else built).append(name)
    if reused:
        print(f"Reused (already built): {', '.join(reused)}")
    if built:
        print(f"Built {', '.join(built)} in {time.monotonic() - started:.0f} s")
    if unbuildable:
        print(
            f"Not built now: {', '.join(unbuildable)}; this machine cannot build images: {problem}."
            "\nSessions of them cannot start until they are built (creating one answers "
            "InvalidImageId.NotBuilt).",
            file=sys.stderr,
        )


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) ends a build as Ctrl-C does: cleaned up."""

    def interrupt(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _remove(cache: Any, options: argparse.Namespace) -> None:
    from agentbay_local.images import user_images

    try:
        removed = user_images.remove_image(options.name, options.data_dir)
        print(f"Removed image {removed.name}")
    except user_images.ImageError:
        if cache.get(options.name) is None:
            raise
        base = cache.remove(options.name)
        print(f"Removed base image {base.name} ({_size(base.size_bytes)})")


#: Packages ``image list`` names with their versions (the rest: a count).
_SUMMARY_PACKAGES = ("python3", "nodejs", "chromium", "xvfb")


def _print_base_images(cache: Any) -> None:
    rows = [("BASE IMAGE", "KIND", "STATE", "SIZE", "BUILT", "PACKAGES")]
    for entry in cache.states():
        image = entry.image
        if image is None:
            rows.append((entry.name, entry.kind, entry.state, "-", "-", "-"))
            continue
        named = [
            f"{name} {image.packages[name]}" for name in _SUMMARY_PACKAGES if name in image.packages
        ]
        summary = ", ".join([f"{len(image.packages)} packages", *named])
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(image.built_at))
        rows.append((entry.name, entry.kind, entry.state, _size(image.size_bytes), built, summary))
    _print_table(rows)


def _print_base_image(cache: Any, name: str) -> None:
    from agentbay_local.images.user_images import ImageError

    image = cache.get(name)
    if image is None:
        raise ImageError(f"no base image {name!r} is built (agentbay local image pull {name})")
    print(f"name: {image.name}\nkind: {image.kind}\nroot filesystem: {cache.tree_path(image)}")
    print(
        f"built: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(image.built_at))} "
        f"in {image.build_seconds:.1f} s{' (rootless)' if image.rootless else ''}"
    )
    print(
        f"size: {_size(image.size_bytes)}\npython: {image.python or 'none'} "
        f"{image.python_version}".rstrip()
    )
    print(f"packages ({len(image.packages)}):")
    for package, version in sorted(image.packages.items()):
        print(f"  {package} {version}")


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]))


def _print_images(images: list[Any]) -> None:
    rows = [("USER IMAGE", "BASE", "SIZE", "CREATED")] + [
        (
            info.name,
            info.base,
            _size(info.size_bytes),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created_at)),
        )
        for info in images
    ]
    _print_table(rows)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _api_keys(options: argparse.Namespace) -> list[str]:
    """The keys serve accepts.

    Raises:
        KeyFileError: a key file is unusable.
    """
    from agentbay_local.protocol.keys import (
        generate_key,
        read_key_file,
        take_keys_from_environment,
    )

    keys = take_keys_from_environment(KEYS_ENV)
    for path in options.api_key_file:
        keys += read_key_file(path)
    if options.api_key:
        print(
            "agentbay local serve: --api-key puts the key on the command line, where every "
            f"local user sees it (ps); use --api-key-file or {KEYS_ENV} instead.",
            file=sys.stderr,
        )
        keys += options.api_key
    if not keys:
        keys = [generate_key()]
        # Shown once, on purpose: the user has no other way to learn a generated key.
        print(f"Generated API key: {keys[0]}", file=sys.stderr)
    return keys


def _check_base_images() -> int | None:
    """Say which built-in images ``serve`` builds in the background; fail (exit code 2)
    where missing ones cannot be built, saying what to install or run."""
    from agentbay_local.images.base_builds import BaseImages
    from agentbay_local.images.registry import ImageError

    try:
        bases = BaseImages()
        problem = bases.unbuildable()
        missing = bases.missing()
    except ImageError as exc:  # a broken manifest
        return _fail(str(exc))
    if problem is not None:
        print(
            f"agentbay local serve: {problem}\nSessions run on the built-in images' own root "
            "filesystems. To run them on this machine's / instead (they then read its "
            "files), pass --host-root.",
            file=sys.stderr,
        )
        return 2
    outdated = bases.outdated()
    if outdated:
        print(
            f"agentbay local serve: the images {', '.join(outdated)} were built from another "
            "version of agentbay_local/images/builtin.yaml; sessions run on them as they are "
            f"until rebuilt: agentbay local image pull {' '.join(outdated)}",
            file=sys.stderr,
        )
    if missing:
        print(
            f"agentbay local serve: building the images {', '.join(missing)} (first use on "
            "this machine, about a minute each; progress in the log); until one is built, "
            "creating a session of it answers ImageBuilding (retry). Build them ahead of "
            "time with: agentbay local image pull NAME",
            file=sys.stderr,
        )
    return None


def _serve(options: argparse.Namespace) -> int:
    from agentbay_local.server import stop_signals_held

    # From here on a Ctrl-C is a stop at the next step, wherever it lands (``_serve_held``).
    with stop_signals_held() as received:
        return _serve_held(options, received)


def _serve_held(options: argparse.Namespace, received: list[int]) -> int:
    """``serve``, with Ctrl-C and SIGTERM recorded in ``received`` rather than raised."""
    from agentbay_local.protocol.keys import KeyFileError
    from agentbay_local.runtime import Runtime, RuntimeOptions
    from agentbay_local.sandbox import SandboxManager, probe
    from agentbay_local.sandbox.limits import SessionLimits
    from agentbay_local.server import bind_listener, serve_foreground
    from agentbay_local.sessions.desktop import Screen, missing_programs_advice
    from agentbay_local.sessions.lifecycle import LifecycleDefaults

    problem = probe.isolation_problem()
    if problem and not options.unisolated:
        print(
            f"agentbay local serve: cannot isolate sessions on this machine: {problem}\n"
            "Sessions need user (when not root), PID, mount, UTS, IPC and network namespaces "
            "and overlayfs.\nTo run anyway WITHOUT isolation, pass --unisolated.",
            file=sys.stderr,
        )
        return 2
    if options.unisolated:
        print(UNISOLATED_WARNING, file=sys.stderr)
    else:
        for note in probe.isolation_notes():
            print(note, file=sys.stderr)
    on_images = not options.unisolated and not options.host_root
    if options.host_root and not options.unisolated:
        print(HOST_ROOT_WARNING, file=sys.stderr)
    budget = SessionLimits(
        pids=options.session_pids,
        memory_bytes=options.session_memory,
        disk_bytes=options.session_disk,
        cpus=options.session_cpus,
    )
    print(
        SandboxManager.limits_in_force(isolated=not options.unisolated, budget=budget),
        file=sys.stderr,
    )
    network = options.network
    if not options.unisolated and network == "egress":
        from agentbay_local.sandbox.egress import egress_problem

        missing = egress_problem()
        if missing:
            print(
                f"agentbay local serve: sessions get no outbound network: {missing}.\n"
                "Sessions start with --network none (loopback only) until it is installed.",
                file=sys.stderr,
            )
            network = "none"
    try:
        screen = Screen.parse(options.screen)
    except ValueError as exc:
        print(f"agentbay local serve: --screen: {exc}", file=sys.stderr)
        return 2
    if not on_images:  # sessions run the host's programs
        advice = missing_programs_advice()
        if advice:
            print(f"agentbay local serve: {advice}", file=sys.stderr)
        from agentbay_local.sessions.browser_option import INSTALL_ADVICE, find_chromium

        if find_chromium() is None:
            print(f"agentbay local serve: no Chromium found; {INSTALL_ADVICE}.", file=sys.stderr)
    try:
        keys = _api_keys(options)
    except KeyFileError as exc:
        return _fail(str(exc))
    runtime_options = RuntimeOptions(
        data_dir=options.data_dir,
        api_keys=keys,
        host=options.host,
        port=options.port,
        isolated=not options.unisolated,
        host_root=options.host_root,
        pool_size=options.pool_size,
        link_port=options.link_port,
        network=network,
        allow_host_ports=tuple(options.allow_host_port),
        max_sessions=options.max_sessions,
        screen=screen,
        start_desktop=options.start_desktop,
        link_url=options.link_url,
        live_view_control=options.live_view_control,
        context_quota_bytes=options.context_quota,
        limits=budget,
        lifecycle=LifecycleDefaults(
            idle_timeout_s=options.session_idle_timeout or None,
            max_runtime_s=options.session_max_runtime or None,
        ),
    )
    runtime_log.configure(options.log_level, options.log_format, secrets=keys)
    # Everything that can fail is tried before the runtime says it is running: the port,
    # the images (after what the command line and the key file got wrong: said first),
    # then the data dir (its lock).
    try:
        sock = bind_listener(options.host, options.port)
    except OSError as exc:
        return _fail(
            f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}. "
            "Is another runtime running there? Stop it or choose another --port."
        )
    try:
        failed = _check_base_images() if on_images else None
        if failed is not None:
            sock.close()
            return failed
        runtime = Runtime(runtime_options)
    except (RuntimeError, OSError) as exc:
        sock.close()
        return _fail(str(exc))
    if received:  # Ctrl-C before the runtime could serve: nothing has started a session
        sock.close()
        print("AgentBay local runtime stopped before it started; no session ran.", file=sys.stderr)
        return 0
    print(
        f"AgentBay local runtime on http://{options.host}:{options.port} "
        f"(data in {options.data_dir}); point clients at it with "
        f"AGENTBAY_ENDPOINT=http://{options.host}:{options.port}",
        file=sys.stderr,
    )
    # uvicorn shuts down gracefully (every session released) for a signal received now or
    # before it caught them.
    serve_foreground(runtime, sock, received, log_level=options.log_level)
    print("AgentBay local runtime stopped; every session was released.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``agentbay local ARGS``: ``argv`` is what follows ``local``."""
    options = _parser().parse_args(argv)
    if options.local_command == "serve":
        return _serve(options)
    if options.local_command == "image":
        return _image(options)
    return 2


if __name__ == "__main__":
    sys.exit(main())
