"""Run every python block of the guides in one process (one embedded runtime for all).

``python -m tests.sdk.docs.run_guides RESULTS.json`` runs each page's blocks in order in one
namespace per page, in a scratch working directory, and writes ``{block: {"status", "output"}}``
(status ``passed``, ``failed`` with the traceback as output, ``not_run`` with the reason, or
``skipped`` where the page needs a system package this machine lacks, with the command that
installs it; so too a block, and the rest of its page, that failed for want of the built-in
images, which this machine can neither find nor build: ``tests.support.base_images``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from tests.sdk.docs.guides import PAGE_NEEDS, blocks, pages
from tests.support.base_images import failed_for_want_of_images, refusals, watch_refusals
from tests.support.system_parts import missing_reason


def run_page(page: Path) -> dict[str, dict[str, str]]:
    """Run ``page``'s blocks in order in one fresh namespace; answer each block's outcome."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    results: dict[str, dict[str, str]] = {}
    lacking = missing_reason(*PAGE_NEEDS.get(page.name, ()))
    for block in blocks(page):
        reason = block.not_run_reason
        if reason is not None or lacking is not None:
            # Still compiled: a block that does not run must at least be valid Python.
            compile(block.source, block.name, "exec")
            if reason is not None:
                results[block.name] = {"status": "not_run", "output": reason}
            else:
                results[block.name] = {"status": "skipped", "output": f"{page.name} {lacking}"}
            continue
        output = io.StringIO()
        refused_before = refusals()
        # stderr is a real file: an example that starts a process (the MCP guide's server)
        # hands it on by descriptor, as a reader's terminal is.
        with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
            try:
                code = compile(block.source, block.name, "exec")
                with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
                    exec(code, namespace)
            except BaseException:  # a block's failure is reported, not raised
                errors.seek(0)
                text = output.getvalue() + errors.read() + traceback.format_exc()
                no_images = failed_for_want_of_images(text, refusals() > refused_before)
                if no_images is not None:
                    # The page's later blocks build on this one's session: skipped too.
                    lacking = no_images
                    results[block.name] = {"status": "skipped", "output": f"{page.name} {lacking}"}
                else:
                    results[block.name] = {"status": "failed", "output": text}
            else:
                errors.seek(0)
                text = output.getvalue() + errors.read()
                results[block.name] = {"status": "passed", "output": text}
    return results


def main() -> int:
    """Run every page and write the results where ``argv[1]`` says."""
    destination = Path(sys.argv[1]).resolve()
    watch_refusals()
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="agentbay-guides-") as scratch:
        os.chdir(scratch)  # files the examples write on this machine land here
        for page in pages():
            environment = dict(os.environ)
            results.update(run_page(page))
            # A page may set variables for its own examples; the next page starts clean.
            os.environ.clear()
            os.environ.update(environment)
    destination.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
