"""The README's screenshots of Locust's web UI: `python -m tests.loadtest.locust_ui_screenshots report/`.

A scale test as a user runs one: `make up` (make_up.py, the dev stack: pollers 5 → 10),
`locust -f loadtest/locustfile.py --stack-outputs …` with its web UI on 127.0.0.1 and no AWS_* variable, a
swarm started through `/swarm` (the scale shape, 40 users at its peak), and Debian's chromium, headless,
taking the Statistics tab while the backlog stands and the Pipeline tab once the pollers are back at
their floor. The modern UI selects a tab from its URL (`/?tab=stats`, `/?tab=pipeline`). Every wait is
bounded; everything started is stopped.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.loadtest.make_up import LOCUST, REPO, bare_environment, free_port, make_up

CHROMIUM = "/usr/bin/chromium"
PEAK_USERS = 40  # 40 users × 2 calls/s × 10 events: 800 msgs/s at the plateau, above what the stack stores
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--virtual-time-budget=4000",  # lets the page fetch /stats/requests before the picture
]


def screenshot(url: str, path: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={path}", url],
            check=True,
            capture_output=True,
            timeout=60,
        )
    print(f"wrote {path}", flush=True)


def pipeline_rows(web: str) -> list[dict]:
    with urllib.request.urlopen(f"{web}/stats/requests", timeout=5) as answer:
        report = json.loads(answer.read())
    return next((e["data"] for e in report.get("extended_stats", []) if e["key"] == "pipeline"), [])


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded
        if condition():
            return
        time.sleep(1)
    raise TimeoutError(f"no {what} within {timeout_s} s")


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="locust-ui-"))
    with make_up(work) as up:
        outputs = up.outputs
        web = f"http://127.0.0.1:{free_port()}"
        command = [
            LOCUST,
            *("-f", "loadtest/locustfile.py", "--stack-outputs", str(up.outputs_file)),
            *("--stage-seconds", "10", "--user-rate", "2"),
            *("--web-host", "127.0.0.1", "--web-port", web.rsplit(":", 1)[1]),
        ]
        with open(work / "locust.log", "wb") as log:
            locust = subprocess.Popen(command, cwd=REPO, env=bare_environment(work), stdout=log, stderr=log)
        try:
            wait_for(lambda: _answers(web), 30, "web UI")
            swarm = {"user_count": PEAK_USERS, "spawn_rate": 10, "host": outputs["queueUrl"]}
            form = urllib.parse.urlencode(swarm)
            urllib.request.urlopen(f"{web}/swarm", data=form.encode(), timeout=5).close()

            def backlog_of(row: dict) -> int:
                return int(row["backlog"].replace(",", "") or 0)

            wait_for(lambda: any(backlog_of(r) >= 1500 for r in pipeline_rows(web)[:1]), 120, "backlog")
            screenshot(f"{web}/?tab=stats", out_dir / "locust_ui_statistics.png")

            def back_at_the_floor() -> bool:
                rows = pipeline_rows(web)
                scaled_out = any(r["consumers"].startswith("10 ") for r in rows)
                return scaled_out and rows[0]["consumers"].startswith("5 ") and backlog_of(rows[0]) == 0

            wait_for(back_at_the_floor, 150, "pollers back at their floor")
            screenshot(f"{web}/?tab=pipeline", out_dir / "locust_ui_pipeline.png")
        finally:
            locust.send_signal(signal.SIGINT)
            try:
                locust.wait(15)
            except subprocess.TimeoutExpired:
                locust.kill()
                locust.wait()
    shutil.rmtree(work, ignore_errors=True)


def _answers(web: str) -> bool:
    try:
        urllib.request.urlopen(f"{web}/", timeout=2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "report"))
