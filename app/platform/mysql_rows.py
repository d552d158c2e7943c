"""The one column of a MySQL result, read in a loop of its own instead of aiomysql's.

aiomysql parses a result in Python, packet by packet and field by field: for every row a
packet object, two awaited reads through two layers, the error and end checks, a length
decoded per field, a decode and a converter. For a page of twenty JSON rows that was more
Python than the rest of the request (instructions per request under valgrind: the MySQL
list at 2.3 x PostgreSQL's, the difference all in the driver's row reading). The hot pages
select exactly one text column (a JSON object per row); `column_values` sends the statement
on a connection of Tortoise's pool (the fair gate included) as aiomysql's cursor would and
reads the rows' values as the bytes the server sent, in one loop.

It speaks the protocol aiomysql's connection speaks, through the connection's own reader
and packet counter (aiomysql 0.3, pinned below 0.4): aiomysql sends the statement; the
whole result (its first packet, the column's definition and its end, the rows) is read
here, usually in one read of the socket. A connection that fails or is
cancelled half-way through a result is closed, as aiomysql closes it, so the pool never
hands out a connection with a result still on the wire. Connections are still replaced an
hour after their last cursor (`DB_POOL_RECYCLE_SECONDS`), which these reads do not renew.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pymysql.constants import COMMAND, CR
from pymysql.err import InternalError, OperationalError
from pymysql.protocol import MysqlPacket

_END = 0xFE  # an EOF packet (shorter than 9 bytes), or an 8-byte length
_ERROR = 0xFF
_NULL = 0xFB
_TWO_BYTES, _THREE_BYTES = 0xFC, 0xFD
_LONGEST_PACKET = 0xFFFFFF  # a longer payload goes on in the next packet
_CHUNK = 1 << 16


async def column_values(client: Any, sql: str, params: list[Any]) -> list[bytes | None]:
    """The values of the one column `sql` selects, row by row (None for NULL), on a
    connection of Tortoise's MySQL client `client`. `sql` has aiomysql's `%s` marks."""
    async with client.acquire_connection() as conn:
        query = sql % tuple(_literal(conn, param) for param in params)
        conn._result = None  # pylint: disable=protected-access  # as aiomysql's query() does
        try:
            await conn._execute_command(COMMAND.COM_QUERY, query)  # pylint: disable=protected-access
            return await _read_column(conn)
        except asyncio.CancelledError:
            conn.close()
            raise
        except (EOFError, OSError) as exc:  # IncompleteReadError is an EOFError
            conn.close()
            raise OperationalError(
                CR.CR_SERVER_LOST, "Lost connection to MySQL server during query"
            ) from exc
        except InternalError:
            conn.close()
            raise


def _literal(conn: Any, param: Any) -> str:
    """`param` as SQL, as the connection's `escape` writes it; an int's digits and a UUID's
    text (hex digits and dashes: nothing to escape) without its per-type dispatch."""
    kind = type(param)
    if kind is int:
        return str(param)
    if kind is uuid.UUID:
        return f"'{param}'"
    return conn.escape(param)


async def _read_column(conn: Any) -> list[bytes | None]:
    packets = _Packets(conn)
    first = await packets.next()
    if first[0] == _ERROR:  # the server's error: nothing follows it, the connection stays usable
        packets.finish()
        MysqlPacket(first, conn._encoding).raise_for_error()  # pylint: disable=protected-access
    if first[0] == 0 and len(first) >= 7:
        packets.finish()
        return []  # an OK packet: no result set
    if first != b"\x01":
        raise InternalError("column_values reads results of exactly one column")
    await packets.next()  # the column's definition
    end = await packets.next()
    if end[0] != _END or len(end) >= 9:
        raise InternalError("no end after the column's definition")
    values: list[bytes | None] = []
    while True:
        body = await packets.next()
        lead = body[0]
        if lead < _NULL:
            values.append(body[1 : 1 + lead])
        elif lead == _END and len(body) < 9:
            conn.server_status = int.from_bytes(body[3:5], "little")
            packets.finish()
            return values
        elif lead == _ERROR:
            packets.finish()
            MysqlPacket(body, conn._encoding).raise_for_error()  # pylint: disable=protected-access
        elif lead == _NULL:
            values.append(None)
        else:
            width = 2 if lead == _TWO_BYTES else 3 if lead == _THREE_BYTES else 8
            size = int.from_bytes(body[1 : 1 + width], "little")
            values.append(body[1 + width : 1 + width + size])


class _Packets:
    """The rest of one result, read from the connection's reader in chunks of whatever has
    arrived (one await for many rows, not two a row): the server sends nothing more on the
    connection until the next command, so no chunk can hold bytes of anything else."""

    __slots__ = ("_at", "_conn", "_data", "_reader")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._reader: asyncio.StreamReader = conn._reader  # pylint: disable=protected-access
        self._data = b""
        self._at = 0

    async def _fill(self, count: int) -> None:
        """Until `count` bytes past the current position have arrived."""
        while len(self._data) - self._at < count:
            chunk = await self._reader.read(_CHUNK)
            if not chunk:
                raise asyncio.IncompleteReadError(self._data[self._at :], count)
            self._data = self._data[self._at :] + chunk
            self._at = 0

    async def next(self) -> bytes:
        """One packet's payload, its number checked as aiomysql checks it."""
        payload = b""
        while True:
            if len(self._data) - self._at < 4:
                await self._fill(4)
            data, at = self._data, self._at
            length = data[at] | data[at + 1] << 8 | data[at + 2] << 16
            number = data[at + 3]
            expected = self._conn._next_seq_id  # pylint: disable=protected-access
            if number != expected:
                raise InternalError(
                    f"Packet sequence number wrong - got {number} expected {expected}"
                )
            self._conn._next_seq_id = (number + 1) % 256  # pylint: disable=protected-access
            if len(data) - at - 4 < length:
                await self._fill(4 + length)
                data, at = self._data, self._at
            payload += data[at + 4 : at + 4 + length]
            self._at = at + 4 + length
            if length < _LONGEST_PACKET:
                return payload

    def finish(self) -> None:
        """The result is over: anything read past it means the connection lost its place."""
        if self._at != len(self._data):
            raise InternalError("bytes past the end of a result")
