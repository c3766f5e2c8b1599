"""The import layers of docs/architecture.md hold: every import in `candleflow/`
(function-level ones included) goes to the same or a lower layer, no module imports
round a loop, and only entry modules import the dev stack."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "candleflow"
DOC = ROOT / "docs" / "architecture.md"
LAYER_LINE = re.compile(r"^(\d+)\. ([a-z ]+): (.+)$")
DEV_STACK = "dev stack"
ENTRY = "entry"
#: The layers the dev stack may import: it starts Kafka and PostgreSQL, it runs nothing of the pipeline.
BELOW_DEV_STACK = {"domain", "core"}
#: ... and the one module beside them: it probes the broker it starts as every client connects.
DEV_STACK_MAY_USE = ("candleflow.kafka",)


def layers() -> dict[str, tuple[int, str]]:
    """pattern -> (rank, layer name), from the numbered list in the doc."""
    text = DOC.read_text().split("## Import layers", 1)[1]
    found: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        match = LAYER_LINE.match(line)
        if match:
            for pattern in re.findall(r"`([a-z_.]+)`", match.group(3)):
                found[pattern] = (int(match.group(1)), match.group(2))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path) -> Iterator[str]:
    """The candleflow modules `path` imports (`from a import b` counts as `a.b` when
    `b` is a module)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("candleflow"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("candleflow"):
            module = node.module or ""
            for alias in node.names:
                yield f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module


def layer_of(module: str, table: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """The layer of the longest pattern that is `module` or a package above it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = table.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


def edges() -> dict[str, set[str]]:
    """module -> the modules it imports, package `__init__`s of its own parents left out."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {m for m in imports(path) if m != name and not name.startswith(m + ".") and m != "candleflow"}
    return graph


def test_every_module_has_a_layer() -> None:
    table = layers()
    assert {*BELOW_DEV_STACK, ENTRY, DEV_STACK} <= {name for _, name in table.values()}
    assert [m for m in sorted(MODULES) if m != "candleflow" and layer_of(m, table) is None] == []


def test_imports_go_down_or_sideways_within_a_layer() -> None:
    table = layers()
    upward = []
    for module, targets in sorted(edges().items()):
        mine = layer_of(module, table)
        if mine is None:
            continue
        for target in sorted(targets):
            theirs = layer_of(target, table)
            assert theirs is not None, f"{module} imports {target}, which is not a module of candleflow"
            if theirs[1] == DEV_STACK:
                if mine[1] not in (ENTRY, DEV_STACK):
                    upward.append(f"{module} ({mine[1]}) -> {target} (the dev stack: entry modules only)")
            elif mine[1] == DEV_STACK:
                if theirs[1] not in BELOW_DEV_STACK and not target.startswith(DEV_STACK_MAY_USE):
                    upward.append(f"{module} (the dev stack) -> {target} ({theirs[1]}: domain and core only)")
            elif theirs[0] > mine[0]:
                upward.append(f"{module} ({mine[1]}) -> {target} ({theirs[1]})")
    assert upward == [], "imports against docs/architecture.md's layers:\n" + "\n".join(upward)


def test_no_module_imports_round_a_loop() -> None:
    graph = edges()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (loop := visit(target)) is not None:
                return loop
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (loop := visit(module)) is not None:
            pytest.fail("import loop: " + " -> ".join(loop))


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f() -> None:\n    from candleflow.maintenance.verify import run\n    import candleflow.web.udf\n"
    )
    assert set(imports(source)) == {"candleflow.maintenance.verify", "candleflow.web.udf"}


#: The charter's bound on a module: one job each, so none grows past this many lines.
MAX_MODULE_LINES = 400


def test_no_module_is_longer_than_the_charter_allows() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these by job (over {MAX_MODULE_LINES} lines): {long}"


#: aiokafka's client classes: only `candleflow.kafka` builds them (from one `KafkaConfig`).
AIOKAFKA_CLIENTS = frozenset({"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient"})
KAFKA_PACKAGE = "candleflow.kafka"


def kafka_client_constructions(path: Path) -> Iterator[str]:
    """`line: what` for each aiokafka client built in `path` and each private attribute of
    an aiokafka client it reads (`consumer._client`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in AIOKAFKA_CLIENTS:
                yield f"{node.lineno}: {name}(...)"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiokafka"):
            for alias in node.names:
                if alias.name in AIOKAFKA_CLIENTS and alias.asname:
                    yield f"{node.lineno}: {alias.name} imported as {alias.asname}"
        elif isinstance(node, ast.Attribute) and node.attr in ("_client", "_coordinator", "_fetcher"):
            yield f"{node.lineno}: .{node.attr}"


def offenders(check: Callable[[Path], Iterator[str]], exempt: Callable[[str], bool]) -> dict[str, list[str]]:
    """What `check` finds in each module `exempt` does not excuse."""
    return {name: hits for name, path in MODULES.items() if not exempt(name) and (hits := list(check(path)))}


def test_only_the_kafka_package_builds_kafka_clients() -> None:
    found = offenders(kafka_client_constructions, lambda name: name.split(".")[:2] == KAFKA_PACKAGE.split("."))
    assert found == {}, f"build Kafka clients with candleflow.kafka.clients: {found}"


def found_in(tmp_path: Path, text: str, check: Callable[[Path], Iterator[str]]) -> list[str]:
    """What `check` finds in a module holding `text`, by line."""
    source = tmp_path / "m.py"
    source.write_text(text)
    return sorted(check(source), key=lambda hit: int(hit.split(":")[0]))


def test_the_kafka_check_sees_constructions_and_private_clients(tmp_path: Path) -> None:
    text = (
        "import aiokafka\nfrom aiokafka import AIOKafkaConsumer as C\n"
        "def f(c):\n    aiokafka.AIOKafkaProducer(bootstrap_servers='x')\n    return c._client\n"
    )
    assert found_in(tmp_path, text, kafka_client_constructions) == [
        "2: AIOKafkaConsumer imported as C",
        "4: AIOKafkaProducer(...)",
        "5: ._client",
    ]


#: What reads the environment or the settings when it runs.
ENVIRONMENT_READS = ("os.environ", "os.getenv", "os.environb", "environ", "getenv")


def import_time_reads(path: Path) -> Iterator[str]:
    """`line: what` for each read of the settings or the environment that runs when
    `path` is imported: in its module body or a class body (function bodies run later;
    their default values and decorators run at import and are checked too)."""
    tree = ast.parse(path.read_text())
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defaults = [d for d in node.args.kw_defaults if d is not None]
            pending.extend([*node.decorator_list, *node.args.defaults, *defaults])
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_env":
            yield f"{node.lineno}: {ast.unparse(node.func)}()"
        elif (isinstance(node, ast.Attribute | ast.Name) and ast.unparse(node) in ENVIRONMENT_READS) or (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings"
        ):
            yield f"{node.lineno}: {ast.unparse(node)}"
        pending.extend(child for child in ast.iter_child_nodes(node) if child is not None)


def test_importing_a_module_reads_no_settings_or_environment() -> None:
    """Settings are read by entry points and handed down; a module that read them when
    imported could not be built twice with different settings (a test, a second app)."""
    table = layers()
    found = offenders(import_time_reads, lambda name: (layer_of(name, table) or (0, ""))[1] == ENTRY)
    assert found == {}, f"read the settings in a function the entry point calls: {found}"


def test_the_import_time_check_sees_module_and_class_level_reads(tmp_path: Path) -> None:
    text = (
        "import os\nfrom candleflow.core.settings import Settings\n"
        "settings = Settings.from_env()\nPORT = settings.web_port\nHOME = os.environ['HOME']\n"
        "class C:\n    limit = os.getenv('X')\n"
        "def f(level=settings.log_level):\n    return os.environ, Settings.from_env()\n"
    )
    assert found_in(tmp_path, text, import_time_reads) == [
        "3: Settings.from_env()",
        "4: settings.web_port",
        "5: os.environ",
        "7: os.getenv",
        "8: settings.log_level",
    ]
