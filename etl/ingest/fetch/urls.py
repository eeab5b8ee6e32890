"""URLs: parsing, the secure-URL rule (plain http:// only to loopback unless allowed), the
token's origin, and :func:`safe_url`, which masks secrets in what is printed or logged."""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx

from etl.ingest.fetch.errors import InsecureURLError, InvalidRequestError
from etl.ingest.fetch.messages import _UNPRINTABLE, _cause
from etl.ingest.fetch.settings import FetchSettings

_SECRET_PARAM = re.compile("token|key|secret|password|auth|sig", re.IGNORECASE)


class _MaskURLs(logging.Filter):
    """httpx logs every request's full URL at INFO; mask secrets in it as :func:`safe_url`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                safe_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_MaskURLs())


def safe_url(url: str) -> str:
    """The URL safe to print and store: no userinfo, no fragment, and the values of query
    parameters whose name suggests a secret (token, key, secret, password, auth, sig)
    replaced by ``***``."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<malformed URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(_mask_param(param) for param in parts.query.split("&"))
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return _UNPRINTABLE.sub(lambda match: _percent(match.group()), shown)


def _parse_url(url: str, shown: str, settings: FetchSettings) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as error:
        raise InvalidRequestError(f"{shown} is not a valid URL: {_cause(error)}") from None
    if parsed.scheme not in ("http", "https"):
        found = f"scheme {parsed.scheme}:" if parsed.scheme else "no scheme"
        raise InvalidRequestError(f"cannot fetch {shown}: {found}; expected an https:// URL")
    if not parsed.host:
        raise InvalidRequestError(f"cannot fetch {shown}: the URL names no host")
    if port is not None and not 0 < port < 65536:
        raise InvalidRequestError(f"cannot fetch {shown}: port {port} is out of range")
    _check_secure(parsed, shown, settings, "URL")
    return parsed


def _check_secure(url: httpx.URL, shown: str, settings: FetchSettings, what: str) -> None:
    is_local = settings.is_local or is_loopback
    if url.scheme == "http" and not settings.allow_insecure_http and not is_local(url.host):
        target = "" if what == "URL" else f" ({what} {safe_url(str(url))})"
        raise InsecureURLError(
            f"refusing plain http:// for {shown}{target}: the token and the catalog would"
            " cross the network unencrypted; use https:// (or allow_insecure_http on a"
            " trusted network)"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost, 127.0.0.0/8, ::1."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _mask_param(param: str) -> str:
    name, separator, _ = param.partition("=")
    if separator and _SECRET_PARAM.search(unquote_plus(name)):
        return f"{name}=***"
    return param


def _percent(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))
