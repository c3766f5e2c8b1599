"""`deploy/k8s`, checked without a cluster: every manifest is valid against the
Kubernetes API schemas (the `kubernetes-validate` package, strict: an unknown field
fails), kustomization.yaml names exactly the files there, the objects refer to each
other coherently (selectors, ports, probes, ConfigMap and Secret), every CANDLEFLOW_*
variable is a setting with a valid value and secrets come only from the Secret, the
engine never has more members than the ticks topic has partitions, and the containers
run the image's own non-root user."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from candleflow.cli import COMMANDS
from candleflow.core.settings import SETTINGS_DOC, Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
#: The oldest Kubernetes still commonly run, and the newest the package knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
KNOWN = {name for name, _default, _meaning in SETTINGS_DOC}
#: Settings that are secrets: they may come only from the Secret.
SECRETS = {
    "CANDLEFLOW_DATABASE_URL",
    "CANDLEFLOW_DATABASE_READ_URL",
    "CANDLEFLOW_KAFKA_SASL_PASSWORD",
    "CANDLEFLOW_CRYPTOCOMPARE_API_KEY",
}
ROLES = {"candleflow-engine": "engine", "candleflow-web": "web"}

Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def kustomization() -> Doc:
    (doc,) = _load(K8S / "kustomization.yaml")
    return doc


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], Doc]:
    """Every object of the manifests by (kind, name)."""
    found: dict[tuple[str, str], Doc] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in _load(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{key} declared twice"
            found[key] = doc
    return found


def _workloads(objects: dict[tuple[str, str], Doc]) -> dict[str, Doc]:
    """Pod templates of the Deployments and the Job, by object name."""
    return {name: doc["spec"]["template"] for (kind, name), doc in objects.items() if kind in ("Deployment", "Job")}


def _containers(objects: dict[tuple[str, str], Doc]) -> list[tuple[str, Doc]]:
    return [(name, c) for name, pod in _workloads(objects).items() for c in pod["spec"]["containers"]]


def _environment(objects: dict[tuple[str, str], Doc], container: Doc) -> dict[str, str]:
    """A container's variables as it sees them: envFrom sources first, then env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= objects[("ConfigMap", source["configMapRef"]["name"])]["data"]
        else:
            env |= objects[("Secret", source["secretRef"]["name"])]["stringData"]
    env |= {item["name"]: item["value"] for item in container.get("env", [])}
    return env


def test_kustomization_names_every_manifest(kustomization: Doc) -> None:
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    assert [image["name"] for image in kustomization["images"]] == ["candleflow"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_against_the_api_schemas(objects: dict[tuple[str, str], Doc], version: str) -> None:
    for key, doc in objects.items():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key} is not valid for Kubernetes {version}: {exc.message} at {list(exc.path)}")


def test_the_schema_check_catches_a_misspelt_field(objects: dict[tuple[str, str], Doc]) -> None:
    broken = copy.deepcopy(objects[("Deployment", "candleflow-web")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_every_candleflow_variable_is_a_valid_setting(objects: dict[tuple[str, str], Doc]) -> None:
    for name, container in _containers(objects):
        env = _environment(objects, container)
        unknown = {v for v in env if v.startswith("CANDLEFLOW_")} - KNOWN
        assert not unknown, f"{name} sets variables candleflow does not read: {sorted(unknown)}"
        Settings.from_env(env)  # raises ConfigError naming a malformed value


def test_secrets_come_only_from_the_secret(objects: dict[tuple[str, str], Doc]) -> None:
    (secret,) = [doc for (kind, _name), doc in objects.items() if kind == "Secret"]
    assert set(secret["stringData"]) == SECRETS
    for (kind, name), doc in objects.items():
        if kind == "ConfigMap":
            assert not SECRETS & set(doc["data"]), f"secrets in the ConfigMap {name}"
    for name, container in _containers(objects):
        assert not SECRETS & {item["name"] for item in container.get("env", [])}, f"{name}: a secret in plain env"
        sources = [s.get("configMapRef", s.get("secretRef"))["name"] for s in container["envFrom"]]
        assert sources == ["candleflow-settings", "candleflow-secrets"], name
    for name in ("CANDLEFLOW_DATABASE_URL", "CANDLEFLOW_DATABASE_READ_URL"):
        url = secret["stringData"][name]
        assert "sslmode=verify-full" in url and "sslrootcert=/etc/candleflow/ca/" in url, name


def test_each_process_has_its_role(objects: dict[tuple[str, str], Doc]) -> None:
    for name, container in _containers(objects):
        role = _environment(objects, container).get("CANDLEFLOW_ROLE")
        assert role == ROLES.get(name), f"{name} runs role {role}"


def test_the_engine_never_outnumbers_the_partitions(objects: dict[tuple[str, str], Doc]) -> None:
    engine = objects[("Deployment", "candleflow-engine")]
    (container,) = engine["spec"]["template"]["spec"]["containers"]
    partitions = Settings.from_env(_environment(objects, container)).ticks_partitions
    surge = engine["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert isinstance(surge, int), "a percentage surge cannot be checked against the partitions"
    assert engine["spec"]["replicas"] >= 1 and engine["spec"]["replicas"] + surge <= partitions


def test_disruption_budgets_and_the_service_select_their_pods(objects: dict[tuple[str, str], Doc]) -> None:
    pods = {name: pod["metadata"]["labels"] for name, pod in _workloads(objects).items()}
    for (kind, name), doc in objects.items():
        if kind == "Deployment":
            assert doc["spec"]["selector"]["matchLabels"].items() <= pods[name].items(), name
    for name in ("candleflow-engine", "candleflow-web"):
        budget = objects[("PodDisruptionBudget", name)]["spec"]
        selected = [p for p, labels in pods.items() if budget["selector"]["matchLabels"].items() <= labels.items()]
        assert selected == [name]
        assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable", 0) >= 1
    service = objects[("Service", "candleflow-web")]["spec"]
    assert [p for p, labels in pods.items() if service["selector"].items() <= labels.items()] == ["candleflow-web"]
    (web,) = objects[("Deployment", "candleflow-web")]["spec"]["template"]["spec"]["containers"]
    assert {p["targetPort"] for p in service["ports"]} <= {p["name"] for p in web["ports"]}


def test_probes_ask_the_web_server_of_each_long_running_process(objects: dict[tuple[str, str], Doc]) -> None:
    for name in ROLES:
        (container,) = objects[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
        port = Settings.from_env(_environment(objects, container)).web_port
        assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http", port)], name
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}, name
        assert container["startupProbe"]["httpGet"]["path"] == "/livez", name


def test_commands_are_candleflow_commands(objects: dict[tuple[str, str], Doc]) -> None:
    from candleflow.sources.cli import ingest

    commands = {name: container["command"] for name, container in _containers(objects)}
    assert commands["candleflow-migrate"] == ["candleflow", "db", "migrate"]
    assert commands["candleflow-engine"] == commands["candleflow-web"] == ["candleflow", "worker"]
    for name, argv in commands.items():
        assert argv[0] == "candleflow" and argv[1] in COMMANDS, f"{name}: {shlex.join(argv)}"
        if argv[1] == "ingest":
            assert argv[2] in ingest.commands, f"{name}: {shlex.join(argv)}"
    ingest_spec = objects[("Deployment", "candleflow-ingest")]["spec"]
    assert ingest_spec["replicas"] == 1 and ingest_spec["strategy"]["type"] == "Recreate", "one feed, never two"


def test_containers_run_the_images_non_root_user(objects: dict[tuple[str, str], Doc]) -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    match = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)
    assert match, "the image's USER must be numeric for runAsNonRoot to check it"
    uid, gid = int(match.group(1)), int(match.group(2))
    for name, pod in _workloads(objects).items():
        context = pod["spec"]["securityContext"]
        assert (context["runAsNonRoot"], context["runAsUser"], context["runAsGroup"]) == (True, uid, gid), name
        for container in pod["spec"]["containers"]:
            assert container["image"] == "candleflow", name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"
            if container["command"][1] == "worker":
                assert "/home/candleflow" in mounts, f"{name}: the worker writes its data directory there"
