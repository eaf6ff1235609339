"""KIS settings into the adapter's options: domains, limits and the app key.

The domains and limits are KIS's (README, "Real quotes: the KIS feed"):

* real (실전): REST https://openapi.koreainvestment.com:9443, WebSocket
  ws://ops.koreainvestment.com:21000, 20 REST calls a second;
* paper (모의투자): REST https://openapivts.koreainvestment.com:29443, WebSocket
  ws://ops.koreainvestment.com:31000, 2 REST calls a second.

The app key and secret come from ``HTS_KIS_APP_KEY`` / ``HTS_KIS_APP_SECRET``
or from a file (``HTS_KIS_KEY_FILE``) in the shape of KIS's own
``kis_devlp.yaml`` (``my_app:``/``my_sec:`` for real, ``paper_app:``/
``paper_sec:`` for paper) or plain ``appkey=``/``appsecret=`` lines. Neither is
ever logged; a file that cannot be used is an error that names the file, not
its content.
"""

from __future__ import annotations

import re
from pathlib import Path

from hts_realtime.adapters.kis.feed import KisOptions
from hts_realtime.adapters.kis.session import Credentials, SessionOptions
from hts_realtime.settings import Settings, SettingsError

DOMAINS = {
    "real": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "paper": ("https://openapivts.koreainvestment.com:29443",
              "ws://ops.koreainvestment.com:31000"),
}
REST_LIMITS = {"real": 20.0, "paper": 2.0}  # calls a second KIS allows (EGW00201 beyond)
_LINE = re.compile(r"""^\s*([A-Za-z_]+)\s*[:=]\s*["']?([^"'#\s]+)["']?\s*(#.*)?$""")
KEY_NAMES = {"real": ("my_app", "my_sec"), "paper": ("paper_app", "paper_sec")}


def credentials(settings: Settings) -> Credentials:
    key, secret = settings.kis_app_key.reveal(), settings.kis_app_secret.reveal()
    if settings.kis_key_file:
        key, secret = _from_file(Path(settings.kis_key_file), settings.kis_env)
    if not key or not secret:
        raise SettingsError("HTS_FEED=kis needs an app key and secret")
    return Credentials(key, secret, settings.kis_custtype)


def _from_file(path: Path, env: str) -> tuple[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"HTS_KIS_KEY_FILE {path}: {exc.strerror}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            values[m.group(1).lower()] = m.group(2)
    key_name, secret_name = KEY_NAMES[env]
    key = values.get("appkey") or values.get(key_name, "")
    secret = values.get("appsecret") or values.get(secret_name, "")
    if not key or not secret:
        raise SettingsError(f"HTS_KIS_KEY_FILE {path}: no app key and secret for {env} "
                            f"(appkey=/appsecret= or {key_name}:/{secret_name}:)")
    return key, secret


def options(settings: Settings) -> KisOptions:
    rest_url, ws_url = DOMAINS[settings.kis_env]
    per_second = settings.kis_rest_per_second or REST_LIMITS[settings.kis_env] / 2
    return KisOptions(
        session=SessionOptions(
            rest_url=(settings.kis_rest_url or rest_url).rstrip("/"),
            ws_url=(settings.kis_ws_url or ws_url).rstrip("/"),
            approval_ttl=settings.kis_approval_ttl_seconds,
            refresh_margin=min(3_600.0, settings.kis_approval_ttl_seconds / 4),
            subscribe_per_second=settings.kis_subscribe_per_second,
            idle_timeout=settings.kis_idle_timeout_seconds,
        ),
        registrations=settings.kis_registrations,
        min_hold=settings.kis_min_hold_seconds,
        rest_per_second=per_second,
        snapshot_interval=settings.kis_snapshot_interval_seconds,
        # 장운영정보 is not offered on paper (모의투자 미지원)
        vi_feed=settings.kis_vi_feed and settings.kis_env == "real",
    )
