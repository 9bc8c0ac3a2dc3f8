"""Connections and overload (issue 13, point 3): a bounded connection pool per process (that a forked child does not
share), and 503 + Retry-After — never a 500 — when the pool is exhausted or the database is down.

The finding: under `make run` (runserver, a thread per client connection) every request thread kept its own
PostgreSQL connection for CONN_MAX_AGE=60 s: 65 idle connections, PostgreSQL refused new ones, and reads answered
500. Here a runserver-like threaded server serves clients that keep their HTTP connections open, and the test
counts this process's TCP connections to the database (from /proc, so it counts them behind PgBouncer as well).
"""

import os
import socket
import threading
import time
from http.client import HTTPConnection

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import InterfaceError, OperationalError, connection, connections
from django.test.testcases import QuietWSGIRequestHandler
from rest_framework.authtoken.models import Token

from core.db import is_database_unavailable

# the connection pool is PostgreSQL's: its tests are marked `postgres` (skipped on SQLite by the root conftest.py)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_db_sockets(port: int) -> int:
    """This process's established TCP connections to `port` (Linux /proc): its database connections."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                        count += 1
        except OSError:
            continue
    return count


@pytest.fixture
def pool(settings):
    """The default database's pool reconfigured for a test (max_size, timeout, host, port), restored after."""
    conn = connections["default"]
    saved = {key: conn.settings_dict[key] for key in ("HOST", "PORT")}
    saved_pool = dict(conn.settings_dict["OPTIONS"].get("pool", {}))

    def configure(**changes):
        conn.close()
        conn.close_pool()
        for key in ("HOST", "PORT"):
            if key.lower() in changes:
                conn.settings_dict[key] = changes.pop(key.lower())
        if "pool" in conn.settings_dict["OPTIONS"]:
            conn.settings_dict["OPTIONS"]["pool"].update(changes)

    yield configure
    conn.close()
    conn.close_pool()
    conn.settings_dict.update(saved)
    if saved_pool:
        conn.settings_dict["OPTIONS"]["pool"] = saved_pool


class Server:
    """A threaded WSGI server like runserver's (a thread per client connection, connections closed as it closes
    them) serving the project on a free loopback port."""

    def __init__(self):
        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietWSGIRequestHandler, allow_reuse_address=False)
        self.httpd.set_app(WSGIHandler())
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def token(api_user):
    return Token.objects.create(user=api_user).key


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_threaded_server_holds_no_more_connections_than_its_pool(pool, server, token, customer):
    # given a pool of at most 4 connections and 16 clients that keep their HTTP connections open (keep-alive), as
    # the acceptance drive's clients did against runserver
    pool(max_size=4, timeout=10)
    db_port = int(connection.settings_dict["PORT"] or 5432)
    statuses, peak, done = [], [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], open_db_sockets(db_port))
            time.sleep(0.002)

    def client():
        http = HTTPConnection("127.0.0.1", server.port, timeout=30)
        for _ in range(8):
            http.request("GET", f"/api/v1/customers/{customer.msisdn}/", headers={"Authorization": f"Token {token}"})
            response = http.getresponse()
            response.read()
            statuses.append(response.status)
        return http  # left open: the server thread of this client lives on

    sampler = threading.Thread(target=sample)
    sampler.start()
    kept_open = []
    threads = [threading.Thread(target=lambda: kept_open.append(client())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    idle = open_db_sockets(db_port)
    done.set()
    sampler.join()
    for http in kept_open:
        http.close()
    # then every read is answered, and this process never held more than the pool's 4 connections — not one per
    # client thread — and holds no more once the clients are idle
    assert statuses == [200] * 128
    assert 1 <= peak[0] <= 4, peak[0]
    assert idle <= 4


def assert_503(response, *, api: bool):
    assert response.status_code == 503, response.content[:300]
    assert int(response["Retry-After"]) >= 1
    if api:
        error = response.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "retry" in error["message"].lower() and error["fields"] == {}
    else:
        assert "text/html" in response["Content-Type"]
        assert "try again" in response.content.decode().lower()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_exhausted_pool_answers_503_with_retry_after(pool, server, token, customer, staff_user, client):
    # given a person logged in, and a pool of one connection with a short wait, held by a long job in another thread
    client.force_login(staff_user)
    session = f"sessionid={client.cookies['sessionid'].value}"
    pool(max_size=1, min_size=1, timeout=0.3)
    held, release = threading.Event(), threading.Event()

    def long_job():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            held.set()
            release.wait(10)
        connections["default"].close()

    job = threading.Thread(target=long_job)
    job.start()
    assert held.wait(5)
    try:
        http = HTTPConnection("127.0.0.1", server.port, timeout=10)
        # when an API client reads and a person opens a page
        http.request("GET", f"/api/v1/customers/{customer.msisdn}/", headers={"Authorization": f"Token {token}"})
        api = http.getresponse()
        api_body = api.read()
        http.request("GET", "/admin/customers/customer/", headers={"Cookie": session})
        page = http.getresponse()
        page_body = page.read().decode()
    finally:
        release.set()
        job.join(10)
    # then both are told to come back later, in the API's error shape and as a page — not a 500
    assert api.status == 503, api_body[:300]
    assert int(api.getheader("Retry-After")) >= 1
    assert b'"code":"database_unavailable"' in api_body.replace(b" ", b"")
    assert page.status == 503 and int(page.getheader("Retry-After")) >= 1
    assert "try again" in page_body.lower()
    # and once the connection is free again, the same read is served
    http.request("GET", f"/api/v1/customers/{customer.msisdn}/", headers={"Authorization": f"Token {token}"})
    assert http.getresponse().status == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_database_down_answers_503_with_retry_after(pool, api, customer, client, staff_user):
    # given a person logged in, then the database gone (nothing listens on its port any more)
    client.force_login(staff_user)
    pool(port=closed_port(), timeout=0.5)
    started = time.perf_counter()
    # when an API client reads and writes, and the person opens pages
    read = api.get(f"/api/v1/customers/{customer.msisdn}/")
    write = api.put("/api/v1/regions/ZZ/", {"name": "Z", "province": "Z"}, format="json")
    dashboard = client.get("/dashboard/")
    admin = client.get("/admin/customers/customer/")
    # then every answer is a 503 with Retry-After (API: the error shape; pages: a page), quickly
    for response in (read, write):
        assert_503(response, api=True)
    for response in (dashboard, admin):
        assert_503(response, api=False)
    assert time.perf_counter() - started < 10


def test_only_connection_failures_count_as_unavailable():
    # a failed connection, a refused one (too many clients), the server shutting down, a closed connection: 503
    def wrapped(django_cls, cause):
        exc = django_cls(str(cause))
        exc.__cause__ = cause
        return exc

    from psycopg_pool import PoolTimeout

    assert is_database_unavailable(wrapped(OperationalError, PoolTimeout("couldn't get a connection after 5 sec")))
    assert is_database_unavailable(wrapped(OperationalError, psycopg.OperationalError("connection refused")))
    assert is_database_unavailable(wrapped(OperationalError, psycopg.errors.TooManyConnections("too many clients")))
    assert is_database_unavailable(wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating")))
    assert is_database_unavailable(wrapped(OperationalError, psycopg.errors.CannotConnectNow("starting up")))
    assert is_database_unavailable(wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed")))
    import sqlite3

    assert is_database_unavailable(wrapped(OperationalError, sqlite3.OperationalError("database is locked")))
    # a query's own failure stays what it is (a deadlock is retried or reported by its caller, not a 503)
    assert not is_database_unavailable(wrapped(OperationalError, psycopg.errors.DeadlockDetected("deadlock")))
    assert not is_database_unavailable(wrapped(OperationalError, psycopg.errors.QueryCanceled("statement timeout")))
    assert not is_database_unavailable(wrapped(OperationalError, sqlite3.OperationalError("no such table: x")))
    assert not is_database_unavailable(ValueError("not a database error"))


def _client_port(conn) -> int:
    """The local port of this process's socket to the server: its own connection, also behind PgBouncer (where
    pg_backend_pid() names whichever server connection the pooler lends)."""
    with conn.cursor():
        pass
    sock = socket.socket(fileno=os.dup(conn.connection.pgconn.socket))
    try:
        return sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone():
    # given a parent process that holds a pooled connection (a Celery prefork parent, gunicorn --preload)
    parent_pid = _client_port(connection)
    read, write = os.pipe()
    # when it forks and the child queries the database
    child = os.fork()
    if child == 0:  # the child: report its backend and exit without any cleanup of the parent's objects
        try:
            os.write(write, str(_client_port(connections["default"])).encode())
            connections["default"].close()
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    child_pid = int(os.read(read, 64).decode() or 0)
    os.close(read)
    # then the child used a connection of its own, and the parent's still works (nobody closed it under it)
    assert status == 0 and child_pid not in (0, parent_pid)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
    assert _client_port(connection) == parent_pid
