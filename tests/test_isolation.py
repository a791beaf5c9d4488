"""Grades nobody can forge: the attacks in tests/attacks/, in every sandbox this machine has.

Each attack is graded as a learner's upload.py and must change nothing but its own verdict,
which must equal that of the same file without the attack (an app with no routes). Backends
missing here are skipped with the reason; CI installs bubblewrap, so both run there.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.api import grade
from grader.engine import isolation, runner, wire
from grader.engine.channel import Lines
from tests.conftest import ROOT, boot_ticks, running_with, wait_for, zombie_children

ATTACKS = Path(__file__).with_name("attacks")
BASE = (ATTACKS / "_base.py").read_text()
GRADER = ROOT / "grader"
BOUND_S = 90
SANDBOXES = [pytest.param(b, marks=pytest.mark.skipif(
    b not in isolation.available(), reason=f"the {b} sandbox does not work on this machine"))
    for b in ("bubblewrap", "landlock")]


def attack(name: str, **values: object) -> str:
    text = string.Template((ATTACKS / f"{name}.py").read_text()).safe_substitute(
        {k: str(v) for k, v in values.items()})
    return text + "\n" + BASE


def graded(tmp_path: Path, source: str, sandbox: str, **kwargs) -> dict:
    folder = tmp_path / f"learner-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    path = folder / "upload.py"
    path.write_text(source)
    started = time.monotonic()
    report = grade(path, isolation=sandbox, **kwargs)
    assert time.monotonic() - started < BOUND_S
    assert report["isolation"] == sandbox
    return report


def verdicts(report: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, dict]:
    """What the attacks' harmless module gets in each sandbox (no core check passes)."""
    found = {}
    for sandbox in isolation.available():
        report = graded(tmp_path_factory.mktemp("base"), BASE, sandbox)
        assert report["status"] == "failed", report
        found[sandbox] = report
    return found


@contextmanager
def listeners() -> Iterator[int]:
    """A TCP and a UDP socket on one port of 127.0.0.1; after the block, neither got anything."""
    tcp = socket.create_server(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    try:
        yield port
        tcp.setblocking(False)
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(65536)
    finally:
        tcp.close()
        udp.close()


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_patching_the_grader_changes_nothing(tmp_path, baseline, sandbox):
    report = graded(tmp_path, attack("patch_grader"), sandbox)
    assert verdicts(report) == verdicts(baseline[sandbox])
    assert report["status"] == baseline[sandbox]["status"]


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_forged_report_reaches_no_one(tmp_path, baseline, sandbox):
    """The app host holds no report channel: writing records to every descriptor it has only
    breaks its own wire to the examiner, so the grade is an error, never a pass."""
    report = graded(tmp_path, attack("forge_report"), sandbox)
    passed = {k for k, v in verdicts(report).items() if v == "passed"}
    assert passed <= {k for k, v in verdicts(baseline[sandbox]).items() if v == "passed"}
    assert report["status"] in ("error", "failed")


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_hidden_checks_other_learners_and_the_environment_stay_unread(tmp_path, monkeypatch, baseline, sandbox):
    marker = f"secret-{uuid.uuid4().hex}"
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "check_upload_secret.py").write_text(
        f"import pytest\n# {marker}\n@pytest.mark.check('upload.secret', level='stretch', title='t', hint='h')\n"
        "def check_secret(upload):\n    pass\n")
    other = tmp_path / "other" / "upload.py"
    other.parent.mkdir()
    other.write_text(f"# {marker}\n")
    monkeypatch.setenv("DOCCHAT_TEST_SECRET", marker)
    report = graded(tmp_path, attack("read_secrets", HIDDEN=hidden / "check_upload_secret.py", OTHER=other,
                                     MARKER=marker), sandbox, extra_checks=[hidden])
    assert marker not in json.dumps(report)
    assert report["error"] is None  # the module imported: it found nothing to show
    assert {k: v for k, v in verdicts(report).items() if k != "upload.secret"} == verdicts(baseline[sandbox])


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_other_submissions_and_the_grader_cannot_be_rewritten(tmp_path, baseline, sandbox):
    other = tmp_path / "other" / "upload.py"
    other.parent.mkdir()
    other.write_text("# another learner's work\n")
    before = (tree_hash(GRADER), other.read_bytes())
    report = graded(tmp_path, attack("tamper", OTHER=other, GRADER=GRADER), sandbox)
    assert (tree_hash(GRADER), other.read_bytes()) == before
    assert verdicts(report) == verdicts(baseline[sandbox])
    again = graded(tmp_path, BASE, sandbox)  # and a later grade is untouched too
    assert verdicts(again) == verdicts(baseline[sandbox])


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_nothing_reaches_the_network(tmp_path, monkeypatch, baseline, sandbox):
    marker = f"token-{uuid.uuid4().hex}"
    monkeypatch.setenv("GITHUB_TOKEN", marker)
    with listeners() as port:
        report = graded(tmp_path, attack("exfiltrate", PORT=port, MARKER=marker), sandbox)
    assert marker not in json.dumps(report)
    assert verdicts(report) == verdicts(baseline[sandbox])


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_killing_everything_in_sight_ends_only_its_own_grade(tmp_path, baseline, sandbox):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        pids = ", ".join(map(str, (os.getpid(), os.getppid(), bystander.pid)))
        report = graded(tmp_path, attack("kill_everyone", PIDS=pids), sandbox)
        assert bystander.poll() is None
        assert "T" not in Path(f"/proc/{bystander.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    finally:
        bystander.kill()
        bystander.wait()
    passed = {k for k, v in verdicts(report).items() if v == "passed"}
    assert passed <= {k for k, v in verdicts(baseline[sandbox]).items() if v == "passed"}
    assert verdicts(graded(tmp_path, BASE, sandbox)) == verdicts(baseline[sandbox])


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_shared_memory_counts_against_the_limit(tmp_path, sandbox):
    report = graded(tmp_path, attack("hog_memory"), sandbox, limits=runner.Limits(memory_mb=256))
    assert report["status"] == "error"
    assert "memory" in report["error"].lower() or "Cannot allocate" in report["error"]


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_filling_the_scratch_folder_stops_the_grade_at_its_limit(tmp_path, sandbox, monkeypatch):
    monkeypatch.setenv("DOCCHAT_SCRATCH", str(tmp_path))  # to look at it after
    report = graded(tmp_path, attack("fill_scratch"), sandbox, limits=runner.Limits(disk_mb=256))
    assert report["status"] == "error"
    assert report["error"] == ("your code wrote more than 256 MiB into its folder (the limit is "
                               "--disk-mb 256), so grading stopped")
    assert not list(tmp_path.glob("docchat-grade-*"))  # and the folder is gone


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_nothing_is_written_outside_scratch_or_left_running(tmp_path, baseline, sandbox):
    marker = f"daemon-{uuid.uuid4().hex}"
    outside = tmp_path / "outside"
    report = graded(tmp_path, attack("fill_disk", OUTSIDE=outside, MARKER=marker), sandbox)
    assert not outside.exists()
    assert not Path(f"/var/tmp/docchat-attack-{marker}").exists()
    assert not Path("~/docchat-attack").expanduser().exists()
    running = running_with(marker)
    assert running == []
    assert verdicts(report) == verdicts(baseline[sandbox])


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_grade_leaves_no_zombie_behind(tmp_path, sandbox):
    """The grader is a child subreaper: whatever of a grade outlives its parent comes back to it
    (the sandbox's init, which bwrap's outer process leaves behind; app hosts killed under their
    template), and must be reaped there, or a `--watch` session or a batch piles up zombies."""
    started = boot_ticks()  # zombies of processes started before are other tests'
    for _ in range(3):
        graded(tmp_path, BASE, sandbox)
    assert zombie_children(since=started) == []


@pytest.mark.skipif("bubblewrap" not in isolation.available(), reason="bubblewrap does not work on this machine")
def test_the_bubblewrap_probe_leaves_no_zombie_behind():
    """Whether bubblewrap works is asked by running it once: without an init process of its own,
    since bwrap does not wait for one, and a subreaper up the tree (a notebook's kernel that
    grades, this test's process) would inherit it as a zombie."""
    from grader.engine import sandbox

    sandbox.become_subreaper()
    started = boot_ticks()
    assert isolation._bubblewrap_works()
    time.sleep(0.3)  # bwrap's init, where there is one, outlives bwrap by a few milliseconds
    assert zombie_children(since=started) == []


# -- the grader's side of the wire never raises on what it is sent ------------------------


def _random_value(rng: random.Random, depth: int = 0):
    kinds = [None, True, rng.randint(-5, 10**6), rng.random(), "".join(rng.choices("ab{}\"id", k=5)),
             [], {}, {"id": "upload.accepts_pdf"}]
    if depth < 3:
        kinds += [[_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
                  {rng.choice(["event", "id", "status", "message", "checks", "duration_s", "error", "text"]):
                   _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}]
    return rng.choice(kinds)


def test_records_of_any_shape_are_judged_without_raising():
    rng = random.Random(7)
    events = ["plan", "start", "result", "fatal", "progress", "ready", "done", "other"]
    for _ in range(3000):
        attempt = runner.Attempt(plan=rng.choice([None, [{"id": "upload.accepts_pdf", "level": "core",
                                                           "title": "t", "hint": ""}]]))
        record = {"event": rng.choice(events)}
        record.update({k: _random_value(rng) for k in rng.sample(
            ["id", "status", "message", "duration_s", "checks", "error", "text", "isolation"], 3)})
        assert isinstance(runner.invalid(record, attempt), str)
    lines = Lines()
    for _ in range(500):
        for record in lines.feed(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))) + b"\n"):
            assert isinstance(record, dict)


def test_a_grading_process_that_sends_garbage_is_that_grades_error(tmp_path):
    """Records a broken examiner might send: the grade is an error, the grader does not raise."""
    rng = random.Random(11)
    target = tmp_path / "upload.py"
    target.write_text(BASE)
    for _ in range(6):
        records = [json.dumps({"event": "ready"}), json.dumps({"event": "plan", "checks": [
            {"id": "upload.accepts_pdf", "level": "core", "title": "t", "hint": ""}]})]
        records += [json.dumps({"event": rng.choice(["result", "start", "plan", "x"]), "id": rng.choice(
            ["upload.accepts_pdf", "nope", 3]), "status": rng.choice(["passed", "weird", None]),
            "message": "m", "duration_s": 0.1}) for _ in range(3)]
        report = runner.grade(target, "upload", launcher=GarbageLauncher("\n".join(records) + "\n"))
        assert report.status in ("error", "failed", "passed")
        if report.error:
            assert "examiner sent" in report.error or "ended" in report.error


class GarbageLauncher:
    """A launcher whose 'examiner' just writes the given bytes to the report channel."""

    def __init__(self, data: str, then: str = "") -> None:
        self.data, self.then = data, then

    def start(self, args, *, channel_fd, token, cwd, memory_mb, file_mb, extra_env):
        from grader.engine import sandbox

        code = f"import os; os.write({channel_fd}, {self.data.encode()!r}); {self.then}"
        return sandbox.spawn([sys.executable, "-c", code], token=token, cwd=cwd, pass_fds=(channel_fd,),
                             memory_mb=memory_mb, file_mb=file_mb, extra_env=extra_env)


@pytest.mark.parametrize(("ending", "blamed_on"), [("raise SystemExit(70)", "grader"),
                                                  ("os.kill(os.getpid(), 9)", "learner")])
def test_a_grading_process_that_ends_before_ready(tmp_path, ending, blamed_on):
    """The learner's code never runs in the examiner: one that exits by itself before the module's
    first import is through is the grader's failure (exit 3), not "does your module crash?".
    Killed by a signal, it may be the learner's doing (memory, a sandbox without signal scoping)."""
    target = tmp_path / "upload.py"
    target.write_text(BASE)
    launcher = GarbageLauncher("", then=ending)
    if blamed_on == "grader":
        with pytest.raises(runner.GraderBroke, match="before the module's first import"):
            runner.grade(target, "upload", launcher=launcher)
    else:
        report = runner.grade(target, "upload", launcher=launcher)
        assert report.status == "error" and "ended while importing upload.py (killed by SIGKILL)" in report.error


def test_malformed_frames_close_the_wire_and_nothing_else():
    rng = random.Random(5)
    malformed = [wire.HEAD.pack(1 << 30, 0), wire.HEAD.pack(2, 0) + b"[]",
                 wire.HEAD.pack(20, 3) + b'{"k":"q","i":1,"t":[]}' + b"abc",
                 wire.HEAD.pack(25, 0) + b'{"k":"q","i":1,"t":["x"]}',  # tail sizes that are not sizes
                 wire.HEAD.pack(25, 1) + b'{"k":"q","i":1,"t":[0.5]}' + b"a",
                 wire.HEAD.pack(200_000, 0) + b"[" * 200_000,  # nested past the JSON parser's depth
                 wire.HEAD.pack(38, 0) + b'{"k":"a","i":1,"v":{"o":1,"repr":"x"}}',  # an answer to no call
                 ]
    garbage = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))) for _ in range(35)]
    for frame in malformed + garbage:
        ours, theirs = socket.socketpair()
        closed = []
        peer = wire.Peer(ours, wire.Refs(lambda ref, meta: None), describe=lambda o: {}, home=lambda v: None,
                         handle=lambda op, args: None, dispatch=lambda job, op: job(), on_close=closed.append)
        peer.start()
        theirs.sendall(frame)
        theirs.close()
        wait_for(lambda: closed and peer.closed, 5, f"the wire to close on {frame[:60]!r}")
        with pytest.raises(wire.WireError):
            peer.call("anything", timeout=1)


# -- a cohort with attackers in it --------------------------------------------------------


@pytest.mark.skipif("bubblewrap" not in isolation.available() and "landlock" not in isolation.available(),
                    reason="no sandbox works on this machine")
def test_attackers_in_a_cohort_change_no_one_elses_grade(tmp_path, monkeypatch):
    marker = f"cohort-{uuid.uuid4().hex}"
    subs, hidden = tmp_path / "subs", tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "check_upload_hidden.py").write_text(
        f"# {marker}\nimport pytest\n\n@pytest.mark.check('upload.hidden_probe', level='stretch', "
        "title='hidden probe', hint='h')\ndef check_hidden_probe(upload):\n    pass\n")
    solution = (ROOT / "solutions" / "upload.py").read_text()
    honest = {"ada": f"# {marker}\n" + solution, "empty": BASE}
    ada = subs / "ada" / "drills" / "upload.py"
    attackers = {
        "eve_patch": attack("patch_grader"),
        "eve_read": attack("read_secrets", HIDDEN=hidden / "check_upload_hidden.py", OTHER=ada, MARKER=marker),
        "eve_tamper": attack("tamper", OTHER=ada, GRADER=GRADER),
        "eve_net": attack("exfiltrate", PORT="$PORT", MARKER=marker),
        "eve_fill": attack("fill_disk", OUTSIDE=tmp_path / "outside", MARKER=marker),
    }
    monkeypatch.setenv("GITHUB_TOKEN", marker)
    out = tmp_path / "out"
    with listeners() as port:
        for learner, source in {**honest, **attackers}.items():
            (subs / learner / "drills").mkdir(parents=True)
            (subs / learner / "drills" / "upload.py").write_text(source.replace("$PORT", str(port)))
        before = (tree_hash(subs), tree_hash(GRADER))
        done = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out),
                               "--drills", "upload", "--checks", str(hidden), "--jobs", "2"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    after = (tree_hash(subs), tree_hash(GRADER))
    written = tree_hash(out)
    time.sleep(3)
    assert (tree_hash(subs), tree_hash(GRADER), tree_hash(out)) == (*before, written) == (*after, written)
    assert marker not in done.stdout + done.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert marker.encode() not in path.read_bytes(), path
    found = json.loads((out / "results.json").read_text())
    assert found["ada"]["upload"]["status"] == "passed"
    empty = {c["id"]: c["status"] for c in found["empty"]["upload"]["checks"]}
    for learner in attackers:
        assert {c["id"]: c["status"] for c in found[learner]["upload"]["checks"]} == empty, learner
    assert not (tmp_path / "outside").exists()
    assert not running_with(marker)


@pytest.mark.skipif("bubblewrap" not in isolation.available(), reason="bubblewrap does not work on this machine")
def test_nothing_of_one_grade_reaches_the_next_in_its_lane(tmp_path):
    """A batch lane keeps its sandbox warm across grades: between two, all is ended and emptied."""
    marker = f"planted-{uuid.uuid4().hex}"
    subs = tmp_path / "subs"
    for learner, source in (("a_plant", attack("plant", MARKER=marker)), ("b_probe", attack("probe")),
                            ("c_empty", BASE)):
        (subs / learner / "drills").mkdir(parents=True)
        (subs / learner / "drills" / "upload.py").write_text(source)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out),
                           "--drills", "upload", "--jobs", "1", "--sandbox", "bubblewrap"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    found = json.loads((out / "results.json").read_text())
    assert found["b_probe"]["upload"]["error"] is None, found["b_probe"]["upload"]["error"]
    assert verdicts(found["b_probe"]["upload"]) == verdicts(found["c_empty"]["upload"])
    assert not running_with(marker)


def test_grades_in_threads_of_one_process_leave_each_other_alone():
    """A grade's clean-up ends what it orphaned, never another grade in flight (batch scripts,
    notebooks and bench/flaky.py grade from threads)."""
    from concurrent.futures import ThreadPoolExecutor

    # A short grade, then longer ones started while it runs: it ends while they are in flight.
    files = [ROOT / "solutions" / f"{drill}.py" for drill in ("errors", "background", "upload")]
    with ThreadPoolExecutor(len(files)) as pool:
        futures = []
        for path in files:
            futures.append(pool.submit(grade, path))
            time.sleep(0.5)
        reports = [f.result() for f in futures]
    assert [r["status"] for r in reports] == ["passed"] * len(files), [
        (c["id"], c["message"]) for r in reports for c in r["checks"] if c["status"] != "passed"]


def test_a_type_name_from_the_app_host_imports_nothing_here():
    """Remote.__class__ resolves the app's type names to the examiner's classes: only from
    modules already loaded, never by importing one the learner's code named."""
    import sys as system

    import fastapi  # noqa: F401 - loaded, as it always is in the examiner

    from grader.engine.remote import resolve_class

    assert resolve_class("fastapi.applications.FastAPI").__name__ == "FastAPI"
    assert "fastapi.cli" not in system.modules
    assert resolve_class("fastapi.cli.Anything") is None
    assert "fastapi.cli" not in system.modules
    assert resolve_class("os.system") is None


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_spawn_its_examiner_never_finished_does_not_cost_the_lane_its_template(tmp_path, sandbox):
    """An examiner killed between asking for an app host and reading its pid leaves that answer
    on the template's socket: the next reset reads past it, and the same template goes on."""
    template = isolation.Template(sandbox, tmp_path, memory_mb=512, file_mb=64)
    try:
        assert template.reset(seconds=isolation.WARM_S)
        for n in range(2):  # two abandoned spawns in a row
            work = tmp_path / f"abandoned-{n}"
            work.mkdir()
            ours, theirs = socket.socketpair()
            socket.send_fds(template.control, [str(work).encode()], [theirs.fileno()])
            theirs.close()
            ours.close()  # the examiner is gone: nobody reads the pid the template sends back
        assert template.reset()
        assert template.alive()
        work = tmp_path / "next"
        work.mkdir()
        host = template.spawn(work)
        try:
            assert host.pid > 0 and host.bypassed() == []
        finally:
            host.close()
    finally:
        template.close()


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_check_app_host_writes_only_in_its_own_checks_folder(tmp_path, baseline, sandbox):
    """Each import writes into every folder beside its check's; none lands (it would be the
    import's error), so the grade is that of the harmless module."""
    report = graded(tmp_path, attack("plant_checks", MARKER=uuid.uuid4().hex), sandbox)
    assert report["error"] is None, report["error"]
    assert verdicts(report) == verdicts(baseline[sandbox])
