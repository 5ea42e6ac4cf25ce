"""Delivery statuses and the enums that key the engine's sets and dicts."""

from __future__ import annotations

import pickle

from mockback.domain.deliveries import AttemptOutcome, CallbackType, DeliveryStatus


def test_exactly_the_five_ending_statuses_are_final() -> None:
    final = {s.value for s in DeliveryStatus if s.is_final}
    assert final == {"succeeded", "failed", "blocked", "cancelled", "skipped"}
    assert not DeliveryStatus("pending").is_final
    assert DeliveryStatus("skipped").is_final


def test_members_key_sets_and_dicts_by_identity_and_survive_a_round_trip() -> None:
    for enum in (CallbackType, DeliveryStatus, AttemptOutcome):
        members = list(enum)
        table = {m: m.value for m in members}
        for m in members:
            again = pickle.loads(pickle.dumps(m))
            assert again is m and table[again] == m.value and enum(m.value) in table
        assert len(set(members)) == len(members)
