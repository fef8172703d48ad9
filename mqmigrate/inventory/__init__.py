"""Inventory: read an estate (exports, IaC, live brokers) into the neutral model."""

from mqmigrate.inventory.model import Estate, Queue, Source
from mqmigrate.inventory.readers import read_estate, read_source

__all__ = ["Estate", "Queue", "Source", "read_estate", "read_source"]
