from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.errors import ConfigError
from bridge.simulators.satusehat import DroppingTransport, create_app
from bridge.upstreams.satusehat.client import (
    ENVIRONMENTS,
    RateLimiter,
    SatusehatClient,
    SatusehatConfig,
    SatusehatRejected,
    SatusehatUnavailable,
    parse_envelope,
)
from tests.satusehat.satusehat_payloads import ORG, encounter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(sim: Any, clock: Clock | None = None, **overrides: Any) -> SatusehatClient:
    config = SatusehatConfig(
        client_id="sim-client", client_secret="sim-secret", organization_id=ORG, base_url="http://sim", **overrides
    )
    clock = clock or Clock()
    return SatusehatClient(config, transport=DroppingTransport(sim), clock=clock, sleep=clock.sleep)


def faults(sim: Any, *script: Any) -> None:
    sim.extensions["satusehat_sim"].faults["script"] = list(script)


@pytest.fixture
def sim() -> Any:
    return create_app({"TOKEN_TTL": 300})


def test_urls_per_environment() -> None:
    prod = SatusehatConfig("a", "b", ORG, environment="production")
    assert prod.fhir_base == "https://api-satusehat.kemkes.go.id/fhir-r4/v1"
    assert prod.token_url == "https://api-satusehat.kemkes.go.id/oauth2/v1/accesstoken"
    assert SatusehatConfig("a", "b", ORG).fhir_base == ENVIRONMENTS["sandbox"] + "/fhir-r4/v1"
    with pytest.raises(ConfigError):
        SatusehatConfig("a", "b", ORG, environment="mars")
    with pytest.raises(ConfigError):
        SatusehatConfig("", "b", ORG)


def test_token_request_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "t", "expires_in": "3599", "token_type": "BearerToken"})

    config = SatusehatConfig("cid", "sec ret", ORG, base_url="http://x")
    client = SatusehatClient(config, transport=httpx.MockTransport(handler))
    assert client.access_token() == "t"
    (req,) = seen
    assert req.url.params["grant_type"] == "client_credentials"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.content == b"client_id=cid&client_secret=sec+ret"


def test_token_cached_until_shortly_before_expires_in(sim: Any) -> None:
    clock = Clock()
    client = make(sim, clock, token_margin=60)
    first = client.access_token()
    clock.now += 239  # 300 s token, 60 s margin
    assert client.access_token() == first
    clock.now += 2
    assert client.access_token() != first
    assert client.token_fetches == 2


def test_expires_in_is_read_from_each_response() -> None:
    lifetimes = iter(["120", "7200"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": request.url.path + str(id(request)),
                                         "expires_in": next(lifetimes)})  # fmt: skip

    clock = Clock()
    config = SatusehatConfig("c", "s", ORG, base_url="http://x", token_margin=60)
    client = SatusehatClient(config, transport=httpx.MockTransport(handler), clock=clock)
    client.access_token()
    clock.now += 61
    client.access_token()  # the 120 s token expired (minus margin): refetch, now 7200 s
    clock.now += 3600
    client.access_token()
    assert client.token_fetches == 2


def test_invalid_token_is_refreshed_once(sim: Any) -> None:
    client = make(sim)
    client.access_token()
    faults(sim, "expire")
    assert client.read("Patient", "100000030009")["id"] == "100000030009"
    assert client.token_fetches == 2


def test_bad_credentials_are_permanent(sim: Any) -> None:
    config = SatusehatConfig("sim-client", "wrong", ORG, base_url="http://sim")
    client = SatusehatClient(config, transport=DroppingTransport(sim))
    with pytest.raises(SatusehatRejected) as info:
        client.access_token()
    assert info.value.operation_outcome["issue"][0]["severity"] == "invalid"


@pytest.mark.parametrize(("fault", "code"), [(429, "GW-5103"), (500, "GW-5104"), ("drop", "GW-5102")])
def test_transient_faults(sim: Any, fault: Any, code: str) -> None:
    client = make(sim)
    client.access_token()
    faults(sim, fault)
    with pytest.raises(SatusehatUnavailable) as info:
        client.read("Patient", "100000030009")
    assert info.value.code == code


def test_rejection_carries_operation_outcome(sim: Any) -> None:
    enc = encounter("arrived")
    enc["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter/999"
    with pytest.raises(SatusehatRejected) as info:
        make(sim).create(enc)
    assert info.value.status_code == 400
    assert "10117" in info.value.operation_outcome["issue"][0]["details"]["text"]


def test_duplicate_has_its_own_code(sim: Any) -> None:
    client = make(sim)
    client.create(encounter("arrived"))
    with pytest.raises(SatusehatRejected) as info:
        client.create(encounter("arrived"))
    assert info.value.code == "GW-5202"


def test_find_and_create(sim: Any) -> None:
    client = make(sim)
    nik = "https://fhir.kemkes.go.id/id/nik"
    assert client.find_by_identifier("Patient", nik, "3174031002890009") == "100000030009"
    assert client.find_by_identifier("Patient", nik, "0000000000000000") is None
    created = client.create(encounter("arrived"))
    assert created.kind == "fhir"
    assert created.resource_id


@pytest.mark.parametrize(
    ("body", "kind", "rid"),
    [
        ({"resourceType": "Patient", "id": "P1"}, "fhir", "P1"),
        ({"success": True, "data": {"patient_id": "P2"}}, "mpi", "P2"),
        ({"create_patient": {"success": True, "data": {"patient_id": "P3"}}}, "mpi", "P3"),
        ({"status_code": 400, "message": "limit cannot be more than 2000", "data": None}, "masterdata", None),
        ({"status": 200, "error": False, "message": "success", "data": []}, "masterdata", None),
        ({"metadata": {"code": "400", "message": "Error: Bad Request"}, "data": {"error": "x"}}, "kyc", None),
    ],
)
def test_envelopes(body: dict[str, Any], kind: str, rid: str | None) -> None:
    envelope = parse_envelope(httpx.Response(200, json=body))
    assert (envelope.kind, envelope.resource_id) == (kind, rid)


def test_plain_text_envelope() -> None:
    envelope = parse_envelope(httpx.Response(504, text="Gateway Timeout"))
    assert (envelope.kind, envelope.data) == ("text", "Gateway Timeout")


def test_rate_limiter_spaces_calls() -> None:
    clock = Clock()
    limiter = RateLimiter(5, clock, clock.sleep)
    for _ in range(6):
        limiter.acquire()
    assert clock.now == pytest.approx(1001.0)


def test_proxy_and_timeouts_reach_httpx() -> None:
    config = SatusehatConfig("a", "b", ORG, proxy="http://proxy.example:3128", timeout=12, connect_timeout=3)
    client = SatusehatClient(config)
    try:
        assert client._http.timeout.read == 12
        assert client._http.timeout.connect == 3
    finally:
        client.close()


def test_drop_over_a_real_socket_is_transient(sim: Any) -> None:
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, sim, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = SatusehatConfig("sim-client", "sim-secret", ORG, base_url=f"http://127.0.0.1:{server.port}",
                                 timeout=5)  # fmt: skip
        client = SatusehatClient(config)
        client.access_token()
        faults(sim, "drop")
        with pytest.raises(SatusehatUnavailable) as info:
            client.read("Patient", "100000030009")
        assert info.value.code == "GW-5102"
        assert client.read("Patient", "100000030009")["id"] == "100000030009"
        client.close()
    finally:
        server.shutdown()
        thread.join(5)


def test_patch_through_client_and_simulator(sim: Any) -> None:
    client = make(sim)
    rid = client.create(encounter("arrived")).resource_id
    assert rid
    new_start = "2024-06-14T00:30:00+00:00"
    ops = [
        {"op": "replace", "path": "/period/start", "value": new_start},
        {"op": "replace", "path": "/statusHistory/0/period/start", "value": new_start},
    ]
    patched = client.patch("Encounter", rid, ops).data
    assert patched["period"]["start"] == new_start
    assert patched["meta"]["versionId"] == "2"
    with pytest.raises(SatusehatRejected):  # period no longer matches statusHistory: GW-4118 server-side
        client.patch(
            "Encounter", rid, [{"op": "replace", "path": "/period/start", "value": "2024-06-14T00:40:00+00:00"}]
        )
