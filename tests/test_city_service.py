"""Code-status lookup at the city code service: a real HTTP server on loopback (the simulator's), cache, fallbacks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from hardware_sim import personas
from hardware_sim.code_service import CodeServiceSim
from kiosk.codes import CityCodeService, CodeStatus, TokenVerifier, TrustList
from kiosk.codes.city_service import MAX_ANSWER_BYTES
from kiosk.priority import person_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

KEY = b"linfen-test-person-key-0123456789"
TIMEOUT_S = 0.3  # client timeout in these tests, in seconds
FRESHNESS_S = 600.0


def persona_of(colour: str) -> personas.Persona:
    return next(p for p in personas.load() if p.code_colour == colour)


GREEN, YELLOW, RED = persona_of("green"), persona_of("yellow"), persona_of("red")
STRANGER_ID = "110101190001010018"  # a well-formed number the service does not know


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service() -> Iterator[CodeServiceSim]:
    sim = CodeServiceSim()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(service: CodeServiceSim, clock: FakeClock) -> Iterator[Callable[..., CityCodeService]]:
    made: list[CityCodeService] = []

    def make(**options: object) -> CityCodeService:
        settings: dict[str, object] = {"timeout_s": TIMEOUT_S, "freshness_s": FRESHNESS_S, "clock": clock}
        settings.update(options)
        client = CityCodeService(service.url, KEY, **settings)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., CityCodeService]) -> CityCodeService:
    return make_client()


# -- answers --------------------------------------------------------------------------------

@pytest.mark.parametrize("person", [GREEN, YELLOW, RED], ids=["green", "yellow", "red"])
def test_lookup_gives_the_persons_colour(client: CityCodeService, service: CodeServiceSim,
                                         person: personas.Persona) -> None:
    status = client.lookup(person.id_number)
    assert isinstance(status, CodeStatus)
    assert (status.colour, status.source, status.fallback) == (person.code_colour, "lookup", None)
    assert status.person_id_number == person.id_number
    assert status.issued_at is not None and status.expires_at is not None
    assert service.lookups == 1 and client.stats.requests == 1


def test_second_lookup_is_a_cache_hit_keyed_by_hash_not_by_number(client: CityCodeService,
                                                                  service: CodeServiceSim) -> None:
    first = client.lookup(GREEN.id_number)
    again = client.lookup(GREEN.id_number.lower())  # a social card may give a lower-case x
    assert again.colour == first.colour == "green"
    assert service.lookups == 1
    assert (client.stats.requests, client.stats.cache_hits) == (1, 1)
    assert client.cached_keys() == [person_key(GREEN.id_number, KEY)]
    assert all(GREEN.id_number not in k for k in client.cached_keys())


def test_a_colour_change_shows_once_the_cached_answer_is_no_longer_fresh(client: CityCodeService,
                                                                         service: CodeServiceSim,
                                                                         clock: FakeClock) -> None:
    assert client.lookup(GREEN.id_number).colour == "green"
    service.set_colour(GREEN.persona_id, "yellow")
    clock.now += FRESHNESS_S - 1
    assert client.lookup(GREEN.id_number).colour == "green"  # still within the freshness limit
    clock.now += 1
    assert client.lookup(GREEN.id_number).colour == "yellow"
    assert service.lookups == 2


def test_forget_drops_one_cached_answer(client: CityCodeService, service: CodeServiceSim) -> None:
    client.lookup(GREEN.id_number)
    service.set_colour(GREEN.id_number, "red")
    client.forget(GREEN.id_number)
    assert client.lookup(GREEN.id_number).colour == "red"


def test_a_person_unknown_to_the_service_gets_the_fallback(client: CityCodeService) -> None:
    status = client.lookup(STRANGER_ID)
    assert (status.colour, status.source, status.fallback, status.fallback_reason) == (
        None, "fallback", "staff_check", "not_found")
    assert status.staff_check


# -- faults ---------------------------------------------------------------------------------

def test_service_down_gives_the_staff_check_fallback_and_recovers(client: CityCodeService,
                                                                  service: CodeServiceSim) -> None:
    url = service.url
    service.faults.set("down")
    assert not service.listening
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=2)
    status = client.lookup(GREEN.id_number)
    assert (status.colour, status.source, status.fallback, status.fallback_reason) == (
        None, "fallback", "staff_check", "unreachable")
    assert client.stats.fallbacks == 1 and client.cached_keys() == []
    service.faults.clear("down")
    assert service.url == url
    assert client.lookup(GREEN.id_number).colour == "green"


def test_slow_service_gives_the_fallback_before_the_service_answers(client: CityCodeService,
                                                                    service: CodeServiceSim) -> None:
    service.faults.set("slow", "10")
    status = client.lookup(GREEN.id_number)
    assert (status.source, status.fallback_reason) == ("fallback", "timeout")
    assert service.slow_waiting == 1  # the service is still sitting on the request: the client did not wait


def test_server_error_gives_the_fallback(client: CityCodeService, service: CodeServiceSim) -> None:
    service.faults.set("error", count=1)
    assert client.lookup(RED.id_number).fallback_reason == "server_error"
    assert client.lookup(RED.id_number).colour == "red"  # the fault was for one answer


def test_garbage_answer_gives_the_fallback(client: CityCodeService, service: CodeServiceSim) -> None:
    service.faults.set("garbage")
    status = client.lookup(GREEN.id_number)
    assert (status.colour, status.fallback_reason) == (None, "bad_answer")


@pytest.mark.parametrize("mode", ["refuse", "allow"])
def test_the_configured_fallback_is_used(make_client: Callable[..., CityCodeService], service: CodeServiceSim,
                                         mode: str) -> None:
    service.faults.set("error")
    status = make_client(fallback=mode).lookup(GREEN.id_number)
    assert (status.source, status.fallback, status.staff_check) == ("fallback", mode, False)


def test_a_stale_answer_is_not_used_even_when_the_service_is_down(client: CityCodeService,
                                                                  service: CodeServiceSim,
                                                                  clock: FakeClock) -> None:
    assert client.lookup(YELLOW.id_number).colour == "yellow"
    clock.now += FRESHNESS_S
    service.faults.set("down")
    assert client.lookup(YELLOW.id_number).source == "fallback"


def test_id_numbers_never_reach_the_logs(client: CityCodeService, service: CodeServiceSim,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.lookup(GREEN.id_number)
    client.lookup(GREEN.id_number)
    for fault in ("error", "garbage", "down"):
        service.faults.set(fault)
        client.lookup(RED.id_number)
        service.faults.clear(fault)
    client.lookup(STRANGER_ID)
    assert caplog.records
    text = caplog.text + "\n".join(e.line() for e in service.traffic.entries(service.name, 1000))
    for number in (GREEN.id_number, RED.id_number, STRANGER_ID):
        assert number not in text


# -- the simulator's other endpoints --------------------------------------------------------

def test_simulated_service_issues_tokens_that_verify_against_its_keys(service: CodeServiceSim) -> None:
    service.set_colour(GREEN.persona_id, "red")
    with httpx.Client(base_url=service.url, timeout=5) as http:
        trust = TrustList.from_document(http.get("/keys").json())
        answer = http.post("/v1/code-token", json={"id_number": GREEN.id_number})
        unknown = http.post("/v1/code-token", json={"id_number": STRANGER_ID})
    status = TokenVerifier(trust).verify(answer.json()["token"])
    assert isinstance(status, CodeStatus)
    assert (status.colour, status.person_id_number) == ("red", GREEN.id_number)
    assert unknown.status_code == 404
    assert service.config_entry() == {"url": service.url}
    assert service.status()["tokens_issued"] == 1


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", 400),
    (b'{"id": "x"}', 400),
    (b'{"id_number": 12}', 400),
    (b'{"id_number": "' + b"9" * 5000 + b'"}', 413),
])
def test_simulated_service_refuses_bad_requests(service: CodeServiceSim, body: bytes, code: int) -> None:
    answer = httpx.post(service.url + "/v1/code-status", content=body, timeout=5)
    assert answer.status_code == code


def test_simulated_service_rejects_unknown_faults_and_colours(service: CodeServiceSim) -> None:
    with pytest.raises(ValueError):
        service.faults.set("on_fire")
    with pytest.raises(ValueError):
        service.set_colour(GREEN.persona_id, "blue")
    with pytest.raises(KeyError):
        service.set_colour("P999", "red")


# -- the client against a mock transport (what is sent; answers the simulator never gives) -----

def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> CityCodeService:
    return CityCodeService("https://codes.example.invalid", KEY, transport=httpx.MockTransport(handler))


def test_the_number_goes_in_a_post_body_and_nowhere_else() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"colour": "green", "as_of": 1})

    with mock_client(handler) as client:
        assert client.lookup(" " + GREEN.id_number + " ").colour == "green"
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/v1/code-status"
    assert GREEN.id_number not in str(request.url)
    assert all(GREEN.id_number not in v for v in request.headers.values())
    assert json.loads(request.content) == {"id_number": GREEN.id_number}


@pytest.mark.parametrize(("response", "reason"), [
    (httpx.Response(200, content=b"x" * (MAX_ANSWER_BYTES + 1)), "bad_answer"),
    (httpx.Response(200, json=["green"]), "bad_answer"),
    (httpx.Response(200, json={"colour": "purple"}), "bad_answer"),
    (httpx.Response(200, json={"colour": "green", "as_of": "today"}), "bad_answer"),
    (httpx.Response(200, json={"colour": "green", "as_of": True}), "bad_answer"),
    (httpx.Response(403, json={"error": "forbidden"}), "bad_answer"),
    (httpx.Response(302, headers={"Location": "http://elsewhere.invalid/"}), "bad_answer"),
    (httpx.Response(503), "server_error"),
])
def test_answers_that_are_not_a_code_status_give_the_fallback(response: httpx.Response, reason: str) -> None:
    with mock_client(lambda request: response) as client:
        status = client.lookup(GREEN.id_number)
    assert (status.source, status.fallback_reason) == ("fallback", reason)


def test_transport_errors_give_the_fallback() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("closed", request=request)

    with mock_client(timeout) as client:
        assert client.lookup(GREEN.id_number).fallback_reason == "timeout"
    with mock_client(broken) as client:
        assert client.lookup(GREEN.id_number).fallback_reason == "unreachable"


def test_cache_size_is_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"colour": "green"})

    client = CityCodeService("http://127.0.0.1:9", KEY, cache_size=3, transport=httpx.MockTransport(handler))
    with client:
        for p in personas.load()[:5]:
            client.lookup(p.id_number)
        assert client.cached_keys() == [person_key(p.id_number, KEY) for p in personas.load()[2:5]]


@pytest.mark.parametrize("options", [
    {"base_url": "ftp://codes.example"},
    {"base_url": "not a url"},
    {"fallback": "maybe"},
    {"timeout_s": 0},
    {"key": b"short"},
])
def test_unusable_settings_are_refused_at_start(options: dict[str, object]) -> None:
    settings: dict[str, object] = {"base_url": "https://codes.example", "key": KEY}
    settings.update(options)
    with pytest.raises(ValueError):
        CityCodeService(**settings)  # type: ignore[arg-type]
