"""Export files on disk: a private folder and private files whatever the umask, the floor
of free space under which no new export starts, and the removals that bound what the
folder holds (an owner's files when the account goes, the oldest files past the per-user
limits, and files whose job row is gone).

A file is named by its job: `{id}.{format}` when finished, `.{id}.{attempt}.part` while
being written. Anything else in the folder is not ours and is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from app.study.models import ExportJob, ExportStatus

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_JOB_FILE = re.compile(
    r"^\.?(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\."
    r"(?:csv|jsonl|[0-9a-f]{32}\.part)$"
)
# Job ids looked up per query by the orphan sweep.
_SWEEP_BATCH = 500


def prepare_dir(export_dir: Path) -> None:
    """Makes the folder (0700) if needed and puts its mode right: mkdir's mode is masked by
    the umask, and a folder made earlier keeps whatever mode it had."""
    export_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    mode = export_dir.stat().st_mode & 0o777
    if mode != PRIVATE_DIR_MODE:
        try:
            export_dir.chmod(PRIVATE_DIR_MODE)
        except PermissionError:
            # A shared mount made by another user (NFS, a host folder): the files in it are
            # still 0600; the folder's mode is its owner's to set.
            logger.warning(
                "exports: %s is mode %o and not ours to make 0700; its files stay 0600",
                export_dir,
                mode,
            )


def create_private(path: Path) -> BinaryIO:
    """A new file (never an existing one, never through a symlink), 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def free_bytes(export_dir: Path) -> int:
    """Free bytes on the file system that holds (or will hold) the folder."""
    path = export_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def storage_full(export_dir: Path, floor_bytes: int) -> bool:
    return floor_bytes > 0 and free_bytes(export_dir) < floor_bytes


def _job_paths(export_dir: Path, job_id: uuid.UUID) -> list[Path]:
    finished = [export_dir / f"{job_id}.{suffix}" for suffix in ("csv", "jsonl")]
    return finished + list(export_dir.glob(f".{job_id}.*.part"))


def remove_job_files(export_dir: Path, job_ids: list[uuid.UUID]) -> int:
    """Removes the jobs' files, finished or half-written; how many there were."""
    removed = 0
    for job_id in job_ids:
        for path in _job_paths(export_dir, job_id):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


async def owner_job_ids(*, owner_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await ExportJob.filter(owner_id=owner_id).values_list("id", flat=True))


async def keep_within_limits(
    *, owner_id: uuid.UUID, newest_id: uuid.UUID, max_files: int, max_bytes: int, export_dir: Path
) -> int:
    """Past EXPORT_MAX_FILES_PER_USER or EXPORT_MAX_BYTES_PER_USER, the owner's oldest
    finished files go, with their jobs; the newest (`newest_id`) always stays. How many went."""
    done = (
        await ExportJob.filter(owner_id=owner_id, status=ExportStatus.DONE)
        .order_by("-finished_at", "-created_at", "-id")
        .values("id", "bytes")
    )
    kept_files = kept_bytes = 0
    doomed: list[uuid.UUID] = []
    # The newest first, counted before any other; from the first file past a limit on,
    # every older one goes too (a small old file does not outlive a bigger newer one).
    done.sort(key=lambda row: row["id"] != newest_id)
    for row in done:
        size = int(row["bytes"] or 0)
        fits = kept_files + 1 <= max_files and kept_bytes + size <= max_bytes
        if row["id"] == newest_id or (fits and not doomed):
            kept_files += 1
            kept_bytes += size
        else:
            doomed.append(row["id"])
    if not doomed:
        return 0
    # Rows first: a file without its row is swept later; a row without its file would be
    # offered for download.
    await ExportJob.filter(id__in=doomed).delete()
    await asyncio.to_thread(remove_job_files, export_dir, doomed)
    return len(doomed)


def _old_job_files(export_dir: Path, grace_seconds: float) -> dict[uuid.UUID, list[Path]]:
    """Our files older than the grace period, by job id."""
    found: dict[uuid.UUID, list[Path]] = {}
    if not export_dir.is_dir():
        return found
    cutoff = time.time() - grace_seconds
    with os.scandir(export_dir) as entries:
        for entry in entries:
            match = _JOB_FILE.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
            except FileNotFoundError:
                continue
            found.setdefault(uuid.UUID(match["id"]), []).append(Path(entry.path))
    return found


async def remove_orphans(*, export_dir: Path, grace_seconds: float) -> int:
    """Removes files whose job row no longer exists (an owner deleted while its job ran, a
    crash between a row's deletion and its file's), once older than the grace; how many."""
    candidates = await asyncio.to_thread(_old_job_files, export_dir, grace_seconds)
    ids = list(candidates)
    removed = 0
    for start in range(0, len(ids), _SWEEP_BATCH):
        batch = ids[start : start + _SWEEP_BATCH]
        existing = set(await ExportJob.filter(id__in=batch).values_list("id", flat=True))
        for job_id in batch:
            if job_id in existing:
                continue
            for path in candidates[job_id]:
                await asyncio.to_thread(path.unlink, missing_ok=True)
                removed += 1
    return removed
