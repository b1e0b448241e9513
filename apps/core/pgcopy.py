"""PostgreSQL's binary ``COPY ... TO STDOUT`` read straight into numpy arrays.

Fixed-width rows (8-byte columns: bigint, double precision, timestamptz) are parsed by numpy a
chunk at a time into arrays that grow in place: no Python object per row. Several COPYs can run
side by side on their own connections (``copy_out``), one query's pages split between them in one
snapshot (``copy_split``). The training readers (``apps.mlops.readers``) and the eligible audience
of a wave (``apps.delivery.selectors``) read their millions of rows this way.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from django.db import connection, transaction

_HEADER = b"PGCOPY\n\xff\r\n\x00"
_TRAILER = b"\xff\xff"
# PostgreSQL's binary timestamptz: microseconds since 2000-01-01 UTC; 946,684,800 s after 1970
PG_EPOCH_US = 946_684_800_000_000


class CopyStream:
    """One ``COPY ... TO STDOUT`` on a libpq connection (psycopg's ``pgconn``), advanced by
    ``step`` whenever its socket has data: several can run side by side from one thread.

    COPY output comes one message per row, and psycopg's ``Copy`` spends about twice the
    database's own time per row on each; here a row is one call and an append. ``consume``
    gets a bytearray holding at least ``flush`` bytes (or the rest at the end) and removes what
    it used from the front."""

    def __init__(self, raw, query: str, consume, flush: int):
        import select

        self.pgconn, self.consume, self.flush = raw.pgconn, consume, flush
        self.state, self.buf, self.failed = "starting", bytearray(), None
        self.pgconn.send_query(query.encode(raw.info.encoding))
        if self.pgconn.flush():  # a non-blocking connection: the rest of the query when writable
            writable = select.poll()
            writable.register(self.pgconn.socket, select.POLLOUT)
            while self.pgconn.flush():
                writable.poll()

    @property
    def socket(self) -> int:
        return self.pgconn.socket

    @property
    def done(self) -> bool:
        return self.state == "done"

    def step(self) -> None:
        """Take what has arrived; returns with the socket to be waited on again, or done."""
        from psycopg import pq

        pg = self.pgconn
        pg.consume_input()
        if self.state == "starting":
            if pg.is_busy():
                return
            res = pg.get_result()
            if res.status == pq.ExecStatus.COPY_OUT:
                self.state = "copying"
            else:
                self.failed, self.state = res, "ending"
        if self.state == "copying":
            buf, get = self.buf, pg.get_copy_data
            held, flush, consume = len(buf), self.flush, self.consume
            while True:  # once per row: every step here counts
                nbytes, data = get(1)
                if nbytes > 0:
                    buf += data
                    held += nbytes
                    if held >= flush:
                        consume(buf)
                        held = len(buf)
                elif nbytes == 0:  # nothing whole buffered: wait for the socket
                    return
                else:
                    break
            self.consume(buf)
            self.state = "ending"
        while self.state == "ending":
            if pg.is_busy():
                pg.consume_input()
                if pg.is_busy():
                    return
            res = pg.get_result()
            if res is None:
                self.state = "done"
            elif res.status != pq.ExecStatus.COMMAND_OK and self.failed is None:
                self.failed = res

    def error(self) -> Exception | None:
        import psycopg
        from psycopg import pq

        res = self.failed
        if res is None:
            return None
        state = res.error_field(pq.DiagnosticField.SQLSTATE)
        message = res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or res.error_message or b"COPY failed"
        cls = psycopg.errors.lookup(state.decode()) if state else psycopg.OperationalError
        return cls(message.decode(errors="replace").strip())


def run_streams(streams: list[CopyStream]) -> Exception | None:
    """Advance the streams as their sockets have data until every one is done (so every
    connection is idle again); the first stream's error, if any, is returned."""
    import select

    poller = select.poll()
    waiting = {}
    for stream in streams:
        poller.register(stream.socket, select.POLLIN)
        waiting[stream.socket] = stream
    for stream in streams:  # what may already be buffered
        stream.step()
        if stream.done:
            poller.unregister(stream.socket)
            del waiting[stream.socket]
    while waiting:
        for fd, _ in poller.poll():
            stream = waiting.get(fd)
            if stream is None:
                continue
            stream.step()
            if stream.done:
                poller.unregister(fd)
                del waiting[fd]
    return next((err for stream in streams if (err := stream.error()) is not None), None)


def copy_out(jobs: list[tuple], flush: int) -> None:
    """Run each ``(connection, query, consume)`` of ``jobs`` side by side: ``COPY (...) TO
    STDOUT`` on that psycopg connection (None: Django's), its output handed to ``consume``
    (``CopyStream``). Django's connection is left idle, or closed if a COPY was interrupted
    half-way; the first database error is raised once every COPY has ended."""
    connection.ensure_connection()
    error, done = None, False
    with connection.wrap_database_errors:
        try:
            error = run_streams([CopyStream(raw or connection.connection, query, consume, flush)
                                  for raw, query, consume in jobs])
            done = True
        finally:
            if not done:  # interrupted mid-protocol: the connection cannot be reused
                connection.close()
        if error is not None:
            raise error


def row_parser(dtypes: tuple, capacity: int):
    """(parse, result): ``parse(buf)`` moves the whole binary-COPY rows at the front of ``buf``
    into one native array per column; ``result()`` gives the arrays shrunk to the rows read, or
    None when a row was not what was asked for (a NULL, another width) or the output was cut."""
    fields = [("n", ">i2")]
    for k, dtype in enumerate(dtypes):
        if np.dtype(dtype).itemsize != 8:
            raise ValueError("only 8-byte columns")
        fields += [(f"l{k}", ">i4"), (f"c{k}", dtype)]
    row = np.dtype(fields)
    width = len(dtypes)
    out = [np.empty(max(capacity, 1), np.dtype(d).newbyteorder("=")) for d in dtypes]
    state = {"filled": 0, "started": False, "ok": True, "rest": b""}

    def parse(buf: bytearray) -> None:
        if not state["ok"]:
            buf.clear()  # read to the end all the same: the connection is usable again only then
            return
        if not state["started"]:
            if len(buf) < 19:
                return
            if buf[:11] != _HEADER:
                state["ok"] = False
                return
            del buf[:19 + int.from_bytes(buf[15:19], "big")]
            state["started"] = True
        rows, filled = len(buf) // row.itemsize, state["filled"]
        if rows:
            got = np.frombuffer(buf, dtype=row, count=rows)
            if np.any(got["n"] != width) or any(np.any(got[f"l{k}"] != 8) for k in range(width)):
                state["ok"] = False  # a NULL or another type
            else:
                if filled + rows > len(out[0]):
                    for arr in out:
                        arr.resize(max(len(arr) * 3 // 2, filled + rows), refcheck=False)
                for k, arr in enumerate(out):
                    arr[filled:filled + rows] = got[f"c{k}"]
                state["filled"] = filled + rows
            del got  # the buffer can be resized again
            del buf[:rows * row.itemsize]
        state["rest"] = bytes(buf)  # less than a row: the next piece's start, or the trailer

    def result() -> list[np.ndarray] | None:
        if not state["ok"] or state["rest"] != _TRAILER:  # every row, then the trailer
            return None
        for arr in out:
            arr.resize(state["filled"], refcheck=False)
        return out

    return parse, result


def copy_arrays(sql: str, params, dtypes: tuple, *, capacity: int = 1 << 16, flush: int = 1 << 20) -> list[np.ndarray] | None:
    """The rows of one query (8-byte columns only, as the big-endian numpy ``dtypes`` ">i8" or
    ">f8") by binary COPY on Django's connection, one native array per column; None when a row
    is not what was asked for (a NULL, another width): the caller reads otherwise. ``capacity``:
    the rows first allocated for (the arrays grow by half as needed)."""
    query = connection.ops.compose_sql(sql, params)  # COPY takes no bind parameters: the values go in quoted
    parse, result = row_parser(dtypes, capacity)
    copy_out([(None, f"COPY ({query}) TO STDOUT (FORMAT BINARY)", parse)], flush)
    return result()


STREAM_MIN_ROWS = 200_000  # below this many rows a second connection costs more than it saves
_SNAPSHOT = re.compile(r"^[0-9A-F-]+$")


def estimate_rows(sql: str, params) -> int:
    """PostgreSQL's planner's estimate of the rows ``sql`` gives (``EXPLAIN``: nothing runs)."""
    import json

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def split_worth(estimate: int, streams: int, *written: str) -> bool:
    """Whether a read of about ``estimate`` rows is worth ``copy_split`` over ``streams``
    connections: two or more, ``STREAM_MIN_ROWS`` or more, PostgreSQL 14 or newer (a range of
    pages is a TID range scan). Inside a transaction only when the caller names the tables its
    query reads (``written``) and the transaction has not written them (``written_in_transaction``):
    the other connections would not see those changes; without them, never."""
    if streams < 2 or estimate < STREAM_MIN_ROWS or connection.pg_version < 140000:
        return False
    return not connection.in_atomic_block or (bool(written) and not written_in_transaction(*written))


def written_in_transaction(*tables: str) -> bool:
    """Whether the open transaction has itself inserted, updated or deleted rows of any of
    ``tables`` (PostgreSQL's per-transaction counters): what ``copy_split``'s other connections
    would not see. False outside a transaction."""
    if not connection.in_atomic_block:
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables "
                    "WHERE relid = ANY(%s::regclass[])", [list(tables)])
        return bool(cur.fetchone()[0])


def copy_split(query_of: Callable[[str], str], table: str, dtypes: tuple, streams: int, capacity: int,
               flush: int = 1 << 20, alias: str | None = None) -> list[np.ndarray] | None:
    """One query's rows over ``streams`` connections at once, as ``copy_arrays`` gives them (None:
    a row was not what was asked for). ``query_of(condition)``: the whole ``COPY ... TO STDOUT``
    statement with ``condition`` (SQL on ``table``'s ``ctid``, named ``alias`` when given) among
    its filters.

    Outside a transaction, Django's connection exports a repeatable-read snapshot and
    ``streams - 1`` new connections import it (as ``pg_dump --jobs`` does), so together they see
    exactly the rows one statement would. Inside one (a wave's plan; PostgreSQL exports no
    snapshot from a savepoint, which Django's nested blocks are) each new connection reads in
    its own snapshot, taken as it starts: a row updated meanwhile may be read by two parts (its
    old and its new version, on other pages) or by none, and what the transaction has written
    and not committed is not seen by them; the caller asks for a split only where that cannot
    matter (``split_worth`` asks ``written_in_transaction`` of the tables the query reads), and
    drops repeated rows. Each connection reads the rows of one range of the table's
    pages (the last range open-ended); the parts are joined in page order, not sorted.
    PostgreSQL 14 or newer (a range of pages is a TID range scan)."""
    quoted = connection.ops.quote_name(table)
    others, parts = [], []
    shared = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if shared:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            # a partitioned table (events) has its pages in its partitions: a range of pages is
            # read in each, the ranges cut by the largest one's size
            cursor.execute(f"SELECT {'pg_export_snapshot()' if shared else 'NULL'}, "
                           "(SELECT COALESCE(MAX(pg_relation_size(relid)), 0) "
                           "FROM pg_partition_tree(%s::regclass) WHERE isleaf) / current_setting('block_size')::bigint",
                           [quoted])
            snapshot, pages = cursor.fetchone()
        if shared and not _SNAPSHOT.match(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        bounds = [pages * k // streams for k in range(streams)] + [None]
        name = alias or quoted
        queries = []
        for k in range(streams):
            lo, hi = bounds[k], bounds[k + 1]
            queries.append(query_of(f"{name}.ctid >= '({lo},0)'::tid"
                                    + (f" AND {name}.ctid < '({hi},0)'::tid" if hi is not None else "")))
        try:
            params = connection.get_connection_params()
            for _ in range(streams - 1):
                other = connection.Database.connect(**params)
                others.append(other)
                other.autocommit = True
                if shared:
                    other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            # room for twice an even share: a part that gets more rows than its share rarely
            # grows (and copies), and pages never written cost no memory
            share = min(capacity, 2 * capacity // streams) + 4096
            jobs = []
            for raw, query in zip([None, *others], queries):
                parse, result = row_parser(dtypes, share)
                parts.append(result)
                jobs.append((raw, query, parse))
            copy_out(jobs, flush)
        finally:
            for other in others:
                other.close()
    got = [result() for result in parts]
    del parts
    if any(g is None for g in got):
        return None
    # joined in place, a column at a time: the first part's column grows to hold the others'
    # (``resize`` zeroes what it adds, so those pages count at once), which are freed as soon as
    # they are copied; beyond the rows themselves the join holds one column's growth, not every
    # column's growth and the other parts together
    total = sum(len(g[0]) for g in got)
    out = got[0]
    for k in range(len(out)):
        at = len(out[k])
        out[k].resize(total, refcheck=False)
        for part in got[1:]:
            piece = part[k]
            out[k][at:at + len(piece)] = piece
            at += len(piece)
            part[k] = None
            del piece
    return out
