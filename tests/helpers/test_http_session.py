"""new_session(): timeouts, bounded retries, idempotent POSTs, environment proxies and CA bundle, call
counting and the user agent, checked over loopback against the sandbox and a tiny local HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sandboxkit import sandbox_calls, set_faults
from urllib3.response import HTTPResponse
from urllib3.util.retry import RequestHistory

from lsqsf_helpers import __version__
from lsqsf_helpers.errors import Failure
from lsqsf_helpers.http import (
    IDEMPOTENT_METHODS,
    RETRY_AFTER_MAX_SECONDS,
    RETRY_STATUSES,
    CallCounter,
    LsqsfRetry,
    idempotent_posts,
    new_session,
    post_idempotent,
    retry_policy,
    sandbox_orgs,
)
from lsqsf_helpers.sandbox import Sandbox, scenarios

AUTH_URL = "https://api.leadsquared.com/v2/Authentication.svc/UserByAccessKey.Get"
USER_AGENT = f"lsqsf/{__version__}"


# ----- a tiny scripted HTTP server ------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted (status, headers), then 200; records what it saw."""

    url: str = ""
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        self.answers.extend(a if isinstance(a, tuple) else (a, {}) for a in answers)


@pytest.fixture
def local_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each keep-alive answer waits for a delayed ACK

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            if length:
                self.rfile.read(length)
            with state.lock:
                state.seen.append(Seen(self.command, self.path, dict(self.headers)))
                status, headers = state.answers.popleft() if state.answers else (200, {})
            body = b'{"ok": true}'
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----- the policy itself ----------------------------------------------------------------------
def test_retry_policy_is_bounded_idempotent_and_jittered() -> None:
    policy = retry_policy(4, 0.5, 8.0)
    assert (policy.total, policy.connect, policy.read, policy.status, policy.other) == (4, 4, 4, 4, 0)
    assert (
        set(policy.allowed_methods or ())
        == set(IDEMPOTENT_METHODS)
        == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    )
    assert set(policy.status_forcelist) == set(RETRY_STATUSES) == {429, 502, 503, 504}
    assert policy.backoff_jitter == 0.5 and policy.respect_retry_after_header and not policy.raise_on_status
    failed = RequestHistory("GET", "/", None, 503, None)
    third = policy.new(history=(failed,) * 3).get_backoff_time()
    assert 2.0 <= third <= 2.5  # 0.5 * 2**2 plus up to 0.5 of jitter
    assert policy.new(history=(failed,) * 12).get_backoff_time() <= 8.0


def test_retry_after_is_capped() -> None:
    policy = retry_policy()
    long_wait = HTTPResponse(body=b"", headers={"Retry-After": "3600"}, status=503)
    assert policy.get_retry_after(long_wait) == RETRY_AFTER_MAX_SECONDS
    assert policy.get_retry_after(HTTPResponse(body=b"", headers={"Retry-After": "2"}, status=503)) == 2
    assert isinstance(policy.new(), LsqsfRetry)


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries"):
        new_session(retries=-1)


# ----- against a scripted local server --------------------------------------------------------
def test_user_agent_is_lsqsf(local_server: ScriptedServer) -> None:
    session = new_session()
    assert session.get(local_server.url).status_code == 200
    session.headers["User-Agent"] = "Zeep/4.3.1"  # a client library replacing the session's agent
    session.get(local_server.url)
    assert [seen.headers["User-Agent"] for seen in local_server.seen] == [
        USER_AGENT,
        f"{USER_AGENT} Zeep/4.3.1",
    ]


def test_status_retries_stop_at_the_bound_and_return_the_last_answer(local_server: ScriptedServer) -> None:
    local_server.script(*[503] * 10)
    session = new_session(retries=3, backoff=0.01)
    response = session.get(f"{local_server.url}/x")
    assert response.status_code == 503
    assert len(local_server.seen) == 4
    assert session.counter.calls == {"127.0.0.1": 1}
    assert session.counter.retries == {"127.0.0.1": 3}
    assert session.counter.total_attempts == 4


def test_transient_statuses_are_retried_until_success(local_server: ScriptedServer) -> None:
    local_server.script(503, 429, 502, 504)
    session = new_session(retries=4, backoff=0.01)
    assert session.get(local_server.url).status_code == 200
    assert len(local_server.seen) == 5


def test_other_statuses_are_not_retried(local_server: ScriptedServer) -> None:
    local_server.script(500, 401)
    session = new_session(backoff=0.01)
    assert session.get(local_server.url).status_code == 500
    assert session.get(local_server.url).status_code == 401
    assert len(local_server.seen) == 2


def test_retry_after_is_honoured(local_server: ScriptedServer) -> None:
    local_server.script((429, {"Retry-After": "1"}))
    session = new_session(backoff=0.01)
    started = time.monotonic()
    assert session.get(local_server.url).status_code == 200
    assert time.monotonic() - started >= 1.0


def test_post_is_not_repeated_unless_marked_idempotent(local_server: ScriptedServer) -> None:
    session = new_session(backoff=0.01)
    local_server.script(503, 503)
    assert session.post(local_server.url, json={}).status_code == 503
    assert len(local_server.seen) == 1

    assert post_idempotent(session, local_server.url, json={}).status_code == 200
    assert len(local_server.seen) == 3

    local_server.script(503)
    with idempotent_posts():
        assert session.post(local_server.url, data=b"x").status_code == 200
    assert len(local_server.seen) == 5
    local_server.script(503)
    assert session.post(local_server.url, data=b"x").status_code == 503  # the block is over
    assert [seen.method for seen in local_server.seen] == ["POST"] * 6


def test_put_is_retried(local_server: ScriptedServer) -> None:
    local_server.script(503)
    assert new_session(backoff=0.01).put(local_server.url, data=b"x").status_code == 200
    assert len(local_server.seen) == 2


def test_connect_errors_are_retried_for_any_method() -> None:
    session = new_session(retries=2, backoff=0.01)
    with pytest.raises(requests.ConnectionError):
        session.post(f"http://127.0.0.1:{closed_port()}/", json={})
    assert session.counter.calls == {"127.0.0.1": 1}
    assert session.counter.retries == {"127.0.0.1": 2}


def test_counter_is_thread_safe_and_can_be_shared(local_server: ScriptedServer) -> None:
    counter = CallCounter()
    sessions = [new_session(counter=counter) for _ in range(4)]

    def work(session: requests.Session) -> None:
        for _ in range(25):
            session.get(local_server.url)

    threads = [threading.Thread(target=work, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.calls == {"127.0.0.1": 100}
    assert counter.as_dict() == {
        "calls": {"127.0.0.1": 100},
        "retries": {},
        "total_calls": 100,
        "total_attempts": 100,
    }


def test_snapshot_counts_attempts_per_host(local_server: ScriptedServer) -> None:
    local_server.script(503, 503)
    session = new_session(backoff=0.01)
    session.get(local_server.url)
    session.get(local_server.url)
    assert session.counter.snapshot() == {"127.0.0.1": 4}
    assert (session.counter.total_calls, session.counter.total_attempts) == (2, 4)


# ----- environment: proxies and CA bundle ------------------------------------------------------
def test_proxies_and_ca_bundle_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for name in ("NO_PROXY", "no_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = new_session()
    assert session.trust_env
    settings = session.merge_environment_settings(
        "https://login.salesforce.com/services/Soap/u/60.0", {}, None, None, None
    )
    assert settings["proxies"]["https"] == "http://proxy.example:3128"
    assert settings["verify"] == str(bundle)

    monkeypatch.setenv("NO_PROXY", ".leadsquared.com")
    settings = session.merge_environment_settings(AUTH_URL, {}, None, None, None)
    assert "https" not in settings["proxies"]


def test_sandbox_traffic_never_goes_through_an_environment_proxy(
    fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    session = new_session(sandbox_url=fresh_sandbox.url, retries=0)
    assert session.get(AUTH_URL).status_code == 401


# ----- against the sandbox ---------------------------------------------------------------------
def lsq_keys(sandbox: Sandbox, label: str = "ready") -> dict[str, str]:
    summary = sandbox.app.leadsquared.tenant_summary(label)
    return {"x-LSQ-AccessKey": summary["access_key"], "x-LSQ-SecretKey": summary["secret_key"]}


@pytest.mark.parametrize("kind", ["503", "429"])
def test_sandbox_faults_are_retried_within_bounds(fresh_sandbox: Sandbox, kind: str) -> None:
    set_faults(fresh_sandbox, rate=1.0, kinds=[kind], vendors=["leadsquared"])
    session = new_session(sandbox_url=fresh_sandbox.url, retries=2, backoff=0.01)
    response = session.get(AUTH_URL, headers=lsq_keys(fresh_sandbox))
    assert response.status_code == int(kind)
    assert response.json()["Status"] == "Error"  # the vendor's last answer reaches the caller
    assert sandbox_calls(fresh_sandbox)["by_org"] == {"ready": {"lsq": 3}}
    assert session.counter.calls == {"api.leadsquared.com": 1}
    assert session.counter.retries == {"api.leadsquared.com": 2}  # named by the vendor host, not 127.0.0.1


def test_flaky_org_recovers_through_retries(fresh_sandbox: Sandbox) -> None:
    session = new_session(sandbox_url=fresh_sandbox.url, backoff=0.01)
    headers = lsq_keys(fresh_sandbox, "flaky")
    statuses = [session.get(AUTH_URL, headers=headers).status_code for _ in range(4)]
    assert statuses == [200] * 4
    calls = sandbox_calls(fresh_sandbox)
    assert calls["faults"] == {"503": 1, "drop": 1}
    assert calls["total"] == 6
    assert session.counter.total_attempts == 6


def test_dropped_get_is_retried_then_raised(fresh_sandbox: Sandbox) -> None:
    set_faults(fresh_sandbox, rate=1.0, kinds=["drop"])
    session = new_session(sandbox_url=fresh_sandbox.url, retries=2, backoff=0.01)
    with pytest.raises(requests.ConnectionError):
        session.get(AUTH_URL, headers=lsq_keys(fresh_sandbox))
    assert sandbox_calls(fresh_sandbox)["total"] == 3


@pytest.mark.parametrize("kind", ["503", "drop"])
def test_post_is_sent_once_in_the_sandbox(fresh_sandbox: Sandbox, kind: str) -> None:
    set_faults(fresh_sandbox, rate=1.0, kinds=[kind])
    session = new_session(sandbox_url=fresh_sandbox.url, retries=3, backoff=0.01)
    if kind == "drop":
        with pytest.raises(requests.ConnectionError):
            session.post(AUTH_URL, headers=lsq_keys(fresh_sandbox), json={})
    else:
        assert session.post(AUTH_URL, headers=lsq_keys(fresh_sandbox), json={}).status_code == 503
    assert sandbox_calls(fresh_sandbox)["total"] == 1

    if kind == "503":
        post_idempotent(session, AUTH_URL, headers=lsq_keys(fresh_sandbox), json={})
        assert sandbox_calls(fresh_sandbox)["total"] == 1 + 4


@pytest.mark.parametrize("retries", [0, 1])
def test_read_timeout_fires_on_a_longer_delay(fresh_sandbox: Sandbox, retries: int) -> None:
    set_faults(fresh_sandbox, rate=1.0, kinds=["delay"], delay_seconds=1.0)
    session = new_session(sandbox_url=fresh_sandbox.url, timeout=(2.0, 0.3), retries=retries, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.get(AUTH_URL, headers=lsq_keys(fresh_sandbox), timeout=None)  # None: the session's timeouts
    assert time.monotonic() - started < 0.3 * (retries + 1) + 0.5
    assert session.counter.retries == ({"api.leadsquared.com": 1} if retries else {})
    time.sleep(1.0)  # let the sandbox finish the delayed answers before the next test resets it


def test_sandbox_session_sends_the_user_agent_and_keeps_the_vendor_host(fresh_sandbox: Sandbox) -> None:
    session = new_session(sandbox_url=fresh_sandbox.url)
    response = session.get(AUTH_URL, headers=lsq_keys(fresh_sandbox))
    assert response.status_code == 200
    assert response.request.headers["User-Agent"] == USER_AGENT
    assert response.request.headers["Host"] == "api.leadsquared.com"
    assert sandbox_calls(fresh_sandbox)["calls"][-1]["host"] == "api.leadsquared.com"


def test_sandbox_orgs_by_scenario(fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # must not be used
    practice = sandbox_orgs(fresh_sandbox.url)
    assert set(practice) == set(scenarios.SCENARIOS)
    for name, org in practice.items():
        assert org["scenario"] == name == org["org"]
        assert {"salesforce", "leadsquared"} <= org.keys()


def test_sandbox_orgs_names_a_missing_sandbox() -> None:
    with pytest.raises(Failure, match="lsqsf sandbox"):
        sandbox_orgs(f"http://127.0.0.1:{closed_port()}", timeout=(1.0, 1.0))
