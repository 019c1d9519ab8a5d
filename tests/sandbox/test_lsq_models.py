"""LeadSquaredModel without HTTP: tenants per scenario, keys, hosts, throttling and the rate-limit window."""

from __future__ import annotations

import re

import pytest

from lsqsf_helpers.lsq_regions import REGIONS
from lsqsf_helpers.sandbox import scenarios
from lsqsf_helpers.sandbox.leadsquared.models import (
    RATE_LIMIT_CALLS,
    RATE_LIMIT_MESSAGE,
    RATE_LIMIT_TYPE,
    STATUS_INACTIVE,
    UNAUTHORIZED_TYPE,
    LeadSquaredModel,
    LsqApiError,
)
from lsqsf_helpers.sandbox.messages import Request

ACCESS_KEY = re.compile(r"u\$r[0-9a-f]{32}")
SECRET_KEY = re.compile(r"[0-9a-f]{40}")
SUMMARY_FIELDS = {
    "region",
    "host",
    "configured_region",
    "configured_host",
    "access_key",
    "secret_key",
    "user_email",
    "role",
    "org_id",
}


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def loaded(*names: str, clock: Clock | None = None) -> LeadSquaredModel:
    model = LeadSquaredModel(clock=clock) if clock else LeadSquaredModel()
    for name in names or tuple(scenarios.SCENARIOS):
        model.add_tenant(name, scenarios.get(name))
    return model


def keys(model: LeadSquaredModel, label: str) -> tuple[str, str]:
    summary = model.tenant_summary(label)
    return summary["access_key"], summary["secret_key"]


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_every_scenario_gets_a_tenant_matching_its_spec(name: str) -> None:
    spec = scenarios.get(name)
    model = loaded(name)
    summary = model.tenant_summary(name)

    assert set(summary) >= SUMMARY_FIELDS
    assert summary["region"] == spec.lsq_region
    assert summary["host"] == REGIONS[spec.lsq_region].host
    configured = spec.lsq_configured_region or spec.lsq_region
    assert (summary["configured_region"], summary["configured_host"]) == (
        configured,
        REGIONS[configured].host,
    )
    assert ACCESS_KEY.fullmatch(summary["access_key"])
    assert SECRET_KEY.fullmatch(summary["secret_key"])
    assert summary["role"] == spec.lsq_role
    assert isinstance(summary["org_id"], int)
    assert summary["user_email"].endswith("@example.com")
    if spec.lsq_keys_valid and not spec.lsq_throttled_calls:
        tenant, user = model.user_by_access_key(summary["access_key"], summary["secret_key"])
        assert (tenant.label, user.role, user.email) == (name, spec.lsq_role, summary["user_email"])


def test_keys_are_deterministic_per_label_and_distinct_between_labels() -> None:
    first, second = loaded(), loaded()
    for name in scenarios.SCENARIOS:
        assert first.tenant_summary(name) == second.tenant_summary(name)
    access_keys = {keys(first, name)[0] for name in scenarios.SCENARIOS}
    assert len(access_keys) == len(scenarios.SCENARIOS)


def test_org_ids_stay_unique_for_many_orgs() -> None:
    model = LeadSquaredModel()
    for n in range(500):
        model.add_tenant(f"ready-{n}", scenarios.get("ready"))
    assert len({tenant.org_id for tenant in model.tenants.values()}) == 500


def test_a_label_is_loaded_once() -> None:
    model = loaded("ready")
    with pytest.raises(ValueError, match="ready"):
        model.add_tenant("ready", scenarios.get("ready"))


def test_wrong_region_scenario_configures_the_wrong_host_on_purpose() -> None:
    summary = loaded("wrong-lsq-region").tenant_summary("wrong-lsq-region")
    assert summary["host"] == "api-in21.leadsquared.com"
    assert summary["configured_host"] == "api.leadsquared.com"


def test_deactivated_key_owner_is_refused_with_401() -> None:
    model = loaded("bad-lsq-keys")
    access, secret = keys(model, "bad-lsq-keys")
    assert model.tenant("bad-lsq-keys").key_owner.status_code == STATUS_INACTIVE
    with pytest.raises(LsqApiError) as refused:
        model.user_by_access_key(access, secret)
    assert (refused.value.status, refused.value.exception_type) == (401, UNAUTHORIZED_TYPE)


@pytest.mark.parametrize(
    ("access", "secret"),
    [("", ""), ("u$r" + "0" * 32, "0" * 40), (None, "0" * 40), (None, "")],
    ids=["missing", "unknown", "wrong-secret", "no-secret"],
)
def test_bad_keys_are_refused_with_401(access: str | None, secret: str) -> None:
    model = loaded("ready")
    real_access, _ = keys(model, "ready")
    with pytest.raises(LsqApiError) as refused:
        model.user_by_access_key(real_access if access is None else access, secret)
    assert refused.value.status == 401
    assert refused.value.exception_type == UNAUTHORIZED_TYPE


def test_users_answer_only_on_the_tenants_own_host() -> None:
    model = loaded("wrong-lsq-region")
    access, secret = keys(model, "wrong-lsq-region")
    with pytest.raises(LsqApiError) as refused:
        model.users(access, secret, "api.leadsquared.com")
    assert refused.value.status == 401
    assert "api-in21.leadsquared.com" in refused.value.message
    users = model.users(access, secret, "api-in21.leadsquared.com")
    assert [user.role for user in users] == ["Administrator", "Sales User"]


def test_rate_limit_is_25_calls_in_a_sliding_5_second_window() -> None:
    clock = Clock()
    model = loaded("ready", clock=clock)
    access, secret = keys(model, "ready")
    for _ in range(RATE_LIMIT_CALLS):
        model.user_by_access_key(access, secret)
    with pytest.raises(LsqApiError) as refused:
        model.user_by_access_key(access, secret)
    assert (refused.value.status, refused.value.exception_type) == (429, RATE_LIMIT_TYPE)
    assert refused.value.message == "API calls exceeded the limit of 25 in 5 second(s)" == RATE_LIMIT_MESSAGE

    clock.now += 4.999
    with pytest.raises(LsqApiError):
        model.user_by_access_key(access, secret)
    clock.now += 0.001  # five seconds after the first 25: all of them have left the window
    for _ in range(RATE_LIMIT_CALLS):  # refused calls did not count
        model.user_by_access_key(access, secret)
    with pytest.raises(LsqApiError):
        model.user_by_access_key(access, secret)


def test_window_slides_rather_than_resetting() -> None:
    clock = Clock()
    model = loaded("ready", clock=clock)
    access, secret = keys(model, "ready")
    for _ in range(10):
        model.user_by_access_key(access, secret)
    clock.now += 3
    for _ in range(15):
        model.user_by_access_key(access, secret)
    clock.now += 2.5  # the first 10 are out, the last 15 still in
    for _ in range(10):
        model.user_by_access_key(access, secret)
    with pytest.raises(LsqApiError):
        model.user_by_access_key(access, secret)


def test_rate_limit_is_per_key() -> None:
    model = loaded("ready", "not-admin", clock=Clock())
    ready, other = keys(model, "ready"), keys(model, "not-admin")
    for _ in range(RATE_LIMIT_CALLS):
        model.user_by_access_key(*ready)
    with pytest.raises(LsqApiError):
        model.user_by_access_key(*ready)
    model.user_by_access_key(*other)


def test_throttled_first_calls_answer_http_200_with_the_rate_limit_exception() -> None:
    spec = scenarios.get("rate-limited")
    assert spec.lsq_throttled_calls > 0
    clock = Clock()
    model = loaded("rate-limited", clock=clock)
    access, secret = keys(model, "rate-limited")
    for _ in range(spec.lsq_throttled_calls):
        with pytest.raises(LsqApiError) as throttled:
            model.user_by_access_key(access, secret)
        assert (throttled.value.status, throttled.value.exception_type) == (200, RATE_LIMIT_TYPE)
    for _ in range(RATE_LIMIT_CALLS):  # the throttled calls are not in the window
        model.user_by_access_key(access, secret)


def test_org_for_request_reads_headers_in_any_case_then_query() -> None:
    model = loaded("ready", "not-admin")
    ready, _ = keys(model, "ready")
    other, _ = keys(model, "not-admin")
    host = "api.leadsquared.com"
    path = "/v2/Authentication.svc/UserByAccessKey.Get"
    assert model.org_for_request(Request.build("GET", host, path, {"X-LSQ-ACCESSKEY": ready})) == "ready"
    assert model.org_for_request(Request.build("GET", host, f"{path}?accessKey={ready}")) == "ready"
    assert model.org_for_request(Request.build("GET", host, f"{path}?ACCESSKEY={ready}")) == "ready"
    both = Request.build("GET", host, f"{path}?accessKey={other}", {"x-LSQ-AccessKey": ready})
    assert model.org_for_request(both) == "ready"
    assert model.org_for_request(Request.build("GET", host, path)) is None
    assert model.org_for_request(Request.build("GET", host, path, {"x-LSQ-AccessKey": "u$rnope"})) is None
