"""Document paths as the playbook's messages print them (shared by the loader, the graph
checks and the renderer; it imports nothing of the package, so they do not import each other)."""

from __future__ import annotations

from typing import Any


def format_path(path: tuple[Any, ...]) -> str:
    """``('workloads', 0, 'target', 'configs', 'retention.ms')`` → ``workloads[0].target.configs[retention.ms]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in str(part) or not str(part):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
