"""Work that crosses domains, in one place: each domain offers its own step, and a flow calls
them in order. Wired from app/main.py (the app's state) and the CLI (backend/users.py).

Deregistration: an account goes with its study records and the counts kept of them (one
transaction), its login sessions and export jobs (foreign-key cascade), its export files
(after the commit), and its cached sessions (the manager's after-delete hook); its audit
rows stay, without the user's id, on every worker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tortoise.transactions import in_transaction

from app.audit import service as audit_service
from app.auth.models import User
from app.platform.store import KeyValueStore
from app.study import export_storage
from app.study import records as study_records
from settings import Settings


async def remove_account(*, user: User, store: KeyValueStore | None, settings: Settings) -> None:
    """Deletes `user` and what other domains hold of it."""
    # Marked first: a worker's audit writer that stores rows of the user after the
    # detaching below sees the mark and detaches them itself.
    await audit_service.mark_deleted_user(user_id=user.id, store=store)
    try:
        async with in_transaction():
            # The user's row first: a record being added for it meanwhile finishes (and is
            # counted) before the kept counts drop the account's records.
            await User.filter(id=user.id).select_for_update().first()
            await study_records.delete_owner_records(owner_id=user.id)
            # Read with the user's row locked: no job of the account can be added meanwhile.
            export_ids = await export_storage.owner_job_ids(owner_id=user.id)
            await audit_service.detach_user(user_id=user.id)
            await user.delete()
    except BaseException:
        # Rolled back (or cancelled): the account stays, and its rows keep its id. Had the
        # commit landed after all, the user table tells the writers instead.
        await audit_service.unmark_deleted_user(user_id=user.id, store=store)
        raise
    # After the commit: a file removed for an account that stayed could not come back. A
    # job still writing finds its row gone and removes its own file; the cleanup sweeps
    # whatever a crash here leaves.
    await asyncio.to_thread(export_storage.remove_job_files, Path(settings.EXPORT_DIR), export_ids)
