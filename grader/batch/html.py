"""cohort.html: the cohort report to look at, one self-contained file (no script, server or CDN).

Three parts: every check's pass rate as a bar, most-failed first, core and stretch apart; the
distribution of each drill's scores among the learners who handed it in; the learners whose
file could not be graded, and why. The numbers are the ones cohort.md gives, and each bar
carries them as data attributes too.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from grader.batch.cohort import UNRUN, Cohort, is_hidden, tally

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1,h2,h3{line-height:1.2}table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}
td,th{padding:.2rem .5rem;text-align:left;vertical-align:middle;border-bottom:1px solid #eee}
.bar{background:#eee;width:16rem;height:.9rem;position:relative}
.fill{background:#2b7a3d;height:100%}.low .fill{background:#b3261e}.mid .fill{background:#c77c02}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}code{font-size:90%}.muted{color:#666}
"""


def _bar(fraction: float) -> str:
    kind = "low" if fraction < 0.5 else "mid" if fraction < 0.8 else "high"
    return f'<div class="bar {kind}"><div class="fill" style="width:{fraction * 100:.1f}%"></div></div>'


def _checks(cohort: Cohort, level: str) -> list[str]:
    rows = [t for t in tally(cohort) if t.level == level]
    if not rows:
        return []
    lines = [f"<h3>{level} checks</h3>", "<table>",
             "<tr><th>check</th><th>pass rate</th><th></th><th>passed</th><th>not graded</th></tr>"]
    for t in rows:
        mark = " †" if is_hidden(t.id) else ""
        lines.append(
            f'<tr class="check" data-check="{escape(t.id)}" data-level="{level}" '
            f'data-passed="{t.passed}" data-graded="{t.graded}">'
            f'<td><code>{escape(t.id)}</code>{mark}<br>'
            f'<span class="muted">{escape(t.title)}</span></td>'
            f'<td>{_bar(t.rate)}</td><td class="num">{t.rate:.0%}</td>'
            f'<td class="num">{t.passed}/{t.graded}</td><td class="num">{t.errors + t.missing}</td></tr>')
    return [*lines, "</table>"]


def _distribution(cohort: Cohort, drill: str) -> list[str]:
    reports = [cohort.reports[learner][drill] for learner in cohort.learners]
    handed = [r for r in reports if r.status not in UNRUN]
    most = reports[0].max_score if reports else len(cohort.plans[drill])
    counts = Counter(r.score for r in handed)
    lines = [f'<h3>{escape(drill)}</h3><p class="muted">{len(handed)} of {len(reports)} learners handed it in; '
             "checks passed:</p>", f'<table class="scores" data-drill="{escape(drill)}">']
    for score in range(most, -1, -1):
        n = counts.get(score, 0)
        lines.append(f'<tr class="score" data-score="{score}" data-learners="{n}"><td class="num">{score}/{most}</td>'
                     f'<td>{_bar(n / len(handed) if handed else 0.0)}</td><td class="num">{n}</td></tr>')
    return [*lines, "</table>"]


def _ungraded(cohort: Cohort) -> list[str]:
    rows = [(learner, r) for learner in cohort.learners for r in cohort.of(learner) if r.status == "error"]
    if not rows:
        return ["<p>Every file handed in could be graded.</p>"]
    lines = ['<table id="ungraded"><tr><th>learner</th><th>drill</th><th>why</th></tr>']
    lines += [f'<tr class="ungraded" data-learner="{escape(learner)}" data-drill="{escape(r.drill)}">'
              f"<td>{escape(learner)}</td><td>{escape(r.drill)}</td>"
              f"<td>{escape((r.error or 'a check could not run').splitlines()[0])}</td></tr>"
              for learner, r in rows]
    return [*lines, "</table>"]


def cohort_html(cohort: Cohort) -> str:
    body = [f"<h1>Cohort report</h1><p>{len(cohort.learners)} learners · drills: {escape(', '.join(cohort.drills))}."
            " Pass rates count the learners whose file could be graded (not missing, not the untouched"
            " skeleton, not an error); hidden checks are marked †.</p>",
            "<h2>Checks, most-failed first</h2>", *_checks(cohort, "core"), *_checks(cohort, "stretch"),
            "<h2>Scores per drill</h2>", *(line for d in cohort.drills for line in _distribution(cohort, d)),
            "<h2>Could not be graded</h2>", *_ungraded(cohort)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cohort report</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
