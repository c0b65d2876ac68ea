"""Services checked before a sweep writes anything: each answers within a bounded wait, or one line says which.

Without these checks an unreachable MLflow server or RAY_ADDRESS made the driver hang for minutes in the
clients' own retries, with no output.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

from mca_platform.errors import UserError

WAIT_S = 15.0
TRACKING_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql")


def check_tracking(uri: str, wait_s: float = WAIT_S) -> None:
    """The MLflow store at `uri` can be used: a server answers /health, a SQLite file is a database."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in TRACKING_SCHEMES:
        raise UserError(f"tracking.uri: {uri!r} is not an MLflow tracking URI (expected sqlite:///PATH, "
                        "http(s)://HOST:PORT or a database URL; MLFLOW_TRACKING_URI replaces it when set)")
    if scheme in ("http", "https"):
        _wait_for(lambda: requests.get(uri.rstrip("/") + "/health", timeout=5).raise_for_status(), wait_s,
                  f"tracking.uri: no MLflow server answered at {uri} within {wait_s:.0f} s")
    elif scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise UserError(f"tracking.uri: {uri}: the directory {path.parent} does not exist")
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=wait_s) as db:
                    db.execute("PRAGMA schema_version").fetchone()
            except sqlite3.DatabaseError as error:
                raise UserError(f"tracking.uri: {path} is not a usable SQLite database ({error}); move it away "
                                "or point tracking.uri elsewhere") from None


def check_ray_address(address: str | None, wait_s: float = WAIT_S) -> None:
    """RAY_ADDRESS (when set, and not `auto` or `local`) accepts a connection within `wait_s`."""
    if not address or address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UserError(f"RAY_ADDRESS={address}: expected HOST:PORT (e.g. 10.0.0.1:6379), ray://HOST:PORT or auto")

    def connect() -> None:
        with socket.create_connection((host, port), timeout=5):
            pass

    _wait_for(connect, wait_s, f"RAY_ADDRESS={address}: nothing accepts connections at {host}:{port} "
                               f"within {wait_s:.0f} s; start the cluster or unset RAY_ADDRESS")


def _wait_for(attempt, wait_s: float, message: str) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            attempt()
            return
        except (OSError, requests.RequestException) as error:
            if time.monotonic() >= deadline:
                raise UserError(f"{message} ({type(error).__name__})") from None
            time.sleep(1.0)
