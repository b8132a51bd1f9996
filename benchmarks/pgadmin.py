"""PostgreSQL admin for the benchmarks: database URLs, dropping and creating the databases they
own, the server's facts, and stopping and starting the local cluster (`make faults` only)."""
from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.processes import wait_until

PG_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]


def pg_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


DEFAULT_BENCH_URL = pg_url("scheduler_bench")


def database_url(variable: str, default_name: str) -> str:
    """The database a benchmark owns: the environment variable, or its default on 127.0.0.1."""
    return os.environ.get(variable) or pg_url(default_name)


def maintenance(url: str) -> str:
    """The same server's `postgres` database, as a libpq URI."""
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def drop_pg(url: str, create: bool = False) -> None:
    """Drop the database (closing its connections), and create it empty again if asked."""
    name = make_url(url).database
    with psycopg.connect(maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def server_version(url: str) -> str:
    with psycopg.connect(maintenance(url)) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


# -- the cluster (fault drill a) -----------------------------------------------------------------
def pg_ctl(action: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PG_CTL, action], capture_output=True, text=True, timeout=90)


def postgres_running() -> bool:
    try:
        return pg_ctl("status").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def answers(url: str = pg_url("postgres")) -> bool:
    try:
        with psycopg.connect(maintenance(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_postgres_running() -> None:
    if not postgres_running():
        print("faults: PostgreSQL is down: starting it", file=sys.stderr)
        pg_ctl("start")
    wait_until(answers, 60, 0.5)
