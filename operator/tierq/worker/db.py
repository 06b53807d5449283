"""The customers' database: `Site` and `UserRecords`, as the original Django app stores them.

The models map onto the Django tables (`website_site`, `website_userrecords`, including the
original column spelling `record_capicity`), so the worker reads an existing application
database unchanged; `create_schema` creates the same tables for a fresh database.

Settings come from `DATABASE_URL`: PostgreSQL through psycopg 3 in production
(`postgresql://user:pass@host/db` is accepted and routed to psycopg), SQLite for a laptop.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tierq.api.contract import ENV_DATABASE_URL

DEFAULT_DATABASE_URL = "sqlite:///tierq-demo.db"
SITE_FK_NAME = "website_userrecords_site_id_fk_website_site_id"

# Django's BigAutoField is `bigint` on PostgreSQL; SQLite only autoincrements `INTEGER`.
_Id = BigInteger().with_variant(Integer(), "sqlite")


class RecordCapacity(enum.IntEnum):
    """The Site's `record_capicity` choice: the customer's volume band (active user records)."""

    LOW = 1  # 500 - 10,000
    MEDIUM = 2  # 10,000 - 50,000
    HIGH = 3  # 50,000 - 200,000

    @property
    def band(self) -> tuple[int, int]:
        return _BANDS[self]

    @classmethod
    def for_volume(cls, records: int) -> RecordCapacity:
        """The band a record count falls in (below LOW counts as LOW, above HIGH as HIGH)."""
        if records >= _BANDS[cls.HIGH][0]:
            return cls.HIGH
        if records >= _BANDS[cls.MEDIUM][0]:
            return cls.MEDIUM
        return cls.LOW


_BANDS = {
    RecordCapacity.LOW: (500, 10_000),
    RecordCapacity.MEDIUM: (10_000, 50_000),
    RecordCapacity.HIGH: (50_000, 200_000),
}


class Base(DeclarativeBase):
    pass


class Site(Base):
    """A customer."""

    __tablename__ = "website_site"

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(200))  # Django URLField: varchar(200)
    url: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    # The original column is misspelled; the attribute is not.
    record_capacity: Mapped[int] = mapped_column("record_capicity", Integer)

    def __repr__(self) -> str:
        return f"Site(id={self.id!r}, name={self.name!r})"


class UserRecords(Base):
    """One of a customer's user records (the Django model's name, hence the plural)."""

    __tablename__ = "website_userrecords"
    __table_args__ = (
        # Django indexes site_id alone; a fresh schema indexes (site_id, id) so that the
        # worker's keyset pages (site_id = ? AND id > ? ORDER BY id) are index range scans.
        Index("website_userrecords_site_id_id", "site_id", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    site_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("website_site.id", ondelete="CASCADE", name=SITE_FK_NAME)
    )
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))  # Django EmailField: varchar(254)
    phone: Mapped[str] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    pincode: Mapped[str] = mapped_column(String(10))
    dob: Mapped[dt.date] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"UserRecords(id={self.id!r}, site_id={self.site_id!r}, name={self.name!r})"


class UserRecord(Protocol):
    """What a task receives for each record: a read-only row of `website_userrecords`.

    The runner streams plain rows (not ORM instances: 3x cheaper per record); a
    `UserRecords` instance has the same attributes.
    """

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def pincode(self) -> str: ...
    @property
    def dob(self) -> dt.date: ...
    @property
    def is_active(self) -> bool: ...


# ---- settings and engines -----------------------------------------------------------------


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else `$DATABASE_URL`, else the laptop's SQLite file."""
    return explicit or os.environ.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL


def normalize_url(url: str | URL) -> URL:
    """Route plain `postgresql://` / `postgres://` URLs to the psycopg 3 driver."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL | None = None, *, connect_timeout: int = 10) -> Engine:
    """An engine for `url` (default: `database_url()`), tuned for the worker's access pattern."""
    parsed = normalize_url(url if url is not None else database_url())
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = connect_timeout
        connect_args["application_name"] = "tierq-worker"
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create what is missing: tables, and the worker's (site_id, id) index.

    Nothing existing is altered. On a Django database the tables exist and only the index is
    added: without it, each keyset page of a large site re-reads the whole site through
    Django's site_id index (and PostgreSQL locks writes to the table while CREATE INDEX runs;
    on a busy application database create it CONCURRENTLY by hand first).
    """
    Base.metadata.create_all(engine)
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def drop_schema(engine: Engine) -> None:
    Base.metadata.drop_all(engine)


def count_active_records(session: Session, site_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(UserRecords)
        .where(UserRecords.site_id == site_id, UserRecords.is_active.is_(True))
    )
    return int(session.scalar(stmt) or 0)
