"""``hts-realtime``: serve, user add, token.

Settings come from flags and ``HTS_*`` variables, read here once.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Sequence

from aiohttp import web

from hts_realtime.settings import Settings, SettingsError
from hts_realtime.storage.db import Database

log = logging.getLogger("hts.cli")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hts-realtime", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the realtime server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", default=None,
                       help="seed demo users, allow a generated JWT secret")
    serve.add_argument("--database", help="SQLite file (HTS_DATABASE)")
    serve.add_argument("--market-seed", type=int, dest="market_seed")
    serve.add_argument("--log-level", dest="log_level")

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password", help="the password; read from stdin when omitted")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--database")

    token = sub.add_parser("token", help="print an access token for a user")
    token.add_argument("name")
    token.add_argument("--ttl", type=int, help="lifetime in seconds")
    token.add_argument("--database")
    token.add_argument("--demo", action="store_true", default=None)
    return p


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides = {k: v for k, v in vars(args).items()
                 if k in {"host", "port", "demo", "database", "market_seed", "log_level"}}
    overrides.update(extra)
    env = dict(os.environ)
    settings = Settings.load(env, **overrides)
    if settings.demo and not env.get("HTS_JWT_SECRET"):
        # The demo keeps its generated secret in its database, so tokens minted
        # by `hts-realtime token --demo` work against `serve --demo`.
        from hts_realtime.settings import Secret

        db = Database(settings.database)
        try:
            secret = db.meta("demo_jwt_secret", secrets.token_urlsafe(48))
        finally:
            db.close()
        settings = settings.with_(jwt_secret=Secret(secret))
    return settings


def _serve(args: argparse.Namespace) -> int:
    from hts_realtime.app import SafeAccessLogger, create_app

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    print(f"hts-realtime listening on http://{settings.host}:{settings.port}", flush=True)
    if settings.demo:
        print("demo users: testuser / testpass (user id 1), admin / adminpass (admin)")
        print(f"log in:  curl -s -X POST http://{settings.host}:{settings.port}/api/auth/login "
              "-H 'Content-Type: application/json' "
              "-d '{\"username\":\"testuser\",\"password\":\"testpass\"}'", flush=True)
    if settings.redis_url:
        log.warning("HTS_REDIS_URL is set, but multi-process scale-out is not built yet: "
                    "this process serves its own clients only")
    # shutdown_timeout bounds the wait for requests still open at exit (a held
    # long-poll GET would otherwise keep the process alive for ping_interval)
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                access_log_class=SafeAccessLogger, handle_signals=True,
                shutdown_timeout=settings.shutdown_grace_seconds)
    return 0


def _user_add(args: argparse.Namespace) -> int:
    from hts_realtime.app import build_user_store

    password = args.password
    if password is None:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
        password = password.rstrip("\n")
    env = dict(os.environ)
    database = args.database or env.get("HTS_DATABASE") or Settings.database
    users, db = build_user_store(database)
    try:
        user = users.add(args.name, password, admin=args.admin)
    finally:
        db.close()
    print(f"created user {user.username} (id {user.user_id}{', admin' if user.is_admin else ''})")
    return 0


def _token(args: argparse.Namespace) -> int:
    from hts_realtime.app import build_user_store, token_service

    settings = _settings(args)
    users, db = build_user_store(settings.database)
    try:
        user = users.by_username(args.name)
    finally:
        db.close()
    if user is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    token, _ = token_service(settings).issue(user, args.ttl)
    print(token)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "user":
            return _user_add(args)
        return _token(args)
    except SettingsError as exc:
        print(f"hts-realtime: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # UserError and friends: a clear one-line refusal
        print(f"hts-realtime: {exc}", file=sys.stderr)
        return 1
