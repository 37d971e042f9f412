"""Fault injection and rate limits, observed through `requests` and the real alpaca-py clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from simulator.faults import FaultRule, RateLimiter
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)
AUTH = {"APCA-API-KEY-ID": "PKTEST", "APCA-API-SECRET-KEY": "SECRET"}
RATE_HEADERS = ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset")


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A plain `requests` session, the transport alpaca-py uses."""
    with requests.Session() as s:
        yield s


def set_faults(
    session: requests.Session, handle: SimulatorHandle, *rules: dict[str, Any], seed: int = 0
) -> dict[str, Any]:
    """Replace the simulator's fault plan through the admin API."""
    response = session.post(
        f"{handle.url}/admin/faults", json={"faults": list(rules), "seed": seed}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def request_counts(session: requests.Session, handle: SimulatorHandle) -> dict[str, int]:
    """The simulator's per-"METHOD /path" request counts."""
    counts: dict[str, int] = session.get(f"{handle.url}/admin/requests").json()["requests"]
    return counts


def get_account(session: requests.Session, handle: SimulatorHandle, **kw: Any) -> requests.Response:
    """GET /v2/account with credentials."""
    return session.get(f"{handle.url}/v2/account", headers=AUTH, **kw)


def market_buy(client_order_id: str) -> MarketOrderRequest:
    """A one-share market buy of AAPL."""
    return MarketOrderRequest(
        symbol="AAPL",
        qty=1,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=client_order_id,
    )


def fast_retries(client: TradingClient) -> TradingClient:
    """Keep alpaca-py's 429/504 retries (4 attempts) but without its 3 s sleeps."""
    client._retry_wait = 0
    return client


def order_exists(tc: TradingClient, client_order_id: str) -> bool:
    """Whether the broker knows an order by this client_order_id."""
    try:
        tc.get_order_by_client_id(client_order_id)
    except APIError as exc:
        assert exc.status_code == 404
        return False
    return True


# -- each kind ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("429", 429, 42910000, "rate limit exceeded"),
        ("500", 500, 50010000, "internal server error"),
        ("503", 503, 50310000, "service unavailable"),
        ("504", 504, 50410000, "gateway timeout"),
    ],
)
def test_error_faults_answer_alpaca_json_with_rate_limit_headers(
    sim: SimulatorHandle,
    session: requests.Session,
    kind: str,
    status: int,
    code: int,
    message: str,
) -> None:
    set_faults(session, sim, {"kind": kind, "times": 1})
    faulted = get_account(session, sim)
    assert faulted.status_code == status
    assert faulted.json() == {"code": code, "message": message}
    assert all(name in faulted.headers for name in RATE_HEADERS)
    if kind == "429":
        assert faulted.headers["X-Ratelimit-Remaining"] == "0"
    assert get_account(session, sim).status_code == 200


def test_500_and_503_surface_as_api_errors_without_retry(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    fast_retries(tc)
    for kind, status in (("500", 500), ("503", 503)):
        set_faults(session, sim, {"kind": kind, "times": 1})
        with pytest.raises(APIError) as caught:
            tc.get_account()
        assert (caught.value.status_code, caught.value.code) == (status, status * 100_000 + 10_000)
    assert request_counts(session, sim) == {"GET /v2/account": 2}


def test_alpaca_py_sends_four_attempts_on_persistent_504_and_429(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    fast_retries(tc)
    set_faults(session, sim, {"kind": "504", "path": "/v2/clock"}, {"kind": "429"})
    with pytest.raises(APIError) as gateway:
        tc.get_clock()
    with pytest.raises(APIError) as limited:
        tc.get_account()
    assert (gateway.value.status_code, limited.value.status_code) == (504, 429)
    assert limited.value.code == 42910000
    assert request_counts(session, sim) == {"GET /v2/account": 4, "GET /v2/clock": 4}


def test_504_after_places_the_order_and_the_sdk_retry_is_refused_as_a_duplicate(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    fast_retries(tc)
    set_faults(session, sim, {"kind": "504_after", "method": "POST", "times": 1})
    with pytest.raises(APIError) as caught:
        tc.submit_order(market_buy("ambiguous-1"))
    assert (caught.value.status_code, caught.value.code) == (422, 40010001)
    placed = tc.get_order_by_client_id("ambiguous-1")
    assert isinstance(placed, Order) and placed.symbol == "AAPL"
    assert len(tc.get_orders(GetOrdersRequest(status="all"))) == 1
    assert request_counts(session, sim)["POST /v2/orders"] == 2


def test_slow_answers_correctly_after_the_delay_and_times_out_a_hasty_client(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    set_faults(session, sim, {"kind": "slow", "delay_seconds": 0.5, "times": 2})
    with pytest.raises(requests.exceptions.ReadTimeout):
        get_account(session, sim, timeout=0.2)
    patient = get_account(session, sim, timeout=10)
    assert patient.status_code == 200
    assert patient.json()["account_number"] == "PA3SIM000001"


def test_slow_request_is_still_processed_after_the_client_gave_up(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    set_faults(session, sim, {"kind": "slow", "delay_seconds": 0.5, "times": 1})
    order = market_buy("late-1").to_request_fields()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(f"{sim.url}/v2/orders", json=order, headers=AUTH, timeout=0.2)
    deadline = time.monotonic() + 10  # a bound for polling, not a timed assertion
    while not order_exists(tc, "late-1") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert order_exists(tc, "late-1")


def test_hang_never_answers_nor_processes_the_request(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    set_faults(session, sim, {"kind": "hang", "method": "POST", "times": 1})
    order = market_buy("hung-1").to_request_fields()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(f"{sim.url}/v2/orders", json=order, headers=AUTH, timeout=0.2)
    assert not order_exists(tc, "hung-1")
    assert get_account(session, sim, timeout=10).status_code == 200


def test_hang_without_a_client_timeout_ends_with_a_connection_error_on_shutdown() -> None:
    outcome: list[BaseException] = []

    def call(url: str) -> None:
        try:
            requests.get(f"{url}/v2/clock", headers=AUTH)  # noqa: S113 - hanging is the point
        except requests.exceptions.RequestException as exc:
            outcome.append(exc)

    rules = [FaultRule(kind="hang", delay_seconds=600)]
    with running_simulator(start=START, faults=rules) as handle:
        caller = threading.Thread(target=call, args=(handle.url,), daemon=True)
        caller.start()
        while handle.simulator.faults.snapshot()["faults"][0]["fired"] == 0:
            time.sleep(0.01)
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert [type(e) for e in outcome] == [requests.exceptions.ConnectionError]


def test_drop_closes_the_connection_before_processing(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    set_faults(session, sim, {"kind": "drop", "method": "POST", "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError, match="without response"):
        tc.submit_order(market_buy("dropped-1"))
    assert not order_exists(tc, "dropped-1")
    assert request_counts(session, sim)["POST /v2/orders"] == 1


def test_drop_after_processes_then_closes_the_connection(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    set_faults(session, sim, {"kind": "drop_after", "method": "POST", "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError, match="without response"):
        tc.submit_order(market_buy("dropped-after-1"))
    assert order_exists(tc, "dropped-after-1")


def test_truncate_sends_200_with_half_a_json_body(
    sim: SimulatorHandle, session: requests.Session, tc: TradingClient
) -> None:
    whole = get_account(session, sim).content
    set_faults(session, sim, {"kind": "truncate", "times": 2})
    cut = get_account(session, sim)
    assert cut.status_code == 200
    assert cut.headers["Content-Type"] == "application/json"
    assert int(cut.headers["Content-Length"]) == len(cut.content) == len(whole) // 2
    assert whole.startswith(cut.content)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        cut.json()
    with pytest.raises(requests.exceptions.JSONDecodeError):
        tc.get_account()


# -- matching ----------------------------------------------------------------------------------


def test_times_fires_on_the_next_n_matches_then_expires(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    set_faults(session, sim, {"kind": "500", "times": 2})
    statuses = [get_account(session, sim).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    plan = session.get(f"{sim.url}/admin/faults").json()
    assert plan == {
        "seed": 0,
        "faults": [
            {
                "kind": "500",
                "method": None,
                "path": "/",
                "times": 2,
                "rate": 1.0,
                "delay_seconds": None,
                "fired": 2,
                "remains": 0,
            }
        ],
    }


def test_rate_draws_are_reproducible_for_a_seed(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    def run(seed: int) -> list[int]:
        set_faults(session, sim, {"kind": "503", "rate": 0.5}, seed=seed)
        return [get_account(session, sim).status_code for _ in range(30)]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert {200, 503} == set(first)


def test_method_and_path_prefix_select_the_requests(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    set_faults(
        session,
        sim,
        {"kind": "500", "method": "post", "path": "/v2/orders"},
        {"kind": "503", "path": "/v2/stocks/bars"},
    )
    bars = session.get(
        f"{sim.url}/v2/stocks/bars", params={"symbols": "AAPL", "timeframe": "1Hour"}, headers=AUTH
    )
    order = session.post(f"{sim.url}/v2/orders", json={"symbol": "AAPL"}, headers=AUTH)
    listed = session.get(f"{sim.url}/v2/orders", headers=AUTH)
    assert (bars.status_code, order.status_code, listed.status_code) == (503, 500, 200)
    assert get_account(session, sim).status_code == 200


def test_faults_never_apply_to_admin_paths(sim: SimulatorHandle, session: requests.Session) -> None:
    set_faults(session, sim, {"kind": "drop"})
    assert session.get(f"{sim.url}/admin/clock").status_code == 200
    assert session.delete(f"{sim.url}/admin/faults").json() == {"seed": 0, "faults": []}
    assert get_account(session, sim).status_code == 200


def test_initial_fault_plan_from_python(session: requests.Session) -> None:
    rules = [FaultRule(kind=503, path="/v2/clock", times=1)]  # type: ignore[arg-type]
    with running_simulator(start=START, faults=rules) as handle:
        clock = session.get(f"{handle.url}/v2/clock", headers=AUTH)
        again = session.get(f"{handle.url}/v2/clock", headers=AUTH)
    assert (clock.status_code, again.status_code) == (503, 200)


# -- admin API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"kind": "teapot"}, "faults[0].kind='teapot'"),
        ({"kind": "500", "rate": 1.5}, "faults[0].rate=1.5"),
        ({"kind": "500", "times": 0}, "faults[0].times=0"),
        ({"kind": "500", "method": "FETCH"}, "faults[0].method='FETCH'"),
        ({"kind": "500", "path": "/admin/clock"}, "faults[0].path='/admin/clock'"),
        ({"kind": "500", "path": "v2/orders"}, "faults[0].path='v2/orders'"),
        ({"kind": "slow", "delay_seconds": -1}, "faults[0].delay_seconds=-1"),
        ({"kind": "500", "tims": 2}, "faults[0].tims=2"),
        ({"times": 2}, "faults[0].kind: Field required"),
    ],
)
def test_a_bad_rule_is_refused_with_its_field_and_value(
    sim: SimulatorHandle, session: requests.Session, rule: dict[str, Any], named: str
) -> None:
    set_faults(session, sim, {"kind": "500", "times": 1})
    response = session.post(f"{sim.url}/admin/faults", json={"faults": [{"kind": "504"}, rule]})
    assert response.status_code == 422
    assert named.replace("[0]", "[1]") in response.json()["message"]
    assert [f["kind"] for f in session.get(f"{sim.url}/admin/faults").json()["faults"]] == ["500"]


def test_a_plan_without_faults_or_with_a_bad_seed_is_refused(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    missing = session.post(f"{sim.url}/admin/faults", json={"seed": 1})
    bad_seed = session.post(f"{sim.url}/admin/faults", json={"faults": [], "seed": "x"})
    assert (missing.status_code, bad_seed.status_code) == (422, 422)
    assert "faults: Field required" in missing.json()["message"]
    assert "seed='x'" in bad_seed.json()["message"]


def test_request_counts_include_faulted_requests_and_reset(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    set_faults(session, sim, {"kind": "drop", "path": "/v2/clock", "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{sim.url}/v2/clock", headers=AUTH)
    session.get(f"{sim.url}/v2/clock", headers=AUTH)
    get_account(session, sim)
    session.get(f"{sim.url}/v2/orders:by_client_order_id", params={"client_order_id": "x"})
    assert request_counts(session, sim) == {
        "GET /v2/account": 1,
        "GET /v2/clock": 2,
        "GET /v2/orders:by_client_order_id": 1,
    }
    assert session.delete(f"{sim.url}/admin/requests").json() == {"requests": {}}
    assert request_counts(session, sim) == {}


# -- rate limits -------------------------------------------------------------------------------


def test_every_v2_answer_carries_rate_limit_headers(
    sim: SimulatorHandle, session: requests.Session
) -> None:
    first = get_account(session, sim)
    unauthorized = session.get(f"{sim.url}/v2/account")
    missing = session.get(f"{sim.url}/v2/orders/not-an-order", headers=AUTH)
    assert (first.status_code, unauthorized.status_code, missing.status_code) == (200, 401, 404)
    assert first.headers["X-Ratelimit-Limit"] == "200"
    assert int(first.headers["X-Ratelimit-Remaining"]) == 199
    assert int(missing.headers["X-Ratelimit-Remaining"]) == 198
    assert "X-Ratelimit-Remaining" in unauthorized.headers
    reset = int(first.headers["X-Ratelimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61
    assert "X-Ratelimit-Limit" not in session.get(f"{sim.url}/admin/clock").headers


def test_an_enforced_limit_refuses_a_key_beyond_its_requests_per_minute(
    session: requests.Session,
) -> None:
    other_key = {**AUTH, "APCA-API-KEY-ID": "PKOTHER"}
    with running_simulator(start=START, rate_limit_per_minute=3) as handle:
        statuses = [get_account(session, handle).status_code for _ in range(4)]
        refused = get_account(session, handle)
        other = session.get(f"{handle.url}/v2/account", headers=other_key)
    assert statuses == [200, 200, 200, 429]
    assert refused.json() == {"code": 42910000, "message": "rate limit exceeded"}
    assert refused.headers["X-Ratelimit-Limit"] == "3"
    assert refused.headers["X-Ratelimit-Remaining"] == "0"
    assert (other.status_code, other.headers["X-Ratelimit-Remaining"]) == (200, "2")


def test_the_rate_window_slides_by_a_minute() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, monotonic=lambda: now[0])
    assert [limiter.hit("k").remaining for _ in range(2)] == [1, 0]
    assert limiter.hit("k").exceeded
    now[0] += 30
    assert limiter.hit("k").exceeded
    now[0] += 30.001
    window = limiter.hit("k")
    assert (window.exceeded, window.remaining) == (False, 1)


def test_an_unenforced_limiter_counts_but_never_refuses() -> None:
    limiter = RateLimiter()
    windows = [limiter.hit("k") for _ in range(201)]
    assert windows[-1].remaining == 0
    assert not any(w.exceeded for w in windows)
