"""The Helm chart, checked offline: render per profile, validate against Kubernetes and CRD schemas,
scan with checkov. Used by tests/helm and by the control-plane tests (which `helm install` the same
offline umbrella into a real API server).

Chart repositories are unreachable in CI, so `offline_umbrella` copies helm/medley keeping only its
file:// dependency (medley-core); the umbrella's values, schema and profiles are used unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from medley import REPO_ROOT
from medley.errors import MedleyError

HELM_DIR = REPO_ROOT / "helm"
UMBRELLA = HELM_DIR / "medley"
CORE = HELM_DIR / "medley-core"
PROFILES = ("laptop", "production")
SPARK_CRD = REPO_ROOT / "k8s" / "crds" / "sparkapplications.sparkoperator.k8s.io.yaml"
K8S_SPARK_TEMPLATE = REPO_ROOT / "k8s" / "spark" / "sparkapplication.yaml"
# The newest schemas kubernetes-validate 1.37.0 ships; the control plane tests run 1.37.x.
KUBE_VERSION = "1.37.0"
RELEASE = "medley"
NAMESPACE = "medley"

# checkov findings we accept, each with the reason. Anything else fails the suite.
CHECKOV_SKIPS = {
    "CKV_K8S_43": "images are referenced by tag by default; set images.*.digest to pin by digest "
                  "(the job images are built by the installer, so no digest can be committed)",
    "CKV_K8S_15": "pull policy IfNotPresent is deliberate on laptops (kind/minikube load images "
                  "locally); the production profile sets Always",
    "CKV_K8S_35": "S3 keys reach the pods as environment variables from the Secret: medley.config "
                  "reads MEDLEY_S3_ACCESS_KEY/SECRET_KEY, and MinIO reads MINIO_ROOT_*",
    "CKV_K8S_40": "UID 185 is the spark user of the apache/spark base image the job image "
                  "extends; a UID above 10000 would have no home directory or passwd entry there",
}


def values_file(profile: str) -> Path:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return UMBRELLA / "profiles" / f"{profile}.yaml"


class ChartError(MedleyError):
    pass


def _helm(helm: Path, args: Sequence[str]) -> str:
    proc = subprocess.run([str(helm), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ChartError(f"helm {' '.join(args[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def offline_umbrella(helm: Path, workdir: Path) -> Path:
    """A copy of helm/medley whose only dependency is medley-core, built with `helm dependency build`
    (file:// needs no network). Returns the chart directory."""
    target = workdir / "medley"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(UMBRELLA, target, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    chart = yaml.safe_load((target / "Chart.yaml").read_text())
    chart["dependencies"] = [
        {**dep, "repository": f"file://{(UMBRELLA / dep['repository'][len('file://'):]).resolve()}"}
        for dep in chart["dependencies"] if dep["repository"].startswith("file://")
    ]
    (target / "Chart.yaml").write_text(yaml.safe_dump(chart, sort_keys=False))
    _helm(helm, ["dependency", "build", str(target)])
    return target


def lint(helm: Path, chart: Path, profile: str | None = None) -> str:
    """`helm lint --strict` (subcharts are linted on their own: Helm's --with-subcharts hands them
    the parent's values, which their closed schema rightly rejects)."""
    args = ["lint", "--strict", str(chart), "--kube-version", KUBE_VERSION, "--namespace", NAMESPACE]
    return _helm(helm, args + (["-f", str(values_file(profile))] if profile else []))


def render(helm: Path, chart: Path, profile: str | None = None, *, values: Iterable[Path] = (),
           sets: Iterable[str] = ()) -> str:
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    if profile:
        args += ["-f", str(values_file(profile))]
    for v in values:
        args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    return _helm(helm, args)


def notes(helm: Path, chart: Path, profile: str) -> str:
    """NOTES.txt as `helm install` prints it (a client-side dry run: no cluster needed)."""
    out = _helm(helm, ["install", RELEASE, str(chart), "--namespace", NAMESPACE, "--dry-run=client",
                       "-f", str(values_file(profile))])
    return out.split("NOTES:", 1)[1] if "NOTES:" in out else ""


def documents(manifest: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(manifest) if d]


def find(docs: Iterable[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def job_templates(docs: Iterable[dict]) -> dict[str, dict]:
    """The SparkApplications and Jobs Airflow submits, by hop, parsed from their ConfigMap."""
    (cm,) = find(docs, "ConfigMap", f"{RELEASE}-job-templates")
    return {key[: -len(".yaml")]: yaml.safe_load(text) for key, text in cm["data"].items()}


# --- Kubernetes schemas -----------------------------------------------------------------------

def validate_kubernetes(docs: Iterable[dict], version: str = KUBE_VERSION) -> list[str]:
    """kubernetes-validate in strict mode (unknown fields are errors); one message per problem."""
    import kubernetes_validate

    errors = []
    for doc in docs:
        what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{what}: {err.message} at {'.'.join(map(str, err.path))}")
        except kubernetes_validate.SchemaNotFoundError as err:
            errors.append(f"{what}: no schema ({err})")
    return errors


@dataclass(frozen=True)
class CrdSchema:
    group: str
    kind: str
    version: str
    schema: dict

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def spark_crd() -> CrdSchema:
    crd = yaml.safe_load(SPARK_CRD.read_text())
    (ver,) = crd["spec"]["versions"]
    return CrdSchema(crd["spec"]["group"], crd["spec"]["names"]["kind"], ver["name"],
                     ver["schema"]["openAPIV3Schema"])


def _strict(schema: dict) -> dict:
    """Close every object that lists its properties, like the API server's strict field
    validation does for a structural schema; open where x-kubernetes-preserve-unknown-fields."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "format"}
    if "properties" in schema:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(schema["additionalProperties"])
    if "items" in schema:
        out["items"] = _strict(schema["items"])
    return out


def validate_crd(docs: Iterable[dict], crd: CrdSchema | None = None) -> list[str]:
    import jsonschema

    crd = crd or spark_crd()
    validator = jsonschema.Draft7Validator(_strict(crd.schema))
    errors = []
    for doc in docs:
        if doc.get("kind") != crd.kind:
            continue
        what = f"{crd.kind}/{doc.get('metadata', {}).get('name')}"
        if doc.get("apiVersion") != crd.api_version:
            errors.append(f"{what}: apiVersion {doc.get('apiVersion')} is not {crd.api_version}")
        errors += [f"{what}: {e.message} at {'.'.join(map(str, e.absolute_path))}"
                   for e in validator.iter_errors(doc)]
    return errors


# --- checkov ----------------------------------------------------------------------------------

def checkov(manifests: dict[str, str], checkov_bin: Path | None = None) -> dict[str, dict]:
    """Run checkov's kubernetes framework once over several rendered manifests (its start-up
    dominates), with CHECKOV_SKIPS. Returns, per manifest name,
    {"failed": [(check_id, resource, check_name)], "passed": n}."""
    binary = checkov_bin or Path(sys.executable).with_name("checkov")
    with tempfile.TemporaryDirectory(prefix="medley-checkov-") as tmp:
        for name, text in manifests.items():
            (Path(tmp) / f"{name}.yaml").write_text(text)
        proc = subprocess.run(
            [str(binary), "--framework", "kubernetes", "--directory", tmp, "--output", "json",
             "--compact", "--skip-download", "--skip-check", ",".join(CHECKOV_SKIPS)],
            capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    if proc.returncode not in (0, 1):
        raise ChartError(f"checkov failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    report = json.loads(proc.stdout or "{}")
    out = {name: {"failed": [], "passed": 0} for name in manifests}
    for rep in report if isinstance(report, list) else [report]:
        results = rep.get("results", {})
        for check in results.get("failed_checks", []):
            out[Path(check["file_path"]).stem]["failed"].append(
                (check["check_id"], check["resource"], check.get("check_name", "")))
        for check in results.get("passed_checks", []):
            out[Path(check["file_path"]).stem]["passed"] += 1
    return out


# --- values documentation -------------------------------------------------------------------

DOCS = REPO_ROOT / "docs" / "kubernetes.md"
_TABLE = "<!-- values table: generated from helm/medley-core/values.yaml by medley.chart.write_values_docs() -->"
_TABLE_END = "<!-- end of values table -->"


def values_table(values_yaml: Path = CORE / "values.yaml") -> str:
    """Markdown table of the `## @param key description` comments and their defaults (bitnami's
    readme-generator convention)."""
    import re

    text = values_yaml.read_text()
    tree = yaml.safe_load(text)
    rows = ["| key | description | default |", "|---|---|---|"]
    for key, desc in re.findall(r"^\s*## @param (\S+) (.+)$", text, re.M):
        node = tree
        for part in key.split("."):
            node = node[part]
        default = json.dumps(node, separators=(",", ":")).replace("|", "\\|")
        rows.append(f"| `{key}` | {desc.strip()} | `{default}` |")
    return "\n".join(rows)


def documented_values(docs: Path = DOCS) -> str:
    text = docs.read_text()
    return text.split(_TABLE, 1)[1].split(_TABLE_END, 1)[0].strip() if _TABLE in text else ""


def write_values_docs(docs: Path = DOCS) -> None:
    text = docs.read_text()
    head, _, rest = text.partition(_TABLE)
    tail = rest.partition(_TABLE_END)[2] if rest else "\n"
    docs.write_text(f"{head}{_TABLE}\n{values_table()}\n{_TABLE_END}{tail}")
