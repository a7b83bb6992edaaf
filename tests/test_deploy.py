"""deploy/: cron, systemd, container and Kubernetes files parse and call real `nowcast` commands."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
import typer
import typer.main
import yaml
from conftest import REPO
from typer.testing import CliRunner

from nowcast.cli.app import CLICK_ERROR, app

DEPLOY = REPO / "deploy"
PYPROJECT = REPO / "pyproject.toml"
CLI = typer.main.get_command(app)
NOWCAST_PATH = re.compile(r"\S*/bin/nowcast")  # the console script in a virtual environment
OPERATOR_CHARS = set("();<>|&")
ENTRYPOINT = ["nowcast"]  # the image's, used by containers that give only args
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day month weekday
SHELLS = ("sh", "bash")
runner = CliRunner()


def strip_substitutions(text: str) -> str:
    """Replace each `$( ... )` (nested too) by a plain word: a value, not a nowcast option."""
    out, depth = [], 0
    index = 0
    while index < len(text):
        if text.startswith("$(", index):
            if depth == 0:
                out.append("VALUE")
            depth += 1
            index += 2
            continue
        char = text[index]
        if depth and char == "(":
            depth += 1
        elif depth and char == ")":
            depth -= 1
        elif not depth:
            out.append(char)
        index += 1
    return "".join(out)


def is_nowcast(argv: list[str], index: int) -> bool:
    """Whether argv[index] runs nowcast: a venv path, or the bare command word (or `-m nowcast`)."""
    token = argv[index]
    if NOWCAST_PATH.fullmatch(token):
        return True
    return token == "nowcast" and (index == 0 or argv[index - 1] == "-m")


def command_invocations(argv: list[str]) -> list[list[str]]:
    """The `nowcast` argument lists in one simple command, looking inside `sh -c` (after flock)."""
    for index, token in enumerate(argv):
        if Path(token).name in SHELLS and argv[index + 1 : index + 2] == ["-c"]:
            return shell_invocations(argv[index + 2])
        if is_nowcast(argv, index):
            return [argv[index + 1 :]]
    return []


def shell_invocations(script: str) -> list[list[str]]:
    """The `nowcast` argument lists in a shell script line (`&&`, `;`, pipes, redirections)."""
    lexer = shlex.shlex(strip_substitutions(script), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[list[str]] = []
    segment: list[str] = []
    for token in [*lexer, ";"]:
        if set(token) <= OPERATOR_CHARS:
            if token[0] in "<>" and segment and segment[-1].isdigit():
                segment.pop()  # the `2` of `2>&1`
            found += command_invocations(segment)
            segment = []
        else:
            segment.append(token)
    return found


def valid_cron_field(field: str, low: int, high: int) -> bool:
    """A numeric cron field: `*`, `n`, `a-b`, lists of those, each with an optional `/step`."""
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        numbers = [start, end] if dash else [start]
        if not all(n.isdigit() and low <= int(n) <= high for n in numbers):
            return False
        if dash and int(start) > int(end):
            return False
    return True


def valid_cron(schedule: str) -> bool:
    """Five valid time fields."""
    fields = schedule.split()
    return len(fields) == 5 and all(
        valid_cron_field(f, low, high) for f, (low, high) in zip(fields, CRON_RANGES, strict=True)
    )


def crontab() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The crontab's variables, and (schedule, command as the shell gets it) per job line."""
    variables, entries = {}, []
    for line in (DEPLOY / "cron" / "nowcast.crontab").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if assignment := re.fullmatch(r"([A-Za-z_]\w*)=(.*)", line):
            variables[assignment[1]] = assignment[2]
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not 5 time fields and a command: {line}"
        entries.append((" ".join(fields[:5]), fields[5]))
    return variables, entries


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (keys such as ExecStart may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(header[1], defaultdict(list))
            continue
        key, _, value = line.partition("=")
        current[key.strip()].append(value.strip())
    return sections


def exec_invocations(command: str) -> list[list[str]]:
    """The nowcast calls of one ExecStart (prefixes like `-` dropped, `%%` unescaped)."""
    return command_invocations(shlex.split(command.lstrip("-@:+!").replace("%%", "%")))


def containers(manifest: dict) -> list[dict]:
    """The containers of a Deployment, Job or CronJob (none for a Service)."""
    if manifest["kind"] == "Service":
        return []
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"]


def container_invocations(container: dict) -> list[list[str]]:
    """The nowcast calls of a container: its command and args, else the image entrypoint."""
    argv = [*container.get("command", ENTRYPOINT), *container.get("args", [])]
    return command_invocations(argv)


def manifests() -> list[tuple[str, dict]]:
    """Every Kubernetes document under deploy/kubernetes, with its file name."""
    found = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def readme_invocations() -> list[list[str]]:
    """The nowcast calls in the README's code blocks (continuation lines joined)."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", (DEPLOY / "README.md").read_text(), re.S)
    found = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            found += shell_invocations(line)
    return found


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (DEPLOY / "container" / "Dockerfile").read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def dockerfile_command() -> list[str]:
    """The image's default command line: ENTRYPOINT then CMD (exec form)."""
    lines = dockerfile_lines()
    forms = dict(line.split(" ", 1) for line in lines if line.startswith(("ENTRYPOINT", "CMD")))
    return [*json.loads(forms["ENTRYPOINT"]), *json.loads(forms["CMD"])]


def healthcheck_command() -> list[str]:
    """The image's health command (HEALTHCHECK ... CMD [...], exec form)."""
    (line,) = [line for line in dockerfile_lines() if line.startswith("HEALTHCHECK")]
    return json.loads(line.split(" CMD ", 1)[1])


def python_version(image: str) -> tuple[int, int]:
    """The Python version of an official `python:X.Y-...` image; fails for any other base."""
    match = re.fullmatch(r"python:(\d+)\.(\d+)[-\w.]*", image)
    assert match, f"base image {image!r} is not an official python:X.Y image"
    return int(match.group(1)), int(match.group(2))


def all_invocations() -> list[tuple[str, list[str]]]:
    """(where, argv) for every `nowcast` call in deploy/."""
    found = []
    for _, command in crontab()[1]:
        found += [("cron", argv) for argv in shell_invocations(command.replace("\\%", "%"))]
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        for command in unit_file(path)["Service"]["ExecStart"]:
            found += [(path.name, argv) for argv in exec_invocations(command)]
    for name, manifest in manifests():
        for container in containers(manifest):
            found += [(name, argv) for argv in container_invocations(container)]
    compose = yaml.safe_load((DEPLOY / "container" / "compose.yaml").read_text())
    for service in compose["services"].values():
        argv = [*ENTRYPOINT, *service["command"]]
        found += [("compose.yaml", argv) for argv in command_invocations(argv)]
    found += [("Dockerfile", argv) for argv in command_invocations(dockerfile_command())]
    found += [("HEALTHCHECK", argv) for argv in command_invocations(healthcheck_command())]
    found += [("README.md", argv) for argv in readme_invocations()]
    return found


INVOCATIONS = all_invocations()


def check_call(argv: list[str]) -> None:
    """`nowcast <argv>`: the subcommand's --help works, and the whole line parses.

    Parsing alone (no callback runs) rejects unknown options and options missing a value.
    """
    names = [index for index, token in enumerate(argv) if token in CLI.commands]
    assert names, f"no nowcast subcommand in {argv}"
    global_options, name, options = argv[: names[0]], argv[names[0]], argv[names[0] + 1 :]
    parent = CLI.make_context("nowcast", [*global_options, name])
    CLI.commands[name].make_context(name, list(options), parent=parent)
    shown = runner.invoke(app, [*global_options, name, "--help"])
    assert shown.exit_code == 0, shown.output


@pytest.mark.parametrize(
    "argv", [argv for _, argv in INVOCATIONS], ids=[f"{w}: {' '.join(a)}" for w, a in INVOCATIONS]
)
def test_each_call_is_a_real_command_with_real_options(argv: list[str]) -> None:
    check_call(argv)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--log-json", "ingest", "--bogus"], "No such option:? '?--bogus"),
        (["forecast", "--since"], "requires an argument"),
        (["--nope", "status"], "No such option:? '?--nope"),
    ],
)
def test_a_bad_call_is_caught(argv: list[str], problem: str) -> None:
    with pytest.raises(CLICK_ERROR, match=problem):  # click's UsageError, via typer
        check_call(argv)


def test_every_operational_command_is_deployed_somewhere() -> None:
    used = {argv[i] for _, argv in INVOCATIONS for i in range(len(argv)) if argv[i] in CLI.commands}
    assert used >= {"ingest", "forecast", "verify", "render", "schedule", "status", "train"}
    places = {where for where, _ in INVOCATIONS}
    assert {
        "cron",
        "compose.yaml",
        "Dockerfile",
        "HEALTHCHECK",
        "README.md",
        "nowcast-scheduler.service",
    } <= places


def test_call_extraction_sees_through_shells_and_substitutions() -> None:
    script = (
        "flock -n /tmp/x.lock sh -c '/opt/v/bin/nowcast -q render --date "
        "$(date -u -d @$(( $(date +%s) - 86400 )) +%F) && nowcast status' >> /var/log/x 2>&1"
    )
    assert shell_invocations(script) == [["-q", "render", "--date", "VALUE"], ["status"]]
    assert shell_invocations("nowcast ingest 2>&1 | tee /var/log/nowcast/x") == [["ingest"]]


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("*/10 * * * *", True),
        ("35 * * * *", True),
        ("0 6 * * 1-5", True),
        ("0,30 6-18/2 1 1 7", True),
        ("60 * * * *", False),
        ("*/0 * * * *", False),
        ("0 18-6 * * *", False),
        ("0 6 * *", False),
    ],
)
def test_cron_field_check(schedule: str, ok: bool) -> None:
    assert valid_cron(schedule) is ok


def test_crontab_lines_are_valid_cron_and_shell() -> None:
    variables, entries = crontab()
    assert variables.get("CRON_TZ") == "UTC"
    assert len(entries) == 3
    for schedule, command in entries:
        assert valid_cron(schedule), schedule
        # cron turns an unescaped % into a newline, which would cut the command short.
        assert not re.search(r"(?<!\\)%", command), command
        used = set(re.findall(r"\$\{?([A-Za-z_]\w*)", command))
        assert used <= set(variables), f"undefined in the crontab: {used - set(variables)}"
        script = command.replace("\\%", "%")
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0, script


def test_systemd_units_are_consistent() -> None:
    folder = DEPLOY / "systemd"
    for timer in folder.glob("*.timer"):
        unit = unit_file(timer)
        target = unit["Timer"]["Unit"][0]
        assert (folder / target).is_file(), f"{timer.name} starts missing {target}"
        assert unit["Timer"]["OnCalendar"] and unit["Install"]["WantedBy"] == ["timers.target"]
        assert unit_file(folder / target)["Service"]["Type"] == ["oneshot"]
    scheduler = unit_file(folder / "nowcast-scheduler.service")["Service"]
    assert scheduler["KillSignal"] == ["SIGTERM"] and int(scheduler["TimeoutStopSec"][0]) >= 60
    for service in folder.glob("*.service"):
        for command in unit_file(service)["Service"]["ExecStart"]:
            argv = shlex.split(command.lstrip("-@:+!"))
            if Path(argv[0]).name in SHELLS:
                assert subprocess.run(["sh", "-n", "-c", argv[-1]]).returncode == 0, command


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # The units name /opt/nowcast; point them at this checkout so the commands exist.
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/nowcast", str(REPO))
        (tmp_path / unit.name).write_text(text)
    assert (REPO / ".venv" / "bin" / "nowcast").is_file()
    units = sorted(str(path) for path in tmp_path.iterdir())
    done = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_kubernetes_manifests() -> None:
    kinds = defaultdict(list)
    for name, manifest in manifests():
        kinds[manifest["kind"]].append(manifest)
        for container in containers(manifest):
            assert container["image"].startswith("nowcast:"), name
            if container.get("command", [])[-1:] == ["-c"]:
                script = container["args"][0]
                assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0, script
            if container.get("command", [""])[0] != "dask":  # the backfill's Dask cluster
                assert container_invocations(container), f"{name}: no nowcast call"
    for cronjob in kinds["CronJob"]:
        assert valid_cron(cronjob["spec"]["schedule"]) and cronjob["spec"]["timeZone"] == "Etc/UTC"
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (scheduler,) = [d for d in kinds["Deployment"] if d["metadata"]["name"] == "nowcast-scheduler"]
    # One scheduler per archive: a rolling update would start the new pod beside the old one.
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    assert scheduler["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_backfill_job_writes_while_the_dask_cluster_decodes() -> None:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "backfill-dask.yaml").read_text())
    by_name = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    service = by_name["Service", "nowcast-dask-scheduler"]
    address = f"tcp://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    (scheduler,) = containers(by_name["Deployment", "nowcast-dask-scheduler"])
    assert scheduler["command"][:2] == ["dask", "scheduler"]
    (worker,) = containers(by_name["Deployment", "nowcast-dask-workers"])
    assert worker["command"][:3] == ["dask", "worker", address]
    assert worker["command"][worker["command"].index("--nthreads") + 1] == "1"
    (job,) = containers(by_name["Job", "nowcast-backfill"])
    (call,) = container_invocations(job)
    assert call[call.index("ingest") :][-2:] == ["--scheduler", address]
    assert {"--since", "--until"} <= set(call)
    check_call(call)
    mounts = {m["mountPath"] for m in worker["volumeMounts"]}
    assert mounts <= {m["mountPath"] for m in job["volumeMounts"]}  # same paths as the writer
    assert (
        by_name["Job", "nowcast-backfill"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    )


def test_dockerfile_runs_the_scheduler() -> None:
    assert dockerfile_command() == [*ENTRYPOINT, "schedule"]


def test_image_is_the_wheel_on_python_311_as_a_non_root_user() -> None:
    lines = dockerfile_lines()
    args = dict(line[4:].split("=", 1) for line in lines if line.startswith("ARG ") and "=" in line)
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(bases) == 2
    required = re.fullmatch(
        r">=(\d+)\.(\d+)", tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"]
    )
    floor = (int(required.group(1)), int(required.group(2)))
    compose = yaml.safe_load((DEPLOY / "container" / "compose.yaml").read_text())
    services = compose["services"].values()
    overrides = [s["build"].get("args", {}) for s in services if "build" in s]
    for base in bases:
        name = base.strip("${}")
        images = {args.get(name, base)} | {o[name] for o in overrides if name in o}
        assert all(python_version(image) >= floor for image in images), images
    assert not any("BASE" in o for o in overrides) and "nvidia/cuda" not in str(compose)
    copied = [
        line.split()[1:-1] for line in lines if line.startswith("COPY ") and "--from" not in line
    ]
    sources = {path for paths in copied for path in paths}
    assert {"pyproject.toml", "setup.py", "LICENSE", "models", "pipelines", "nowcast"} <= sources
    assert all((REPO / path).exists() for path in sources)
    installs = [line for line in lines if "pip install" in line and ".whl" in line]
    assert installs and "/tmp/dist/nowcast-*.whl" in installs[-1]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert healthcheck_command() == ["nowcast", "status"]
    config = tomllib.loads((DEPLOY / "container" / "nowcast.toml").read_text())
    assert "pipelines_dir" not in config  # the shipped pipeline files


def test_python_version_refuses_other_bases() -> None:
    assert python_version("python:3.12-slim-bookworm") == (3, 12)
    with pytest.raises(AssertionError, match="not an official"):
        python_version("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
