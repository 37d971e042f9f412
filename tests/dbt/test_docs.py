"""`trading dbt docs generate`, descriptions of every node and built column, contracts on what
Python reads, and the exposures of the executor and the dashboard."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from config.database import Connection
from flows.cli import app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PYTHON_PACKAGES = (
    "config",
    "ingestion",
    "strategies",
    "execution",
    "flows",
    "dashboard",
    "simulator",
)
EXPOSURE_CODE = {"alpaca_executor": "execution", "streamlit_dashboard": "dashboard"}
# Declared on the dashboard although no page reads them yet: the hourly flow builds and grants the
# dashboard's marts with `--select +exposure:streamlit_dashboard`, and these ride along. A page
# that starts reading one takes it out of this set; dropping one from the exposure does too.
# Empty: every mart the dashboard exposure names is read by a page.
# Built by the dashboard step for SQL readers; no page reads them yet.
DASHBOARD_BUILT_UNREAD: set[str] = {"shadow_fills", "shadow_equity", "shadow_performance"}
DOCUMENTED_TYPES = ("model", "seed", "snapshot")
# A relation of a dbt schema named in SQL: `from marts.signals`, `join intermediate.x`.
DBT_RELATION = re.compile(r"\b(?:from|join)\s+(staging|intermediate|marts|seeds)\.(\w+)", re.I)


@dataclass(frozen=True)
class Docs:
    """What `trading dbt docs generate` wrote, and the command's own output."""

    target: Path
    manifest: dict[str, Any]
    catalog: dict[str, Any]
    output: str

    def documented(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every model, seed, snapshot and source table of this project, by unique id."""
        for unique_id, node in self.manifest["nodes"].items():
            if node["resource_type"] in DOCUMENTED_TYPES and node["package_name"] == "trading":
                yield unique_id, node
        for unique_id, source in self.manifest["sources"].items():
            if source["package_name"] == "trading":
                yield unique_id, source


@pytest.fixture(scope="module")
def docs(module_database: Connection, tmp_path_factory: pytest.TempPathFactory) -> Docs:
    """Build every model and seed on the empty raw schema, then `trading dbt docs generate`,
    both through the CLI and into a target directory of this module's own."""
    target = tmp_path_factory.mktemp("dbt_target")
    env = {
        "DATABASE_URL": module_database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql"),
        "TRADING_HOME": str(tmp_path_factory.mktemp("home")),
    }
    runner = CliRunner()
    build = ["dbt", "build", "--resource-type", "model", "--resource-type", "seed"]
    built = runner.invoke(app, [*build, "--target-path", str(target)], env=env)
    assert built.exit_code == 0, built.output
    generated = runner.invoke(
        app, ["dbt", "docs", "generate", "--target-path", str(target)], env=env
    )
    assert generated.exit_code == 0, generated.output
    return Docs(
        target=target,
        manifest=json.loads((target / "manifest.json").read_text()),
        catalog=json.loads((target / "catalog.json").read_text()),
        output=generated.output,
    )


def _python_reads() -> dict[str, set[tuple[str, str]]]:
    """The dbt relations (schema, name) each package's SQL reads, from its string literals
    (docstrings excluded, so prose that names a mart is not a read)."""
    reads: dict[str, set[tuple[str, str]]] = {}
    for package in PYTHON_PACKAGES:
        found: set[tuple[str, str]] = set()
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                )
                and node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                ):
                    found |= {(s.lower(), n.lower()) for s, n in DBT_RELATION.findall(node.value)}
        reads[package] = found
    return reads


def _models_by_relation(manifest: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (node["schema"], node["alias"]): node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }


def test_docs_generate_writes_the_site_and_a_catalog_of_every_relation(docs: Docs) -> None:
    assert (docs.target / "index.html").stat().st_size > 0
    assert docs.catalog["errors"] is None
    assert "Catalog written" in docs.output
    catalogued = docs.catalog["nodes"].keys() | docs.catalog["sources"].keys()
    missing = [
        unique_id
        for unique_id, node in docs.documented()
        if unique_id not in catalogued and node["config"].get("materialized") != "ephemeral"
    ]
    assert not missing, f"built or landed relations missing from catalog.json: {missing}"


def test_every_model_seed_source_macro_and_exposure_has_a_description(docs: Docs) -> None:
    undocumented = [
        unique_id for unique_id, node in docs.documented() if not node["description"].strip()
    ]
    undocumented += [
        f"{unique_id}.{name}"
        for unique_id, node in docs.documented()
        for name, column in node["columns"].items()
        if not column["description"].strip()
    ]
    undocumented += sorted(
        {
            f"source {source['source_name']}"
            for source in docs.manifest["sources"].values()
            if source["package_name"] == "trading" and not source["source_description"].strip()
        }
    )
    undocumented += [
        unique_id
        for unique_id, node in [
            *docs.manifest["macros"].items(),
            *docs.manifest["exposures"].items(),
        ]
        if node["package_name"] == "trading" and not node["description"].strip()
    ]
    assert not undocumented, "no description:\n" + "\n".join(undocumented)


def test_every_column_of_every_built_relation_is_documented_and_exists(docs: Docs) -> None:
    """catalog.json holds the columns the database really has; the YAML must describe each
    one, and must not describe a column the relation does not have."""
    problems = []
    for unique_id, node in docs.documented():
        entry = docs.catalog["nodes"].get(unique_id) or docs.catalog["sources"].get(unique_id)
        if entry is None:
            continue  # reported by the catalog test
        real = {name.lower() for name in entry["columns"]}
        declared = {name.lower() for name in node["columns"]}
        problems += [f"{unique_id}.{name}: not in the YAML" for name in sorted(real - declared)]
        problems += [
            f"{unique_id}.{name}: in the YAML, not in the relation"
            for name in sorted(declared - real)
        ]
    assert not problems, "columns and their YAML disagree:\n" + "\n".join(problems)


def test_every_relation_python_reads_is_a_mart_with_an_enforced_contract(docs: Docs) -> None:
    reads = _python_reads()
    assert ("marts", "approved_orders") in reads["execution"], "the SQL scan found nothing"
    models = _models_by_relation(docs.manifest)
    problems = []
    for package, relations in sorted(reads.items()):
        for schema, name in sorted(relations):
            node = models.get((schema, name))
            where = f"{schema}.{name} (read by {package}/)"
            if schema != "marts":
                problems.append(f"{where}: Python reads marts only")
            if node is None:
                problems.append(f"{where}: no such dbt model")
                continue
            if not node["config"]["contract"]["enforced"]:
                problems.append(f"{where}: contract not enforced")
            problems += [
                f"{where}: column {column} has no data_type"
                for column, spec in node["columns"].items()
                if not spec.get("data_type")
            ]
    assert not problems, "\n".join(problems)


def test_exposures_depend_on_exactly_the_marts_the_executor_and_dashboard_read(
    docs: Docs,
) -> None:
    reads = _python_reads()
    exposures = {
        exposure["name"]: {
            docs.manifest["nodes"][unique_id]["alias"]
            for unique_id in exposure["depends_on"]["nodes"]
        }
        for exposure in docs.manifest["exposures"].values()
    }
    assert exposures.keys() >= EXPOSURE_CODE.keys()
    read = {
        exposure: {name for schema, name in reads[package] if schema == "marts"}
        for exposure, package in EXPOSURE_CODE.items()
    }
    assert (
        exposures["alpaca_executor"]
        == read["alpaca_executor"]
        == {
            "approved_orders",
            "trading_state",
        }
    )
    assert read["streamlit_dashboard"].isdisjoint(DASHBOARD_BUILT_UNREAD)
    assert exposures["streamlit_dashboard"] == read["streamlit_dashboard"] | DASHBOARD_BUILT_UNREAD
