"""The deployment files: systemd units, the Docker image recipe, the Kubernetes
manifests. No image is built and no cluster is reached here: the files are
parsed and checked for what they promise, and against each other (paths,
ports, names). ``systemd-analyze verify`` runs when the machine has it.

PyYAML is not a dependency: the manifests are written in a small block-YAML
subset (mappings, sequences, ``|`` literals, plain/quoted scalars, JSON flow
collections) that :func:`parse_yaml` reads strictly, failing on anything else.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smppd.config import load_server_config, parse_server_config
from smppd.tap.server import check_endpoints

REPO = Path(__file__).resolve().parents[2]
ETC = REPO / "etc"
UNITS = {"smppd-server.service": "smpp-server", "smppd-client.service": "smpp-client"}
CONFIGS = {"smpp-server": "/etc/smppd/server.json", "smpp-client": "/etc/smppd/client.json"}


# -- systemd -----------------------------------------------------------------------------------

KNOWN_KEYS = {
    "Unit": {"Description", "Documentation", "After", "Wants", "Requires", "Before"},
    "Service": {
        "Type", "User", "Group", "WorkingDirectory", "ExecStart", "ExecReload", "KillSignal",
        "TimeoutStopSec", "SuccessExitStatus", "Restart", "RestartSec", "LimitNOFILE", "Environment",
        "StateDirectory", "LogsDirectory", "UMask", "NoNewPrivileges", "ProtectSystem", "ProtectHome",
        "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
        "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
        "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
        "LockPersonality", "ReadWritePaths", "CapabilityBoundingSet", "AmbientCapabilities",
        "SystemCallFilter", "SystemCallErrorNumber", "SystemCallArchitectures",
    },
    "Install": {"WantedBy"},
}  # fmt: skip

REQUIRED = {
    "Restart": "on-failure",
    "RestartSec": "2",
    "User": "smppd",
    "WorkingDirectory": "/var/lib/smppd",
    "KillSignal": "SIGTERM",
    "TimeoutStopSec": "30",
    "LimitNOFILE": "65536",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "ReadWritePaths": "/var/lib/smppd /var/log/smppd",
    "CapabilityBoundingSet": "",
    "SystemCallFilter": "@system-service",
    "StateDirectory": "smppd",
}


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """Sections of a unit file; a key given twice is a mistake here."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"line {number}: no continuation lines, please"
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        assert current is not None, f"line {number}: a key before any section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z]+", key.strip()), f"line {number}: not KEY=VALUE: {line!r}"
        assert key.strip() not in current, f"line {number}: {key} given twice"
        current[key.strip()] = value.strip()
    return sections


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_keys_are_known_and_required_ones_set(name):
    unit = parse_unit((ETC / "systemd" / name).read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    for section, keys in unit.items():
        assert set(keys) <= KNOWN_KEYS[section], f"[{section}] unknown: {set(keys) - KNOWN_KEYS[section]}"
    service = unit["Service"]
    for key, value in REQUIRED.items():
        assert service.get(key) == value, f"{key}={service.get(key)!r}, want {value!r}"
    assert set(service["SuccessExitStatus"].split()) & {"SIGTERM", "143"}
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", sorted(UNITS))
def test_exec_start_runs_the_plugin_in_the_foreground(name):
    plugin = UNITS[name]
    argv = shlex.split(parse_unit((ETC / "systemd" / name).read_text())["Service"]["ExecStart"])
    assert argv == [
        "/opt/smppd/venv/bin/twistd", "--nodaemon", "--pidfile=", plugin, "--config", CONFIGS[plugin],
    ]  # fmt: skip


def handles_sighup(tap_module: str) -> bool:
    return "SIGHUP" in (REPO / "smppd" / "tap" / f"{tap_module}.py").read_text()


def test_reload_is_sighup_where_the_plugin_handles_it():
    server = parse_unit((ETC / "systemd" / "smppd-server.service").read_text())["Service"]
    assert server["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert handles_sighup("server")
    # Without a handler, SIGHUP would end the process: no ExecReload then.
    client = parse_unit((ETC / "systemd" / "smppd-client.service").read_text())["Service"]
    assert ("ExecReload" in client) == handles_sighup("client")


def test_systemd_analyze_verify_finds_nothing_but_the_missing_install():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # the structural checks above still stand
        return
    paths = [str(ETC / "systemd" / name) for name in sorted(UNITS)]
    out = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60)
    complaints = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and "Command /opt/smppd/venv/bin/twistd is not executable" not in line
    ]
    assert complaints == []


# -- Docker ------------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        instruction, _, args = whole.strip().partition(" ")
        out.append((instruction.upper(), " ".join(args.split())))
    assert not pending, "a continuation at the end of the file"
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions((ETC / "docker" / "Dockerfile").read_text())
    starts = [i for i, (op, _) in enumerate(steps) if op == "FROM"]
    assert starts and all(steps[i][1].startswith("python:3.11-slim") for i in starts)
    return steps[starts[-1] :]


def test_the_image_runs_as_a_non_root_user():
    users = [args for op, args in final_stage() if op == "USER"]
    assert users, "no USER in the final stage"
    name = users[-1].split(":")[0]
    assert name not in ("root", "0")


def test_the_image_exposes_smpp_and_metrics_and_checks_health():
    stage = final_stage()
    exposed = {port for op, args in stage if op == "EXPOSE" for port in args.split()}
    assert {"2775", "9090"} <= exposed
    (health,) = [args for op, args in stage if op == "HEALTHCHECK"]
    assert "CMD" in health and "http://127.0.0.1:9090/healthz" in health


def test_the_image_starts_the_server_with_its_config():
    stage = final_stage()
    (cmd,) = [args for op, args in stage if op == "CMD"]
    argv = json.loads(cmd)
    assert argv == ["twistd", "--nodaemon", "--pidfile=", "smpp-server", "--config", "/etc/smppd/server.json"]
    copies = [args.split() for op, args in stage if op == "COPY"]
    assert ["etc/docker/server.json", "/etc/smppd/server.json"] in copies


def test_the_image_config_listens_on_every_interface():
    settings = load_server_config(str(ETC / "docker" / "server.json"))
    check_endpoints(settings)  # every endpoint string parses
    assert settings.listen == ("tcp:2775:interface=0.0.0.0",)
    assert settings.http == "tcp:9090:interface=0.0.0.0"
    assert settings.store.startswith("sqlite:/var/lib/smppd/")  # the image's volume
    assert settings.users_file == "/etc/smppd/users.json"


def test_dockerignore_keeps_what_the_build_needs():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".git" in patterns
    needed = ["setup.cfg", "pyproject.toml", "README.rst", "smppd/__init__.py", "smppd/pdu/codec.py",
              "twisted/plugins/smppd_plugins.py", "etc/docker/server.json"]  # fmt: skip
    for path in needed:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hits = [p for p in patterns for prefix in prefixes if fnmatch.fnmatch(prefix, p.lstrip("/"))]
        assert not hits, f"{path} is ignored by {hits}"


# -- Kubernetes ------------------------------------------------------------------------------

_KEY = re.compile(r"([A-Za-z0-9_.\-/]+):(?:\s+(.*))?$")


def _strip_comment(text: str) -> str:
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text: str) -> Any:
    if text[:1] in ('"', "[", "{"):
        return json.loads(text)  # double-quoted scalars and flow collections: JSON here
    if text[:1] == "'":
        assert text.endswith("'"), text
        return text[1:-1].replace("''", "'")
    assert text[:1] not in set("&*!%@`|>") and ": " not in text, f"outside the YAML subset: {text!r}"
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?(0|[1-9][0-9]*)", text):
        return int(text)
    assert not re.fullmatch(r"0[0-9]+", text), f"ambiguous octal: {text!r}"
    return text


def _block(items: list[tuple[int, str, str]], i: int, indent: int) -> tuple[Any, int]:
    if items[i][1] == "-" or items[i][1].startswith("- "):
        seq = []
        while i < len(items) and items[i][0] == indent and (items[i][1] == "-" or items[i][1].startswith("- ")):
            rest = items[i][1][1:].lstrip()
            if not rest:
                assert i + 1 < len(items) and items[i + 1][0] > indent
                value, i = _block(items, i + 1, items[i + 1][0])
            elif _KEY.fullmatch(rest):
                column = indent + len(items[i][1]) - len(rest)
                items[i] = (column, rest, items[i][2])
                value, i = _block(items, i, column)
            else:
                value, i = _scalar(rest), i + 1
            seq.append(value)
        return seq, i
    mapping: dict[str, Any] = {}
    while i < len(items) and items[i][0] == indent and not items[i][1].startswith("- "):
        match = _KEY.fullmatch(items[i][1])
        assert match, f"not a 'key: value' line: {items[i][2]!r}"
        key, value = match.group(1), match.group(2)
        assert key not in mapping, f"duplicate key {key!r}"
        i += 1
        if value in ("|", "|-"):
            lines = []
            while i < len(items) and items[i][0] > indent:
                lines.append(items[i][2])
                i += 1
            assert lines, f"an empty literal for {key!r}"
            cut = min(len(line) - len(line.lstrip(" ")) for line in lines)
            mapping[key] = "\n".join(line[cut:] for line in lines) + ("\n" if value == "|" else "")
        elif value:
            mapping[key] = _scalar(value)
        elif i < len(items) and (
            items[i][0] > indent or (items[i][0] == indent and items[i][1].startswith("- "))
        ):
            mapping[key], i = _block(items, i, items[i][0])
        else:
            mapping[key] = None
    return mapping, i


def parse_yaml(text: str) -> list[Any]:
    """The documents of a manifest in the block-YAML subset described above."""
    docs: list[list[tuple[int, str, str]]] = [[]]
    for line in text.splitlines():
        assert "\t" not in line, "tabs in YAML"
        if line.strip() == "---":
            docs.append([])
            continue
        content = _strip_comment(line)
        if content.strip():
            docs[-1].append((len(content) - len(content.lstrip(" ")), content.strip(), line))
    out = []
    for items in docs:
        if not items:
            continue
        value, end = _block(items, 0, items[0][0])
        assert end == len(items), f"cannot read from line {items[end][2]!r} (indentation?)"
        out.append(value)
    return out


def manifests() -> dict[str, dict[str, Any]]:
    """Every manifest in etc/kubernetes by kind (one of each kind here)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted((ETC / "kubernetes").glob("*.yaml")):
        for doc in parse_yaml(path.read_text()):
            assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), path.name
            assert doc["kind"] not in by_kind, f"two {doc['kind']}"
            by_kind[doc["kind"]] = doc
    return by_kind


def test_the_yaml_subset_reader_is_strict():
    assert parse_yaml("a:\n  - b: 1\n    c: [\"x\"]\n  - 'y'\nd: |\n  {\"k\": 2}\n") == [
        {"a": [{"b": 1, "c": ["x"]}, "y"], "d": '{"k": 2}\n'}
    ]
    for bad in ("a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n", "a: *ref\n", "a: 0440\n", "a:\tb\n"):
        with pytest.raises((AssertionError, json.JSONDecodeError)):
            parse_yaml(bad)


def test_every_manifest_is_there_and_named():
    kinds = manifests()
    assert {"Deployment", "Service", "ConfigMap", "PersistentVolumeClaim", "Kustomization"} <= set(kinds)
    for kind, doc in kinds.items():
        if kind != "Kustomization":
            assert doc["metadata"]["name"]
    listed = set(kinds["Kustomization"]["resources"])
    assert listed == {p.name for p in (ETC / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}


def _pod() -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_the_deployment_probes_health_and_readiness_on_the_metrics_port():
    _, container = _pod()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"smpp": 2775, "metrics": 9090}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == 9090
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]


def test_the_pod_runs_non_root_on_a_read_only_root_with_a_writable_store():
    pod, container = _pod()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] not in (None, 0)
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    data = mounts["/var/lib/smppd"]
    assert not data.get("readOnly")
    claim = volumes[data["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim == manifests()["PersistentVolumeClaim"]["metadata"]["name"]
    assert manifests()["Deployment"]["spec"]["replicas"] == 1  # SQLite on a ReadWriteOnce volume
    assert manifests()["Deployment"]["spec"]["strategy"]["type"] == "Recreate"


def test_the_configmap_is_a_valid_server_config_that_fits_the_pod():
    pod, container = _pod()
    config_map = manifests()["ConfigMap"]
    settings = parse_server_config(json.loads(config_map["data"]["server.json"]), "configmap.yaml")
    check_endpoints(settings)
    assert settings.listen == ("tcp:2775:interface=0.0.0.0",)
    assert settings.http == "tcp:9090:interface=0.0.0.0"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    # --config names the ConfigMap's file where it is mounted
    args = container["args"]
    config_volume = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[config_volume]["configMap"]["name"] == config_map["metadata"]["name"]
    assert args[:4] == ["twistd", "--nodaemon", "--pidfile=", "smpp-server"]
    assert args[args.index("--config") + 1] == f"{mounts[config_volume]}/server.json"
    # the store on the volume, the users file from the Secret (not the ConfigMap)
    assert settings.store.startswith(f"sqlite:{mounts['data']}/")
    users_volume = next(n for n, v in volumes.items() if "secret" in v)
    assert settings.users_file == f"{mounts[users_volume]}/users.json"
    assert "users.json" not in config_map["data"]
    assert "Secret" in (ETC / "kubernetes" / "README.rst").read_text()


def test_the_service_reaches_the_pod_ports():
    service = manifests()["Service"]
    pod_labels = manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    _, container = _pod()
    named = {p["name"] for p in container["ports"]}
    ports = {p["port"]: p for p in service["spec"]["ports"]}
    assert set(ports) == {2775, 9090}
    assert all(p["protocol"] == "TCP" and p["targetPort"] in named for p in ports.values())
