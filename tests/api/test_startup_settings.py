"""``python -m api`` reports every bad setting in one message and exits 2 (issue #13 operations)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_bad_api_setting_is_reported_at_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "JIMENG_"))}
    env.update(
        PYTHONPATH=str(ROOT), API_PORT="99999", API_KEYS="k-secret-1", API_MAX_FILES="0", JIMENG_MAX_DOWNLOAD_MB="x"
    )
    done = subprocess.run(
        [sys.executable, "-m", "api"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and not done.stdout
    for name in ("API_PORT", "API_MAX_FILES", "JIMENG_MAX_DOWNLOAD_MB", "JIMENG_SESSION_IDS"):
        assert name in done.stderr, (name, done.stderr)
    assert "4 settings need fixing" in done.stderr
    assert "Traceback" not in done.stderr and "k-secret-1" not in done.stderr and "99999" not in done.stderr
    assert list(tmp_path.iterdir()) == []
