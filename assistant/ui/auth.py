"""Who may reach the chat: open on a loopback host; anywhere else only with a login or an explicit --no-auth.

On any non-loopback host `serve`/`launch` refuse to start without a login (`auth=(user, password)`,
which makes Gradio require it for the page, its /config and every /gradio_api route including the
queue and uploads) unless `no_auth=True` says to serve it openly on purpose. A login crosses the
network in the clear unless a TLS reverse proxy sits in front.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

from ..errors import InputError

AUTH_ENV = "ASSISTANT_AUTH"
FAILED_LOGIN_DELAY_S = 0.5  # slows password guessing a little (async: other requests are not held)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost": reachable from this machine only."""
    h = (host or "").strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def parse_auth(value: str, where: str = "--auth") -> tuple[str, str]:
    """"user:password" -> (user, password); the password may contain ':'. Errors never echo it."""
    user, sep, password = (value or "").partition(":")
    user = user.strip()
    if not sep:
        raise InputError(f"{where} must be USER:PASSWORD (no ':' found)")
    if not user:
        raise InputError(f"{where} must be USER:PASSWORD: the user name is empty")
    if not password:
        raise InputError(f"{where} must be USER:PASSWORD: the password is empty")
    return user, password


def check_exposure(host: str, auth, no_auth: bool = False) -> None:
    """Refuse to serve the chat beyond this machine without a login, unless asked to on purpose.
    auth: the single login (user, password), or a users file (users.UsersFile), or None."""
    if auth is not None and no_auth:
        raise InputError("--auth (or ASSISTANT_AUTH) or --users and --no-auth contradict each other: give one of them")
    if auth is None and not no_auth and not is_loopback(host):
        raise InputError(
            f"refusing to serve the chat on {host} without a login: anyone who can reach this machine "
            f"could read the indexed documents and upload new ones. Either set a login with --auth USER:PASSWORD "
            f"or logins with --users FILE (`assistant users add NAME`) "
            f"(or the environment variable {AUTH_ENV}=USER:PASSWORD), or pass --no-auth to serve it without "
            "one on purpose (e.g. behind a proxy that does its own login). Use --host 127.0.0.1 for this machine only."
        )


def _login_checker(user: str, password: str):
    want_user, want_password = user.encode("utf-8"), password.encode("utf-8")

    async def check(username: str, given: str) -> bool:
        ok_user = hmac.compare_digest(username.encode("utf-8"), want_user)
        ok = hmac.compare_digest(given.encode("utf-8"), want_password) and ok_user
        if not ok:
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        return ok

    return check
