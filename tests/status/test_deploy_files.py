"""The deployment files parse and carry what an operator relies on: compose's three nodes on one
world volume with a console, the Kubernetes StatefulSet's ordinal node ids, DNS seeds, probes,
secret and grace period, the headless and LoadBalancer Services, the disruption budget, the
ReadWriteMany world and the ServiceMonitor. (No Docker engine runs on the CI machine, so the
image itself is not built here; deploy/README.md says so.)"""

from __future__ import annotations

import pathlib

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "kubernetes"


def docs(path: pathlib.Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def by_kind(kind: str) -> list[dict]:
    return [d for f in sorted(K8S.glob("*.yaml")) for d in docs(f) if d.get("kind") == kind]


def test_compose_runs_three_nodes_on_one_world():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert sorted(services) == ["node1", "node2", "node3"]
    ids = set()
    for name, service in services.items():
        env = service["environment"]
        ids.add(env["TESSERA_CLUSTER_NODE_ID"])
        assert env["TESSERA_CLUSTER_SEEDS"] == "1@node1:25590,2@node2:25590,3@node3:25590"
        assert "TESSERA_CLUSTER_SECRET" in env
        assert service["volumes"] == ["world:/data"]
        assert service["stdin_open"] and service["tty"], f"{name} has no console"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert ids == {"1", "2", "3"}
    assert "world" in compose["volumes"]


def test_the_statefulset_gives_ids_seeds_probes_and_a_grace_period():
    [sts] = by_kind("StatefulSet")
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "tessera-peers"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] <= 30
    [container] = pod["containers"]
    handoff = int({e["name"]: e for e in container["env"]}["TESSERA_SERVER_STOP_GRACE_SECONDS"]["value"])
    assert handoff + 5 <= pod["terminationGracePeriodSeconds"], "the handoff must end before Kubernetes' SIGKILL"
    assert "TESSERA_CLUSTER_NODE_ID=$(( ${HOSTNAME##*-} + 1 ))" in " ".join(container["args"])
    env = {e["name"]: e for e in container["env"]}
    assert "tessera-0.tessera-peers:25590" in env["TESSERA_CLUSTER_SEEDS"]["value"]
    assert env["TESSERA_CLUSTER_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "tessera-secrets"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"minecraft": 25565, "cluster": 25590, "admin": 25580}
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "tessera-world"


def test_services_budget_world_and_monitor():
    services = {s["metadata"]["name"]: s for s in by_kind("Service")}
    assert services["tessera-peers"]["spec"]["clusterIP"] == "None"
    assert services["tessera"]["spec"]["type"] == "LoadBalancer"
    assert services["tessera"]["spec"]["ports"][0]["port"] == 25565
    [pdb] = by_kind("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    [pvc] = by_kind("PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    [monitor] = by_kind("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk


def test_the_image_runs_unprivileged_with_a_data_volume_and_a_health_check():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for line in ["USER tessera", "VOLUME /data", "EXPOSE 25565 25575 25590 25580", "HEALTHCHECK", "STOPSIGNAL SIGTERM"]:
        assert line in dockerfile, line
    assert 'data_dir = "/data"' in (DEPLOY / "config.toml").read_text()
