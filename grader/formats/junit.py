"""JUnit XML: the test-report format CI systems read. One testcase per check.

`docchat-grade PATH --format junit` gives one testsuite (the drill); a batch run's junit.xml
has one testsuite per learner and drill, named `<learner>/<drill>`. A failed check is a
`<failure>`, a check that could not run (or a module that could not be graded) an `<error>`,
a skipped check `<skipped>`; the message and the hint are the element's text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.report import Report, as_report, hint_for

TAGS = {"failed": "failure", "error": "error", "skipped": "skipped"}  # check status -> element
COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}  # element -> attribute
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 cannot hold (a learner's control bytes) shown as \\xNN."""
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def suite(report: Report | dict, name: str, classname: str) -> ET.Element:
    """One report (or its document) as a <testsuite>."""
    report = as_report(report)
    element = ET.Element("testsuite", name=name, file=report.target)
    seconds = 0.0
    for check in report.checks:
        seconds += check.duration_s
        case = ET.SubElement(element, "testcase", classname=classname, name=check.id,
                             file=report.target, time=f"{check.duration_s:.3f}")
        if check.status == "passed":
            continue
        hint = f"\n\nhint: {hint_for(check)}" if hint_for(check) else ""
        text = xml_text(check.message + hint)
        first = xml_text(check.message.splitlines()[0] if check.message else check.title)
        child = ET.SubElement(case, TAGS[check.status], message=first)
        child.text = text
    _count(element, element.iter("testcase"))
    element.set("time", f"{seconds:.3f}")
    return element


def _count(element: ET.Element, cases) -> None:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        counts["tests"] += 1
        for outcome in case:
            counts[COUNTED[outcome.tag]] += 1
    for key, value in counts.items():
        element.set(key, str(value))


def document_xml(suites: list[ET.Element]) -> str:
    root = ET.Element("testsuites", name="docchat-grade")
    root.extend(suites)
    _count(root, root.iter("testcase"))
    root.set("time", f"{sum(float(s.get('time', 0)) for s in suites):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report) -> str:
    """The `--format junit` output."""
    return document_xml([suite(report, report.drill, report.drill)])
