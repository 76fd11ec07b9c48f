"""review93d: one large commit (a catch-up's group, a prune) paced the checkpointer at one
commit a wake for good. Its round found ~800 frames new for 1 commit (``every`` 1), and
the rounds after it, one commit's few frames each, were no measure (wal91: only a round
of ``TARGET_FRAMES // 8`` new frames paces, against an interval's few commits after a
pause): a checkpoint (two syncs) after every commit, and the writer's gate, past
``WAIT_FRAMES`` estimated as 16 commits (``WAIT_FRAMES * every // TARGET_FRAMES``),
waited for a checkpoint every 16 commits with a WAL of ~125 frames. On a real store."""

from __future__ import annotations

from pathlib import Path

from test_wal24_checkpoint import DOMAIN, IDENTITY, checkpointer, commit_rows, count, until

from sdex.store import Store


def test_small_commits_after_a_large_one_are_paced_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path, IDENTITY, DOMAIN)
    try:
        cp = checkpointer(store)
        seq = 1
        for _ in range(40):  # one row a commit: the pacing measured (~100 commits a wake)
            commit_rows(store, seq, 1)
            seq += 1
        cp.request()
        until(lambda: cp.state == "idle" and cp._done == cp._commits)
        commit_rows(store, seq, 3000)  # one large commit (~800 frames)
        seq += 3000
        cp.request()
        until(lambda: cp.state == "idle" and cp._done == cp._commits)
        passive, commits = cp.passive, cp._commits
        for _ in range(400):  # small commits again, back to back
            commit_rows(store, seq, 1)
            seq += 1
        until(lambda: cp.state == "idle" and cp._done == cp._commits)
        rounds = cp.passive - passive
        assert cp._commits - commits == 400
        # paced from the small commits' pages again (~100 commits a wake, reached doubling
        # from 1: ~10 rounds), not a round each commit (51-129 here before)
        assert cp.every >= 10, (cp.every, rounds)
        assert rounds <= 25, (rounds, cp.every)
        assert cp.failures == 0
    finally:
        store.close()
    assert count(path) == seq - 1
