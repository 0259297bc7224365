"""Live-bus channel names have one home, ``storage.live``: every module that publishes,
subscribes or reads a snapshot names its channel through the constants defined there."""

from __future__ import annotations

import ast
from pathlib import Path

import storage.live

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "collectors", "storage")
BUS_CALLS = {"publish", "subscribe", "latest"}


def modules() -> list[tuple[Path, ast.Module]]:
    """Every Python module of Pulseboard's packages, parsed."""
    return [
        (path, ast.parse(path.read_text(), str(path)))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def channel_constants() -> dict[str, str]:
    """The channel constants ``storage.live`` defines, by name."""
    return {
        name: value
        for name, value in vars(storage.live).items()
        if name.endswith("_CHANNEL") and isinstance(value, str)
    }


def test_storage_live_defines_each_channel_once_with_a_distinct_name():
    channels = channel_constants()

    assert set(channels) == {
        "METRICS_CHANNEL",
        "SCHEDULER_CHANNEL",
        "LOGS_CHANNEL",
        "AUTH_CHANNEL",
        "ALERTS_CHANNEL",
    }
    assert len(set(channels.values())) == len(channels)


def test_no_other_module_defines_a_channel_name():
    defined_elsewhere = [
        f"{path.relative_to(ROOT)}:{node.lineno} {target.id}"
        for path, tree in modules()
        if path != Path(storage.live.__file__)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.endswith("_CHANNEL")
    ]

    assert defined_elsewhere == []


def test_every_bus_call_names_its_channel_by_a_constant_imported_from_storage_live():
    constants = set(channel_constants())
    checked, strays = 0, []
    for path, tree in modules():
        if path == Path(storage.live.__file__):
            continue
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "storage.live"
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in BUS_CALLS
                and isinstance(node.func.value, ast.Attribute | ast.Name)
                and "bus" in ast.unparse(node.func.value)
                and node.args
            ):
                continue
            checked += 1
            channel = node.args[0]
            if not (isinstance(channel, ast.Name) and channel.id in constants & imported):
                strays.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")

    assert checked >= 8  # the scheduler, tails, token cache, health, metrics stream...
    assert strays == []
