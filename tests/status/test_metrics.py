"""/metrics of a real tessera process, read with prometheus-client's own text parser: every
line must parse, Tessera's series and the names Minecraft exporters use (mc_*) must be there,
and they must follow a bot that joins and plays."""

from __future__ import annotations

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_status import REPO, Server, idle_bot


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # without the login gate a player is saved when it leaves: a register write to see
    srv = Server(tmp_path_factory.mktemp("tessera-metrics"), extra="\n[auth]\nrequire_login = false\n")
    yield srv
    srv.close()


def scrape(server) -> dict[str, list]:
    url = None
    for line in server.text().splitlines():
        if "admin interface on " in line:
            url = line.split("admin interface on ")[1].strip()
    assert url, "no admin interface line in the log"
    body = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    families = {}
    for family in text_string_to_metric_families(body):
        families[family.name] = family.samples
    return families


def value(families, name, suffix="", **labels) -> float:
    """The sample with exactly these labels (besides a histogram's le): the node's total of
    mc_tick_duration_seconds, not one of its regions'."""
    for sample in families[name]:
        own = {k: v for k, v in sample.labels.items() if k != "le"}
        if sample.name == name + suffix and own == labels:
            return sample.value
    raise AssertionError(f"no sample {name}{suffix} {labels}; have {families[name]}")


def regions(families, name) -> dict[str, float]:
    """The _count of each region's histogram in a family, by region label."""
    return {s.labels["region"]: s.value for s in families[name]
            if s.name == name + "_count" and "region" in s.labels}


def test_every_line_parses_and_the_vanilla_names_are_there(server):
    families = scrape(server)
    for name in ["tessera_players_online", "tessera_chunks_loaded", "tessera_tick_duration_seconds",
                 "mc_players_online_total", "mc_players_max", "mc_loaded_chunks_total", "mc_tps",
                 "mc_tick_duration_seconds", "tessera_register_operation_seconds",
                 "tessera_register_operation_failures", "tessera_region_handoffs",
                 "tessera_journal_unsaved_changes", "tessera_journal_unsaved_bytes",
                 "tessera_journal_oldest_unsaved_seconds"]:
        assert name in families, f"{name} missing; have {sorted(families)}"
    assert value(families, "mc_players_online_total", node="1") == 0
    assert value(families, "mc_players_max", node="1") == 23
    for direction in ["in", "out"]:
        assert value(families, "tessera_region_handoffs", "_total", node="1", direction=direction) == 0
    for op in ["read", "write"]:
        assert value(families, "tessera_register_operation_failures", "_total", node="1", op=op) == 0
        value(families, "tessera_register_operation_seconds", "_count", node="1", op=op)
    assert value(families, "tessera_journal_oldest_unsaved_seconds", node="1") >= 0


def test_the_series_follow_a_bot_that_plays(server):
    before = scrape(server)
    with idle_bot(server, "MetricsBot"):
        time.sleep(2)
        during = scrape(server)
        assert value(during, "mc_players_online_total", node="1") == 1
        assert value(during, "mc_loaded_chunks_total", node="1") > 0
        ticks_before = value(before, "mc_tick_duration_seconds", "_count", node="1")
        assert value(during, "mc_tick_duration_seconds", "_count", node="1") > ticks_before
        tps = value(during, "mc_tps", node="1")
        assert 15 <= tps <= 20, f"mc_tps {tps} on an idle server"
        # the bot stands in a region of this node: that region ticks, and only running regions
        # are listed
        ticking = regions(during, "mc_tick_duration_seconds")
        assert ticking and all(r.startswith("r.") for r in ticking), ticking
        assert max(ticking.values()) > 0, ticking
        assert len(ticking) == value(during, "tessera_regions"), ticking
        # a join reads the player's record from the register
        reads = value(during, "tessera_register_operation_seconds", "_count", node="1", op="read")
        assert reads > value(before, "tessera_register_operation_seconds", "_count", node="1", op="read")
        assert value(during, "tessera_register_operation_failures", "_total", node="1", op="read") == 0
    # leaving writes the player's record back
    deadline = time.time() + 10
    while True:
        after = scrape(server)
        writes = value(after, "tessera_register_operation_seconds", "_count", node="1", op="write")
        if writes > value(before, "tessera_register_operation_seconds", "_count", node="1", op="write"):
            break
        assert time.time() < deadline, "no register write after the bot left"
        time.sleep(0.2)


def test_every_series_the_grafana_dashboard_plots_is_exported(server):
    import json
    import re

    dashboard = json.loads((REPO / "deploy" / "grafana" / "tessera-dashboard.json").read_text())
    wanted = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            wanted.update(re.findall(r"\b((?:mc|tessera)_[a-z_]+)", target["expr"]))
    families = scrape(server)
    exported = set(families) | {s.name for samples in families.values() for s in samples}
    assert wanted, "the dashboard plots nothing"
    missing = sorted(w for w in wanted if w not in exported)
    assert not missing, f"the dashboard plots series /metrics does not have: {missing}"
