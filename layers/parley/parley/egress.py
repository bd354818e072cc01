"""Where the worker may send a provider's API key: the outbound-call policy for admin-set URLs.

- https only, except hosts on the deployer's allow-list (`PROVIDER_HTTP_HOSTS`, comma-separated, the
  `ProviderHttpHosts` template parameter; the local stack lists loopback), which may also use plain http.
- Never a link-local address (169.254.0.0/16 holds the instance metadata service, fe80::/10).
- Never a private, loopback, shared, reserved or multicast address, unless the host is on the allow-list
  (a model server inside the VPC, or on the developer's machine).

The check runs when an admin saves the settings (a name that does not resolve yet is accepted) and again
each time the worker connects: the host is resolved, every address it resolves to is checked, and the
request goes to a checked address (the name stays in the Host header and TLS), so a name re-pointed after
the check cannot send the key elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(ValueError):
    """The URL may not receive the key; the message says why (it names the host, never the key)."""


def allowed_http_hosts() -> frozenset[str]:
    from parley.config import settings

    raw = settings().provider_http_hosts
    return frozenset(host.strip().lower().strip("[]") for host in raw.split(",") if host.strip())


def refusal(address: IpAddress, allow_listed: bool) -> str | None:
    """Why an address may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "a link-local address"
    if allow_listed:
        return None
    if address.is_loopback:
        return "a loopback address"
    if not address.is_global or address.is_multicast:  # private, shared (100.64/10), reserved, documentation
        return "a private or reserved address"
    return None


def check_url(url: str) -> tuple[str, int, bool]:
    """(host, port, allow-listed) of a URL whose scheme and host form the policy allows; EgressRefused if not."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise EgressRefused("must be an https:// URL")
    allow_listed = host in allowed_http_hosts()
    if parts.scheme == "http" and not allow_listed:
        raise EgressRefused(f"must use https (plain http only for the allow-listed hosts: {host} is not one)")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = refusal(literal, allow_listed)
        if reason:
            raise EgressRefused(f"{host} is {reason}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, port, allow_listed


def resolve(host: str, port: int) -> list[IpAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def check_addresses(host: str, addresses: list[IpAddress], allow_listed: bool) -> None:
    for address in addresses:
        reason = refusal(address, allow_listed)
        if reason:
            raise EgressRefused(f"{host} resolves to {reason} ({address})")


def check_setting(url: str) -> None:
    """The settings-time check: the URL's form, and the host's addresses when it resolves now."""
    host, port, allow_listed = check_url(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return  # not resolvable from here now: the worker checks again before it connects
    check_addresses(host, addresses, allow_listed)


@dataclass(frozen=True)
class Target:
    """A request to a checked address: `url` names the address, `headers` and `extensions` keep the host."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def connect_target(url: str) -> Target:
    """The connect-time check: resolve the host, check every address, and aim the request at the first."""
    host, port, allow_listed = check_url(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"{host} could not be resolved") from exc
    if not addresses:
        raise OSError(f"{host} could not be resolved")
    check_addresses(host, addresses, allow_listed)
    parts = urlsplit(url)
    if str(addresses[0]) == host:
        return Target(url)
    address = f"[{addresses[0]}]" if addresses[0].version == 6 else str(addresses[0])
    netloc = f"{address}:{parts.port}" if parts.port else address
    host_header = f"{host}:{parts.port}" if parts.port else host
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, extensions)


def secrets_prefix() -> str:
    """The prefix every API-key secret of this stack has (`<stack name>/`), from SECRETS_PREFIX."""
    from parley.config import settings

    return settings().secrets_prefix


def check_secret_name(name: str) -> None:
    prefix = secrets_prefix()
    if not name.startswith(prefix) or name == prefix or ".." in name:
        raise EgressRefused(f"must name a secret of this stack, under {prefix} (for example {prefix}openai-api-key)")
