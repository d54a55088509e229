"""The chart, offline: lint, render per profile, Kubernetes and CRD schemas, security properties."""

from __future__ import annotations

import copy
import json
import re

import jmespath
import jsonschema
import pytest
import yaml

from medley import REPO_ROOT, chart

PROFILES = pytest.mark.parametrize("profile", chart.PROFILES)
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def pod_specs(docs):
    """(name, pod spec) of every workload, including the Job templates Airflow submits."""
    out = []
    for d in docs + [t for t in chart.job_templates(docs).values() if t["kind"] == "Job"]:
        if d["kind"] in POD_KINDS:
            out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
    return out


def spark_applications(docs):
    return {hop: t for hop, t in chart.job_templates(docs).items() if t["kind"] == "SparkApplication"}


@PROFILES
def test_lint(helm, umbrella, profile):
    assert "0 chart(s) failed" in chart.lint(helm, umbrella, profile)


def test_core_chart_lints_alone(helm):
    assert "0 chart(s) failed" in chart.lint(helm, chart.CORE)


def test_core_chart_renders_alone_with_defaults(helm):
    docs = chart.documents(chart.render(helm, chart.CORE))
    assert chart.find(docs, "StatefulSet", "medley-medley-core-minio")


@PROFILES
def test_manifests_match_kubernetes_schemas(docs, profile):
    templates = [t for t in chart.job_templates(docs[profile]).values() if t["kind"] == "Job"]
    assert chart.validate_kubernetes(docs[profile] + templates) == []


def test_kubernetes_validation_can_fail(docs):
    (deploy,) = chart.find(docs["laptop"], "Deployment", "medley-eventsim")
    wrong_type, unknown_field = copy.deepcopy(deploy), copy.deepcopy(deploy)
    wrong_type["spec"]["replicas"] = "one"
    unknown_field["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy2"] = "Always"
    errors = chart.validate_kubernetes([wrong_type, unknown_field])
    assert len(errors) == 2 and "replicas" in errors[0] and "imagePullPolicy2" in errors[1], errors


@PROFILES
def test_spark_applications_match_the_crd(docs, profile):
    apps = spark_applications(docs[profile])
    assert sorted(apps) == ["bronze", "gold", "reconcile", "silver"]
    assert chart.validate_crd(apps.values()) == []
    for hop, app in apps.items():
        assert app["spec"]["mainApplicationFile"] == "local:///opt/medley/medley/jobs.py"
        assert app["spec"]["arguments"] == [hop]
        assert app["spec"]["mode"] == "cluster"
        assert "master" not in json.dumps(app["spec"].get("sparkConf", {}))


def test_spark_pods_can_request_less_cpu_than_their_cores(helm, umbrella, docs):
    """A 2-core node cannot hold a driver and an executor requesting one core each (the real node
    in tests/k8s/test_cluster_pipeline.py): requestCores lowers the requests, on both paths."""
    def submitter_confs(templates):
        return [a for a in templates["spark-submit"]["spec"]["containers"][0]["args"] if "request.cores" in a]

    assert submitter_confs(chart.job_templates(docs["laptop"])) == []
    lowered = chart.job_templates(chart.documents(chart.render(
        helm, umbrella, "laptop", sets=["core.spark.driver.requestCores=250m", "core.spark.executor.requestCores=0.5"])))
    assert submitter_confs(lowered) == ["spark.kubernetes.driver.request.cores=250m",
                                        "spark.kubernetes.executor.request.cores=0.5"]
    bronze = lowered["bronze"]["spec"]
    assert (bronze["driver"]["coreRequest"], bronze["executor"]["coreRequest"]) == ("250m", "0.5")
    assert chart.validate_crd([lowered["bronze"]]) == []


def test_crd_validation_can_fail(docs):
    app = copy.deepcopy(spark_applications(docs["laptop"])["bronze"])
    app["spec"]["type"] = "Pyhton"
    app["spec"]["driver"]["cpu"] = 1
    del app["spec"]["sparkVersion"]
    errors = chart.validate_crd([app])
    assert len(errors) == 3, errors


@pytest.fixture(scope="module")
def checkov_results(helm, umbrella, rendered):
    """One checkov run: both profiles plus a render that must fail (proof the scan can fail)."""
    weakened = chart.render(helm, umbrella, "laptop",
                            sets=["core.containerSecurityContext.readOnlyRootFilesystem=false"])
    return chart.checkov({**rendered, "weakened": weakened})


@PROFILES
def test_checkov_finds_nothing_beyond_listed_skips(checkov_results, profile):
    assert checkov_results[profile]["failed"] == []
    assert checkov_results[profile]["passed"] > 50


def test_checkov_can_fail(checkov_results):
    failed = {check for check, _, _ in checkov_results["weakened"]["failed"]}
    assert "CKV_K8S_22" in failed  # read-only root filesystem


@PROFILES
def test_every_container_has_requests_and_limits(docs, profile):
    for name, spec in pod_specs(docs[profile]):
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{name}/{c['name']}"
            assert {"cpu", "memory"} <= set(res.get("limits", {})), f"{name}/{c['name']}"
    for hop, app in spark_applications(docs[profile]).items():
        for role in ("driver", "executor"):
            assert {"cores", "coreLimit", "memory"} <= set(app["spec"][role]), f"{hop} {role}"


@PROFILES
def test_pods_run_non_root_with_read_only_root(docs, profile):
    for name, spec in pod_specs(docs[profile]):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
    for hop, app in spark_applications(docs[profile]).items():
        for role in ("driver", "executor"):
            assert app["spec"][role]["securityContext"]["readOnlyRootFilesystem"] is True, hop


@PROFILES
def test_network_policies_deny_by_default(docs, profile):
    policies = chart.find(docs[profile], "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
            and "egress" not in p["spec"]]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    api = jmespath.search("[?metadata.name=='medley-allow-kube-api'].spec.podSelector.matchLabels", policies)
    assert api == [{"medley.io/kube-api-client": "true"}]
    # The Spark driver is the pod that needs the API server.
    driver_labels = spark_applications(docs[profile])["bronze"]["spec"]["driver"]["labels"]
    assert driver_labels["medley.io/kube-api-client"] == "true"


def test_profiles_choose_the_object_store(docs):
    assert chart.find(docs["laptop"], "StatefulSet", "medley-minio")
    assert not chart.find(docs["production"], "StatefulSet", "medley-minio")
    assert not chart.find(docs["production"], "Secret")  # existingSecret only
    assert chart.find(docs["production"], "NetworkPolicy", "medley-allow-external-s3")
    cfg = yaml.safe_load(chart.find(docs["production"], "ConfigMap", "medley-config")[0]["data"]["medley.yaml"])
    assert cfg["storage"]["endpoint"] == "https://s3.eu-west-1.amazonaws.com"


def test_config_map_is_medley_yaml(docs, tmp_path, monkeypatch):
    text = chart.find(docs["laptop"], "ConfigMap", "medley-config")[0]["data"]["medley.yaml"]
    rendered = yaml.safe_load(text)
    repo = yaml.safe_load((REPO_ROOT / "medley.yaml").read_text())
    for section in ("storage", "spark", "quality", "lock", "orchestration"):
        assert set(rendered[section]) <= set(repo[section]), section
    for service in rendered["services"]:
        assert set(rendered["services"][service]) <= set(repo["services"][service]), service
    assert rendered["storage"]["endpoint"] == "http://medley-minio.medley.svc:9000"
    # The job pods load it through MEDLEY_CONFIG with medley.config, and reach the release's
    # Druid and Superset, not this pod's 127.0.0.1.
    from medley import druid
    from medley.config import load
    from medley.services import superset
    path = tmp_path / "medley.yaml"
    path.write_text(text)
    cfg = load({"MEDLEY_CONFIG": str(path)})
    assert cfg.get("storage.bucket") == repo["storage"]["bucket"]
    assert druid.url(cfg) == "http://medley-druid-router:8888"
    assert superset.url(cfg) == "http://medley-superset:8088"


def test_job_pods_get_config_and_credentials(docs):
    for name, spec in pod_specs(docs["laptop"]):
        if name.startswith("StatefulSet"):   # the bundled MinIO, Druid and Superset: not Medley jobs
            continue
        env = {e["name"]: e for e in spec["containers"][0].get("env", [])}
        assert env["MEDLEY_CONFIG"]["value"] == "/etc/medley/medley.yaml", name
        if "eventsim" not in name:
            assert env["MEDLEY_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "medley-s3", "key": "secret-key"}
    # the superset hop logs in as the admin and provisions the analyst with the passwords you keep
    (superset_job,) = [spec for name, spec in pod_specs(docs["laptop"]) if name == "Job/medley-superset"]
    env = {e["name"]: e for e in superset_job["containers"][0]["env"]}
    for variable, key in (("MEDLEY_SUPERSET_ADMIN_PASSWORD", "admin-password"),
                          ("MEDLEY_SUPERSET_ANALYST_PASSWORD", "analyst-password")):
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "medley-superset-credentials", "key": key}


def test_secret_is_generated_never_a_default(helm, umbrella, rendered):
    again = chart.documents(chart.render(helm, umbrella, "laptop"))
    first = chart.find(chart.documents(rendered["laptop"]), "Secret", "medley-s3")[0]
    second = chart.find(again, "Secret", "medley-s3")[0]
    assert first["data"]["secret-key"] != second["data"]["secret-key"]
    # deleted on uninstall: only the volumes stay (a reinstall gives MinIO new keys for its data)
    assert "helm.sh/resource-policy" not in first["metadata"].get("annotations", {})


def test_no_password_in_values_files():
    files = [chart.UMBRELLA / "values.yaml", chart.CORE / "values.yaml",
             *(chart.values_file(p) for p in chart.PROFILES)]
    secretish = re.compile(r"(password|passwd|secret_?key|token)\s*:\s*['\"]?[^'\"\s{}#]+", re.I)
    for f in files:
        for line in f.read_text().splitlines():
            if not line.lstrip().startswith("#"):
                assert not secretish.search(line), f"{f.name}: {line.strip()}"
    umbrella = yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())
    assert umbrella["superset"]["init"]["createAdmin"] is False
    assert umbrella["airflow"]["webserver"]["defaultUser"]["enabled"] is False
    # The third-party charts' generated credentials (with default database passwords) are replaced
    # by Secrets the installer creates.
    assert umbrella["superset"]["envFromSecret"] == "medley-superset-env"
    assert umbrella["airflow"]["data"]["metadataSecretName"] == "medley-airflow-metadata"
    # The laptop's bundled Airflow: its PostgreSQL has no password because it listens on no TCP
    # port (test_laptop_runs_medleys_own_airflow_production_the_upstream_chart).
    assert yaml.safe_load(chart.values_file("laptop").read_text())["airflow"] == {"enabled": False}
    # druid-helm defaults its metadata database password to "druid": replaced by a Secret.
    assert umbrella["druid"]["postgresql"]["auth"] == {"existingSecret": "medley-druid-metadata", "password": ""}
    assert "environment" in umbrella["druid"]["configVars"]["druid_metadata_storage_connector_password"]


def test_analyst_role_reads_gold_only(docs):
    source = chart.find(docs["laptop"], "ConfigMap", "medley-superset")[0]["data"]["medley_superset.py"]
    scope: dict = {}
    exec(compile(source, "medley_superset.py", "exec"), scope)  # noqa: S102 - our own rendered config
    (perms,) = scope["FAB_ROLES"].values()
    datasets = [re.compile(view) for view, perm in perms if perm == "datasource_access"]
    assert len(datasets) == 1 and not any(p in ("all_datasource_access", "all_database_access", "can_sqllab")
                                          for _, p in perms)
    assert datasets[0].fullmatch("[druid].[fact_listen](id:3)")
    assert datasets[0].fullmatch("[druid].[dim_user](id:7)")
    for other in ("[druid].[listen_events](id:4)", "[druid].[silver_listen_events](id:5)",
                  "[postgres].[fact_listen](id:6)"):
        assert not datasets[0].fullmatch(other), other


# --- values: schema, documentation, rejection of broken values ---------------------------------

def _close(schema):
    """additionalProperties forced false wherever properties are listed (airflow's chart tests)."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for v in schema.values():
            _close(v)
    elif isinstance(schema, list):
        for v in schema:
            _close(v)
    return schema


def test_core_values_match_their_schema_with_everything_closed():
    schema = _close(json.loads((chart.CORE / "values.schema.json").read_text()))
    jsonschema.validate(yaml.safe_load((chart.CORE / "values.yaml").read_text()), schema)


def _leaf_paths(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in ("commonLabels",) and not path.endswith("resources") \
                and "SecurityContext" not in path:
            yield from _leaf_paths(value, path + ".")
        else:
            yield path


def test_every_core_value_is_documented():
    text = (chart.CORE / "values.yaml").read_text()
    documented = set(re.findall(r"## @param (\S+)", text))
    values = yaml.safe_load(text)
    missing = [p for p in _leaf_paths(values) if p not in documented
               and not any(p.startswith(d + ".") for d in documented)]
    assert missing == []


BROKEN = {
    "unknown key": ({"core": {"objectStor": {"mode": "bundled"}}}, "additional properties"),
    "wrong type": ({"core": {"spark": {"executor": {"instances": "two"}}}}, "instances"),
    "external without endpoint": ({"core": {"objectStore": {"mode": "external", "auth": {"existingSecret": "s3"}}}},
                                  "needs medley.storage.endpoint"),
    "renamed resources": ({"core": {"fullnameOverride": "lake"}}, "fullnameOverride"),
    "root containers": ({"core": {"containerSecurityContext": {"runAsNonRoot": False}}}, "runAsNonRoot"),
    "default admin": ({"superset": {"enabled": True, "init": {"createAdmin": True}}}, "createAdmin"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_values_are_rejected(helm, umbrella, tmp_path, case):
    values, expected = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(chart.ChartError) as err:
        chart.render(helm, umbrella, "laptop", values=[path])
    assert expected.lower() in str(err.value).lower()


def test_values_table_in_the_docs_is_current():
    assert chart.documented_values() == chart.values_table(), \
        "docs/kubernetes.md is stale: run medley.chart.write_values_docs()"


@PROFILES
def test_notes_explain_access_without_printing_secrets(helm, umbrella, profile, rendered):
    notes = chart.notes(helm, umbrella, profile)
    assert "port-forward svc/medley-superset" in notes
    # no default admin anywhere: the upstream chart's is created by you, the bundled one's from your Secret
    assert ("create-admin" in notes) == (profile == "production")
    assert ("admin-password of the Secret medley-superset-credentials" in notes) == (profile == "laptop")
    assert ("bundled MinIO" in notes) == (profile == "laptop")
    for secret in chart.find(chart.documents(rendered[profile]), "Secret"):
        assert not any(v in notes for v in secret["data"].values())


def test_vendored_crd_is_a_valid_custom_resource_definition():
    crd = yaml.safe_load(chart.SPARK_CRD.read_text())
    assert chart.validate_kubernetes([crd]) == []
    assert chart.spark_crd().api_version == "sparkoperator.k8s.io/v1beta2"


# --- the bundled Druid of the laptop profile (helm/medley-core/templates/druid/) ---------------

DRUID_PROCESSES = ["coordinator", "broker", "historical", "middlemanager", "router"]


def _druid_pod(docs):
    (sts,) = chart.find(docs, "StatefulSet", "medley-druid")
    return sts, sts["spec"]["template"]["spec"]


def test_laptop_runs_medleys_own_superset_production_the_upstream_chart(docs, tmp_path):
    from medley.bootstrap import images
    from medley.config import load
    from medley.services import superset

    (sts,) = chart.find(docs["laptop"], "StatefulSet", "medley-superset")
    pod = sts["spec"]["template"]["spec"]
    (prepare,), (server,) = pod["initContainers"], pod["containers"]
    assert prepare["image"] == server["image"] == images.image("medley/superset").ref
    # the same set-up as a laptop's (superset/prepare.py, which the image carries), then gunicorn
    assert prepare["command"] == ["python", "/opt/medley/superset_prepare.py"]
    assert "/opt/medley/superset_prepare.py" in (REPO_ROOT / "docker/superset/Dockerfile").read_text()
    env = {e["name"]: e for e in prepare["env"]}
    assert env["MEDLEY_SUPERSET_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == \
        {"name": "medley-superset-credentials", "key": "admin-password"}
    # its secret key is generated once onto its volume (superset_config.py), never a default, and in
    # no Secret
    assert "SUPERSET_SECRET_KEY" not in env
    assert not chart.find(docs["laptop"], "Secret", "medley-superset-key")
    # its configuration takes the analyst role from the ConfigMap it mounts
    config = chart.find(docs["laptop"], "ConfigMap", "medley-superset")[0]["data"]
    assert "from medley_superset import FAB_ROLES" in config["superset_config.py"]
    # the superset hop reaches it at medley.yaml's services.superset.url
    (svc,) = chart.find(docs["laptop"], "Service", "medley-superset")
    path = tmp_path / "medley.yaml"
    path.write_text(chart.find(docs["laptop"], "ConfigMap", "medley-config")[0]["data"]["medley.yaml"])
    assert superset.url(load({"MEDLEY_CONFIG": str(path)})) == \
        f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"
    assert not chart.find(docs["production"], "StatefulSet", "medley-superset")
    assert yaml.safe_load(chart.values_file("laptop").read_text())["superset"] == {"enabled": False}
    assert yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())["superset"]["enabled"] is True


def _druid_conf(docs) -> dict[str, dict[str, str]]:
    """ConfigMap key -> its properties."""
    (cm,) = chart.find(docs, "ConfigMap", "medley-druid")
    out = {}
    for key, text in cm["data"].items():
        lines = [ln for ln in text.splitlines() if "=" in ln and not ln.lstrip().startswith(("#", "<"))]
        out[key] = dict(ln.split("=", 1) for ln in lines)
    return out


def test_laptop_runs_medleys_own_druid_production_the_upstream_chart(docs):
    sts, pod = _druid_pod(docs["laptop"])
    assert [c["name"] for c in pod["containers"]] == ["zookeeper", *DRUID_PROCESSES]
    images = {c["name"]: c["image"] for c in pod["containers"]}
    assert images.pop("zookeeper") == "medley/zookeeper:3.8"
    assert set(images.values()) == {"medley/druid:33.0.0"}
    assert sts["spec"]["replicas"] == 1
    assert not chart.find(docs["production"], "StatefulSet", "medley-druid")
    assert not chart.find(docs["production"], "Service", "medley-druid-router")
    assert yaml.safe_load(chart.values_file("laptop").read_text())["druid"] == {"enabled": False}
    assert yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())["druid"]["enabled"] is True


def test_the_druid_hop_is_pointed_at_the_bundled_router(helm, umbrella, docs):
    (svc,) = chart.find(docs["laptop"], "Service", "medley-druid-router")
    assert svc["spec"]["ports"] == [{"name": "router", "port": 8888, "targetPort": "router"}]
    sts, pod = _druid_pod(docs["laptop"])
    assert svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    (router,) = [c for c in pod["containers"] if c["name"] == "router"]
    assert router["ports"] == [{"name": "router", "containerPort": 8888}]
    # the bundled Druid wins over druid.routerUrl (which names druid-helm's router)
    moved = chart.documents(chart.render(helm, umbrella, "laptop", sets=["core.druid.routerUrl=http://elsewhere:8888"]))
    cfg = yaml.safe_load(chart.find(moved, "ConfigMap", "medley-config")[0]["data"]["medley.yaml"])
    assert cfg["services"]["druid"]["url"] == "http://medley-druid-router:8888"
    cfg = yaml.safe_load(chart.find(docs["production"], "ConfigMap", "medley-config")[0]["data"]["medley.yaml"])
    assert cfg["services"]["druid"]["url"] == "http://medley-druid-router:8888"   # druid-helm's router


def test_bundled_druid_is_restricted_non_root_and_writes_only_to_volumes(docs):
    _, pod = _druid_pod(docs["laptop"])
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 1000
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert (sc["runAsUser"], sc["readOnlyRootFilesystem"], sc["allowPrivilegeEscalation"]) == (1000, True, False)
        assert sc["capabilities"] == {"drop": ["ALL"]} and "privileged" not in sc
        assert c["livenessProbe"] and c["readinessProbe"] and c["startupProbe"], c["name"]
        writable = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
        assert all(("emptyDir" in volumes.get(m["name"], {})) or m["name"] == "data"
                   for m in c["volumeMounts"] if not m.get("readOnly")), c["name"]
        assert "/tmp" in writable, c["name"]
        if c["name"] != "zookeeper":
            assert "/druid/data" in writable and c["workingDir"] == "/tmp", c["name"]
    # every absolute path Druid or ZooKeeper writes is on a writable volume
    conf = _druid_conf(docs["laptop"])
    written = [v for props in conf.values() for k, v in props.items()
               if k.endswith(("Dir", "directory", "baseTaskDirs", "locations", "connectURI", "hadoopWorkingPath"))
               and "extensions" not in k]
    assert len(written) >= 6, written
    for value in written:
        paths = re.findall(r"(?<![\w:])/(?:druid/data|tmp|zookeeper/data)\b", value)
        assert paths, value
    (claim,) = _druid_pod(docs["laptop"])[0]["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"


def test_bundled_druid_mirrors_the_local_services(docs):
    """The same extensions, JVM flags and peon options as medley/services/druid.py (local path)."""
    from medley.bootstrap.druid import JAVA_FLAGS
    from medley.services.druid import TEMPLATES

    _, pod = _druid_pod(docs["laptop"])
    conf = _druid_conf(docs["laptop"])
    for c in pod["containers"][1:]:
        assert c["command"][0] == "java" and set(JAVA_FLAGS) <= set(c["command"]), c["name"]
        assert c["command"][-3:-1] == ["org.apache.druid.cli.Main", "server"]
    local = (TEMPLATES / "_common" / "common.runtime.properties").read_text()
    local_loadlist = re.search(r"druid.extensions.loadList=(.*)", local).group(1)
    assert conf["common.runtime.properties"]["druid.extensions.loadList"] == local_loadlist
    local_mm = (TEMPLATES / "middleManager" / "runtime.properties").read_text()
    local_opts = json.loads(re.search(r"druid.indexer.runner.javaOptsArray=(.*)", local_mm).group(1))
    opts = json.loads(conf["middleManager.runtime.properties"]["druid.indexer.runner.javaOptsArray"])
    assert [o for o in opts if "tmpdir" not in o] == [o for o in local_opts if "tmpdir" not in o]
    assert conf["coordinator-overlord.runtime.properties"]["druid.coordinator.asOverlord.enabled"] == "true"
    # deep storage in the release's bucket on the bundled MinIO; task inputs read by MEDLEY_S3_* names
    common = conf["common.runtime.properties"]
    assert (common["druid.storage.type"], common["druid.storage.bucket"]) == ("s3", "medley")
    assert common["druid.s3.endpoint.url"] == "http://medley-minio.medley.svc:9000"
    assert common["druid.zk.service.host"] == "127.0.0.1:2181"
    assert conf["zoo.cfg"]["clientPortAddress"] == "127.0.0.1"


def test_bundled_druid_gets_s3_keys_from_the_secret_only_where_it_reads_s3(docs):
    from medley.services.druid import S3_ACCESS_KEY_ENV, S3_SECRET_KEY_ENV

    _, pod = _druid_pod(docs["laptop"])
    (cm,) = chart.find(docs["laptop"], "ConfigMap", "medley-druid")
    (secret,) = chart.find(docs["laptop"], "Secret", "medley-s3")
    assert not any(v in json.dumps(cm) for v in secret["data"].values())
    for c in pod["containers"]:
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if "valueFrom" in e}
        if c["name"] in ("historical", "middlemanager"):
            assert refs == {"AWS_ACCESS_KEY_ID": {"name": "medley-s3", "key": "access-key"},
                            "AWS_SECRET_ACCESS_KEY": {"name": "medley-s3", "key": "secret-key"},
                            S3_ACCESS_KEY_ENV: {"name": "medley-s3", "key": "access-key"},
                            S3_SECRET_KEY_ENV: {"name": "medley-s3", "key": "secret-key"}}, c["name"]
        else:
            assert refs == {}, c["name"]


def test_network_policies_let_druid_traffic_through(helm, umbrella, docs):
    """Druid's flows: its processes and ZooKeeper talk on the pod's loopback (never subject to
    NetworkPolicies); the druid hop's pod -> the router Service (8888), Druid -> MinIO (9000) and
    DNS stay in the namespace; with an external object store the pod is an s3-client."""
    sts, _ = _druid_pod(docs["laptop"])
    labels = sts["spec"]["template"]["metadata"]["labels"]
    policies = {p["metadata"]["name"]: p["spec"] for p in chart.find(docs["laptop"], "NetworkPolicy")}
    inside = policies["medley-allow-in-namespace"]
    assert inside["podSelector"] == {} and inside["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert inside["egress"] == [{"to": [{"podSelector": {}}]}]
    assert policies["medley-allow-dns"]["podSelector"] == {}
    assert labels["medley.io/s3-client"] == "true" and "medley.io/kube-api-client" not in labels
    external = chart.documents(chart.render(helm, umbrella, "production", sets=["core.druid.bundled.enabled=true"]))
    (s3,) = chart.find(external, "NetworkPolicy", "medley-allow-external-s3")
    assert s3["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert s3["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]
    common = _druid_conf(external)["common.runtime.properties"]
    assert common["druid.s3.endpoint.url"] == "https://s3.eu-west-1.amazonaws.com"
    assert common["druid.s3.enablePathStyleAccess"] == "false"


def test_the_druid_hop_pod_is_sized_for_its_local_spark(docs):
    """The druid hop exports gold with a local Spark (1g driver heap) in its pod: jobs.hopResources."""
    templates = chart.job_templates(docs["laptop"])
    druid_res = templates["druid"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    superset_res = templates["superset"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert druid_res["limits"]["memory"] == "2Gi"
    assert superset_res == yaml.safe_load((chart.CORE / "values.yaml").read_text())["jobs"]["resources"]


def test_laptop_runs_medleys_own_airflow_production_the_upstream_chart(docs):
    from medley.bootstrap import images

    (sts,) = chart.find(docs["laptop"], "StatefulSet", "medley-airflow")
    pod = sts["spec"]["template"]["spec"]
    init = {c["name"]: c for c in pod["initContainers"]}
    containers = {c["name"]: c for c in pod["containers"]}
    assert list(init) == ["postgresql", "prepare"]
    assert list(containers) == ["api-server", "scheduler", "dag-processor"]
    airflow_image = images.image("medley/airflow").ref
    assert {c["image"] for c in [init["prepare"], *containers.values()]} == {airflow_image}
    assert init["postgresql"]["image"] == images.image("medley/postgresql").ref
    # PostgreSQL is a sidecar on a Unix socket only: no TCP port, so no password to default
    assert init["postgresql"]["restartPolicy"] == "Always"
    assert "listen_addresses= " in init["postgresql"]["command"][-1]
    assert "--auth-host=reject" in init["postgresql"]["command"][-1]
    assert not init["postgresql"].get("ports")
    env = {e["name"]: e for e in init["prepare"]["env"]}
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["value"] == \
        "postgresql+psycopg2://airflow@/airflow?host=/var/run/postgresql"
    # the admin's password only from the Secret you create; Airflow's keys in no Secret at all
    assert init["prepare"]["command"] == ["python", "-m", "medley.airflow_pod"]
    assert env["MEDLEY_AIRFLOW_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == \
        {"name": "medley-airflow-credentials", "key": "admin-password"}
    assert not [s for s in chart.find(docs["laptop"], "Secret") if "airflow" in s["metadata"]["name"]]
    # its tasks run the hops as the worker service account the runner's Role is bound to, with the
    # job templates where medley.yaml says
    (binding,) = [b for b in chart.find(docs["laptop"], "RoleBinding")
                  if b["subjects"][0]["name"] == pod["serviceAccountName"]]
    assert binding["subjects"][0]["kind"] == "ServiceAccount"
    live = yaml.safe_load(chart.find(docs["laptop"], "ConfigMap", "medley-config")[0]["data"]["medley.yaml"])
    assert live["orchestration"]["runner"] == "kubernetes"
    mounts = {m["name"]: m["mountPath"] for m in containers["scheduler"]["volumeMounts"]}
    assert mounts["job-templates"] == live["orchestration"]["kubernetes"]["job_templates"]
    assert mounts["medley-config"] == "/etc/medley"
    # the labels the NetworkPolicies select: the UI ingress and the Kubernetes API egress
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert labels["component"] == "api-server" and labels["medley.io/kube-api-client"] == "true"
    (svc,) = chart.find(docs["laptop"], "Service", "medley-airflow")
    assert svc["spec"]["ports"][0]["port"] == 8080
    assert not chart.find(docs["production"], "StatefulSet", "medley-airflow")


def test_every_laptop_image_is_one_bootstrap_builds(docs):
    """The laptop profile runs only the images `python3 -m medley bootstrap images` builds, so
    loading those archives into kind, minikube or k3d is all it needs: no registry, no pull."""
    from medley.bootstrap import images

    used = {c["image"] for _, spec in pod_specs(docs["laptop"])
            for c in [*spec.get("initContainers", []), *spec["containers"]]}
    assert used and used <= {i.ref for i in images.IMAGES}, sorted(used - {i.ref for i in images.IMAGES})

