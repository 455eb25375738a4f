"""The simulator's control endpoint: loopback HTTP + JSON, used by the CLI, the GUI, tests and the demo.

Every command a maintenance technician can give (present a persona's card — or, on the
community card reader, a clone of it or a card without the application — show a QR,
set the temperature, take the paper out, unplug, inject or clear a fault) is one POST
here; ``GET /status`` is the whole simulator's state as JSON.  FastAPI documents the
endpoint at ``/docs``.  Errors come back as HTTP 4xx with ``{"detail": "..."}`` in words.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Response
from pydantic import BaseModel, Field


class ControlTarget(Protocol):
    """What the control API drives (the :class:`~hardware_sim.runner.Simulator`)."""

    def status(self) -> dict[str, Any]: ...
    def present(self, device: str, persona_id: str, card: str = "genuine") -> dict[str, Any]: ...
    def remove(self, device: str) -> dict[str, Any]: ...
    def show_qr(self, persona_id: str | None, payload: str | None, device: str) -> dict[str, Any]: ...
    def set_temperature(self, celsius: float) -> dict[str, Any]: ...
    def fault(self, device: str, kind: str, arg: str | None, count: int | None) -> dict[str, Any]: ...
    def clear(self, device: str, kind: str | None) -> dict[str, Any]: ...
    def paper(self, state: str) -> dict[str, Any]: ...
    def unplug(self, device: str) -> dict[str, Any]: ...
    def plug(self, device: str) -> dict[str, Any]: ...
    def door(self, device: str, lock: int, is_open: bool) -> dict[str, Any]: ...
    def traffic_lines(self, device: str, last: int) -> list[str]: ...
    def last_ticket_png(self) -> bytes | None: ...
    def persona_list(self) -> list[dict[str, Any]]: ...
    def set_colour(self, persona_id: str, colour: str) -> dict[str, Any]: ...


class SimCommandError(Exception):
    """A command the simulator cannot carry out; the text says why (unknown device, persona…)."""


class Present(BaseModel):
    device: str = Field(description="idcard, sscard or ccard")
    persona: str = Field(description="persona id such as P001")
    card: str = Field("genuine", pattern="^(genuine|clone|no_applet)$", description=(
        "ccard only: the persona's own card (genuine), a copy with its UID and no key (clone), "
        "or a card with its UID and no community card application (no_applet)"))


class Device(BaseModel):
    device: str


class ShowQr(BaseModel):
    persona: str | None = Field(None, description="show this persona's signed code token")
    payload: str | None = Field(None, description="or show this exact text")
    device: str = Field("qr_camera", description="qr_camera or qr_scanner")


class Temperature(BaseModel):
    celsius: float = Field(ge=20, le=50)


class Fault(BaseModel):
    device: str
    kind: str
    arg: str | None = None
    count: int | None = Field(None, ge=1)


class Clear(BaseModel):
    device: str
    kind: str | None = None


class Paper(BaseModel):
    state: str = Field(pattern="^(ok|near_end|out)$")


class Colour(BaseModel):
    persona: str
    colour: str = Field(pattern="^(green|yellow|red)$")


class Door(BaseModel):
    device: str = Field("door", description="door or locker")
    lock: int = Field(1, ge=1)
    open: bool


def build_app(sim: ControlTarget) -> FastAPI:
    """The FastAPI application for one simulator."""
    app = FastAPI(title="Linfen hardware simulator", version="1")

    def run(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (SimCommandError, KeyError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc).strip("'\"")) from None

    @app.get("/status")
    def status() -> dict[str, Any]:
        return sim.status()

    @app.get("/personas")
    def persona_list() -> list[dict[str, Any]]:
        return sim.persona_list()

    @app.post("/present")
    def present(body: Present) -> dict[str, Any]:
        return run(sim.present, body.device, body.persona, body.card)

    @app.post("/remove")
    def remove(body: Device) -> dict[str, Any]:
        return run(sim.remove, body.device)

    @app.post("/show-qr")
    def show_qr(body: ShowQr) -> dict[str, Any]:
        if (body.persona is None) == (body.payload is None):
            raise HTTPException(400, "give exactly one of persona or payload")
        return run(sim.show_qr, body.persona, body.payload, body.device)

    @app.post("/temperature")
    def temperature(body: Temperature) -> dict[str, Any]:
        return run(sim.set_temperature, body.celsius)

    @app.post("/fault")
    def fault(body: Fault) -> dict[str, Any]:
        return run(sim.fault, body.device, body.kind, body.arg, body.count)

    @app.post("/clear")
    def clear(body: Clear) -> dict[str, Any]:
        return run(sim.clear, body.device, body.kind)

    @app.post("/paper")
    def paper(body: Paper) -> dict[str, Any]:
        return run(sim.paper, body.state)

    @app.post("/unplug")
    def unplug(body: Device) -> dict[str, Any]:
        return run(sim.unplug, body.device)

    @app.post("/plug")
    def plug(body: Device) -> dict[str, Any]:
        return run(sim.plug, body.device)

    @app.post("/code-colour")
    def code_colour(body: Colour) -> dict[str, Any]:
        return run(sim.set_colour, body.persona, body.colour)

    @app.post("/door")
    def door(body: Door) -> dict[str, Any]:
        return run(sim.door, body.device, body.lock, body.open)

    @app.get("/traffic/{device}")
    def traffic(device: str, last: int = Query(100, ge=1, le=2000)) -> list[str]:
        return run(sim.traffic_lines, device, last)

    @app.get("/printer/last.png")
    def last_ticket() -> Response:
        png = sim.last_ticket_png()
        if png is None:
            raise HTTPException(404, "nothing printed yet")
        return Response(png, media_type="image/png")

    return app


class ControlServer:
    """Serves the control API on 127.0.0.1 in a background thread."""

    def __init__(self, sim: ControlTarget, host: str = "127.0.0.1", port: int = 0):
        self._config = uvicorn.Config(build_app(sim), host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._server.run, name="sim-control", daemon=True)

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving; return the base URL once the socket listens."""
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout_s / 0.02)):
            if self._server.started:
                break
            deadline.wait(0.02)
        else:
            raise RuntimeError("control API did not start")
        sock = self._server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=5)
