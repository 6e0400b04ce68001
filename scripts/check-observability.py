#!/usr/bin/env python3
"""Checks the chart's alerting rules and Grafana dashboard (run by `make k8s-check`).

- every dashboard query is valid PromQL: each becomes a recording rule that promtool checks;
- the dashboard is well formed: unique panel ids, a grid position and a query on every panel;
- every metric the rules and the dashboard read is one the server (or the operator) exports:
  its name appears as a string in their sources, so a renamed metric cannot leave a silent panel.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = ROOT / "charts/chemchat-operator/files"
RULES = FILES / "prometheus-rules.yaml"
DASHBOARD = FILES / "grafana-dashboard.json"
SOURCES = [ROOT / "server/src", ROOT / "operator/src", ROOT / "crds/src"]
METRIC = re.compile(r"\b((?:chat|chemchat)_[a-z0-9_]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum")


def fail(message: str) -> None:
    print(f"check-observability: {message}", file=sys.stderr)
    sys.exit(1)


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    for key in ("uid", "title", "panels"):
        if key not in board:
            fail(f"{DASHBOARD.name}: no '{key}'")
    ids = [panel.get("id") for panel in board["panels"]]
    if len(ids) != len(set(ids)):
        fail(f"{DASHBOARD.name}: panel ids repeat: {ids}")
    queries = []
    for panel in board["panels"]:
        title = panel.get("title", "?")
        if "gridPos" not in panel:
            fail(f"{DASHBOARD.name}: panel '{title}' has no gridPos")
        targets = panel.get("targets") or fail(f"{DASHBOARD.name}: panel '{title}' has no query")
        queries += [target["expr"] for target in targets]
    return queries


def check_promql(queries: list[str], promtool: str) -> None:
    # Dashboard variables are not PromQL; a regex that matches everything stands in for them.
    rules = {
        "groups": [{
            "name": "dashboard",
            "rules": [{"record": f"dashboard:query_{i}", "expr": query.replace("$namespace", ".*")}
                      for i, query in enumerate(queries)],
        }]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(rules, file)
        file.flush()
        for path in (file.name, str(RULES)):
            result = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
            if result.returncode != 0:
                fail(f"promtool check rules {path}:\n{result.stdout}{result.stderr}")


def check_names(texts: list[str]) -> int:
    exported = "\n".join(
        path.read_text() for source in SOURCES for path in source.rglob("*.rs")
    )
    names = set()
    for text in texts:
        for name in METRIC.findall(text):
            for suffix in SUFFIXES:
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
            names.add(name)
    missing = sorted(name for name in names if f'"{name}"' not in exported)
    if missing:
        fail(f"the rules or the dashboard read metrics nothing exports: {missing}")
    return len(names)


def main() -> None:
    promtool = sys.argv[1] if len(sys.argv) > 1 else "promtool"
    queries = dashboard_queries()
    check_promql(queries, promtool)
    count = check_names(queries + [RULES.read_text()])
    print(f"check-observability: {len(queries)} dashboard queries and the alerting rules are valid "
          f"PromQL over {count} exported metrics")


if __name__ == "__main__":
    main()
