"""``syncwright plugins``: what is installed, what it provides, which tools it drives."""

from __future__ import annotations

import json
from typing import Any

import click

from ..cli import load_hooks


def collect(hooks: Any) -> list[dict[str, Any]]:
    """One record per plugin, with its source types and their tools."""
    by_plugin = hooks.source_types_by_plugin()
    out = []
    for info in hooks.plugins():
        types = []
        for st in by_plugin.get(info.name, []):
            tool = st.tool
            types.append({
                "name": st.name,
                "description": st.description,
                "discover": st.discover,
                "parameters": [p.name for p in st.parameters],
                "tool": None if tool is None else {
                    "name": tool.name,
                    "path": tool.path,
                    "version": st.tool_version if tool.path else None,
                    "found": tool.path is not None,
                    "install_hint": None if tool.path else tool.install_hint,
                },
            })
        out.append({
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "builtin": info.builtin,
            "hooks": list(info.hooks),
            "source_types": types,
        })
    return out


@click.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def plugins(ctx: click.Context, output: str) -> None:
    """List every plugin: distribution and version, source types, tool and tool version."""
    records = collect(load_hooks(ctx))
    if output == "json":
        click.echo(json.dumps(records, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    import sys

    # Never cut names when piped: a fixed wide console rather than an 80-column guess.
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    if not any(rec["source_types"] for rec in records):
        console.print("No source plugins installed: syncwright knows no source types. "
                      "Install one, e.g. `pip install syncwright-directory`.")
        if not records:
            return
    table = Table("PLUGIN", "DISTRIBUTION", "VERSION", "SOURCE TYPE", "TOOL", "TOOL VERSION", "DISCOVER",
                  "PARAMETERS", box=None)
    for rec in records:
        types = rec["source_types"] or [None]
        for i, st in enumerate(types):
            tool = st["tool"] if st else None
            if tool is None:
                tool_name, tool_version = "-", "-"
            elif tool["found"]:
                tool_name, tool_version = tool["name"], tool["version"] or "-"
            else:
                tool_name, tool_version = tool["name"], f"not found: {tool['install_hint']}"
            table.add_row(
                rec["name"] if i == 0 else "",
                (rec["distribution"] or "(built-in)") if i == 0 else "",
                (rec["version"] or "-") if i == 0 else "",
                st["name"] if st else "-",
                tool_name,
                tool_version,
                (st["discover"] or "-") if st else "",
                (", ".join(st["parameters"]) or "-") if st else "",
            )
    console.print(table)
