"""The fault suite's figures from its JUnit XML: faults tried, kills survived, frames lost.

`make faults` runs the fault tests with `--junitxml` and then this script. Every test case
injects at least one fault (a slow or hostile server, a hostile file name, a SIGKILL at an
append step, a signal during a hung fetch); a kill test passes only when a rerun finds every
frame archived once and recorded in the ledger, so frames lost is 0 exactly when they all pass.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

KILL_FILES = ("test_faults_kills", "test_ingest_faults")


def outcome(case: ET.Element) -> str:
    """passed, failed or skipped for one <testcase>."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def summarise(report: Path) -> tuple[list[str], bool]:
    """The summary lines and whether every fault test passed."""
    cases = list(ET.parse(report).getroot().iter("testcase"))
    by_file: dict[str, Counter[str]] = {}
    kills = Counter[str]()
    for case in cases:
        module = case.get("classname", "").rsplit(".", 1)[-1]
        result = outcome(case)
        by_file.setdefault(module, Counter())[result] += 1
        if module in KILL_FILES and ("kill" in case.get("name", "")):
            kills[result] += 1
    total = Counter[str]()
    for counts in by_file.values():
        total.update(counts)
    seconds = sum(float(case.get("time", 0)) for case in cases)
    lost = "0" if kills["failed"] == 0 else f"unknown ({kills['failed']} kill tests failed)"
    lines = [f"  {name}: {c['passed']} passed, {c['failed']} failed" for name, c in by_file.items()]
    lines += [
        f"faults tried: {len(cases)} ({total['passed']} passed, {total['failed']} failed,"
        f" {total['skipped']} skipped) in {seconds:.0f} s",
        f"kills survived: {kills['passed']} of {kills['passed'] + kills['failed']}",
        f"frames lost: {lost}",
    ]
    return lines, total["failed"] == 0 and len(cases) > 0


def main() -> int:
    """Print the figures; exit 1 when the report is missing or a fault test failed."""
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/faults.xml")
    if not report.is_file():
        print(f"error: no fault-suite report at {report}; run `make faults`", file=sys.stderr)
        return 1
    lines, ok = summarise(report)
    print("fault suite")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
