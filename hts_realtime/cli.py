"""``hts-realtime``: serve, user add|passwd|disable|enable|logout, token.

Settings come from flags and ``HTS_*`` variables, read here once.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from hts_realtime import __version__
from hts_realtime.ops import logs
from hts_realtime.settings import Secret, Settings, SettingsError
from hts_realtime.storage.db import Database
from hts_realtime.storage.factory import store_for
from hts_realtime.storage.store import Store

if TYPE_CHECKING:
    from hts_realtime.engine.users import User

log = logging.getLogger("hts.cli")
DEMO_SECRET_KEY = "demo_jwt_secret"  # where `serve --demo` keeps its generated secret


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hts-realtime", description=__doc__)
    p.add_argument("--version", action="version",
                   version=f"hts-realtime {__version__} (Python {sys.version.split()[0]})")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the realtime server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--demo", action="store_true", default=None,
        help="a demo server: seeds the users testuser/testpass and admin/adminpass and, "
             "when HTS_JWT_SECRET is unset, generates a JWT secret kept in the database "
             "(so `hts-realtime token --demo NAME` works). Not for production.")
    serve.add_argument("--database", help="SQLite file (HTS_DATABASE)")
    serve.add_argument("--market-seed", type=int, dest="market_seed")
    serve.add_argument("--log-level", dest="log_level")
    serve.add_argument("--feed", choices=("sim", "kis", "replay"),
                       help="market data: the simulator (default), KIS Open API "
                            "(HTS_KIS_*), or a recording (HTS_REPLAY_FILE) (HTS_FEED)")
    serve.add_argument("--replay-file", dest="replay_file",
                       help="with --feed replay: a file `feed record` wrote")
    serve.add_argument("--role", choices=("single", "engine", "gateway"),
                       help="single (default): one process; engine/gateway: a cluster over "
                            "HTS_REDIS_URL (HTS_ROLE)")

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password", help="the password; read from stdin when omitted")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--database")
    passwd = user_sub.add_parser(
        "passwd", help="set a user's password (revokes every token issued before)")
    passwd.add_argument("name")
    passwd.add_argument("--password", help="the new password; read from stdin when omitted")
    passwd.add_argument("--database")
    for name, text in (
        ("disable", "refuse the user's logins and tokens; closes its open sockets"),
        ("enable", "let a disabled user log in again (its old tokens stay revoked)"),
        ("logout", "revoke every token the user holds; closes its open sockets"),
    ):
        cmd = user_sub.add_parser(name, help=text)
        cmd.add_argument("name")
        cmd.add_argument("--database")

    feed = sub.add_parser("feed", help="market-data tools")
    feed_sub = feed.add_subparsers(dest="feed_command", required=True)
    record = feed_sub.add_parser(
        "record", help="write what the configured feed (HTS_FEED: sim, kis, replay) delivers, "
                       "with timestamps, to a file HTS_FEED=replay can play")
    record.add_argument("--out", required=True, help="the file (.jsonl, or .jsonl.gz)")
    record.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    record.add_argument("--symbols", help="comma-separated (default: the first 5 of the "
                                          "symbol master); a real feed registers these")
    record.add_argument("--feed", choices=("sim", "kis", "replay"))
    record.add_argument("--replay-file", dest="replay_file")
    record.add_argument("--market-seed", type=int, dest="market_seed")

    token = sub.add_parser("token", help="print an access token for a user")
    token.add_argument("name")
    token.add_argument("--ttl", type=int, help="lifetime in seconds")
    token.add_argument("--database")
    token.add_argument(
        "--demo", action="store_true", default=None,
        help="sign with the secret a `serve --demo` server generated and keeps in its "
             "database (when HTS_JWT_SECRET is unset)")
    return p


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides = {k: v for k, v in vars(args).items()
                 if k in {"host", "port", "demo", "database", "market_seed", "log_level", "role",
                          "feed", "replay_file"}}
    overrides.update(extra)
    env = dict(os.environ)
    settings = Settings.load(env, **overrides)
    if settings.role != "single" and not env.get("HTS_JWT_SECRET"):
        raise SettingsError(f"role {settings.role} needs HTS_JWT_SECRET, the same in every "
                            "process of the cluster")
    if settings.demo and not env.get("HTS_JWT_SECRET"):
        # The demo keeps its generated secret in its database, so tokens minted
        # by `hts-realtime token --demo` work against `serve --demo`.
        if settings.database_url:
            raise SettingsError("--demo on PostgreSQL (HTS_DATABASE_URL) needs HTS_JWT_SECRET")

        db = Database(settings.database)
        try:
            secret = db.meta(DEMO_SECRET_KEY, secrets.token_urlsafe(48))
        finally:
            db.close()
        settings = settings.with_(jwt_secret=Secret(secret))
    return settings


def _serve(args: argparse.Namespace) -> int:
    from hts_realtime.edge.http.access_log import SafeAccessLogger
    from hts_realtime.roles import create_app

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    # with HTS_LOG_FORMAT=json every output line is a JSON object, the banner included
    say = log.info if settings.log_format == "json" else functools.partial(print, flush=True)
    def banner(_aiohttp_line: str = "") -> None:
        """Called by run_app once the socket is bound (never before: a port in use is
        reported instead)."""
        say(f"hts-realtime listening on http://{settings.host}:{settings.port}")
        if settings.demo:
            say("demo users: testuser / testpass (user id 1), admin / adminpass (admin)")
            say(f"log in:  curl -s -X POST http://{settings.host}:{settings.port}/api/auth/login "
                "-H 'Content-Type: application/json' "
                "-d '{\"username\":\"testuser\",\"password\":\"testpass\"}'")
        if settings.role != "single":
            say(f"role {settings.role}" + (f", engine at {settings.engine_url}"
                                           if settings.role == "gateway" else ""))
        if settings.role != "gateway" and settings.feed != "sim":
            say(f"market data: {settings.feed}" + (
                f" ({settings.kis_env}, KIS Open API)" if settings.feed == "kis"
                else f" ({settings.replay_file}, {settings.replay_speed:g}x)"))

    if settings.redis_url and settings.role == "single":
        log.warning("HTS_REDIS_URL is set but the role is single: Redis is not used "
                    "(run one --role engine and --role gateway processes for a cluster)")
    # shutdown_timeout bounds the wait for requests still open at exit (a held
    # long-poll GET would otherwise keep the process alive for ping_interval)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=banner,
                    access_log_class=SafeAccessLogger, handle_signals=True,
                    shutdown_timeout=settings.shutdown_grace_seconds)
    except OSError as exc:  # the bind: port in use, address not available, no permission
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port,
                  exc.strerror or exc)
        return 1
    return 0


def _feed(args: argparse.Namespace) -> int:
    from hts_realtime.adapters.kis.driver import kis_driver
    from hts_realtime.engine.record import record

    # secrets are not needed to record; the settings object insists on one
    settings = _settings(args, jwt_secret=os.environ.get("HTS_JWT_SECRET") or "x" * 48)
    logs.configure(settings.log_level, settings.log_format)
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    written = asyncio.run(record(settings, args.out, args.seconds, symbols, kis_driver))
    print(f"recorded {written} events to {args.out}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    password: str | None = args.password
    if password is None:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
        password = password.rstrip("\n")
    return password


def _store(database: str | None) -> Store:
    """The database the user commands work on: ``HTS_DATABASE_URL`` (PostgreSQL) when set,
    else ``--database`` / ``HTS_DATABASE`` (SQLite)."""
    env = dict(os.environ)
    path = database or env.get("HTS_DATABASE") or Settings.database
    url = env.get("HTS_DATABASE_URL") or None
    return store_for(Settings(jwt_secret=Secret("x" * 48), database=path, database_url=url,
                              database_pool_size=1))


def _user(args: argparse.Namespace) -> int:
    password = _read_password(args) if args.user_command in ("add", "passwd") else ""
    return asyncio.run(_user_command(args, password))


async def _user_command(args: argparse.Namespace, password: str) -> int:
    from hts_realtime.engine.users import UserStore

    store = _store(args.database)
    await store.start()
    users = UserStore(store)
    try:
        if args.user_command == "add":
            user = await users.add(args.name, password, admin=args.admin)
            print(f"created user {user.username} "
                  f"(id {user.user_id}{', admin' if user.is_admin else ''})")
        elif args.user_command == "passwd":
            user = await users.set_password(args.name, password)
            print(f"changed the password of {user.username}; older tokens are revoked")
        elif args.user_command == "disable":
            user = await users.set_disabled(args.name, True)
            print(f"disabled {user.username}; its tokens are revoked")
        elif args.user_command == "enable":
            user = await users.set_disabled(args.name, False)
            print(f"enabled {user.username}")
        else:
            user = await users.revoke_tokens(args.name)
            print(f"revoked every token of {user.username}")
    finally:
        await store.close()
    return 0


async def _by_username(database: str | None, name: str) -> User | None:
    from hts_realtime.engine.users import UserStore

    store = _store(database)
    await store.start()
    try:
        return await UserStore(store).by_username(name)
    finally:
        await store.close()


def _token(args: argparse.Namespace) -> int:
    from hts_realtime.engine.build import token_service

    database = args.database or os.environ.get("HTS_DATABASE") or Settings.database
    if not os.environ.get("HTS_DATABASE_URL") and not os.path.exists(database):
        print(f"hts-realtime: no database at {database}: run this where the server runs "
              "(its working directory), or pass --database / HTS_DATABASE", file=sys.stderr)
        return 1
    if not args.demo and not os.environ.get("HTS_JWT_SECRET") and \
            not os.environ.get("HTS_DATABASE_URL") and _is_demo(database):
        print(f"hts-realtime: {database} belongs to a `serve --demo` server, which signs with "
              "a secret it generated and keeps in the database. Either\n"
              f"  hts-realtime token --demo {args.name}\n"
              "or log in over HTTP (demo users testuser/testpass, admin/adminpass):\n"
              "  curl -s -X POST http://127.0.0.1:8000/api/auth/login "
              "-H 'Content-Type: application/json' "
              "-d '{\"username\":\"testuser\",\"password\":\"testpass\"}'",
              file=sys.stderr)
        return 2
    settings = _settings(args)
    user = asyncio.run(_by_username(settings.database, args.name))
    if user is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    if user.disabled:
        print(f"user {args.name!r} is disabled", file=sys.stderr)
        return 1
    token, _ = token_service(settings).issue(user, args.ttl)
    print(token)
    return 0


def _is_demo(database: str) -> bool:
    db = Database(database)
    try:
        return db.get_meta(DEMO_SECRET_KEY) is not None
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "user":
            return _user(args)
        if args.command == "feed":
            return _feed(args)
        return _token(args)
    except SettingsError as exc:
        print(f"hts-realtime: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # UserError and friends: a clear one-line refusal
        print(f"hts-realtime: {exc}", file=sys.stderr)
        return 1
