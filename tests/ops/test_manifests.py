"""The deployment files in deploy/: Kubernetes manifests, compose file, Containerfile.

Nothing here starts a container (the development machines have no container engine). What is
checked:

- every Kubernetes document validates, in strict mode (unknown fields are errors), against
  the OpenAPI-derived JSON schemas of several Kubernetes versions that `kubernetes-validate`
  ships inside its wheel (offline; no cluster, no network);
- the manifests fit together: selectors, Service and Ingress names and ports, HPA targets,
  ConfigMap / Secret / PVC references, probe paths that exist in the app, and a migration Job;
- the commands the manifests and the compose file run are valid `federatie` command lines,
  and the ConfigMap's settings load with Federatie's own configuration loader;
- compose.yaml parses and has its services in the right order (migrate before web/worker).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from federatie.cli import _parser
from federatie.config import load_config

# Test extras: kubernetes-validate (which brings PyYAML).
kubernetes_validate = pytest.importorskip("kubernetes_validate")
yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
# The oldest Kubernetes still common in government clusters, a middle one, and the newest
# whose schemas the installed kubernetes-validate carries.
VERSIONS = ("1.29.0", "1.33.0", kubernetes_validate.latest_version())


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    return found


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in by_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return result


def test_the_expected_kinds_are_there() -> None:
    kinds = {doc["kind"] for _, doc in documents()}
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "Job",
        "PersistentVolumeClaim",
    } <= kinds
    assert {d["metadata"]["name"] for d in by_kind("Deployment")} == {
        "federatie-web",
        "federatie-worker",
    }


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "name_and_doc", documents(), ids=lambda d: f"{d[0]}:{d[1]['kind']}/{d[1]['metadata']['name']}"
)
def test_manifest_validates_against_the_kubernetes_schema(
    version: str, name_and_doc: tuple[str, dict[str, Any]]
) -> None:
    _, doc = name_and_doc
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_catches_mistakes() -> None:
    """The validation above would fail on a wrong manifest (strict: unknown fields too)."""
    web = one("Deployment", "federatie-web")
    broken = yaml.safe_load(yaml.safe_dump(web))
    containers(broken)[0]["readinessProbe"]["httpGet"]["port"] = {"not": "a port"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    typo = yaml.safe_load(yaml.safe_dump(web))
    typo["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSIONS[-1], strict=True)


def test_workloads_fit_together() -> None:
    configmaps = {d["metadata"]["name"] for d in by_kind("ConfigMap")}
    secrets = {d["metadata"]["name"] for d in by_kind("Secret")}
    claims = {d["metadata"]["name"] for d in by_kind("PersistentVolumeClaim")}
    workloads = [*by_kind("Deployment"), *by_kind("Job")]
    images = set()
    for workload in workloads:
        pod = workload["spec"]["template"]
        if workload["kind"] == "Deployment":
            selector = workload["spec"]["selector"]["matchLabels"]
            assert selector.items() <= pod["metadata"]["labels"].items()
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        for volume in pod["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in containers(workload):
            images.add(container["image"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            assert "cpu" in container["resources"]["requests"]  # the HPA needs it
    assert len(images) == 1, images  # one image, every role by its command


def test_web_probes_service_and_ingress() -> None:
    from federatie.web.health import healthz, readyz  # the probe paths exist in the app

    assert healthz and readyz
    web = one("Deployment", "federatie-web")
    (container,) = containers(web)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["port"] in port_names
    args = _parser().parse_args(container["args"])
    assert args.command == "serve" and args.bind == "0.0.0.0"
    assert port_names["http"] == args.port

    service = one("Service", "federatie-web")
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in port_names

    ingress = one("Ingress", "federatie")
    configmap = one("ConfigMap", "federatie")
    domain = configmap["data"]["FEDERATIE_DOMAIN"]
    assert ingress["spec"]["tls"][0]["hosts"] == [domain]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == domain
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "federatie-web"
    assert backend["port"]["name"] == service_port["name"]


def test_autoscalers_target_the_deployments() -> None:
    deployments = {d["metadata"]["name"] for d in by_kind("Deployment")}
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind("HorizontalPodAutoscaler")}
    assert targets == deployments


def test_the_migration_job_and_the_worker_run_real_commands() -> None:
    (job,) = by_kind("Job")
    (container,) = containers(job)
    assert _parser().parse_args(container["args"]).command == "migrate"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    worker = one("Deployment", "federatie-worker")
    args = _parser().parse_args(containers(worker)[0]["args"])
    assert args.command == "worker" and args.concurrency >= 1


def test_the_configmap_is_a_valid_federatie_configuration() -> None:
    data = dict(one("ConfigMap", "federatie")["data"])
    secret = one("Secret", "federatie-database")
    config = load_config({**data, **secret["stringData"]})
    assert config.domain == data["FEDERATIE_DOMAIN"]
    assert config.inprocess_worker is False  # worker Deployments run the jobs


def test_compose_file_has_its_services_in_order() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "web", "worker", "proxy"} <= services.keys()
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["environment"]["FEDERATIE_INPROCESS_WORKER"] == "false"
        assert services[name]["build"]["dockerfile"] == "deploy/Containerfile"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("migrate", "web", "worker"):
        _parser().parse_args(services[name]["command"])
    assert any(str(p).startswith("443:") for p in services["proxy"]["ports"])
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile


def test_containerfile_runs_federatie_as_a_non_root_user() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Containerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms and all(line.split()[1] == "python:3.11-slim" for line in froms)
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["federatie"]' in lines
    assert any("FEDERATIE_SCHEMAS_DIR=/opt/federatie/schemas" in line for line in lines)
    cmd = next(line for line in lines if line.startswith("CMD "))
    _parser().parse_args(shlex.split(cmd[4:].strip("[]").replace(",", " ")))


def test_env_example_is_a_valid_configuration() -> None:
    environ = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            environ[name] = value
    assert load_config(environ).domain == environ["FEDERATIE_DOMAIN"]
