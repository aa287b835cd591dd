"""The Kubernetes deployment files (deploy/kubernetes/: the job image's Dockerfile and the
operator's FlinkDeployment) agree with the job they deploy: its settings, its dependencies,
its packages and schemas, the connector version setup fetches, flink-conf/config.yaml, and
each other's paths. Neither file can be built or applied here (no Docker, no Kubernetes):
this is what is checked of them."""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path, PurePosixPath

import pytest
import yaml

from jobs.counters.settings import Settings
from jobs.runtime import flink_conf
from local_stack.flink import PACKAGES, counting_job
from local_stack.paths import DEPLOY_DIR, REPO_ROOT, StackPaths

pytestmark = pytest.mark.unit

K8S_DIR = DEPLOY_DIR / "kubernetes"
JOB_FILE = counting_job()
CONNECTORS_POM = REPO_ROOT / "scripts" / "maven" / "flink-connectors.pom.xml"
MAIN_CONTAINER = "flink-main-container"  # the operator's name for the Flink container

# flink-conf/config.yaml keys a cluster must run with as well (everything but the local
# stack's 127.0.0.1 addresses and ports, and settings for the test suite)
CARRIED = (
    "execution.checkpointing.mode",
    "execution.checkpointing.interval",
    "execution.checkpointing.min-pause",
    "execution.checkpointing.timeout",
    "execution.checkpointing.max-concurrent-checkpoints",
    "execution.checkpointing.externalized-checkpoint-retention",
    "execution.checkpointing.num-retained",
    "execution.checkpointing.incremental",
    "execution.checkpointing.tolerable-failed-checkpoints",
    "state.backend.type",
    "restart-strategy.type",
    "restart-strategy.exponential-delay.initial-backoff",
    "restart-strategy.exponential-delay.max-backoff",
    "restart-strategy.exponential-delay.backoff-multiplier",
    "restart-strategy.exponential-delay.reset-backoff-threshold",
    "restart-strategy.exponential-delay.jitter-factor",
    "restart-strategy.exponential-delay.attempts-before-reset-backoff",
    "jobmanager.execution.failover-strategy",
    "heartbeat.interval",
    "heartbeat.timeout",
    "taskmanager.numberOfTaskSlots",
    "jobmanager.memory.jvm-metaspace.size",
    "taskmanager.memory.jvm-metaspace.size",
    "taskmanager.memory.task.off-heap.size",
    "env.java.opts.all",
    "metrics.reporter.prom.factory.class",
    "metrics.reporter.prom.filterLabelValueCharacters",
)

# schemes of storage that outlives the pods and that every pod reaches
DURABLE_SCHEMES = {"s3", "s3a", "s3p", "gs", "abfs", "abfss", "wasb", "wasbs", "hdfs", "oss"}

# names and keys that carry credentials: in the manifest only as secretKeyRef
SECRETISH = re.compile(r"passw|secret|token|credential|user(name)?\b|access[-_.]?key", re.I)
SECRET_IN_TEXT = re.compile(r"passw(or)?d\s*[=:]|--passw|secret[-_.]?key\s*[=:]", re.I)


# --- reading the files ------------------------------------------------------------------


def _manifest() -> dict:
    return yaml.safe_load((K8S_DIR / "live-counters.yaml").read_text())


def _instructions(stage: str | None = None) -> list[tuple[str, str]]:
    """The instructions of one stage of the Dockerfile (default: the last, the image) as
    (INSTRUCTION, arguments), its FROM first: continuation lines joined, comment lines
    dropped (also inside a continued instruction, as Docker does). ``stage``: the stage
    named so (FROM ... AS stage)."""
    stages: dict[str | None, list[tuple[str, str]]] = {}
    for word, rest in _all_instructions():
        if word == "FROM":
            tokens = rest.split()
            name = tokens[2] if len(tokens) == 3 and tokens[1].upper() == "AS" else None
            stages[name] = current = []
            last = name
        current.append((word, rest))
    return stages[stage if stage is not None else last]


def _all_instructions() -> list[tuple[str, str]]:
    out, current = [], ""
    for line in (K8S_DIR / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        word, _, rest = (current + stripped).partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued instruction"
    return out


def _args(instruction: str, stage: str | None = None) -> list[list[str]]:
    return [shlex.split(rest) for word, rest in _instructions(stage) if word == instruction]


def _env() -> dict[str, str]:
    out = {}
    for tokens in _args("ENV"):
        for token in tokens:
            key, sep, value = token.partition("=")
            assert sep, f"ENV {token}: use the KEY=VALUE form"
            out[key] = value
    return out


def _transfers(instruction: str, stage: str | None = None
               ) -> list[tuple[list[str], list[str], str]]:
    """(flags, sources, destination) of each COPY or ADD."""
    out = []
    for tokens in _args(instruction, stage):
        flags = [t for t in tokens if t.startswith("--")]
        rest = [t for t in tokens if not t.startswith("--")]
        out.append((flags, rest[:-1], rest[-1]))
    return out


def _copied_dirs() -> dict[str, PurePosixPath]:
    """Repository directory -> where COPY puts its contents in the image."""
    out = {}
    for flags, sources, dest in _transfers("COPY"):
        if any(f.startswith("--from=") for f in flags):
            continue  # from another stage or image, not from the repository
        for src in sources:
            assert (REPO_ROOT / src).is_dir(), f"COPY {src}: not a directory of the repository"
            assert len(sources) == 1, "COPY of several directories flattens their contents"
            out[src.rstrip("/")] = PurePosixPath(dest)
    return out


def _in_repo(image_path: str) -> Path | None:
    """The repository file that is at ``image_path`` in the image, if COPY puts one there."""
    path = PurePosixPath(image_path)
    for src, dest in _copied_dirs().items():
        if path == dest or dest in path.parents:
            return REPO_ROOT / src / path.relative_to(dest)
    return None


def _runs() -> list[str]:
    return [rest for word, rest in _instructions() if word == "RUN"]


def _run_commands() -> list[list[str]]:
    """Every shell command of the RUN instructions (split at ; && ||), split into words."""
    out: list[list[str]] = []
    for run in _runs():
        lexer = shlex.shlex(run, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command: list[str] = []
        for token in lexer:
            if token in (";", "&&", "||"):
                out.append(command)
                command = []
            else:
                command.append(token)
        out.append(command)
    return [c for c in out if c]


def _venv() -> PurePosixPath:
    venvs = [PurePosixPath(c[-1]) for c in _run_commands() if c[1:3] == ["-m", "venv"]]
    assert len(venvs) == 1, "the Dockerfile makes one virtual environment"
    return venvs[0]


def _pip_requirements() -> list[str]:
    installs = [c for c in _run_commands() if c[1:2] == ["install"] and c[0].endswith("pip")]
    assert len(installs) == 1, "one pip install in the Dockerfile"
    assert PurePosixPath(installs[0][0]) == _venv() / "bin" / "pip"
    return [t for t in installs[0][2:] if not t.startswith("-")]


def _dependencies() -> list[str]:
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def _pinned(package: str) -> str:
    for dep in _dependencies():
        name, sep, version = dep.replace(" ", "").partition("==")
        if name == package and sep:
            return version
    raise AssertionError(f"pyproject.toml pins no {package}")


def _spec() -> dict:
    return _manifest()["spec"]


def _job() -> dict:
    return _spec()["job"]


def _main_env() -> list[dict]:
    """The environment of the Flink container of every pod (JobManager and TaskManagers)."""
    containers = _spec()["podTemplate"]["spec"]["containers"]
    main = [c for c in containers if c["name"] == MAIN_CONTAINER]
    assert len(main) == 1, f"spec.podTemplate has one {MAIN_CONTAINER}"
    return main[0]["env"]


def _setting_values() -> dict[str, str]:
    return {e["name"]: e["value"] for e in _main_env() if e["name"].startswith("LIVE_COUNTERS_")}


def _job_flags() -> list[str]:
    """What follows ``-py <file>`` in the driver's arguments: the job's own flags."""
    args = _job()["args"]
    return args[args.index("-py") + 2:]


def _python_arg(option: str) -> str:
    args = _job()["args"]
    assert args.count(option) == 1, f"{option} once in job.args"
    return args[args.index(option) + 1]


# --- the job's settings -----------------------------------------------------------------


def test_every_live_counters_variable_is_a_setting_and_parses(monkeypatch, capsys):
    values = _setting_values()
    known = {Settings.env_name(f.name): f.name for f in fields(Settings)}
    assert values, "the manifest passes the job's settings as LIVE_COUNTERS_* variables"
    assert set(values) <= set(known), f"not settings: {sorted(set(values) - set(known))}"
    for f in fields(Settings):
        monkeypatch.delenv(Settings.env_name(f.name), raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("CASSANDRA_HOSTS", raising=False)
    for name, value in values.items():
        assert isinstance(value, str), f"{name}: Kubernetes takes strings only"
        monkeypatch.setenv(name, value)
    try:
        settings = Settings.parse(_job_flags())
    except SystemExit:
        pytest.fail(f"the job refuses the manifest's settings: {capsys.readouterr().err}")
    for name, value in values.items():
        got = getattr(settings, known[name])
        assert (",".join(got) if isinstance(got, tuple) else str(got)) == value, name


def _setting_comments() -> dict[str, str]:
    """Each LIVE_COUNTERS_* entry's comment: the comment lines right above its ``- name:``
    line, and a comment at the end of its name or value line."""
    lines = (K8S_DIR / "live-counters.yaml").read_text().splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.match(r"\s*- name: (LIVE_COUNTERS_\w+)", line)
        if not m:
            continue
        above = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#"):
            above.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        inline = [part.partition("#")[2].strip() for part in lines[i:i + 2] if " #" in part]
        out[m.group(1)] = " ".join(above + inline)
    return out


def _default_text(name: str) -> str:
    default = {f.name: f.default for f in fields(Settings)}[name]
    return ",".join(default) if isinstance(default, tuple) else str(default)


def test_the_manifest_sets_only_documented_departures_from_the_defaults():
    """A setting in the manifest is a decision: one that differs from the job's default says
    why and names the default it departs from (so a changed default shows here); one equal
    to the default is there only if pinned on purpose. Anything else is left to the default
    the job was measured with."""
    known = {Settings.env_name(f.name): f.name for f in fields(Settings)}
    comments = _setting_comments()
    problems = []
    for env, value in _setting_values().items():
        default = _default_text(known[env])
        comment = comments.get(env, "")
        if value == default:
            if "pinned" not in comment:
                problems.append(f"{env}={value} is the default: leave it out, or say why it "
                                "is pinned ('pinned: ...')")
        elif f"default {default}" not in comment:
            problems.append(f"{env}={value} departs from the default {default} without a "
                            f"comment saying why and naming it ('default {default}')")
        elif len(comment) < len(f"default {default}") + 10:
            problems.append(f"{env}: the comment names the default but not why")
    assert not problems, "\n".join(problems)


def test_settings_the_cluster_decides_are_left_to_it():
    """--from-savepoint is for embedded runs (a submitted job refuses it); --parallelism and
    --checkpoint-interval-ms would override job.parallelism and the flinkConfiguration."""
    for name in ("from_savepoint", "parallelism", "checkpoint_interval_ms"):
        assert Settings.env_name(name) not in _setting_values()
        assert "--" + name.replace("_", "-") not in _job_flags()


def test_every_pod_gets_the_settings_and_credentials():
    """The driver (JobManager) and the Cassandra sink (TaskManagers) both connect to
    Cassandra: the variables are in the pod template of both, not of one of them."""
    names = {e["name"] for e in _main_env()}
    assert {"CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"} <= names
    for role in ("jobManager", "taskManager"):
        assert "podTemplate" not in _spec()[role], f"{role} has a pod template of its own"


# --- credentials --------------------------------------------------------------------------


def test_cassandra_credentials_come_from_a_secret():
    env = {e["name"]: e for e in _main_env()}
    for name in ("CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"):
        assert "value" not in env[name], f"{name} is written into the manifest"
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] and ref["key"]


def test_no_password_like_value_appears_except_through_a_secret():
    problems: list[str] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            if "value" in node and SECRETISH.search(str(node.get("name", ""))):
                problems.append(f"{where}: {node['name']} has a literal value")
            for key, value in node.items():
                if SECRETISH.search(str(key)) and not isinstance(value, (dict, list)):
                    problems.append(f"{where}.{key}: a literal credential")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
        elif isinstance(node, str) and SECRET_IN_TEXT.search(node):
            problems.append(f"{where}: {node!r}")

    walk(_manifest(), "")
    assert not problems, problems


# --- the image ----------------------------------------------------------------------------


def test_the_image_installs_exactly_the_packages_dependencies():
    assert sorted(_pip_requirements()) == sorted(d.replace(" ", "") for d in _dependencies())


def test_the_image_is_the_official_flink_image_of_the_pinned_version_on_java_17():
    (image,) = [tokens[0] for tokens in _args("FROM")]
    assert image == f"flink:{_pinned('apache-flink')}-scala_2.12-java17"


def test_the_images_python_is_one_the_package_supports():
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        requires = tomllib.load(f)["project"]["requires-python"]
    low, high = (int(m) for m in re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires).groups())
    makers = [c[0] for c in _run_commands() if c[1:3] == ["-m", "venv"]]
    minor = int(re.fullmatch(r"python3\.(\d+)", makers[0]).group(1))
    assert low <= minor < high


def _imported_packages(entry: Path) -> set[str]:
    """The project's top-level packages that ``entry`` reaches through its imports (at module
    level and inside functions, which the job uses to import late)."""
    project = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
    seen: set[Path] = set()
    todo, found = [entry], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] not in project:
                    continue
                found.add(parts[0])
                module = REPO_ROOT.joinpath(*parts)
                todo += [p for p in (module.with_suffix(".py"), module / "__init__.py")
                         if p.is_file()]
    return found


def test_the_image_holds_every_package_the_job_imports_and_the_schemas():
    copied = _copied_dirs()
    imported = _imported_packages(JOB_FILE)
    # the walk does reach them, and the product reaches nothing of the tooling or local stack
    assert imported == {"jobs", "connectors"}
    assert "local_stack" not in copied and "tools" not in copied
    assert imported <= set(copied), f"not in the image: {sorted(imported - set(copied))}"
    # what a submission ships (local_stack/flink.py), schemas/ among it
    assert set(PACKAGES) <= set(copied), f"not in the image: {sorted(set(PACKAGES) - set(copied))}"
    # the packages sit side by side under the PYTHONPATH root...
    roots = _env()["PYTHONPATH"].split(":")
    for package in imported:
        assert str(copied[package].parent) in roots, f"{package} is not importable"
    # ...and the decoder reads schemas/ beside connectors/ (connectors/avro_codec.py)
    assert copied["schemas"] == copied["connectors"].parent / "schemas"


def test_the_kafka_connector_is_the_version_setup_fetches_where_the_job_looks(monkeypatch):
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    deps = ET.parse(CONNECTORS_POM).getroot().iterfind("m:dependencies/m:dependency", ns)
    coordinates = [(d.findtext("m:groupId", namespaces=ns), d.findtext("m:version", namespaces=ns))
                   for d in deps
                   if d.findtext("m:artifactId", namespaces=ns) == "flink-sql-connector-kafka"]
    assert len(coordinates) == 1, "scripts/maven/flink-connectors.pom.xml pins the connector"
    group, version = coordinates[0]
    artifact = "flink-sql-connector-kafka"
    jars = [t for t in _transfers("ADD") if t[1][0].endswith(".jar")]
    assert len(jars) == 1, "the Dockerfile adds one jar"
    flags, (url,), dest = jars[0]
    assert url == (f"https://repo1.maven.org/maven2/{group.replace('.', '/')}/{artifact}/"
                   f"{version}/{artifact}-{version}.jar")
    assert any(re.fullmatch(r"--checksum=sha256:[0-9a-f]{64}", f) for f in flags)
    assert any(f.startswith("--chown=flink") for f in flags), "remote ADDs are mode 600"
    # jobs/runtime.py kafka_connector_jar(): $LIVE_COUNTERS_STACK_DIR/lib/flink-connectors/
    # flink-sql-connector-kafka-*.jar
    monkeypatch.setenv("LIVE_COUNTERS_STACK_DIR", _env()["LIVE_COUNTERS_STACK_DIR"])
    assert dest.endswith("/"), "ADD into the directory, keeping the jar's name"
    assert StackPaths.from_env().lib("flink-connectors") == Path(dest)
    assert url.rsplit("/", 1)[1].startswith("flink-sql-connector-kafka-")
    # the job adds it to pipeline.jars itself: a second copy on Flink's classpath would clash
    for _, _, target in _transfers("COPY") + _transfers("ADD"):
        assert not target.startswith("/opt/flink/lib"), target


def test_the_prometheus_reporter_is_in_the_distributions_plugins():
    """The distribution (pyflink ships the same one) has the reporter in plugins/, so the image
    needs no copy from opt/; the build checks the official image has it there too."""
    import pyflink

    version = _pinned("apache-flink")
    jar = f"metrics-prometheus/flink-metrics-prometheus-{version}.jar"
    assert (Path(pyflink.__file__).parent / "plugins" / jar).is_file()
    assert ["test", "-f", f"/opt/flink/plugins/{jar}"] in _run_commands()
    assert (_spec()["flinkConfiguration"]["metrics.reporter.prom.factory.class"]
            == "org.apache.flink.metrics.prometheus.PrometheusReporterFactory")


# --- the deployment -----------------------------------------------------------------------


def test_the_deployment_is_an_application_of_the_pinned_flink_version():
    manifest = _manifest()
    assert manifest["apiVersion"] == "flink.apache.org/v1beta1"
    assert manifest["kind"] == "FlinkDeployment"
    major, minor = _pinned("apache-flink").split(".")[:2]
    assert _spec()["flinkVersion"] == f"v{major}_{minor}"
    assert _job()["state"] == "running"
    assert isinstance(_job()["parallelism"], int) and _job()["parallelism"] >= 1


def test_upgrades_go_through_savepoints_on_durable_storage():
    conf = _spec()["flinkConfiguration"]
    assert _job()["upgradeMode"] == "savepoint"
    assert conf["high-availability.type"] == "kubernetes"
    for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir",
                "high-availability.storageDir"):
        scheme = conf[key].partition("://")[0]
        assert scheme in DURABLE_SCHEMES, f"{key}: {conf[key]} does not outlive the pods"


def test_an_s3_filesystem_plugin_of_the_flink_version_is_enabled_for_s3_paths():
    conf = _spec()["flinkConfiguration"]
    if not any(str(v).startswith("s3") and "://" in str(v) for v in conf.values()):
        return
    plugins = {e["name"]: e.get("value", "") for e in _main_env()}["ENABLE_BUILT_IN_PLUGINS"]
    assert re.fullmatch(rf"flink-s3-fs-(presto|hadoop)-{re.escape(_pinned('apache-flink'))}\.jar",
                        plugins)


@pytest.mark.parametrize("key", CARRIED)
def test_flink_configuration_agrees_with_flink_conf(key):
    conf = _spec()["flinkConfiguration"]
    assert key in conf, f"{key} of flink-conf/config.yaml is missing"
    assert conf[key] == flink_conf()[key]


def test_flink_configuration_values_are_strings_without_local_addresses():
    for key, value in _spec()["flinkConfiguration"].items():
        assert isinstance(value, str), f"{key}: quote it"
        assert "127.0.0.1" not in value and "localhost" not in value, key


def test_the_pods_have_the_memory_flink_conf_gives_the_processes():
    local = flink_conf()
    assert _spec()["jobManager"]["resource"]["memory"] == local["jobmanager.memory.process.size"]
    assert _spec()["taskManager"]["resource"]["memory"] == local["taskmanager.memory.process.size"]


def test_the_driver_is_flinks_python_driver_from_the_image():
    import pyflink

    jar = PurePosixPath(_job()["jarURI"].removeprefix("local://"))
    assert _job()["jarURI"].startswith("local:///"), "a path inside the image"
    assert _job()["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    assert jar == PurePosixPath(f"/opt/flink/opt/flink-python-{_pinned('apache-flink')}.jar")
    # the distribution's own name for it (pyflink ships the same opt/)
    assert (Path(pyflink.__file__).parent / "opt" / jar.name).is_file()
    assert ["test", "-f", str(jar)] in _run_commands(), "the build checks the image has it"


def test_the_driver_and_workers_run_on_the_images_virtual_environment():
    python = str(_venv() / "bin" / "python")
    assert _python_arg("-pyclientexec") == python
    assert _python_arg("-pyexec") == python


def test_the_job_file_is_the_counting_jobs_main_in_the_image():
    assert _in_repo(_python_arg("-py")) == JOB_FILE


def test_the_jobs_java_operator_is_built_against_the_images_flink_and_lands_where_the_job_looks(
        monkeypatch):
    """jobs/counters/jvm is compiled in a JDK stage against the flink-dist jar of the image
    the job runs on, and the jar lands where jobs/runtime.py job_jar() looks for it."""
    from jobs.runtime import JOB_JAR

    (image,) = [tokens[0] for tokens in _args("FROM")]
    (build_from,) = _args("FROM", "jvm")
    assert re.fullmatch(r"eclipse-temurin:17-jdk(-\w+)?", build_from[0]), build_from
    copies = _transfers("COPY", "jvm")
    dist = [(f, s) for f, s, _ in copies if f == [f"--from={image}"]]
    flink = _pinned("apache-flink")
    assert dist and dist[0][1] == [f"/opt/flink/lib/flink-dist-{flink}.jar"], copies
    assert [s for f, s, _ in copies if not f] == [["jobs/counters/jvm/"]]
    assert (REPO_ROOT / "jobs" / "counters" / "jvm").is_dir()
    (flags, (src,), dest) = [t for t in _transfers("COPY") if "--from=jvm" in t[0]][0]
    assert src.endswith("/" + JOB_JAR) and dest.endswith("/")
    monkeypatch.setenv("LIVE_COUNTERS_STACK_DIR", _env()["LIVE_COUNTERS_STACK_DIR"])
    assert StackPaths.from_env().lib("live-counters") == Path(dest)
    assert any(f.startswith("--chown=flink") for f in flags)


def test_the_decoders_avro_runtime_is_what_setup_fetches_and_lands_where_the_job_looks(
        monkeypatch):
    """The JVM decoder reads with Avro's Java library (and the Jackson it parses schemas
    with): the image adds the very jars scripts/setup fetched here (same names), compiles the
    job's Java code against them, and puts them where jobs/runtime.py avro_jars() looks."""
    from jobs.runtime import avro_jars

    fetched = sorted(j.name for j in avro_jars())
    added = [t for t in _transfers("ADD", "jvm") if t[1][0].endswith(".jar")]
    assert sorted(url.rsplit("/", 1)[1] for _, (url,), _ in added) == fetched
    for flags, (url,), dest in added:
        assert url.startswith("https://repo1.maven.org/maven2/"), url
        assert any(re.fullmatch(r"--checksum=sha256:[0-9a-f]{64}", f) for f in flags), url
        assert dest == "/build/avro/"
    assert any("/build/avro/*" in run and "javac" in run
               for word, run in _instructions("jvm") if word == "RUN")
    (copy,) = [t for t in _transfers("COPY") if t[1] == ["/build/avro/"]]
    flags, _, dest = copy
    assert "--from=jvm" in flags and any(f.startswith("--chown=flink") for f in flags)
    monkeypatch.setenv("LIVE_COUNTERS_STACK_DIR", _env()["LIVE_COUNTERS_STACK_DIR"])
    assert StackPaths.from_env().lib("flink-connectors") == Path(dest.rstrip("/"))
