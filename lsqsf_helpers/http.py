"""The HTTP choke point: every Salesforce and LeadSquared call goes through one requests.Session.

`new_session()` builds it: connect and read timeouts on every call, bounded retries with back-off
and jitter through urllib3's `Retry` (idempotent methods only, unless a POST is marked safe to
repeat with `idempotent_posts()` / `post_idempotent()`), proxies and CA bundle from the environment,
a per-host call counter and the `lsqsf/<version>` user agent.

Also the only code that knows about the sandbox: `SandboxAdapter`, mounted on that session, sends
the vendors' real hosts to a sandbox address over plain loopback HTTP while keeping the Host header,
so the real clients (simple-salesforce, zeep, requests) run unchanged.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from lsqsf_helpers import __version__
from lsqsf_helpers.errors import Failure
from lsqsf_helpers.lsq_regions import API_HOST_PATTERN

if TYPE_CHECKING:
    from requests.sessions import _Settings
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

USER_AGENT = f"lsqsf/{__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_AFTER_MAX_SECONDS = 60.0  # a longer Retry-After is cut to this: a run must not hang for hours

# Per thread (and task): the host of the logical call in flight, for counting its retries under its
# real name even in sandbox mode; and whether POSTs may be retried (`idempotent_posts`).
_call_host: ContextVar[str] = ContextVar("lsqsf_call_host", default="")
_posts_retryable: ContextVar[bool] = ContextVar("lsqsf_posts_retryable", default=False)


def is_vendor_host(host: str) -> bool:
    """True for the hosts the sandbox stands in for: *.salesforce.com and LeadSquared API hosts."""
    host = host.lower().rstrip(".")
    return host == "salesforce.com" or host.endswith(".salesforce.com") or bool(API_HOST_PATTERN.match(host))


class SandboxRoutingError(requests.ConnectionError):
    """In sandbox mode a request named a host the sandbox does not stand in for; it was not sent."""


class SandboxAdapter(HTTPAdapter):
    """Rewrites https://<vendor host>/path to <sandbox url>/path, keeping `Host: <vendor host>`."""

    def __init__(self, sandbox_url: str, **kwargs: Any) -> None:
        parts = urlsplit(sandbox_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"a sandbox URL is http://127.0.0.1:PORT, not {sandbox_url!r}")
        self.sandbox_netloc = parts.netloc
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        if not is_vendor_host(host):
            raise SandboxRoutingError(
                f"sandbox mode: refusing to send a request to {host!r}, which the sandbox does not emulate",
                request=request,
            )
        request.url = urlunsplit(("http", self.sandbox_netloc, parts.path, parts.query, ""))
        request.headers["Host"] = host
        kwargs["proxies"] = {}  # loopback traffic must never go through an environment proxy
        return super().send(request, *args, **kwargs)


def mount_sandbox(session: requests.Session, sandbox_url: str, **adapter_kwargs: Any) -> None:
    """Route every request of `session` to the sandbox at `sandbox_url`."""
    adapter = SandboxAdapter(sandbox_url, **adapter_kwargs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class CallCounter:
    """Thread-safe counts per host: `calls`, one per logical request, and `retries`, one per attempt after
    the first. Hosts are the vendor hosts the caller named, in sandbox mode too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()

    def count_call(self, host: str) -> None:
        with self._lock:
            self._calls[host] += 1

    def count_retry(self, host: str) -> None:
        with self._lock:
            self._retries[host] += 1

    @property
    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    @property
    def retries(self) -> dict[str, int]:
        with self._lock:
            return dict(self._retries)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    @property
    def total_attempts(self) -> int:
        """Every request that went on the wire (or tried to): calls plus retries."""
        with self._lock:
            return sum(self._calls.values()) + sum(self._retries.values())

    def snapshot(self) -> dict[str, int]:
        """Attempts per host, retries included: what a run record keeps."""
        with self._lock:
            return dict(sorted((self._calls + self._retries).items()))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(sorted(self._calls.items())),
                "retries": dict(sorted(self._retries.items())),
                "total_calls": sum(self._calls.values()),
                "total_attempts": sum(self._calls.values()) + sum(self._retries.values()),
            }


class LsqsfRetry(Retry):
    """urllib3's `Retry` with three additions: POSTs are retryable inside `idempotent_posts()`, a
    Retry-After longer than RETRY_AFTER_MAX_SECONDS is cut to it, and each retry is counted."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counter = counter

    def new(self, **kw: Any) -> Self:
        renewed = super().new(**kw)
        renewed.counter = self.counter
        return renewed

    def _is_method_retryable(self, method: str) -> bool:
        if method.upper() == "POST" and _posts_retryable.get():
            return True
        return super()._is_method_retryable(method)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, RETRY_AFTER_MAX_SECONDS)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        renewed = super().increment(method, url, response, error, _pool, _stacktrace)
        # Reaching here means urllib3 is about to try again (exhaustion raises instead).
        if self.counter is not None:
            self.counter.count_retry(_call_host.get() or (_pool.host if _pool is not None else ""))
        return renewed


def retry_policy(
    retries: int = 4, backoff: float = 0.5, backoff_max: float = 8.0, counter: CallCounter | None = None
) -> LsqsfRetry:
    """At most `retries` retries of connect errors (any method: nothing was sent), and of read errors
    and 429/502/503/504 answers (idempotent methods only); waits backoff * 2**(n-1) plus up to
    `backoff` of jitter, at most backoff_max, or what Retry-After says. The last answer is returned,
    not raised, so the caller sees the vendor's error body. TLS and other errors are not retried."""
    return LsqsfRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        counter=counter,
    )


@contextmanager
def idempotent_posts() -> Iterator[None]:
    """Within the block, POSTs made in this thread are retried like GETs. Only for calls that are
    safe to repeat: a login, a Metadata upsertMetadata, a query sent as POST."""
    token = _posts_retryable.set(True)
    try:
        yield
    finally:
        _posts_retryable.reset(token)


def post_idempotent(session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    """`session.post(url, **kwargs)`, retried under the session's policy because it is safe to repeat."""
    with idempotent_posts():
        return session.post(url, **kwargs)


class LsqsfSession(requests.Session):
    """A Session whose every call has a timeout, is counted, and says it comes from lsqsf."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float],
        counter: CallCounter,
        sandbox_url: str | None = None,
    ) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.counter = counter
        self.sandbox_url = sandbox_url
        self.headers["User-Agent"] = USER_AGENT
        if sandbox_url is not None:
            # Sandbox traffic is plain HTTP to loopback: proxies, CA bundles and ~/.netrc from the
            # environment do not apply, and a ~/.netrc entry for a vendor host must not lend its real
            # credentials to the emulator. (It also saves reading the environment on every call.)
            self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        # Callers such as zeep pass timeout=None explicitly: None means "the session's timeouts" here.
        if len(args) > 6:  # timeout given positionally (after params, data, headers, cookies, files, auth)
            if args[6] is None:
                args = (*args[:6], self.default_timeout, *args[7:])
        elif kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        text_url = url.decode() if isinstance(url, bytes) else url
        host = (urlsplit(text_url).hostname or "").lower()
        self.counter.count_call(host)
        token = _call_host.set(host)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as exc:
            # Read timeouts that used up the retries reach requests as MaxRetryError and come out as
            # ConnectionError; report them as the ReadTimeout they are, as a call without retries would.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, ReadTimeoutError):
                raise requests.ReadTimeout(*exc.args, request=exc.request, response=exc.response) from exc
            raise
        finally:
            _call_host.reset(token)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        # A client that replaced the session's user agent (zeep's Transport does) keeps its name after ours.
        agent = prepared.headers.get("User-Agent") or ""
        if not agent.startswith(USER_AGENT):
            prepared.headers["User-Agent"] = f"{USER_AGENT} {agent}".strip()
        return prepared

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.sandbox_url is not None:
            # Sandbox traffic goes to 127.0.0.1 whatever the URL says; an HTTP(S)_PROXY must not capture it.
            settings["proxies"] = {}
        return settings


def new_session(
    *,
    sandbox_url: str | None = None,
    timeout: tuple[float, float] = (5.0, 30.0),
    retries: int = 4,
    backoff: float = 0.5,
    backoff_max: float = 8.0,
    counter: CallCounter | None = None,
) -> LsqsfSession:
    """The one Session of an org run. `timeout` is (connect, read) seconds; `retries` bounds the retries
    of one call; `counter` is shared when several sessions should count together. Proxies and the CA
    bundle come from the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) as
    requests does it. With `sandbox_url`, every vendor host is routed to that sandbox."""
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    counter = counter if counter is not None else CallCounter()
    session = LsqsfSession(timeout=timeout, counter=counter, sandbox_url=sandbox_url)
    policy = retry_policy(retries, backoff, backoff_max, counter)
    if sandbox_url is not None:
        mount_sandbox(session, sandbox_url, max_retries=policy)
    else:
        adapter = HTTPAdapter(max_retries=policy)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def sandbox_orgs(
    sandbox_url: str, *, timeout: tuple[float, float] = (5.0, 30.0)
) -> dict[str, dict[str, Any]]:
    """The sandbox's practice orgs by scenario name (the first org loaded of each scenario), each as
    `GET /_sandbox/orgs` lists it, with its fake credentials for both vendors."""
    with requests.Session() as control:
        control.trust_env = False  # the control API is on loopback: never through a proxy
        control.headers["User-Agent"] = USER_AGENT
        try:
            response = control.get(f"{sandbox_url.rstrip('/')}/_sandbox/orgs", timeout=timeout)
            response.raise_for_status()
            orgs = response.json()["orgs"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise Failure(
                f"the sandbox at {sandbox_url} did not list its orgs: {exc}",
                remedy="start it with `lsqsf sandbox` and pass the URL it prints",
            ) from exc
    practice: dict[str, dict[str, Any]] = {}
    for org in orgs:
        practice.setdefault(org["scenario"], org)
    return practice
