"""Audit-only fixtures: the app's writer and the rows it wrote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from app.audit.models import AuditLog
from app.audit.writer import AuditWriter

AuditRows = Callable[..., Awaitable[list[AuditLog]]]


@pytest.fixture
def writer(app: FastAPI) -> AuditWriter:
    audit_writer = app.state.audit_writer
    assert isinstance(audit_writer, AuditWriter)
    return audit_writer


@pytest.fixture
def audit_rows(writer: AuditWriter) -> AuditRows:
    """Writes the queue now, then returns the stored rows (filtered), oldest first."""

    async def rows(**filters: Any) -> list[AuditLog]:
        await writer.flush()
        return await AuditLog.filter(**filters).order_by("created_at", "id")

    return rows
