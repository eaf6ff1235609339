"""Logins and password changes, throttled and with bounded scrypt work.

Two guards stand in front of every password check:

* **Throttling**: wrong passwords are counted per username and per client
  address (``KeyedLimiter`` buckets, refilled evenly over a window). While
  either bucket is empty, a login answers ``rate_limited`` with the seconds
  to wait, without hashing anything, even if the password is right, so
  guessing gains nothing by waiting for a correct answer.
* **Bounded hashing**: scrypt runs in a dedicated thread pool of
  ``concurrency`` threads, never on the event loop, with at most
  ``queue`` logins waiting for a thread. Past that the login answers
  ``rate_limited`` at once (Retry-After 1): a flood costs at most
  ``concurrency`` cores of hashing while everything else keeps its latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from hts_realtime.domain.throttle import KeyedLimiter
from hts_realtime.engine.users import (
    User,
    UserError,
    UserStore,
    check_password,
    hash_password,
    verify_password,
)
from hts_realtime.protocol.errors import AuthFailed, InvalidMessage, RateLimited

log = logging.getLogger("hts.login")

T = TypeVar("T")


class LoginService:
    def __init__(self, users: UserStore, *, by_username: KeyedLimiter, by_address: KeyedLimiter,
                 concurrency: int, queue: int) -> None:
        self.users = users
        self.by_username = by_username
        self.by_address = by_address
        self.concurrency = concurrency
        self.capacity = concurrency + queue
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="scrypt")
        self.in_flight = 0
        # reported by the status route
        self.refused_throttled = 0
        self.refused_busy = 0

    async def login(self, username: str, password: str, address: str) -> User:
        """The user, or AuthFailed / RateLimited. A disabled user cannot log in."""
        user = await self._checked(username, password, address)
        if user.disabled:
            raise AuthFailed("this user is disabled")
        return user

    async def change_password(self, username: str, current: str, new: str,
                              address: str) -> User:
        """Check ``current`` like a login, then set ``new`` (which revokes older tokens)."""
        try:
            check_password(new)
        except UserError as exc:
            raise InvalidMessage(str(exc)) from None
        await self.login(username, current, address)
        encoded = await self._hash(hash_password, new)
        return await self.users.set_password_hash(username, encoded)

    async def _checked(self, username: str, password: str, address: str) -> User:
        # Each check takes a token from both buckets up front and gives them back
        # when the password is right, so concurrent guesses count before they hash.
        wait = self.by_username.take(username)
        if wait == 0:
            wait = self.by_address.take(address)
            if wait > 0:
                self.by_username.give(username)
        if wait > 0:
            self.refused_throttled += 1
            raise RateLimited("too many failed logins; wait before trying again", wait)
        try:
            # the database is read without blocking the loop; hashing runs in the pool
            user, encoded = await self.users.login_record(username)
            ok = await self._hash(verify_password, password, encoded)
        except RateLimited:
            self._refund(username, address)
            raise
        if user is None or not ok:
            log.info("login failed for username=%r from %s", username[:64], address)
            raise AuthFailed("wrong username or password")
        self._refund(username, address)
        return user

    def _refund(self, username: str, address: str) -> None:
        self.by_username.give(username)
        self.by_address.give(address)

    async def _hash(self, fn: Callable[..., T], *args: str) -> T:
        if self.in_flight >= self.capacity:
            self.refused_busy += 1
            raise RateLimited("too many logins in progress; try again shortly", 1.0)
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.in_flight -= 1

    def limits(self) -> dict[str, float]:
        """The limits in force, by their setting names (for the status route)."""
        window = self.by_username.burst / self.by_username.rate
        return {"login_failures_per_username": self.by_username.burst,
                "login_failures_per_address": self.by_address.burst,
                "login_failure_window_seconds": window,
                "login_concurrency": self.concurrency,
                "login_queue": self.capacity - self.concurrency}

    def counters(self) -> dict[str, int]:
        return {"logins_in_flight": self.in_flight,
                "logins_refused_throttled": self.refused_throttled,
                "logins_refused_busy": self.refused_busy}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
