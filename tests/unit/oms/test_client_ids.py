"""Client order ids: deterministic, short, distinct across signals, legs, generations and namespaces."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.core.errors import InvariantError
from scalper.core.orders import Leg
from scalper.oms.ids import MAX_GENERATION, MAX_LENGTH, client_order_id, parse_client_order_id

signal_ids = st.text(min_size=1, max_size=200)
legs = st.sampled_from(list(Leg))
generations = st.integers(0, MAX_GENERATION)
keys = st.tuples(st.text(max_size=8), signal_ids, legs, generations)


def test_the_same_inputs_give_the_same_id_in_another_process() -> None:
    args = ("SPX_TREND_BURST|I:SPX|2025-03-04T14:31:00Z", Leg.TARGET, 2)
    code = (
        "from scalper.oms.ids import client_order_id; from scalper.core.orders import Leg; "
        f"print(client_order_id({args[0]!r}, Leg.TARGET, 2, namespace='paper'))"
    )
    ids = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=os.environ | {"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert ids == {client_order_id(*args, namespace="paper")}


@given(keys, keys)
def test_different_inputs_give_different_ids(a: tuple[str, str, Leg, int], b: tuple[str, str, Leg, int]) -> None:
    ids = [client_order_id(s, leg, g, namespace=ns) for ns, s, leg, g in (a, b)]
    assert (ids[0] == ids[1]) == (a == b)


def test_every_leg_of_a_signal_gets_its_own_id() -> None:
    ids = {client_order_id("sig", leg, g) for leg in Leg for g in range(3)}
    assert len(ids) == 3 * len(Leg)


@given(signal_ids, legs, generations, st.text(max_size=50))
@settings(max_examples=300)
def test_ids_are_short_plain_and_parse_back(signal_id: str, leg: Leg, generation: int, namespace: str) -> None:
    cid = client_order_id(signal_id, leg, generation, namespace=namespace)
    assert len(cid) <= MAX_LENGTH <= 48
    assert re.fullmatch(r"[a-z0-9-]+", cid)
    assert cid.startswith(f"sc-{leg.value}-{generation}-")
    assert parse_client_order_id(cid) == (leg, generation)


@pytest.mark.parametrize(
    "foreign",
    [
        "",
        "my-manual-order",
        "sc-entry-0-xyz",
        "sc-swing-0-" + "0" * 20,
        "sc-entry-01-" + "0" * 20,
        "SC-ENTRY-0-" + "0" * 20,
    ],
)
def test_ids_we_did_not_make_do_not_parse(foreign: str) -> None:
    assert parse_client_order_id(foreign) is None


@pytest.mark.parametrize(("signal_id", "generation"), [("", 0), ("s", -1), ("s", MAX_GENERATION + 1)])
def test_bad_id_inputs_are_refused(signal_id: str, generation: int) -> None:
    with pytest.raises(InvariantError, match="client order id"):
        client_order_id(signal_id, Leg.ENTRY, generation)
