"""The per-group order rule the FIFO crash test asserts (tests/support/bridge.py)."""

from __future__ import annotations

import pytest

from tests.support.bridge import check_group_order


def testcheck_group_order_rejects_skips_and_accepts_replays():
    assert check_group_order([0, 1, 2, 1, 2, 3], 4) == 1
    with pytest.raises(AssertionError):
        check_group_order([0, 2, 1, 3], 4)  # 2 written before 1
    with pytest.raises(AssertionError):
        check_group_order([0, 1, 3], 4)  # 2 missing
