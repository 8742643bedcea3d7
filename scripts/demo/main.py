"""The demo's script: the steps in order, narrated and timed, and the clean-up that always runs."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from .narrate import Narrator
from .procs import DemoError
from .steps import Demo


def main() -> int:
    n = Narrator(total_steps=8)
    n.console.print("[bold]syncwright demo[/]: kubesim + git daemon + syncwright controller, "
                    "one app per source type")

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    tmp = Path(tempfile.mkdtemp(prefix="syncwright-demo-"))
    demo = Demo(tmp, n)
    code = 0
    try:
        with n.step("start kubesim (the cluster)"):
            demo.start_kubesim()
        with n.step("serve a Git repository made from examples/ with git daemon"):
            repo_url = demo.start_git()
        with n.step("start syncwright controller with one app per source type"):
            demo.start_controller(repo_url)
        with n.step("wait until every app is Synced and Healthy"):
            demo.wait_converged()
        with n.step("commit a change and deliver a signed GitHub push webhook"):
            demo.push_change(repo_url)
        with n.step("drift: edit a live object with kubectl, watch self-heal revert it"):
            demo.drift()
        with n.step("the app table (syncwright app list)"):
            demo.table()
    except DemoError as e:
        n.fail(str(e))
        code = 1
    except KeyboardInterrupt:
        n.fail("interrupted")
        code = 130
    except Exception as e:  # a bug in the demo itself: still clean up, say what it was
        n.fail(f"unexpected error: {type(e).__name__}: {e}")
        code = 1
    finally:
        # A second Ctrl-C or a SIGTERM must not skip the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with n.step("shut down (controller, git daemon, kubesim) and remove the temp dir"):
            demo.children.stop_all(n.say)
            keep = os.environ.get("SYNCWRIGHT_DEMO_LOGS")
            if keep:
                shutil.copytree(tmp / "logs", keep, dirs_exist_ok=True)
                n.say(f"process logs kept in {keep}")
            shutil.rmtree(tmp, ignore_errors=True)
            n.say(f"removed {tmp}")
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if code == 0:
        n.console.print(f"\n[bold green]demo finished in {n.elapsed():.1f} s[/]: all processes stopped")
    return code
