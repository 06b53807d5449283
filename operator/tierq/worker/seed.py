"""Demo data: sites spread over the three volume bands, with their user records.

Rows are generated arithmetically (no faker: deterministic and cheap) and bulk-loaded: COPY
on PostgreSQL, `executemany` in one transaction on SQLite.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, inspect, select

from tierq.worker.db import SITE_FK_NAME, RecordCapacity, Site, create_schema, drop_schema

log = logging.getLogger("tierq.worker.seed")

# Share of sites per band when counts are drawn (most customers are small).
DEFAULT_BAND_WEIGHTS: dict[RecordCapacity, float] = {
    RecordCapacity.LOW: 0.6,
    RecordCapacity.MEDIUM: 0.3,
    RecordCapacity.HIGH: 0.1,
}

_FIRST = ("Asha", "Ben", "Chen", "Dara", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jon",
          "Kofi", "Lena", "Maya", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara")
_LAST = ("Ito", "Khan", "Lopez", "Meyer", "Nair", "Okafor", "Park", "Quist", "Rossi", "Silva",
         "Tan", "Ueda", "Varga", "Wong", "Xu", "Yilmaz", "Zhou", "Berg", "Cruz", "Dube")
_PLACES = (
    ("India", "Karnataka", "Bengaluru"), ("India", "Maharashtra", "Pune"),
    ("USA", "California", "Oakland"), ("USA", "Texas", "Austin"),
    ("Germany", "Bavaria", "Munich"), ("Brazil", "Parana", "Curitiba"),
    ("Kenya", "Nairobi", "Nairobi"), ("Japan", "Osaka", "Osaka"),
)
_EPOCH = dt.date(1950, 1, 1)


@dataclass(frozen=True)
class SiteSpec:
    name: str
    records: int
    inactive_every: int = 0  # every n-th record is inactive (0: all active)
    site_id: int | None = None  # None: the database assigns it


@dataclass(frozen=True)
class SeedResult:
    site_ids: list[int]
    records: int
    seconds: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def plan_sites(
    count: int,
    *,
    seed: int = 1,
    records: int | None = None,
    inactive_every: int = 20,
    weights: dict[RecordCapacity, float] | None = None,
    first_index: int = 1,
) -> list[SiteSpec]:
    """`count` sites; record counts drawn in their band unless `records` fixes them."""
    rng = random.Random(seed)
    bands = list((weights or DEFAULT_BAND_WEIGHTS).items())
    specs = []
    for i in range(first_index, first_index + count):
        if records is None:
            capacity = rng.choices([b for b, _ in bands], [w for _, w in bands])[0]
            low, high = capacity.band
            n = rng.randint(low, high)
        else:
            n = records
        specs.append(SiteSpec(name=f"Customer {i:04d}", records=n, inactive_every=inactive_every))
    return specs


def existing_sites(engine: Engine) -> int:
    """How many sites the database holds (0 without the table): new demo names follow on."""
    if not inspect(engine).has_table(Site.__tablename__):
        return 0
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Site)) or 0)


def seed(engine: Engine, sites: Sequence[SiteSpec], *, reset: bool = False) -> SeedResult:
    """Create the schema if needed (drop it first with `reset`), then load `sites`."""
    started = time.perf_counter()
    if reset:
        drop_schema(engine)
    create_schema(engine)
    site_ids = _insert_sites(engine, sites)
    total = sum(spec.records for spec in sites)
    if engine.dialect.name == "postgresql":
        _copy_all(engine, list(zip(site_ids, sites, strict=True)), defer_fk=reset)
    else:
        for spec, site_id in zip(sites, site_ids, strict=True):
            _insert_records(engine, site_id, spec)
    seconds = time.perf_counter() - started
    log.info(
        "seeded",
        extra={"fields": {"sites": len(site_ids), "records": total,
                          "seconds": round(seconds, 2),
                          "recordsPerSecond": round(total / seconds) if seconds else None}},
    )
    return SeedResult(site_ids, total, seconds)


def _insert_sites(engine: Engine, sites: Sequence[SiteSpec]) -> list[int]:
    ids: list[int] = []
    with engine.begin() as conn:
        for spec in sites:
            slug = "".join(c for c in spec.name.lower() if c.isalnum()) or "site"
            values: dict[str, object] = {
                "name": spec.name[:100],
                "domain": f"https://{slug}.example.com",
                "url": f"https://{slug}.example.com/app",
                "description": f"Demo customer with {spec.records} user records",
                "record_capacity": int(RecordCapacity.for_volume(spec.records)),
            }
            if spec.site_id is not None:
                values["id"] = spec.site_id
            result = conn.execute(insert(Site).values(**values).returning(Site.id))
            ids.append(int(result.scalar_one()))
            if spec.site_id is not None and engine.dialect.name == "postgresql":
                # An explicit id leaves the identity sequence behind; move it past the max.
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('website_site', 'id'),"
                    " (SELECT max(id) FROM website_site))"
                )
    return ids


class _Columns:
    """Precomputed cycles of the column values: one f-string per row is all that is left."""

    def __init__(self) -> None:
        self.names = [f"{_FIRST[k % len(_FIRST)]} {_LAST[k // len(_FIRST)]}"
                      for k in range(len(_FIRST) * len(_LAST))]
        self.places = _PLACES
        self.dobs = [_EPOCH + dt.timedelta(days=d) for d in range(20_000)]
        self.dob_texts = [d.isoformat() for d in self.dobs]


_columns: _Columns | None = None


def _cols() -> _Columns:
    global _columns
    if _columns is None:
        _columns = _Columns()
    return _columns


def _rows(site_id: int, spec: SiteSpec) -> Iterator[tuple[object, ...]]:
    """The records of one site, as tuples in `_COLUMNS` order (dob as ISO text)."""
    c = _cols()
    names, places, dobs = c.names, c.places, c.dob_texts
    nn, np_ = len(names), len(places)
    every = spec.inactive_every
    pin_base = site_id * 7919
    for i in range(spec.records):
        country, state, city = places[i % np_]
        yield (
            site_id,
            f"{names[i % nn]} {i}",
            f"user{i}@site{site_id}.example.com",
            f"+1555{i % 10_000_000:07d}",
            f"{i % 9999 + 1} Main Street",
            country,
            state,
            city,
            f"{(pin_base + i) % 1_000_000:06d}",
            dobs[(i * 37) % 20_000],
            not (every and i % every == every - 1),
        )


def _copy_text(site_id: int, spec: SiteSpec, chunk: int) -> Iterator[str]:
    """The same rows as `_rows`, as COPY text lines (values hold no tab, newline or \\)."""
    c = _cols()
    names, dobs = c.names, c.dob_texts
    places = ["\t".join(p) for p in c.places]
    nn, np_ = len(names), len(places)
    every = spec.inactive_every
    pin_base = site_id * 7919
    buf: list[str] = []
    for i in range(spec.records):
        active = "f" if every and i % every == every - 1 else "t"
        buf.append(
            f"{site_id}\t{names[i % nn]} {i}\tuser{i}@site{site_id}.example.com"
            f"\t+1555{i % 10_000_000:07d}\t{i % 9999 + 1} Main Street\t{places[i % np_]}"
            f"\t{(pin_base + i) % 1_000_000:06d}\t{dobs[(i * 37) % 20_000]}\t{active}\n"
        )
        if len(buf) >= chunk:
            yield "".join(buf)
            buf.clear()
    if buf:
        yield "".join(buf)


_COLUMNS = ("site_id", "name", "email", "phone", "address", "country", "state", "city",
            "pincode", "dob", "is_active")


def _copy_all(
    engine: Engine, sites: Sequence[tuple[int, SiteSpec]], *, defer_fk: bool, chunk: int = 20_000
) -> None:
    """COPY every site's records in one transaction.

    With `defer_fk` (the tables were just created, nobody else uses them) the foreign key is
    dropped for the load and added back at the end: one validating join instead of a trigger
    per row, about a third of the load time.
    """
    # Raw DDL on purpose: SQLAlchemy's AddConstraint() marks the metadata's constraint as
    # "added by ALTER", and a later create_all() would then create the table without it.
    drop_fk = f"ALTER TABLE website_userrecords DROP CONSTRAINT IF EXISTS {SITE_FK_NAME}"
    add_fk = (f"ALTER TABLE website_userrecords ADD CONSTRAINT {SITE_FK_NAME} FOREIGN KEY"
              " (site_id) REFERENCES website_site (id) ON DELETE CASCADE")
    columns = ", ".join(_COLUMNS)
    with engine.connect() as conn:
        if defer_fk:
            conn.exec_driver_sql(drop_fk)
        raw: Any = conn.connection.driver_connection  # psycopg.Connection
        with raw.cursor() as cur:
            for site_id, spec in sites:
                with cur.copy(f"COPY website_userrecords ({columns}) FROM STDIN") as copy:
                    for block in _copy_text(site_id, spec, chunk):
                        copy.write(block)
        if defer_fk:
            conn.exec_driver_sql(add_fk)
        conn.commit()
        conn.exec_driver_sql("ANALYZE website_site")
        conn.exec_driver_sql("ANALYZE website_userrecords")
        conn.commit()


def _insert_records(engine: Engine, site_id: int, spec: SiteSpec, chunk: int = 50_000) -> None:
    placeholders = ", ".join("?" for _ in _COLUMNS)
    sql = f"INSERT INTO website_userrecords ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        batch: list[tuple[object, ...]] = []
        for row in _rows(site_id, spec):
            batch.append((*row[:10], int(bool(row[10]))))
            if len(batch) >= chunk:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        cur.close()
        raw.commit()
    finally:
        raw.close()
