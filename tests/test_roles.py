"""The one role registry (common.roles): config, protocol, simulator and UI all follow it."""

from __future__ import annotations

import typing

import pytest

from common.roles import (
    AVAILABLE_ROLES,
    DEVICES,
    IDENTIFICATION_DEVICES,
    ROLE_NAMES,
    ROLES,
    RoleName,
    refusal,
)

pytestmark = pytest.mark.unit


def test_the_literal_and_the_table_name_the_same_roles():
    assert typing.get_args(RoleName) == ROLE_NAMES == tuple(ROLES)
    assert all(name == spec.name for name, spec in ROLES.items())


def test_devices_are_the_configs_devices():
    from kiosk.config import Devices

    assert tuple(Devices.model_fields) == DEVICES
    assert IDENTIFICATION_DEVICES <= set(DEVICES)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_is_consistent(role):
    spec = ROLES[role]
    assert spec.devices == tuple(d for d in DEVICES if d in spec.devices), "devices in the config's order"
    assert spec.required <= set(spec.devices)
    assert not spec.identifies_residents or set(spec.devices) & IDENTIFICATION_DEVICES
    assert not spec.hall_client or spec.on_hall_lan
    assert spec.available == (refusal(role) is None)
    assert spec.runs_on


def test_config_protocol_and_cli_use_the_registry():
    from kiosk import config
    from sync import protocol

    assert typing.get_args(config.TerminalConfig.model_fields["role"].annotation) == ROLE_NAMES
    assert typing.get_args(protocol.EnrolRequest.model_fields["role"].annotation) == ROLE_NAMES
    assert config.ROLES == ROLE_NAMES


def test_a_role_not_built_is_refused_with_what_is_missing():
    for role in ROLE_NAMES:
        if ROLES[role].available:
            continue
        message = refusal(role)
        assert message is not None and "\n" not in message
        assert message.startswith(f"role '{role}' is not available yet")
        assert ROLES[role].not_built in message and ", ".join(AVAILABLE_ROLES) in message
    assert "does not exist" in (refusal("lobby") or "")


def test_every_role_that_runs_has_a_window_factory_and_no_other_does():
    from ui.role_windows import WINDOW_FACTORIES

    assert set(WINDOW_FACTORIES) == set(AVAILABLE_ROLES)
    assert all(callable(factory) for factory in WINDOW_FACTORIES.values())


def test_opening_a_role_not_built_raises_one_clear_line(examples_dir):
    from kiosk.config import load_config
    from ui.role_windows import RoleNotAvailable, role_window

    for role in ROLE_NAMES:
        if not ROLES[role].available:
            with pytest.raises(RoleNotAvailable, match=f"role '{role}' is not available yet"):
                role_window(load_config(examples_dir / f"{role}.toml"))
