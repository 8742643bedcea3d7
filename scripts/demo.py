"""`make demo`: render every example Application and print a summary table.

This is the main job until the controller lands: each app under
``examples/apps/`` is rendered through the installed plugins exactly as
``syncwright render -f`` would, and the table shows what each produced.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from syncwright.errors import SyncwrightError
from syncwright.model import load_applications
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, local_repo_path, render_source

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "examples" / "apps"


def main() -> int:
    import os

    # The example Config Management Plugins live beside the examples (as a user's ~/.config would).
    os.environ.setdefault("SYNCWRIGHT_CMP_DIR", str(ROOT / "examples" / "cmp-plugins"))
    console = Console()
    hooks = Hooks.load()
    console.print("[bold]syncwright demo[/]: rendering every Application in examples/apps/\n")
    table = Table("APP", "TOOL", "OBJECTS", "KINDS", "TIME", "RESULT", box=None)
    failures = 0
    for app_file in sorted(APPS.glob("*.yaml")):
        for app in load_applications(app_file):
            tools, kinds, count = [], Counter[str](), 0
            start = time.perf_counter()
            try:
                for source in app.spec.effective_sources():
                    root = local_repo_path(source.repo_url, app_file.parent)
                    if root is None:
                        raise SyncwrightError(f"remote repoURL {source.repo_url}: skipped in the offline demo")
                    info = BuildInfo(app.name, app.dest_namespace, app.spec.project)
                    result = render_source(hooks, source, root, info)
                    tools.append(result.tool)
                    kinds.update(o["kind"] for o in result.manifests)
                    count += len(result.manifests)
                outcome = "[green]ok[/]"
            except SyncwrightError as e:
                failures += 1
                outcome = f"[red]{e}[/]"
            elapsed = time.perf_counter() - start
            kind_text = ", ".join(f"{k}×{n}" for k, n in sorted(kinds.items()))
            table.add_row(app.name, ",".join(tools) or "-", str(count), kind_text, f"{elapsed * 1000:.0f} ms", outcome)
    console.print(table)
    console.print(f"\n{'all apps rendered' if not failures else f'{failures} app(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
