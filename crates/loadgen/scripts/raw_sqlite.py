#!/usr/bin/env python3
"""Raw SQLite insert limit, the baseline next to `loadgen logs` (docs/benchmarks.md, issue 6).

usage: python3 crates/loadgen/scripts/raw_sqlite.py .feedline/logs.db [ROWS (1000000)]

Copies the `log_records` table of the running log-ingest-service's database (columns and
indexes) into a fresh file beside it, in WAL mode as the service sets it, and inserts ROWS rows
of the load generator's size in transactions of 4,000 rows (the service's default batch), with
executemany of one prepared INSERT: no network, no gRPC, no batching logic. Prints rows/s.
"""
import os, sqlite3, sys, time, random, string
src, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
schema = [r[0] for r in sqlite3.connect(src).execute(
    "SELECT sql FROM sqlite_master WHERE tbl_name='log_records' AND sql IS NOT NULL ORDER BY type DESC")]
cols = [r[1] for r in sqlite3.connect(src).execute("PRAGMA table_info(log_records)")]
types = {r[1]: r[2].upper() for r in sqlite3.connect(src).execute("PRAGMA table_info(log_records)")}
path = os.path.join(os.path.dirname(src), "raw-bench.db")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(path + suffix): os.remove(path + suffix)
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
for stmt in schema: db.execute(stmt)
msg = "".join(random.choice(string.ascii_letters + " ") for _ in range(150))
def row(i):
    out = []
    for c in cols:
        t = types[c]
        if c == "id": out.append(i)
        elif c == "app_id": out.append(1)
        elif c.startswith("time") or c.startswith("received"): out.append(1_700_000_000_000_000_000 + i)
        elif c == "client_record_id": out.append(f"r-{i}")
        elif c == "message": out.append(msg)
        elif "INT" in t: out.append(9)
        elif "BLOB" in t: out.append(b"")
        else: out.append('{"k":"v","n":"1"}' if "attr" in c else "svc")
    return tuple(out)
sql = f"INSERT INTO log_records ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
rows = [row(i) for i in range(1, n + 1)]
start = time.monotonic()
for b in range(0, n, 4000):
    db.execute("BEGIN")
    db.executemany(sql, rows[b:b + 4000])
    db.execute("COMMIT")
elapsed = time.monotonic() - start
print(f"raw sqlite: {n} rows in {elapsed:.2f} s = {n / elapsed:,.0f} rows/s (columns {cols})")
db.close()
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(path + suffix): os.remove(path + suffix)
