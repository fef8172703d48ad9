"""Consoles and output formats shared by every command."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

from rich.console import Console

#: data for humans and machines
out_console = Console(highlight=False, soft_wrap=True)
#: progress, logs, errors
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(str, Enum):
    table = "table"
    json = "json"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
