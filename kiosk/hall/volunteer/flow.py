"""The volunteer desk's state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

"志愿者签到签退" on the hall's idle screen starts it: "请志愿者刷身份证" (``present``, with the
reader picture, spoken).  The ID card's person key is looked up (``finding``) on the pulled roster
and in this kiosk's open check-ins:

- an active volunteer (or anyone, while no roster was ever pulled: the central confirms it) with
  no open check-in here is checked in (``recording``) and told "张*明，签到成功，9点02分";
- one with an open check-in is asked for the served resident's tap (``cosign``: an ID card or a
  community card; the volunteer's own card is refused in words; "没有服务对象 / 跳过"), then
  checked out and told how long the service was and whether it waits for an organiser;
- someone not on the roster is told how to register; no event is written.

Every state but idle has a deadline; resident screens warn aloud 10 s before they end and offer
more time (the shared :class:`~kiosk.runtime.screens.ScreenClock`).  A co-sign screen that ends
checks out without a co-signer (the volunteer did ask to check out; an organiser reviews it).
A step that waits on the store and fails or stays silent ends on the spoken "ask staff" screen; an ID
card reader that is down is said on the screen (staff are alerted by the device supervisor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.hall.volunteer.events import (
    CardTapped,
    CheckedIn,
    CheckedOut,
    Cosigner,
    FindVolunteer,
    PersonTapped,
    ReaderState,
    RecordCheckIn,
    RecordCheckOut,
    SkipCosign,
    TapFailed,
    VolunteerFound,
    VolunteerStart,
)
from kiosk.runtime.events import Failed, Tick
from kiosk.runtime.screens import Alert, CardTapFlow, Dismissed, HelpRequested, MoreTime, Say, Show

RESIDENT_SCREENS = frozenset({"present", "cosign", "done", "error"})
WORKING_STATES = frozenset({"finding", "recording"})
STATES = ("idle", "present", "finding", "cosign", "recording", "done", "error")


@dataclass(frozen=True)
class VolunteerSettings:
    """How long each volunteer screen stays, in seconds."""

    present_s: float = 60.0  # "请志愿者刷身份证"
    cosign_s: float = 90.0  # "请服务对象刷卡确认": the resident may need a moment to find a card
    result_s: float = 20.0  # signed in / out, or not registered
    error_s: float = 30.0  # a failed read, or "please ask staff"
    working_s: float = 8.0  # the store may take this long to answer
    warning_s: float = 10.0
    community_card: bool = False  # the hall has a community-card reader: the co-sign screen names that card too


@dataclass
class _Volunteer:
    """The volunteer being served (in memory only: the person key and masked name)."""

    key: str
    name_masked: str
    standing: str = ""
    open_event: str | None = None
    open_since: str | None = None
    done: str = ""  # "in" / "out" once recorded: a second tap on the result screen is a double tap


class VolunteerFlow(CardTapFlow):
    """Hours check-in and check-out for one volunteer at a time."""

    resident_screens = RESIDENT_SCREENS
    working_state = "recording"

    def __init__(self, settings: VolunteerSettings | None = None) -> None:
        """Start idle."""
        self.settings = settings or VolunteerSettings()
        super().__init__(self.settings.warning_s)
        self.volunteer: _Volunteer | None = None
        self.checking_out = False  # the recording step is a check-out (else a check-in)

    def _limit(self) -> float | None:
        s = self.settings
        return {"present": s.present_s, "finding": s.working_s, "cosign": s.cosign_s, "recording": s.working_s,
                "done": s.result_s, "error": s.error_s}.get(self.state)

    # -- the runtime's side -----------------------------------------------------------------
    def fail(self, where: str, error: str) -> list[Any]:
        """A store step broke: the spoken "ask staff" screen while waiting on it; else nothing on screen."""
        if self.state in WORKING_STATES:
            return self._ask_staff("volunteer_failed", {"state": self.state, "where": where, "error": error[:200]})
        return []

    def handle(self, event: Any) -> list[Any]:
        """Feed one event; get the effects to carry out, in order."""
        if isinstance(event, Tick):
            self.clock.now = event.now
            return self._tick()
        if isinstance(event, Failed):
            return self.fail(event.where, event.error)
        if isinstance(event, VolunteerStart):
            return self.start(event.reader_up) if self.state == "idle" else []
        if self.state == "idle":
            return []
        if isinstance(event, MoreTime):
            return self.clock.extend() if self.state in RESIDENT_SCREENS else []
        if isinstance(event, HelpRequested):
            return self._help()
        if isinstance(event, Dismissed):
            return [] if self.state in WORKING_STATES else self._to_idle()
        if isinstance(event, PersonTapped):
            return self._person(event)
        if isinstance(event, CardTapped):
            return self._card(event)
        if isinstance(event, TapFailed):
            return self._tap_failed(event)
        if isinstance(event, ReaderState):
            return self._reader(event.up)
        if isinstance(event, SkipCosign):
            return self._check_out(None) if self.state == "cosign" else []
        if isinstance(event, VolunteerFound):
            return self._found(event)
        if isinstance(event, CheckedIn):
            return self._checked_in(event)
        if isinstance(event, CheckedOut):
            return self._checked_out(event)
        return []

    def start(self, reader_up: bool = True) -> list[Any]:
        """"志愿者签到签退" pressed: where the ID card goes, shown and said (or that the reader is down)."""
        self.volunteer = None
        self._enter("present")
        if not reader_up:
            return [*self._reader(False), Alert("volunteer_reader_down", {"device": "idcard"})]
        return [self._show("volunteer_present", {}), Say("volunteer_present")]

    def _reader(self, up: bool) -> list[Any]:
        """The ID card reader went down or came back while a volunteer is at the screen: told in words and voice."""
        if self.state == "present":
            if up:
                return [self._show("volunteer_present", {}), Say("volunteer_present")]
            return [self._show("volunteer_present", {"notice": "reader_down"}), Say("volunteer_reader_down")]
        if self.state == "cosign" and not up:  # a community card may still co-sign; "跳过" always works
            return [self._show("volunteer_cosign", {**self._cosign_data(), "notice": "reader_down"}),
                    Say("volunteer_reader_down")]
        return []

    # -- taps ----------------------------------------------------------------------------------
    def _person(self, tap: PersonTapped) -> list[Any]:
        v = self.volunteer
        if self.state == "cosign" and v is not None:
            if tap.key == v.key:
                return self._own_card()
            return self._check_out(Cosigner("person", tap.key, "id_card"))
        if self.state == "done" and v is not None and v.done and tap.key == v.key:
            return self._double_tap(v)
        if self.state not in ("present", "done", "error"):
            return []  # waiting on the store: this tap is ignored, the screen says what happens
        self.taps += 1
        self.volunteer = _Volunteer(tap.key, tap.name_masked)
        self._enter("finding")
        return [Show("volunteer_working", {"name": tap.name_masked}),
                FindVolunteer(self.taps, tap.key, tap.name_masked)]

    def _card(self, tap: CardTapped) -> list[Any]:
        v = self.volunteer
        if self.state == "cosign" and v is not None:
            if tap.holder_key is not None and tap.holder_key == v.key:
                return self._own_card()
            return self._check_out(Cosigner("card", tap.card_no, "community_card"))
        if self.state == "present":  # a volunteer is known by the ID card (the roster is keyed on it)
            return [self._show("volunteer_present", {"notice": "id_card_only"}), Say("volunteer_id_card_only")]
        return []

    def _tap_failed(self, failed: TapFailed) -> list[Any]:
        key = "volunteer_read_failed"
        if self.state == "cosign":
            return [self._show("volunteer_cosign", {**self._cosign_data(), "notice": "read_failed"}), Say(key)]
        if self.state in ("present", "done", "error"):
            self._enter("present")
            return [self._show("volunteer_present", {"notice": "read_failed"}), Say(key)]
        return []

    def _own_card(self) -> list[Any]:
        """The volunteer's own card offered as the co-signer: refused in words, the screen kept with its full time."""
        self.clock.restart()
        return [self._show("volunteer_cosign", {**self._cosign_data(), "notice": "own_card"}),
                Say("volunteer_own_card")]

    def _double_tap(self, v: _Volunteer) -> list[Any]:
        """The same card again on the result screen: nothing new is written; the result is said again."""
        shown = self.clock.shown
        self.clock.restart()
        key = "volunteer_already_in" if v.done == "in" else "volunteer_already_out"
        return [self._show(shown.screen, {**{k: val for k, val in shown.data.items() if k not in ("warning", "stays_s")},
                                          "again": True}), Say(key, {"name": v.name_masked})]

    # -- answers from the store ----------------------------------------------------------------
    def _found(self, found: VolunteerFound) -> list[Any]:
        v = self.volunteer
        if self.state != "finding" or found.tap != self.taps or v is None:
            return []
        v.standing = found.standing
        v.name_masked = found.name_masked or v.name_masked
        if found.standing in ("unknown", "inactive"):
            self._enter("done")
            key = "volunteer_unknown" if found.standing == "unknown" else "volunteer_inactive"
            return [self._show("volunteer_result", {"result": found.standing, "name": v.name_masked}), Say(key)]
        v.open_event, v.open_since = found.open_event, found.open_since
        if found.open_event is not None:
            self._enter("cosign")
            return [self._show("volunteer_cosign", self._cosign_data()),
                    Say("volunteer_cosign", {"name": v.name_masked})]
        self.checking_out = False
        self._enter("recording")
        return [Show("volunteer_working", {"name": v.name_masked}), RecordCheckIn(self.taps, v.key, v.name_masked)]

    def _check_out(self, cosigner: Cosigner | None) -> list[Any]:
        v = self.volunteer
        assert v is not None
        self.taps += 1
        self.checking_out = True
        self._enter("recording")
        data = {"name": v.name_masked, "cosigned": cosigner is not None}
        return [Show("volunteer_working", data),
                RecordCheckOut(self.taps, v.key, v.name_masked, v.open_event, cosigner)]

    def _checked_in(self, done: CheckedIn) -> list[Any]:
        v = self.volunteer
        late = self._late(done.tap)
        if v is None or done.tap != self.taps or not (self.state == "recording" or late):
            return []
        v.done = "in"
        self._enter("done")
        hour, minute = (int(part) for part in done.at_local.split(":"))
        unverified = v.standing == "no_roster"
        result = "checked_in_unverified" if unverified else "checked_in"
        params = {"name": v.name_masked, "hour": hour, "minute": minute}
        effects: list[Any] = [self._show("volunteer_result", {"result": result, "name": v.name_masked,
                                                              "time": done.at_local}),
                              Say("volunteer_checked_in", params)]
        if unverified:
            effects.append(Say("volunteer_unverified"))
        return effects

    def _checked_out(self, done: CheckedOut) -> list[Any]:
        v = self.volunteer
        late = self._late(done.tap)
        if v is None or done.tap != self.taps or not (self.state == "recording" or late):
            return []
        v.done = "out"
        self._enter("done")
        hours, minutes = divmod(max(0, done.minutes), 60)
        result = "checked_out" if done.cosigned else "checked_out_pending"
        params = {"hours": hours, "minutes": minutes}
        return [self._show("volunteer_result", {"result": result, "name": v.name_masked, **params}),
                Say("volunteer_" + result, params)]

    # -- time --------------------------------------------------------------------------------
    def _tick(self) -> list[Any]:
        if self.state == "idle" or not self.clock.expired():
            return self.clock.warning() if self.state in RESIDENT_SCREENS else []
        if self.state in WORKING_STATES:
            return self._ask_staff("volunteer_timeout", {"state": self.state, "error": "the store did not answer"})
        if self.state == "cosign":  # asked to check out, nobody co-signed: check out for an organiser to review
            return self._check_out(None)
        return self._to_idle()

    def _cosign_data(self) -> dict[str, Any]:
        v = self.volunteer
        return {"name": v.name_masked if v else "", "since": v.open_since if v else None,
                "community_card": self.settings.community_card}

    def _to_idle(self) -> list[Any]:
        """Back to the hall's idle screen; the UI resets language and volume for the next resident."""
        self.state = "idle"
        self.volunteer = None
        self.abandoned_tap = 0
        self.clock.warned = False
        return [Show("idle", {"reset": True})]
