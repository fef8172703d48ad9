"""The tool's own inventory dump (``mqmigrate inventory --out estate.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import INVENTORY_SCHEMA, Estate


def looks_like(data: Any) -> bool:
    """A JSON object whose ``schema`` names the inventory format."""
    return isinstance(data, dict) and str(data.get("schema", "")).startswith("mqmigrate.inventory/")


def read(path: Path, data: dict) -> Estate:
    """Validate the dump strictly (unknown keys are errors: it is our format)."""
    if data.get("schema") != INVENTORY_SCHEMA:
        raise ConfigError(
            f"{path}: schema {data.get('schema')!r} is not {INVENTORY_SCHEMA!r}",
            hint="re-create the dump with this version of mqmigrate",
        )
    try:
        return Estate.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {loc}: {err['msg']}{more}") from exc
