"""The demo's narrated log: numbered steps with their timings, printed as they happen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


class Narrator:
    def __init__(self, total_steps: int) -> None:
        # soft_wrap: never break a line in the middle (logs and tests read them whole).
        self.console = Console(soft_wrap=True, highlight=False)
        self.total = total_steps
        self.number = 0
        self.current = ""
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.current = title
        began = time.monotonic()
        self.console.print(f"\n[bold cyan][{self.number}/{self.total}][/] [bold]{title}[/]")
        yield
        took = time.monotonic() - began
        self.console.print(f"    [green]✓[/] {title} [dim]({took:.1f} s, {self.elapsed():.1f} s total)[/]")

    def say(self, text: str) -> None:
        self.console.print(f"    {text}")

    def raw(self, text: str) -> None:
        """Output of a command, printed as is (no markup interpretation)."""
        for line in text.rstrip().splitlines():
            self.console.out(f"    {line}", highlight=False)

    def fail(self, message: str) -> None:
        self.console.print(f"\n[bold red]✗ demo failed at step {self.number}/{self.total} ({self.current}):[/]")
        self.console.out(message, highlight=False)
