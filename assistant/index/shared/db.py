"""One PostgreSQL connection per loaded shared index, used by all its segments' readers and the
chat's threads: queries are by key and take well under a millisecond, so a lock costs nothing; a
connection the server dropped (restart, idle timeout) is opened again once before a query fails."""

from __future__ import annotations

import threading

from .address import Address


class Db:
    def __init__(self, addr: Address):
        self.addr = addr
        self._lock = threading.Lock()
        self._conn = addr.connect()

    def query(self, sql: str, args=()) -> list[tuple]:
        import psycopg

        with self._lock:
            for attempt in (0, 1):
                try:
                    with self._conn.cursor() as cur:
                        cur.execute(sql, args)
                        return cur.fetchall()
                except psycopg.OperationalError:
                    if attempt or not (self._conn.closed or self._conn.broken):
                        raise
                    self._conn = self.addr.connect()
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
