"""Container images for the chart, built here with no registry: `python3 -m medley bootstrap images`.

1. A Debian 12 base, `medley/debian:bookworm`: `debootstrap --variant=minbase` against the mirror
   apt uses, imported with docker/base/Dockerfile (FROM scratch + the root filesystem). Kept in
   buildah's storage under cache_dir/buildah and rebuilt only when its recipe changes.
2. Every image of IMAGES with `buildah bud --pull=never` from its docker/<dir>/Dockerfile, FROM
   that base (build arg BASE_IMAGE), with the artifacts other bootstrap components already built
   passed in as named build contexts (venvs, Spark jars, Druid, the MinIO binary): nothing is
   downloaded twice but the Debian packages.
3. Each image written as a docker-archive, cache_dir/images/<name>_<tag>.tar, which
   `ctr -n k8s.io images import` (and `docker load`, `kind load image-archive`) reads, then removed
   from buildah's storage: the archive is the artifact.

Each image has its own fingerprint (its Dockerfile, the repository files it copies, the
fingerprints of the components it copies from), so changing Medley's code rebuilds only the Spark
and Airflow images. `smoke(cfg, image)` runs an image's check commands in a container made from its
archive (tests/helm/test_image_build.py).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medley import REPO_ROOT
from medley.config import Config
from medley.errors import MedleyError
from medley.proc import apt_install, require, run_logged

NAME = "images"
DESCRIPTION = "container images from docker/*/Dockerfile with buildah (about 15 minutes the first time)"
DOCKER = REPO_ROOT / "docker"
SUITE = "bookworm"
BASE = f"medley/debian:{SUITE}"
BASE_PACKAGES = ["ca-certificates"]
SLIM_EXCLUDES = ["doc", "man", "info", "locale", "lintian"]
# The repository is the build context; these are left out of it (buildah's .dockerignore).
IGNORE_FILE = DOCKER / "dockerignore"
SPARK_TAG = "0.1.0"     # the chart's appVersion: images.job.tag and airflow.images.airflow.tag


@dataclass(frozen=True)
class Image:
    """One image: repository:tag built from docker/<dockerfile>/Dockerfile."""
    repository: str
    tag: str
    dockerfile: str
    uid: int                                    # the non-root user it runs as
    components: list[str]                       # bootstrap components whose artifacts it copies
    contexts: Callable[[Config], dict[str, Path]]  # named build context -> cached artifact
    sources: list[str] = field(default_factory=list)   # repository paths it COPYs
    smoke: list[list[str]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def archive_name(self) -> str:
        return f"{self.repository.rsplit('/', 1)[-1]}_{self.tag}.tar"


def _component(name: str):
    from medley.bootstrap import component
    return component(name)


def _venv(name: str) -> Callable[[Config], dict[str, Path]]:
    return lambda cfg: {"venv": cfg.cache_dir / "venvs" / name}


def _spark_contexts(cfg: Config) -> dict[str, Path]:
    return {"venv": cfg.cache_dir / "venvs" / "pipeline", "jars": _component("jars").artifact(cfg),
            "generator": _component("generator").artifact(cfg).parent}


def _druid_contexts(cfg: Config) -> dict[str, Path]:
    return {"druid": _component("druid").artifact(cfg), "console": _component("druid-console").artifact(cfg)}


# The driver role of the Spark image's entrypoint, in local mode: a Delta table written and read back
# with the image's own jars (the smoke container has no cluster to start executors in).
DELTA_SMOKE = [
    "from pyspark.sql import SparkSession",
    "spark = (SparkSession.builder",
    "         .config('spark.sql.extensions', 'io.delta.sql.DeltaSparkSessionExtension')",
    "         .config('spark.sql.catalog.spark_catalog', 'org.apache.spark.sql.delta.catalog.DeltaCatalog')",
    "         .config('spark.ui.enabled', 'false')",
    "         .getOrCreate())",
    "spark.range(3).write.format('delta').save('/tmp/delta-smoke')",
    "print('delta rows', spark.read.format('delta').load('/tmp/delta-smoke').count())",
]
MEDLEY_SOURCES = ["medley.yaml", "pyproject.toml", "medley", "docker/relocate-venv.sh"]
IMAGES = [
    Image("medley/spark", SPARK_TAG, "spark", 185, ["jars", "generator"], _spark_contexts,
          MEDLEY_SOURCES + ["spark", "expectations", "druid_specs", "superset", "requirements/pipeline.lock"],
          # the smoke container's host name does not resolve: Spark is told its address
          [["env", "SPARK_LOCAL_IP=127.0.0.1", "spark-submit", "--version"],
           ["python", "-c", "import medley, pyspark, delta; print('medley', pyspark.__version__)"],
           ["sh", "-c", f"printf '%s\\n' {' '.join(shlex.quote(line) for line in DELTA_SMOKE)} > /tmp/delta_smoke.py"
                        " && SPARK_DRIVER_BIND_ADDRESS=127.0.0.1 SPARK_LOCAL_IP=127.0.0.1"
                        " exec /opt/entrypoint.sh driver --master 'local[1]' /tmp/delta_smoke.py"]]),
    Image("medley/airflow", SPARK_TAG, "airflow", 50000, ["airflow"], _venv("airflow"),
          MEDLEY_SOURCES + ["spark/gold", "airflow_dags", "requirements/airflow.lock"],
          [["airflow", "version"],
           ["python", "-c", "from airflow.dag_processing.dagbag import DagBag; "
                            "bag = DagBag(dag_folder='/opt/airflow/dags'); "
                            "assert bag.dags and not bag.import_errors, bag.import_errors; print(sorted(bag.dags))"]]),
    Image("medley/minio", _component("minio").VERSION.removeprefix("v"), "minio", 1000, ["minio"],
          lambda cfg: {"minio": _component("minio").artifact(cfg).parent}, [],
          [["/usr/bin/minio", "--version"]]),
    Image("medley/postgresql", "15", "postgres", 999, ["postgres"], lambda cfg: {}, [],
          [["postgres", "--version"]]),
    Image("medley/zookeeper", "3.8", "zookeeper", 1000, ["zookeeper"], lambda cfg: {}, [],
          [["sh", "-c", 'exec java -cp "$ZOOKEEPER_CLASSPATH" org.apache.zookeeper.version.VersionInfoMain']]),
    Image("medley/druid", _component("druid").VERSION, "druid", 1000, ["druid", "druid-console"], _druid_contexts,
          [], [["java", "-cp", "/opt/druid/lib/*", "org.apache.druid.cli.Main", "version"]]),
    Image("medley/superset", "6.1.0", "superset", 1000, ["superset"], _venv("superset"),
          ["requirements/superset.lock", "docker/relocate-venv.sh", "superset/prepare.py"],
          [["env", "SUPERSET_SECRET_KEY=smoke-test-only", "superset", "version"]]),
]


def image(repository: str) -> Image:
    return next(i for i in IMAGES if i.repository == repository)


# --- fingerprints ----------------------------------------------------------------------------------

def _tree_digest(paths: list[Path]) -> str:
    """Digest of the files under paths as the build sees them (no bytecode caches, which
    docker/dockerignore keeps out of the images)."""
    digest = hashlib.sha256()
    for path in paths:
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                digest.update(str(f.relative_to(REPO_ROOT)).encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _recipe(*parts: object) -> str:
    """Digest of the build code and settings themselves (not of this whole module: changing a smoke
    command must not rebuild every image)."""
    text = "\n".join(inspect.getsource(p) if callable(p) else repr(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def base_fingerprint(cfg: Config) -> str:
    recipe = _recipe(build_base, SUITE, BASE_PACKAGES, SLIM_EXCLUDES, _mirror())
    return f"{_tree_digest([DOCKER / 'base'])}-{recipe}"


def image_fingerprint(cfg: Config, img: Image) -> str:
    parts = [base_fingerprint(cfg), _recipe(build_image, buildah, img.ref, sorted(img.contexts(cfg))),
             _tree_digest([DOCKER / img.dockerfile, IGNORE_FILE, *(REPO_ROOT / s for s in img.sources)])]
    parts += [f"{c}={_component(c).fingerprint(cfg)}" for c in img.components]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def fingerprint(cfg: Config) -> str:
    return hashlib.sha256(" ".join(image_fingerprint(cfg, i) for i in IMAGES).encode()).hexdigest()[:16]


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / "images"


def archive(cfg: Config, img: Image) -> Path:
    return artifact(cfg) / img.archive_name


# --- buildah -----------------------------------------------------------------------------------------

def _log(cfg: Config) -> Path:
    return cfg.state_dir / "logs" / "bootstrap-images.log"


def buildah(cfg: Config, *args: str) -> list[str]:
    """A buildah command on Medley's own storage (cache_dir/buildah), never the machine's default."""
    store = cfg.cache_dir / "buildah"
    return [require("buildah"), "--root", str(store / "storage"), "--runroot", str(store / "run"),
            "--storage-driver", "overlay", *args]


def _has_image(cfg: Config, ref: str) -> bool:
    return subprocess.run(buildah(cfg, "inspect", "--type", "image", ref), capture_output=True).returncode == 0


def _mirror() -> str:
    """The Debian mirror apt uses here (deb822 `URIs:` or a one-line `deb` entry for the main archive)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in (s for s in sources if s.is_file()):
        for match in re.finditer(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?(?:\s|$)",
                                 source.read_text(errors="replace"), re.M):
            return match.group(1)
    return "http://deb.debian.org/debian"


def _security_mirror(mirror: str) -> str:
    return mirror + "-security" if mirror.endswith("/debian") else mirror


def build_base(cfg: Config, work: Path) -> None:
    """debootstrap a minimal Debian into work/rootfs, make it a container base, import it as BASE."""
    log = _log(cfg)
    mirror = _mirror()
    rootfs = work / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    run_logged(["nice", "-n", "10", require("debootstrap"), "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}", SUITE, rootfs, mirror],
               log, what=f"debootstrap {SUITE} from {mirror}")
    # apt in every image build: the same mirror with updates and security, no recommends, no caches
    # left in layers; services never start during an install (there is no init in a container).
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\n"
        f"deb {_security_mirror(mirror)} {SUITE}-security main\n")
    (rootfs / "etc/apt/apt.conf.d/90medley-image").write_text(
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n')
    # Like Debian's slim images: no documentation, manuals or translations, now or from later installs
    # (man1 stays as an empty directory: openjdk's postinst links its manuals' alternatives there).
    (rootfs / "etc/dpkg/dpkg.cfg.d/90medley-slim").write_text("".join(
        f"path-exclude /usr/share/{d}/*\n" for d in SLIM_EXCLUDES) + "path-include /usr/share/doc/*/copyright\n")
    for d in SLIM_EXCLUDES:
        for f in sorted((rootfs / "usr/share" / d).rglob("*"), reverse=True):   # children before parents
            if f.is_symlink() or f.is_file():
                if not (d == "doc" and f.name == "copyright"):
                    f.unlink()
            elif not any(f.iterdir()):
                f.rmdir()
    (rootfs / "usr/share/man/man1").mkdir(parents=True, exist_ok=True)
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# no service starts while a package installs in an image build\nexit 101\n")
    policy.chmod(0o755)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (rootfs / cache).glob("*"):
            if f.is_file():
                f.unlink()
    with tarfile.open(work / "rootfs.tar", "w") as tar:
        tar.add(rootfs, arcname=".")
    shutil.rmtree(rootfs)
    run_logged(buildah(cfg, "bud", "--pull=never", "--network", "host", "-f", str(DOCKER / "base" / "Dockerfile"),
                       "-t", BASE, str(work)), log, what=f"buildah bud {BASE}")
    (work / "rootfs.tar").unlink()


def build_image(cfg: Config, img: Image) -> Path:
    """buildah bud one image FROM the base, write its docker-archive, drop it from the storage."""
    log = _log(cfg)
    contexts = img.contexts(cfg)
    missing = [f"{name}={path}" for name, path in contexts.items() if not path.exists()]
    if missing:
        raise MedleyError(f"{img.ref}: build contexts missing: {', '.join(missing)}",
                          f"run `python3 -m medley bootstrap {' '.join(img.components)}` first")
    run_logged(["nice", "-n", "10", *buildah(
        cfg, "bud", "--pull=never", "--network", "host", "--layers=false", "--ignorefile", str(IGNORE_FILE),
        "--build-arg", f"BASE_IMAGE={BASE}", *[f"--build-context={n}={p}" for n, p in contexts.items()],
        "-f", str(DOCKER / img.dockerfile / "Dockerfile"), "-t", img.ref, str(REPO_ROOT))],
        log, what=f"buildah bud {img.ref}")
    out = archive(cfg, img)
    partial = out.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    # docker-archive keeps the name:tag inside, so the node's containerd knows the image by it
    run_logged(buildah(cfg, "push", img.ref, f"docker-archive:{partial}:{img.ref}"), log,
               what=f"buildah push {img.ref} to {partial}")
    partial.rename(out)
    run_logged(buildah(cfg, "rmi", img.ref), log, what=f"buildah rmi {img.ref}")
    return out


def _stamp(cfg: Config, name: str) -> Path:
    return cfg.cache_dir / "stamps" / f"images-{name}"


def build(cfg: Config) -> None:
    from medley.bootstrap import ensure

    for tool in ("buildah", "debootstrap"):   # Debian packages of the same names
        if shutil.which(tool) is None:
            apt_install(tool, Path("/usr/bin") / tool if tool == "buildah" else Path("/usr/sbin") / tool,
                        tool, _log(cfg))
    work = cfg.cache_dir / "images-work"
    work.mkdir(parents=True, exist_ok=True)
    artifact(cfg).mkdir(parents=True, exist_ok=True)
    base_stamp = _stamp(cfg, "base")
    if not (base_stamp.exists() and base_stamp.read_text() == base_fingerprint(cfg) and _has_image(cfg, BASE)):
        build_base(cfg, work)
        base_stamp.write_text(base_fingerprint(cfg))
    for img in IMAGES:
        for name in img.components:
            ensure(cfg, name)
        stamp = _stamp(cfg, img.archive_name)
        if stamp.exists() and stamp.read_text() == image_fingerprint(cfg, img) and archive(cfg, img).exists():
            continue
        build_image(cfg, img)
        stamp.write_text(image_fingerprint(cfg, img))
    # intermediate containers of failed builds and untagged leftovers
    subprocess.run(buildah(cfg, "rmi", "--prune"), capture_output=True)


# --- checks ------------------------------------------------------------------------------------------

def smoke(cfg: Config, img: Image) -> list[str]:
    """Run img's smoke commands in a container made from its archive (what the node imports); return
    their outputs. The image is removed from buildah's storage afterwards: the archive is the artifact.
    CAP_SYS_RESOURCE is dropped: it is not in root's bounding set on this kind of machine, and runc
    refuses a spec that asks for it."""
    container = subprocess.run(buildah(cfg, "from", f"docker-archive:{archive(cfg, img)}"),
                               capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    try:
        outputs = []
        for command in img.smoke:
            # the host's network (for its /etc/hosts: Spark binds to localhost); no command reaches out
            done = subprocess.run(buildah(cfg, "run", "--network", "host", "--cap-drop", "CAP_SYS_RESOURCE",
                                          container, "--", *command),
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                raise MedleyError(f"{img.ref}: {' '.join(command)} exited {done.returncode}: "
                                  f"{(done.stderr or done.stdout).strip()[-2000:]}",
                                  f"rebuild with `python3 -m medley bootstrap images`; log in {_log(cfg)}")
            outputs.append(done.stdout + done.stderr)
        return outputs
    finally:
        subprocess.run(buildah(cfg, "rm", container), capture_output=True)
        # the archive names the image twice (docker.io/ and buildah's localhost/): untag both to remove it
        subprocess.run(buildah(cfg, "rmi", f"docker.io/{img.ref}", f"localhost/{img.ref}"), capture_output=True)


def archive_config(cfg: Config, img: Image) -> tuple[list[str], dict]:
    """The names (RepoTags) and the image configuration stored in img's docker-archive."""
    with tarfile.open(archive(cfg, img)) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))
        return entry["RepoTags"], json.load(tar.extractfile(entry["Config"]))
