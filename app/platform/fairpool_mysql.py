"""Tortoise's engine for MySQL/MariaDB with the fair pool gate (app/platform/fairpool.py):
the app's database config names this module where Tortoise's own would be."""

from typing import Any

from app.platform.fairpool import FairMySQLClient


def get_client_class(db_info: dict[str, Any]) -> type[FairMySQLClient]:
    """Tortoise asks an engine module for its client class."""
    del db_info
    return FairMySQLClient
