"""Without Chromium the browser tests fail with a clear message (a skip would prove nothing),
unless DESK_BROWSER_TESTS=skip says so on purpose."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_browser_tests(**env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DESK_CHROMIUM": "/nonexistent/chromium", **env}
    return subprocess.run([sys.executable, "-m", "pytest", "-rs", "tests/browser",
                           "-k", "calendar_key"], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_missing_chromium_fails_the_browser_tests_with_a_clear_message():
    result = run_browser_tests()
    assert result.returncode != 0
    assert "The browser tests need Debian's Chromium and its driver; missing: /nonexistent/chromium" in result.stdout
    assert "apt-get install -y chromium chromium-driver" in result.stdout


@pytest.mark.slow
def test_the_opt_out_skips_on_purpose():
    result = run_browser_tests(DESK_BROWSER_TESTS="skip")
    assert result.returncode == 0 and "browser tests opted out (DESK_BROWSER_TESTS=skip)" in result.stdout
