"""Byte-compiling Python packages during an image build, beside dpkg instead of after it.

Byte-compiling is most of what configuring a Python stack costs: every Python package's
postinst runs ``py3compile``, one file after the other, while dpkg waits (sympy alone 8 s).
dpkg itself uses one core, unpacking first, then configuring. So during the build:

- ``py3compile`` is a stand-in (dpkg's diversion puts the real one aside) that starts the
  real one in the background and returns, so the postinst does not wait for it;
- an early compiler runs the ``py3compile`` line of each package's postinst as soon as the
  package is unpacked (its file list and postinst are in dpkg's database), so most of the
  compiling happens on the second core while dpkg still unpacks the rest;
- one compile at a time (a lock): with dpkg, two processes on two cores.

The postinst's own run is skipped only where the early one ran the very same command and it
succeeded (``$JOBS/compiled`` names those); otherwise it compiles whatever the early one has
not (``py3compile`` skips a file whose cache already holds its source's time) and its
failure fails the build. A failure of the early one is thus left to the postinst's run to
report, and only the files ``py3compile`` itself writes are written.

``DEFER`` is an mmdebstrap ``--essential-hook`` (before the remaining packages are
installed); ``AWAIT`` a ``--customize-hook`` that must run before the one that puts dpkg
back from under eatmydata (the jobs run ``dpkg -L``): it stops the early compiler, waits
for every job, fails the build if one failed, and puts the real ``py3compile`` back. Both
take the tree as $1.
"""

from __future__ import annotations

#: The build's scratch directory inside the tree (removed by ``AWAIT``).
JOBS = "/var/lib/agentbay-py3compile"
#: Longest ``AWAIT`` waits for one job (polls of 0.1 s): a compile that hangs fails the build.
_AWAIT_POLLS = 36000


def _compiled_mark(arguments: str) -> str:
    """The shell word naming the file that says ``py3compile ARGUMENTS`` (a shell
    expansion) succeeded early: the early compiler writes it, the stand-in looks for it."""
    return f"\"{JOBS}/compiled/$(printf '%s' \"{arguments}\" | tr ' /' '_%')\""


#: Inside the tree: runs each unpacked package's postinst ``py3compile -p ...`` line until
#: ``$JOBS/stop`` appears (the packages left are the postinsts' own runs'). A line that uses
#: the shell (variables, substitutions) is left to the postinst. It starts once the real
#: ``py3compile`` runs at all (python3-minimal and the standard library unpacked).
_EARLY_COMPILER = rf"""
cd /var/lib/dpkg/info || exit 1
finished=" "
ready=""
while [ ! -e {JOBS}/stop ]; do
    for script in *.postinst; do
        package=${{script%.postinst}}
        case "$finished" in *" $package "*) continue ;; esac
        [ -e "$package.list" ] || continue
        [ ! -e {JOBS}/stop ] || break
        if [ -z "$ready" ]; then
            /usr/bin/py3compile.real --version >/dev/null 2>&1 || break
            ready=1
        fi
        sed -n 's/^[[:space:]]*py3compile \(-p [^$`;|&<>(){{}}\\]*\)$/\1/p' "$script" |
        while read -r arguments; do
            if flock {JOBS}/lock sh -c "exec /usr/bin/py3compile.real $arguments"; then
                touch {_compiled_mark("$arguments")}
            fi
        done
        finished="$finished$package "
    done
    sleep 0.2
done
"""

DEFER = f"""set -e
chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/bin/py3compile.real \\
    --add /usr/bin/py3compile
mkdir -p "$1{JOBS}/compiled"
cat > "$1/usr/bin/py3compile" <<'SHIM'
#!/bin/sh
job=$(mktemp {JOBS}/job.XXXXXX)
if [ -e {_compiled_mark("$*")} ]; then
    echo 0 >"$job.rc"
    exit 0
fi
(flock {JOBS}/lock /usr/bin/py3compile.real "$@" >"$job.log" 2>&1
 echo $? >"$job.rc") </dev/null >/dev/null 2>&1 &
SHIM
chmod 755 "$1/usr/bin/py3compile"
cat > "$1{JOBS}/early.sh" <<'EARLY'
{_EARLY_COMPILER}
EARLY
(rc=0; chroot "$1" /bin/sh {JOBS}/early.sh >"$1{JOBS}/early.log" 2>&1 || rc=$?
 echo $rc >"$1{JOBS}/early.rc") </dev/null >/dev/null 2>&1 &
"""

AWAIT = f"""set -e
jobs="$1{JOBS}"
touch "$jobs/stop"
polls=0
for job in "$jobs"/early "$jobs"/job.*; do
    case "$job" in *.log|*.rc|*"job.*") continue ;; esac
    while [ ! -s "$job.rc" ]; do
        polls=$((polls + 1))
        [ "$polls" -lt {_AWAIT_POLLS} ] || {{ echo "a byte-compile took an hour" >&2; exit 1; }}
        sleep 0.1
    done
    [ "$(cat "$job.rc")" = 0 ] || {{ cat "$job.log" >&2; exit 1; }}
done
rm "$1/usr/bin/py3compile"
chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/bin/py3compile
rm -r "$jobs"
"""
