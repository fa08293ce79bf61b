"""The deploy/ assets and the Dockerfile against the code they describe.

A dashboard panel or an alert that names a metric or label fixbridge does not export shows
nothing and fires never, silently; these tests make that a test failure. The exported names
come from a real exposition of ``fixbridge.ops.metrics.Metrics`` (the contract), the rules
go through promtool (syntax, and every alert fired and held back by its own scenario), and
the Dockerfile is checked against the config defaults and the .dockerignore it ships with.
"""

from __future__ import annotations

import configparser
import functools
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fixbridge.cli import CONFIG_ENV, build_parser, main
from fixbridge.config import STREAMS, FixConfig, MetricsConfig
from fixbridge.ops.metrics import Metrics
from tests.system_tools import tool

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana-dashboard.json"
ALERTS = REPO / "deploy" / "prometheus-alerts.yml"
PROMETHEUS = REPO / "deploy" / "prometheus.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SYSTEMD_UNIT = REPO / "deploy" / "fixbridge.service"

SESSION = "backoffice"
TARGET_LABELS = frozenset({"job", "instance"})  # added by Prometheus when it scrapes
ROWS = ["Upstream", "Journal", "Sessions", "Recovery", "Lag", "Process"]

_METRIC = re.compile(r"\bfixbridge_[a-z0-9_]+\b")
_SELECTOR = re.compile(r"\b(fixbridge_[a-z0-9_]+)\b(?:\s*\{([^}]*)\})?")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
_AGGREGATION = re.compile(
    r"\b(?:sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)"
    r"\s+(by|without)\s*\(([^)]*)\)\s*\("
)
_POSTFIX_GROUPING = re.compile(r"\)\s*(?:by|without)\s*\(")
_MATCHING = re.compile(r"\b(?:on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RATE = re.compile(r"\b(rate|irate|increase)\s*\(\s*(fixbridge_[a-z0-9_]+)")
_GAUGE_FN = re.compile(r"\b(deriv|delta|idelta|predict_linear)\s*\(\s*(fixbridge_[a-z0-9_]+)")
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_LABEL_REF = re.compile(r"\$labels\.(\w+)")


# ---- what fixbridge exports ---------------------------------------------------------------


@functools.cache
def exported() -> dict[str, frozenset[str]]:
    """Every series name fixbridge exposes (``_total``, ``_bucket``, ...) with its labels."""
    metrics = Metrics()
    metrics.init_labels(STREAMS, (SESSION,))
    # Series init_labels cannot create: MsgTypes are open-ended, the rest appear on first use.
    metrics.session_messages_sent.labels(SESSION, "8").inc()
    metrics.session_messages_received.labels(SESSION, "0").inc()
    metrics.session_next_sender_seq_num.labels(SESSION).set(2)
    metrics.session_next_target_seq_num.labels(SESSION).set(2)
    for stream in STREAMS:
        metrics.upstream_last_transact_time.labels(stream).set(1.7e9)
        metrics.upstream_last_response_time.labels(stream).set(1.7e9)
    metrics.journal_append_seconds.observe(0.002)
    metrics.lag_exchange_seconds.labels(SESSION).observe(0.01)
    metrics.lag_receipt_seconds.labels(SESSION).observe(0.001)
    metrics.ha_active.labels("fixbridge").set(1)  # with [ha] only
    metrics.ha_epoch.labels("fixbridge").set(1)

    series: dict[str, set[str]] = {}
    text = generate_latest(metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        assert family.samples, (
            f"{family.name} exposes no series here: give it a value in exported() so the"
            " names and labels the dashboard and alerts may use are known"
        )
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in series.items()}


def test_the_exposition_has_the_histogram_and_counter_suffixes() -> None:
    names = exported()
    assert "fixbridge_upstream_reconnects_total" in names
    assert "fixbridge_upstream_reconnects" not in names
    assert "le" in names["fixbridge_lag_exchange_to_fix_write_seconds_bucket"]
    assert names["fixbridge_lag_exchange_to_fix_write_seconds_count"] == {"session"}
    assert names["fixbridge_session_messages_sent_total"] == {"session", "msg_type"}


def test_the_exposition_says_which_build_runs_and_what_the_process_uses() -> None:
    """fixbridge_build_info carries the versions as labels with the value 1 (the Prometheus
    convention for info metrics); the process collector's standard series are there."""
    import tomllib

    names = exported()
    assert names["fixbridge_build_info"] == {"version", "python", "grpcio", "protobuf"}
    for standard in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_start_time_seconds", "process_open_fds", "python_info"):  # fmt: skip
        assert standard in names, standard
    text = generate_latest(Metrics().registry).decode()
    (info,) = [
        s for f in text_string_to_metric_families(text) if f.name == "fixbridge_build_info"
        for s in f.samples
    ]  # fmt: skip
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert (info.value, info.labels["version"]) == (1.0, declared)


# ---- PromQL checking ----------------------------------------------------------------------


def _argument(expr: str, open_paren: int) -> str:
    """The text inside the parenthesis that opens at ``open_paren``."""
    depth = 0
    for i in range(open_paren, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return expr[open_paren + 1 : i]
    raise AssertionError(f"unbalanced parentheses in {expr!r}")


def _unquoted(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def grouping_clauses(expr: str) -> Iterator[tuple[str, list[str], str]]:
    """(``by``/``without``, its labels, the aggregated argument) for each aggregation."""
    for match in _AGGREGATION.finditer(expr):
        labels = [label.strip() for label in match.group(2).split(",") if label.strip()]
        yield match.group(1), labels, _argument(expr, match.end() - 1)


def promql_problems(expr: str, where: str) -> list[str]:
    """Why ``expr`` cannot work against fixbridge's exposition (empty: it can)."""
    names = exported()
    problems: list[str] = []
    bare = _unquoted(expr)
    used = set(_METRIC.findall(bare))
    for name in sorted(used - names.keys()):
        problems.append(f"{where}: {name} is not a series fixbridge exports")
    known = {name: names[name] | TARGET_LABELS for name in used & names.keys()}

    for match in _SELECTOR.finditer(expr):
        name, matchers = match.group(1), match.group(2) or ""
        for label in _MATCHER.findall(matchers):
            if name in known and label not in known[name]:
                problems.append(f"{where}: {name} has no label {label!r}")
    if _POSTFIX_GROUPING.search(bare):
        problems.append(f"{where}: write `sum by (...) (expr)`, not `sum(expr) by (...)`")
    for _, labels, argument in grouping_clauses(bare):
        for name in set(_METRIC.findall(argument)) & known.keys():
            for label in labels:
                if label not in known[name]:
                    problems.append(f"{where}: groups {name} by {label!r}, which it lacks")
    for match in _MATCHING.finditer(bare):
        for label in (x.strip() for x in match.group(1).split(",") if x.strip()):
            if label not in TARGET_LABELS and not all(label in k for k in known.values()):
                problems.append(f"{where}: matches on {label!r}, missing from some metric")
    for function, name in _RATE.findall(bare):
        if not name.endswith(("_total", "_bucket", "_count", "_sum")):
            problems.append(f"{where}: {function}() over {name}, which is not a counter")
    for function, name in _GAUGE_FN.findall(bare):
        if name.endswith("_total"):
            problems.append(f"{where}: {function}() over the counter {name}; use rate()")
    return problems


def test_the_checker_catches_what_it_is_for() -> None:
    """Each kind of mistake, once: a checker that finds nothing is no check."""
    bad = {
        "fixbridge_upstream_reconnects": "not a series",
        'fixbridge_session_up{stream="executions"}': "no label 'stream'",
        "sum by (session) (rate(fixbridge_upstream_stalls_total[5m]))": "lacks",
        "sum(rate(fixbridge_session_gap_fills_total[5m])) by (session)": "sum by",
        "fixbridge_session_up and on (stream) fixbridge_session_in_schedule": "matches on",
        "rate(fixbridge_session_backlog_events[5m])": "not a counter",
        "deriv(fixbridge_session_gap_fills_total[5m])": "use rate",
    }
    for expr, reason in bad.items():
        problems = promql_problems(expr, "t")
        assert any(reason in p for p in problems), (expr, problems)
    good = (
        "histogram_quantile(0.99, sum by (instance, session, le) (rate("
        'fixbridge_lag_receipt_to_fix_write_seconds_bucket{session=~"$session"}[5m])))'
    )
    assert promql_problems(good, "t") == []


# ---- the Grafana dashboard ----------------------------------------------------------------


@functools.cache
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def all_panels() -> list[dict[str, Any]]:
    """Every panel, rows and the panels inside collapsed rows included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in all_panels():
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target.get('refId')}", target.get("expr", "")
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", text


def test_dashboard_is_an_importable_grafana_dashboard() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    assert board["id"] is None, "an exported id makes the import overwrite another dashboard"
    assert board["uid"] and board["title"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ROWS


def test_dashboard_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name, metric in [("session", "fixbridge_session_up"), ("stream", "fixbridge_upstream")]:
        query = variables[name]["query"]
        text = query["query"] if isinstance(query, dict) else query
        assert re.fullmatch(rf"label_values\({metric}\w*(\{{[^}}]*\}})?, {name}\)", text), text
        assert variables[name]["multi"] and variables[name]["includeAll"]


def test_every_panel_has_a_datasource_and_targets_and_a_unique_id() -> None:
    ids = [panel["id"] for panel in all_panels()]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in all_panels():
        x, width = panel["gridPos"]["x"], panel["gridPos"]["w"]
        assert x >= 0 and x + width <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        title = panel["title"]
        assert panel.get("datasource") == {"type": "prometheus", "uid": "${datasource}"}, title
        targets = panel.get("targets")
        assert targets, f"{title}: no targets"
        assert len({t["refId"] for t in targets}) == len(targets), f"{title}: refIds repeat"
        for target in targets:
            assert target.get("datasource") == panel["datasource"], title
            assert target.get("expr", "").strip(), f"{title}: empty query"


def test_dashboard_queries_use_only_exported_metrics_and_labels() -> None:
    problems = [p for where, expr in dashboard_queries() for p in promql_problems(expr, where)]
    assert problems == []


def test_dashboard_queries_use_only_defined_variables() -> None:
    defined = {v["name"] for v in dashboard()["templating"]["list"]}
    for where, expr in dashboard_queries():
        for braced, plain in _VARIABLE.findall(expr):
            name = braced or plain
            assert name.startswith("__") or name in defined, f"{where}: ${name} is not defined"


def test_dashboard_shows_every_exported_metric() -> None:
    shown = {name for _, expr in dashboard_queries() for name in _METRIC.findall(expr)}
    families = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for name in exported()
        if name.startswith("fixbridge_")
    }
    missing = {f for f in families if not any(re.sub(r"_(total|bucket|count|sum)$", "", s) == f
                                              for s in shown)}  # fmt: skip
    assert missing == set(), "metrics on no panel"
    queries = " ".join(expr for _, expr in dashboard_queries())
    for standard in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):  # fmt: skip
        assert standard in queries, standard


# ---- the alert rules ----------------------------------------------------------------------


@functools.cache
def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_every_alert_has_for_severity_summary_and_description() -> None:
    assert rules()
    for rule in rules():
        name = rule["alert"]
        assert "for" in rule, name
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert {"summary", "description"} <= rule["annotations"].keys(), name


def test_alert_expressions_use_only_exported_metrics_and_labels() -> None:
    problems = [p for rule in rules() for p in promql_problems(rule["expr"], rule["alert"])]
    assert problems == []


def test_alert_texts_name_only_labels_the_alert_has() -> None:
    """``{{ $labels.session }}`` on an alert aggregated without ``session`` prints nothing."""
    names = exported()
    for rule in rules():
        # ``a unless b`` has a's labels, whatever b's are: only a's metrics count.
        expr = re.split(r"\bunless\b", _unquoted(rule["expr"]))[0]
        groups = list(grouping_clauses(expr))
        metrics = [names[m] | TARGET_LABELS for m in _METRIC.findall(expr) if m in names]
        text = " ".join(rule["annotations"].values())
        for label in set(_LABEL_REF.findall(text)):
            if groups:
                kept = all((label in labels) == (kind == "by") for kind, labels, _ in groups)
            else:
                kept = label in TARGET_LABELS or all(label in m for m in metrics)
            assert kept, f"{rule['alert']}: {{{{ $labels.{label} }}}} is not on the alert"


# ---- promtool -----------------------------------------------------------------------------


def promtool() -> str:
    return tool("promtool", "prometheus")


def run_promtool(*args: str) -> str:
    done = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_promtool_accepts_the_rules() -> None:
    output = run_promtool("check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(rules())} rules found" in output


def test_promtool_accepts_the_scrape_config() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "fixbridge"
    (target,) = job["static_configs"][0]["targets"]
    assert target.endswith(f":{MetricsConfig().port}")
    assert [(PROMETHEUS.parent / f).resolve() for f in config["rule_files"]] == [ALERTS]
    output = run_promtool("check", "config", str(PROMETHEUS))
    assert "SUCCESS: 1 rule files found" in output


@dataclass(frozen=True)
class Scenario:
    """Input series, then: nothing fires at ``quiet_at``; exactly ``fires`` at ``fires_at``."""

    alert: str
    series: dict[str, str]
    quiet_at: str
    fires_at: str
    fires: tuple[dict[str, str], ...]


FB = {"job": "fixbridge", "instance": "fb:9108"}


def series(metric: str, instance: str = "fb:9108", **labels: str) -> str:
    """A series of ``metric`` as Prometheus stores it for the scraped bridge ``instance``."""
    matchers = {"job": "fixbridge", "instance": instance, **labels}
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in matchers.items()) + "}"


def buckets(metric: str, counts: dict[str, str], **labels: str) -> dict[str, str]:
    return {series(f"{metric}_bucket", **labels, le=le): values for le, values in counts.items()}


def fired(severity: str, *, job: bool = True, **labels: str) -> dict[str, str]:
    """The labels of one expected alert (``job`` is gone where the rule aggregates it away)."""
    base = FB if job else {"instance": FB["instance"]}
    return {**base, **labels, "severity": severity}


LAG = "fixbridge_lag_exchange_to_fix_write_seconds"
SCENARIOS = [
    Scenario(
        "FixbridgeDown",
        {series("up"): "0x5", series("up", instance="fb2:9108"): "1x5"},
        "1m", "3m", (fired("critical"),),
    ),
    Scenario(
        "FixbridgeUpstreamStreamDown",
        {  # fb serves; fb2 is its standby ([ha]), subscribed to nothing
            series("fixbridge_upstream_connected", stream="executions"): "0x5",
            series("fixbridge_upstream_connected", stream="trades"): "1x5",
            series("fixbridge_ha_active", pair="books"): "1x5",
            series("fixbridge_upstream_connected", "fb2:9108", stream="executions"): "0x5",
            series("fixbridge_ha_active", "fb2:9108", pair="books"): "0x5",
        },
        "1m", "3m", (fired("critical", stream="executions"),),
    ),
    Scenario(
        "FixbridgeUpstreamReconnectLoop",
        {
            series("fixbridge_upstream_reconnects_total", stream="trades", reason="stall"):
                "0+1x30",
            series("fixbridge_upstream_reconnects_total", stream="executions", reason="stall"):
                "0x30",
        },
        "3m", "20m", (fired("warning", job=False, stream="trades"),),
    ),
    Scenario(
        "FixbridgeNoExecutionsFlowing",
        {  # fb: 30 minutes of executions, then none; fb2: executions all along
            series("fixbridge_upstream_events_received_total", stream="executions"):
                "0+5x30 150x70",
            series("fixbridge_upstream_connected", stream="executions"): "1x100",
            series("fixbridge_upstream_events_received_total", "fb2:9108", stream="executions"):
                "0+5x100",
            series("fixbridge_upstream_connected", "fb2:9108", stream="executions"): "1x100",
        },
        "75m", "95m", (fired("info", job=False),),
    ),
    Scenario(
        "FixbridgeUpstreamStalls",
        {
            series("fixbridge_upstream_stalls_total", stream="positions"): "0+1x40",
            series("fixbridge_upstream_stalls_total", stream="trades"): "0x40",
        },
        "2m", "15m", (fired("warning", stream="positions"),),
    ),
    Scenario(
        "FixbridgeResumeGapUnrecoverable",
        {
            series("fixbridge_upstream_resume_fallbacks_total", stream="trades",
                   kind="unrecoverable"): "0 0 0 1 1 1",
            series("fixbridge_upstream_resume_fallbacks_total", stream="trades",
                   kind="resume_time"): "0 1 2 3 4 5",
        },
        "2m", "4m", (fired("critical", stream="trades", kind="unrecoverable"),),
    ),
    Scenario(
        "FixbridgeEventsFlagged",
        {
            series("fixbridge_upstream_events_flagged_total", stream="positions"): "0 0 0 2 2",
            series("fixbridge_upstream_events_flagged_total", stream="executions"): "0x4",
        },
        "2m", "4m", (fired("warning", stream="positions"),),
    ),
    Scenario(
        "FixbridgeSettlementSymbolsRefused",
        {
            series("fixbridge_market_data_subscription_errors_total", code="INVALID_SYMBOL"):
                "0 0 0 1 1",
            series("fixbridge_market_data_subscription_errors_total", code="NOT_SUBSCRIBED"):
                "0 1 2 3 4",
        },
        "2m", "4m", (fired("warning", code="INVALID_SYMBOL"),),
    ),
    Scenario(
        "FixbridgeTokenRefreshFailing",
        {
            series("fixbridge_upstream_token_refreshes_total", result="failed"): "0+1x20",
            series("fixbridge_upstream_token_refreshes_total", result="ok"): "0+1x20",
        },
        "3m", "10m", (fired("warning", result="failed"),),
    ),
    Scenario(
        "FixbridgeTokenExpired",
        {  # expired at t=60 s; no token yet (0); valid for a long time
            series("fixbridge_upstream_token_expiry_timestamp_seconds"): "60x10",
            series("fixbridge_upstream_token_expiry_timestamp_seconds", "fb2:9108"): "0x10",
            series("fixbridge_upstream_token_expiry_timestamp_seconds", "fb3:9108"): "1e6x10",
        },
        "2m", "4m", (fired("critical"),),
    ),
    Scenario(
        "FixbridgeJournalAppendSlow",
        buckets("fixbridge_journal_append_seconds",
                {"0.05": "0x20", "0.25": "0+10x20", "+Inf": "0+10x20"}),
        "5m", "15m", (fired("warning", job=False),),
    ),
    Scenario(
        "FixbridgeJournalDiskFillingUp",
        {  # 100 GB disks. fb: 25 GB free, 0.1 GB less each minute (full within 4 hours from
            # minute 10 on); fb2: 15 GB free and steady; fb3: losing as fast from 80 GB (full
            # in over 13 hours)
            series("fixbridge_journal_disk_free_bytes"): "25e9-1e8x120",
            series("fixbridge_journal_disk_total_bytes"): "100e9x120",
            series("fixbridge_journal_disk_free_bytes", "fb2:9108"): "15e9x120",
            series("fixbridge_journal_disk_total_bytes", "fb2:9108"): "100e9x120",
            series("fixbridge_journal_disk_free_bytes", "fb3:9108"): "80e9-1e8x120",
            series("fixbridge_journal_disk_total_bytes", "fb3:9108"): "100e9x120",
        },
        "20m", "40m", (fired("warning"),),
    ),
    Scenario(
        "FixbridgeJournalDiskAlmostFull",
        {  # fb: 6 GB free, then 4 GB; fb2: 6 GB free all along
            series("fixbridge_journal_disk_free_bytes"): "6e9 6e9 4e9x10",
            series("fixbridge_journal_disk_total_bytes"): "100e9x12",
            series("fixbridge_journal_disk_free_bytes", "fb2:9108"): "6e9x12",
            series("fixbridge_journal_disk_total_bytes", "fb2:9108"): "100e9x12",
        },
        "5m", "8m", (fired("critical"),),
    ),
    Scenario(
        "FixbridgeSessionDownInSchedule",
        {
            series("fixbridge_session_up", session="backoffice"): "0x10",
            series("fixbridge_session_in_schedule", session="backoffice"): "1x10",
            series("fixbridge_session_up", session="weekend"): "0x10",
            series("fixbridge_session_in_schedule", session="weekend"): "0x10",
            series("fixbridge_session_up", session="live"): "1x10",
            series("fixbridge_session_in_schedule", session="live"): "1x10",
            # the standby ([ha]) serves no session until it takes over
            series("fixbridge_session_up", "fb2:9108", session="backoffice"): "0x10",
            series("fixbridge_session_in_schedule", "fb2:9108", session="backoffice"): "1x10",
            series("fixbridge_ha_active", "fb2:9108", pair="books"): "0x10",
        },
        "4m", "6m", (fired("warning", session="backoffice"),),
    ),
    Scenario(
        "FixbridgeSessionBacklogGrowing",
        {
            series("fixbridge_session_backlog_events", session="slow"): "0+100x40",
            series("fixbridge_session_up", session="slow"): "1x40",
            series("fixbridge_session_backlog_events", session="away"): "0+100x40",
            series("fixbridge_session_up", session="away"): "0x40",
        },
        "15m", "25m", (fired("warning", session="slow"),),
    ),
    Scenario(
        "FixbridgeSentMessagesLost",
        {
            series("fixbridge_session_messages_lost_total", session="damaged"): "0 0 0 3 3 3",
            series("fixbridge_session_messages_lost_total", session="calm"): "0 0 0 0 0 0",
        },
        "2m", "4m", (fired("critical", session="damaged"),),
    ),
    Scenario(
        "FixbridgeSequenceNumbersWentBackwards",
        {
            series("fixbridge_session_sequence_regressions_total", session="restored"):
                "0 0 0 1 1 1",
            series("fixbridge_session_sequence_regressions_total", session="calm"): "0x5",
        },
        "2m", "4m", (fired("critical", session="restored"),),
    ),
    Scenario(
        "FixbridgeResendStorm",
        {
            series("fixbridge_session_resend_requests_total", session="loop"): "0+5x30",
            series("fixbridge_session_resend_requests_total", session="calm"): "0 1 1 1 1",
        },
        "2m", "15m", (fired("warning", session="loop"),),
    ),
    Scenario(
        "FixbridgeSessionDisconnects",
        {
            series("fixbridge_session_heartbeat_timeouts_total", session="flaky"): "0+1x40",
            series("fixbridge_session_slow_consumer_disconnects_total", session="flaky"): "0x40",
            series("fixbridge_session_heartbeat_timeouts_total", session="calm"): "0x40",
            series("fixbridge_session_slow_consumer_disconnects_total", session="calm"): "0x40",
        },
        "3m", "15m", (fired("warning", session="flaky"),),
    ),
    Scenario(
        "FixbridgeLogonLockout",
        {
            series("fixbridge_logon_lockouts_total", scope="source"): "0 0 0 1 1 1",
            series("fixbridge_logon_lockouts_total", scope="session"): "0x5",
        },
        "2m", "4m", (fired("warning", scope="source"),),
    ),
    Scenario(
        "FixbridgePasswordChecksSaturated",
        {
            series("fixbridge_logon_throttled_total", reason="busy", scope="bridge"):
                "0 0 0 7 9 9",
            series("fixbridge_logon_throttled_total", reason="busy", scope="source"): "0+3x5",
        },
        "2m", "4m", (fired("warning", reason="busy", scope="bridge"),),
    ),
    Scenario(
        "FixbridgeLagHigh",
        {  # slow: every message between 2.5 and 5 s; fast: all under 1 s
            **buckets(LAG, {"1.0": "0x30", "2.5": "0x30", "5.0": "0+10x30", "+Inf": "0+10x30"},
                      session="slow"),
            **buckets(LAG, {le: "0+10x30" for le in ("1.0", "2.5", "5.0", "+Inf")},
                      session="fast"),
        },
        "5m", "15m", (fired("warning", job=False, session="slow"),),
    ),
    Scenario(
        "FixbridgeNoBridgeServing",
        {  # a pair whose active one steps down and nobody takes over: two standbys
            series("fixbridge_ha_active", pair="books"): "1 1 0 0 0 0 0",
            series("fixbridge_ha_active", "fb2:9108", pair="books"): "0x6",
            # another pair, served all along, must not hide it
            series("fixbridge_ha_active", "fb3:9108", pair="clearing"): "1x6",
            series("fixbridge_ha_active", "fb4:9108", pair="clearing"): "0x6",
        },
        "1m", "5m", ({"job": "fixbridge", "pair": "books", "severity": "critical"},),
    ),
]  # fmt: skip


def test_every_alert_has_a_scenario_and_scenarios_use_exported_series() -> None:
    assert sorted(s.alert for s in SCENARIOS) == sorted(r["alert"] for r in rules())
    for scenario in SCENARIOS:
        for series in scenario.series:
            assert promql_problems(series, scenario.alert) == []


def write_rules(folder: Path) -> None:
    """The alert rules as promtool's rule file, annotations left out (their wording is not
    the point here, and promtool check rules has parsed their templates)."""
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in data["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (folder / "rules.json").write_text(json.dumps(data))  # YAML is a superset of JSON


def test_each_alert_fires_when_it_should_and_not_before(tmp_path: Path) -> None:
    """promtool test rules over the real expressions."""
    write_rules(tmp_path)
    tests = [
        {
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in scenario.series.items()],
            "alert_rule_test": [
                {"eval_time": scenario.quiet_at, "alertname": scenario.alert, "exp_alerts": []},
                {
                    "eval_time": scenario.fires_at,
                    "alertname": scenario.alert,
                    "exp_alerts": [{"exp_labels": labels} for labels in scenario.fires],
                },
            ],
        }
        for scenario in SCENARIOS
    ]
    unit = {"rule_files": ["rules.json"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "unit.json").write_text(json.dumps(unit))
    output = run_promtool("test", "rules", str(tmp_path / "unit.json"))
    assert "SUCCESS" in output


NORMAL_RUN = REPO / "deploy" / "recorded" / "normal-run.json"


def recorded_normal_run() -> tuple[str, dict[str, str], int]:
    """scripts/record_normal_run.py's recording (simulator -> bridge -> a client logged on
    throughout, every 15 s), labelled as Prometheus would store it: interval, series, scrapes."""
    recording = json.loads(NORMAL_RUN.read_text())
    labelled = {}
    for name, values in recording["series"].items():
        metric, _, rest = name.partition("{")
        inner = rest.rstrip("}")
        labelled[series(metric, **dict(_LABEL.findall(inner)))] = values
    return recording["interval"], labelled, recording["scrapes"]


_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def normal_run_test(interval: str, input_series: dict[str, str], scrapes: int,
                    expected: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # fmt: skip
    """One promtool test: every alert evaluated every 5 minutes over the recording."""
    seconds = int(interval.rstrip("s")) * (scrapes - 1)
    times = [f"{t}s" for t in range(300, seconds + 1, 300)]
    return {
        "interval": interval,
        "input_series": [{"series": k, "values": v} for k, v in input_series.items()],
        "alert_rule_test": [
            {
                "eval_time": at,
                "alertname": rule["alert"],
                "exp_alerts": expected.get(rule["alert"], []) if at == times[-1] else [],
            }
            for rule in rules()
            for at in times
        ],
    }


def test_no_alert_fires_over_a_recorded_normal_run(tmp_path: Path) -> None:
    """Alerts that hold: a normal run (fills, trade state changes, busts, instrument and
    position updates, settlement prices from the market-data stream, a client logged on
    throughout) fires none of them at any point. A copy
    whose executions stream drops for its last 5 minutes fires exactly the stream-down alert,
    so the recording is really evaluated."""
    interval, recorded, scrapes = recorded_normal_run()
    assert scrapes * int(interval.rstrip("s")) >= 20 * 60, "record at least 20 minutes"
    connected = series("fixbridge_upstream_connected", stream="executions")
    assert set(recorded[connected].split()) == {"1"}, "the recorded run lost its stream"
    # The market-data subscriber ran throughout and journaled settlement prices.
    settlements = series("fixbridge_upstream_connected", stream="settlements")
    assert set(recorded[settlements].split()) == {"1"}, "the recording lacks market data"
    stored = series("fixbridge_journal_events_stored_total", stream="settlements")
    assert float(recorded[stored].split()[-1]) > 0, "no settlement price was recorded"
    broken = dict(recorded)
    down = 5 * 60 // int(interval.rstrip("s"))
    broken[connected] = " ".join(["1"] * (scrapes - down) + ["0"] * down)
    write_rules(tmp_path)
    tests = [
        normal_run_test(interval, recorded, scrapes, {}),
        normal_run_test(interval, broken, scrapes, {
            "FixbridgeUpstreamStreamDown": [
                {"exp_labels": {**FB, "stream": "executions", "severity": "critical"}}
            ],
        }),
    ]  # fmt: skip
    unit = {"rule_files": ["rules.json"], "evaluation_interval": interval, "tests": tests}
    (tmp_path / "unit.json").write_text(json.dumps(unit))
    assert "SUCCESS" in run_promtool("test", "rules", str(tmp_path / "unit.json"))


# ---- the Dockerfile -----------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continuation"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def only(keyword: str) -> str:
    values = [args for k, args in final_stage() if k == keyword]
    assert values, f"the final stage has no {keyword}"
    return values[-1]


def test_image_is_python_3_11_slim() -> None:
    bases = [args.split()[0] for keyword, args in dockerfile() if keyword == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases


def test_image_runs_as_an_unprivileged_user() -> None:
    user = only("USER").split(":")[0]
    assert user == "10001"
    assert "useradd" in " ".join(args for k, args in final_stage() if k == "RUN")


def test_image_exposes_the_configured_ports() -> None:
    ports = {int(p.split("/")[0]) for p in only("EXPOSE").split()}
    assert ports == {FixConfig().port, MetricsConfig().port}


def test_healthcheck_gets_healthz_with_python() -> None:
    options, _, command = only("HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"], argv
    assert f"http://127.0.0.1:{MetricsConfig().port}/healthz" in argv[2]
    compile(argv[2], "HEALTHCHECK", "exec")
    assert "--timeout=" in options


def test_image_reads_its_config_from_the_environment_in_a_volume() -> None:
    env = dict(item.split("=", 1) for item in shlex.split(only("ENV")))
    volumes = json.loads(only("VOLUME"))
    assert set(volumes) == {"/etc/fixbridge", "/var/lib/fixbridge"}
    assert env[CONFIG_ENV] == "/etc/fixbridge/fixbridge.toml"
    assert only("WORKDIR") == "/var/lib/fixbridge"  # a relative journal.path lands on a volume


def test_image_entrypoint_is_the_console_script_running_the_bridge() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    (entrypoint,) = json.loads(only("ENTRYPOINT"))
    assert entrypoint in scripts
    command = json.loads(only("CMD"))
    assert command == ["run"]
    assert build_parser().parse_args(command).command == "run"  # valid with no --config
    assert only("STOPSIGNAL") == "SIGTERM"


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (is_exception, regex); the last rule matching a path decides."""
    found = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            else:
                regex += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
                if pattern[i] == "[":  # a character class, kept as it is
                    end = pattern.index("]", i)
                    regex = regex[:-2] + pattern[i : end + 1]
                    i = end
                i += 1
        # a pattern that matches a directory also matches everything under it
        found.append((negate, re.compile(regex + "(?:/.*)?")))
    return found


def excluded(path: str) -> bool:
    verdict = False
    for negate, regex in _ignore_rules():
        if regex.fullmatch(path):
            verdict = not negate
    return verdict


def test_the_dockerignore_matcher_follows_docker_rules() -> None:
    assert excluded(".git/config") and excluded("var/fixbridge.db") and excluded("tests")
    assert not excluded("fixbridge/cli.py") and not excluded("pyproject.toml")
    assert excluded("fixbridge/__pycache__/cli.cpython-311.pyc")


def copy_sources() -> Iterator[str]:
    """Sources of every COPY/ADD from the build context (not ``--from`` another stage)."""
    for keyword, args in dockerfile():
        if keyword not in {"COPY", "ADD"}:
            continue
        words = json.loads(args) if args.startswith("[") else shlex.split(args)
        flags = [w for w in words if w.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        paths = [w for w in words if not w.startswith("--")]
        yield from paths[:-1]


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    sources = list(copy_sources())
    assert {"pyproject.toml", "fixbridge"} <= set(sources)
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: no such file"
        assert not excluded(source), f"COPY {source}: excluded by .dockerignore"
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if file.suffix in {".py", ".pyi"}:
                assert not excluded(relative), f"{relative}: excluded by .dockerignore"
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in sources, "the package build needs its readme in the image"


def test_check_config_and_run_take_the_config_path_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = REPO / "deploy" / "fixbridge.example.toml"
    monkeypatch.setenv(CONFIG_ENV, str(example))
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.startswith(f"{example}: OK")
    monkeypatch.delenv(CONFIG_ENV)
    assert main(["check-config"]) == 2
    assert main(["run"]) == 2
    error = (
        f"fixbridge: configuration error: no config file: pass --config FILE or set {CONFIG_ENV}"
    )
    assert capsys.readouterr().err.splitlines() == [error, error]


@pytest.mark.parametrize(
    ("section", "named"),
    [
        (
            "[upstream.auth]\nclient_id = \"c\"\ntoken_url = \"https://auth.example/token\"\n"
            "audience = \"https://api.example\"\nprivate_key_file = \"{missing}\"\n",
            "private_key_file",
        ),
        ("[fix.tls]\ncert_file = \"{missing}\"\nkey_file = \"{missing}\"\n", "{missing}"),
    ],
)
def test_check_config_says_ok_only_after_every_check(
    section: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key or certificate file that is missing is found by check-config, as by run: exit 2,
    an error naming it, and no "OK" printed first."""
    missing = tmp_path / "absent.pem"
    config = tmp_path / "fixbridge.toml"
    base = (REPO / "deploy" / "fixbridge.example.toml").read_text()
    config.write_text(base + "\n" + section.format(missing=missing))
    assert main(["check-config", "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert named.format(missing=missing) in err, err


def test_readme_lists_exactly_the_alerts() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\s*\| `(Fixbridge\w+)` \|", readme, re.MULTILINE)
    assert sorted(listed) == sorted(rule["alert"] for rule in rules())


# ---- systemd ------------------------------------------------------------------------------


def systemd_unit() -> configparser.ConfigParser:
    """The unit's settings; a key systemd allows several times (ExecReload) keeps its last."""
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(SYSTEMD_UNIT.read_text(encoding="utf-8"))
    return unit


def test_the_systemd_unit_keeps_the_journal_private_and_runs_unprivileged() -> None:
    service = systemd_unit()["Service"]
    assert service["User"] == service["Group"] == "fixbridge"
    assert service["UMask"] == "0077"
    assert (service["StateDirectory"], service["StateDirectoryMode"]) == ("fixbridge", "0700")
    assert service["WorkingDirectory"] == "/var/lib/fixbridge"  # journal.path resolves here
    assert service["CapabilityBoundingSet"] == "" and service["NoNewPrivileges"] == "yes"
    assert FixConfig().port > 1024 and MetricsConfig().port > 1024  # no capability needed


def test_the_systemd_unit_runs_commands_fixbridge_has_with_its_config() -> None:
    service = systemd_unit()["Service"]
    assert service["Environment"] == f"{CONFIG_ENV}=/etc/fixbridge/fixbridge.toml"
    (commands,) = [a.choices for a in build_parser()._actions if a.dest == "command"]
    assert commands is not None
    for key in ("ExecStartPre", "ExecStart"):
        program, *args = shlex.split(service[key])
        assert program == "/opt/fixbridge/bin/fixbridge" and args[0] in commands
    assert shlex.split(service["ExecStart"])[1:] == ["run"]
    assert service["KillSignal"] == "SIGTERM"  # every session logged out, exit 0
    text = SYSTEMD_UNIT.read_text(encoding="utf-8")
    check, hup = re.findall(r"^ExecReload=(.*)$", text, re.MULTILINE)  # run in this order
    assert shlex.split(check)[1:] == ["check-config"]
    assert shlex.split(hup) == ["/bin/kill", "-HUP", "$MAINPID"]  # Bridge.reload


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """systemd's own checker: an unknown key or a bad value is reported, not ignored."""
    analyze = tool("systemd-analyze", "systemd")
    fixbridge = str(Path(sys.executable).parent / "fixbridge")  # the console script beside us
    copy = tmp_path / "fixbridge.service"  # the commands as installed here
    copy.write_text(
        SYSTEMD_UNIT.read_text(encoding="utf-8").replace("/opt/fixbridge/bin/fixbridge", fixbridge)
    )
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    findings = [line for line in (done.stdout + done.stderr).splitlines() if str(copy) in line]
    assert done.returncode == 0 and findings == [], done.stdout + done.stderr
