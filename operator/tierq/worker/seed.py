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

from sqlalchemy import Engine, insert

from tierq.worker.db import RecordCapacity, Site, create_schema, drop_schema

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


def seed(engine: Engine, sites: Sequence[SiteSpec], *, reset: bool = False) -> SeedResult:
    """Create the schema if needed (drop it first with `reset`), then load `sites`."""
    started = time.perf_counter()
    if reset:
        drop_schema(engine)
    create_schema(engine)
    site_ids = _insert_sites(engine, sites)
    total = 0
    is_pg = engine.dialect.name == "postgresql"
    for spec, site_id in zip(sites, site_ids, strict=True):
        if is_pg:
            _copy_records(engine, site_id, spec)
        else:
            _insert_records(engine, site_id, spec)
        total += spec.records
    if is_pg:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE website_site")
            conn.exec_driver_sql("ANALYZE website_userrecords")
            conn.commit()
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
        if engine.dialect.name == "postgresql" and any(s.site_id is not None for s in sites):
            # Explicit ids leave the identity sequence behind; move it past them.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('website_site', 'id'),"
                " (SELECT max(id) FROM website_site))"
            )
    return ids


def _rows(site_id: int, spec: SiteSpec) -> Iterator[tuple[object, ...]]:
    nf, nl, np_ = len(_FIRST), len(_LAST), len(_PLACES)
    every = spec.inactive_every
    for i in range(spec.records):
        country, state, city = _PLACES[i % np_]
        yield (
            site_id,
            f"{_FIRST[i % nf]} {_LAST[(i // nf) % nl]} {i}",
            f"user{i}@site{site_id}.example.com",
            f"+1555{i % 10_000_000:07d}",
            f"{i % 9999 + 1} Main Street",
            country,
            state,
            city,
            f"{(site_id * 7919 + i) % 1_000_000:06d}",
            _EPOCH + dt.timedelta(days=(i * 37) % 20_000),
            not (every and i % every == every - 1),
        )


_COLUMNS = ("site_id", "name", "email", "phone", "address", "country", "state", "city",
            "pincode", "dob", "is_active")


def _copy_records(engine: Engine, site_id: int, spec: SiteSpec, chunk: int = 20_000) -> None:
    """COPY in text format, lines built in Python (our values hold no tab, newline or \\)."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            sql = f"COPY website_userrecords ({', '.join(_COLUMNS)}) FROM STDIN"
            with cur.copy(sql) as copy:
                buf: list[str] = []
                for row in _rows(site_id, spec):
                    buf.append(
                        f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\t{row[4]}\t{row[5]}\t{row[6]}"
                        f"\t{row[7]}\t{row[8]}\t{row[9]}\t{'t' if row[10] else 'f'}\n"
                    )
                    if len(buf) >= chunk:
                        copy.write("".join(buf))
                        buf.clear()
                if buf:
                    copy.write("".join(buf))
        raw.commit()
    finally:
        raw.close()


def _insert_records(engine: Engine, site_id: int, spec: SiteSpec, chunk: int = 50_000) -> None:
    placeholders = ", ".join("?" for _ in _COLUMNS)
    sql = f"INSERT INTO website_userrecords ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        batch: list[tuple[object, ...]] = []
        for row in _rows(site_id, spec):
            batch.append((*row[:9], row[9].isoformat(), int(bool(row[10]))))  # type: ignore[attr-defined]
            if len(batch) >= chunk:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        cur.close()
        raw.commit()
    finally:
        raw.close()
