"""Learners seen so far in a JSON Lines batch, on disk, so memory stays flat.

Takes each learner identifier with its ordinal and line; answers whether it was seen before
(and where). A JSON Lines file must give each learner once (`stackrules.records.readers`
makes a repeat an error for the second object; the batch does the same), and remembering
millions of identifiers in a Python set would make memory grow with the input. An SQLite
table with the identifier as primary key keeps a small page cache in memory whatever its
size, survives a killed run (the checkpoint says up to which ordinal it is valid) and costs a
few microseconds per learner.

With `--exceptions`, a second table (`present`) holds every learner identifier read, in
either kind of file, asked for (`--learner`) or not, in error or not: at the end, the rows of
the exceptions file for learners that are not there are reported
(`stackrules.exceptions.files.index_strangers`), in bounded memory and across `--resume`.
"""

from __future__ import annotations

import sqlite3

from stackrules.batch.checkpoint import ResumeRefused, shown

COLUMNS = ["learner", "ordinal", "line"]


class Seen:
    """A learner table in the SQLite file `path`; a file that is not one is `ResumeRefused`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level="DEFERRED")
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(seen)")]
            if columns and columns != COLUMNS:
                raise sqlite3.DatabaseError("its `seen` table has other columns")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS seen ("
                " learner TEXT PRIMARY KEY, ordinal INTEGER NOT NULL, line INTEGER NOT NULL)"
                " WITHOUT ROWID"
            )
            tables = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            # whether the learners read were kept from the start (a state written before
            # the table existed has not: resuming from it cannot tell who was read)
            self.had_present = "present" in {row[0] for row in tables}
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS present ("
                " learner TEXT PRIMARY KEY, ordinal INTEGER NOT NULL) WITHOUT ROWID"
            )
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise ResumeRefused(
                f"the batch state file `{shown(path)}` is damaged ({str(err).lower()}); "
                "run without --resume to start again"
            ) from None

    def forget_from(self, ordinal: int) -> None:
        """Forget learners at or after `ordinal` (written after the last checkpoint)."""
        self._db.execute("DELETE FROM seen WHERE ordinal >= ?", (ordinal,))
        self._db.execute("DELETE FROM present WHERE ordinal >= ?", (ordinal,))
        self._db.commit()

    def note(self, learner: str, ordinal: int) -> None:
        """Remember that the record file holds `learner` (first read at `ordinal`)."""
        self._db.execute("INSERT OR IGNORE INTO present VALUES (?, ?)", (learner, ordinal))

    def first_line(self, learner: str, ordinal: int, line: int) -> int | None:
        """The line where `learner` was first seen, or None (and it is remembered now)."""
        row = self._db.execute("SELECT line FROM seen WHERE learner = ?", (learner,)).fetchone()
        if row is not None:
            return int(row[0])
        self._db.execute("INSERT INTO seen VALUES (?, ?, ?)", (learner, ordinal, line))
        return None

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()
