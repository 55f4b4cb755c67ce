"""docker-compose.yml: every service the issue names, each with a health check, a restart
policy and a memory limit; every command, option, port and mounted file is real (each
``workbench``/``dask``/``make`` command is checked against its own ``--help`` or the
Makefile); no secret in the file; and ``docker compose config -q`` when the compose
plugin is installed (the YAML checks are the test where it is not)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent
SERVICES = {  # service -> the port it serves (contract of issue 14)
    "app": 8501,
    "api": 8000,
    "paper-worker": 9101,
    "jobs-worker": 9102,
    "dask-scheduler": 8786,
    "dask-worker": None,
    "postgres": 5432,
    "prometheus": 9090,
    "grafana": 3000,
}
ONE_SHOT = {"setup"}


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


@cache
def help_text(*command: str) -> str:
    done = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(command)} --help failed: {done.stderr}"
    return done.stdout


def test_every_required_service_is_there() -> None:
    assert set(SERVICES) <= set(services()), sorted(set(SERVICES) - set(services()))
    assert services()["dask-worker"]["deploy"]["replicas"] == 2
    assert services()["postgres"]["image"].startswith("postgres:16")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_health_check_restart_policy_and_memory_limit(name: str) -> None:
    service = services()[name]
    check = service.get("healthcheck", {})
    assert check.get("test") and not check.get("disable"), f"{name}: no health check"
    assert {"interval", "timeout", "retries"} <= set(check), name
    assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
    limit = service.get("mem_limit") or service["deploy"]["resources"]["limits"]["memory"]
    assert re.fullmatch(r"\d+(m|g|k)", str(limit)), f"{name}: memory limit {limit!r}"
    test = check["test"]
    if test[:3] == ["CMD", "python", "-c"]:  # the one-liners: valid Python, on our port
        ast.parse(test[3])
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", test[3]).group(1))  # type: ignore[union-attr]
        assert port == SERVICES[name] or str(port) in " ".join(service["command"]), name
    elif name == "postgres":
        assert "pg_isready" in test[1]


def test_the_setup_service_runs_once_and_the_others_wait_for_it() -> None:
    setup = services()["setup"]
    assert setup["command"] == ["make", "setup"] and setup["restart"] == "no"
    for name, service in services().items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services(), f"{name} depends on unknown {target}"
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert rule["condition"] == expected, (name, target)
    assert "setup" in services()["api"]["depends_on"]
    assert services()["setup"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def _commands() -> list[tuple[str, list[str]]]:
    return [(n, s["command"]) for n, s in services().items() if isinstance(s.get("command"), list)]


def _options(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in argv if a.startswith("--")]


def check_workbench_command(argv: list[str], where: str) -> None:
    """``workbench WORDS... --options`` names a real subcommand and its real options."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    sub: list[str] = []
    for word in words:  # the subcommand path: words the parent's help lists
        parent = help_text(str(BIN / "workbench"), *sub)
        if re.search(rf"^\s+{re.escape(word)}\s", parent, re.M):
            sub.append(word)
        else:
            break
    assert sub, f"{where}: {argv}"
    text = help_text(str(BIN / "workbench"), *sub)
    for option in _options(argv):
        assert re.search(rf"{re.escape(option)}\b", text), (
            f"{where}: `workbench {' '.join(sub)}` has no {option}"
        )


def test_every_workbench_command_and_option_exists() -> None:
    seen = 0
    for name, argv in _commands():
        if argv[0] == "workbench":
            check_workbench_command(argv, name)
            seen += 1
    assert seen >= 2  # paper run, jobs worker (the app and the API run make targets)


def test_the_deploy_guide_names_real_commands_and_targets() -> None:
    """Every ``workbench ...`` line and ``make`` target in docs/deploy.md's code exists."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    code = "\n".join(re.findall(r"```[\w-]*\n(.*?)```", guide, re.S))
    code += "\n" + "\n".join(re.findall(r"`([^`\n]+)`", guide))
    makefile = (ROOT / "Makefile").read_text()
    checked = 0
    for line in code.splitlines():
        line = line.split("#")[0].strip().rstrip("&").strip()
        match = re.search(r"(?:^|[\s/])workbench ((?:[a-z][\w-]*)(?: [^|;&]*)?)$", line)
        if match and not line.startswith(("cp ", "echo ")):
            argv = ["workbench", *match.group(1).split()]
            check_workbench_command([a for a in argv if "'" not in a], "docs/deploy.md")
            checked += 1
        for target in re.findall(r"\bmake (\w+)", line):
            assert re.search(rf"^{target}:", makefile, re.M), f"docs/deploy.md: make {target}"
    assert checked >= 10, checked


def test_every_dask_command_and_option_exists() -> None:
    for name, argv in _commands():
        if argv[0] == "dask":
            text = help_text(str(BIN / "dask"), argv[1])
            for option in _options(argv):
                assert option in text, f"{name}: `dask {argv[1]}` has no {option}"
    worker = services()["dask-worker"]["command"]
    assert worker[2] == "tcp://dask-scheduler:8786"
    assert "--port" in (s := services()["dask-scheduler"]["command"]) and "8786" in s
    env = compose()["x-workbench"]["environment"]
    assert env["WORKBENCH_DASK_SCHEDULER"] == "tcp://dask-scheduler:8786"
    from core.cluster._client import SCHEDULER_ENV

    assert SCHEDULER_ENV == "WORKBENCH_DASK_SCHEDULER"


def test_every_make_target_and_variable_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for name, argv in _commands():
        if argv[0] != "make":
            continue
        for arg in argv[1:]:
            if "=" in arg:
                var = arg.split("=", 1)[0]
                assert f"$({var})" in makefile, f"{name}: the Makefile does not use {var}"
            else:
                assert re.search(rf"^{arg}:", makefile, re.M), f"{name}: no `make {arg}`"
    run = services()["app"]["command"]
    assert "HOST=0.0.0.0" in run and f"PORT={SERVICES['app']}" in run
    # The variables reach the commands: `make api` serves on $(HOST):$(API_PORT).
    assert "--host $(HOST) --port $(API_PORT)" in makefile


def test_ports_match_the_commands() -> None:
    published = {n: s.get("ports", []) for n, s in services().items()}
    for name in ("app", "api", "prometheus", "grafana"):
        port = SERVICES[name]
        assert f"{port}:{port}" in published[name], name
    for name in ("paper-worker", "jobs-worker"):
        port = str(SERVICES[name])
        command = services()[name]["command"]
        assert command[command.index("--metrics-port") + 1] == port
        assert command[command.index("--metrics-host") + 1] == "0.0.0.0"  # Prometheus scrapes it
        assert port in services()[name]["expose"]
    assert services()["api"]["command"] == ["make", "api", "HOST=0.0.0.0", "API_PORT=8000"]


def test_mounted_files_exist_and_prometheus_scrapes_every_exporter() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
    }
    for exporter in ("api:8000", "paper-worker:9101", "jobs-worker:9102"):
        assert exporter in targets, f"prometheus.yml does not scrape {exporter}: {targets}"
    # Grafana reads the dashboards where the provisioning file says they are mounted.
    mounts = dict(v.split(":")[:2] for v in services()["grafana"]["volumes"])
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/workbench.yml").read_text()
    )["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert list((ROOT / "deploy/grafana/dashboards").glob("*.json"))


def test_no_secret_in_the_file() -> None:
    text = COMPOSE.read_text()
    assert not re.search(
        r"(PASSWORD|SECRET|TOKEN|API_KEY)\w*\s*:\s*\S", text.replace("__FILE:", "")
    )
    assert "postgresql+" not in text, "the database URL (with its password) is in the env file"
    anchor = compose()["x-workbench"]
    assert anchor["env_file"] == ["deploy/workbench.env"]
    assert anchor["secrets"][0]["target"] == "/app/.streamlit/secrets.toml"
    ignored = (ROOT / "deploy/.gitignore").read_text().split()
    assert "workbench.env" in ignored and "secrets/" in ignored
    for secret in compose()["secrets"].values():
        assert secret["file"].startswith("deploy/secrets/"), secret
    # The example env file names the database the postgres service creates.
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy/workbench.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    url = example["WORKBENCH_DB_URL"]
    user, password = example["POSTGRES_USER"], example["POSTGRES_PASSWORD"]
    assert url == f"postgresql+psycopg://{user}:{password}@postgres:5432/{example['POSTGRES_DB']}"
    from core.config import WorkbenchSettings

    assert WorkbenchSettings(db_url=url).database_url == url  # a URL the settings accept


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return done.returncode == 0


def test_docker_compose_config_when_the_plugin_is_installed(tmp_path: Path) -> None:
    """``docker compose config -q`` on a copy with the example env file and dummy secrets
    (the plugin validates the whole schema). Without the plugin the YAML checks above
    are the test, so this one has nothing more to check."""
    if not _compose_plugin():
        return
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("secrets"))
    shutil.copy(tmp_path / "deploy/workbench.env.example", tmp_path / "deploy/workbench.env")
    (tmp_path / "deploy/secrets").mkdir()
    for secret in compose()["secrets"].values():
        (tmp_path / secret["file"]).write_text("dummy")
    done = subprocess.run(
        ["docker", "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
