"""Tests for directorsync.synth: the demo workbook and synthetic workbooks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from directorsync import synth
from directorsync.cli.workbook_command import make_workbook_command

SAMPLES = Path(__file__).parents[1] / "../shared/samples"
CORE = SAMPLES / "core_config.xlsx"
HEX24 = re.compile(r"^[0-9a-f]{24}$")
NOT_IMPORTED = {"User", "UserGroup"}  # sheets of the samples that DirectorSync does not import


def read_xlsx(path: Path, **kwargs) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None, engine="calamine", **kwargs)


def split(cell) -> list[str]:
    return [] if pd.isna(cell) else [part.strip() for part in str(cell).split("|")]


def empty(cell) -> bool:
    return pd.isna(cell) or str(cell).strip().lower() in {"", "none", "nan"}


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    return synth.write_demo_workbook(tmp_path_factory.mktemp("demo") / "demo.xlsx")


@pytest.fixture(scope="module")
def demo(demo_path) -> dict[str, pd.DataFrame]:
    return read_xlsx(demo_path)


@pytest.fixture(scope="module")
def core() -> dict[str, pd.DataFrame]:
    if not CORE.exists():
        pytest.skip(f"sample workbooks not found at {SAMPLES}")
    return read_xlsx(CORE)


# --- demo workbook: format -------------------------------------------------------------------


def test_demo_has_the_sample_sheets_and_columns(demo, core):
    assert list(demo) == [sheet for sheet in core if sheet not in NOT_IMPORTED]
    for sheet, frame in demo.items():
        assert list(frame.columns) == list(core[sheet].columns), sheet
        assert list(synth.COLUMNS[sheet]) == list(core[sheet].columns), sheet


def test_demo_vendor_names_exist_in_the_samples(demo, core):
    def names(frame, column):
        return {name for cell in frame[column] for name in split(cell)}

    for column in ("normalization_packages", "compiled_normalizer"):
        used = names(demo["NormalizationPolicy"], column)
        assert used and used <= names(core["NormalizationPolicy"], column), column
    assert set(demo["EnrichmentPolicy"]["source"]) <= set(core["EnrichmentPolicy"]["source"])


def test_demo_quirks_mirror_the_samples(demo):
    repo = demo["Repo"]
    assert (repo["storage_paths"].str.contains(" | ", regex=False)).sum() >= 2
    assert repo["used_size"].str.fullmatch(r"\d+\.\d{5} MB").all()
    assert demo["Device"]["ip"].str.contains(" | ", regex=False).any()
    assert demo["Device"]["device_groups"].str.contains(" | ", regex=False).any()
    assert demo["Device"]["description"].isna().all()  # empty cells read as NaN
    assert demo["Device"]["active"].dtype == bool
    assert demo["EnrichmentRules"]["prefix"].dtype == bool
    for sheet, column in [
        ("RoutingPolicy", "policy_id"),
        ("ProcessingPolicy", "policy_id"),
        ("EnrichmentPolicy", "policy_id"),
        ("Device", "device_id"),
        ("DeviceFetcher", "device_id"),
        ("DeviceGroups", "group_id"),
    ]:
        assert demo[sheet][column].str.fullmatch(HEX24.pattern).all(), (sheet, column)


def test_demo_routing_policies_repeat_policy_columns_per_criterion(demo):
    rp = demo["RoutingPolicy"]
    sizes = rp.groupby("cleaned_policy_name").size()
    assert sizes.max() == 2
    multi = rp[rp["cleaned_policy_name"] == sizes.idxmax()]
    assert multi[["original_policy_name", "catch_all", "policy_id"]].nunique().max() == 1
    assert rp.groupby("cleaned_policy_name")["rule_type"].count().min() == 0  # one without


def test_demo_alerts_use_json_repos_with_original_names(demo):
    alert = demo["Alert"]
    repos = set(demo["Repo"]["original_repo_name"])
    for cell in alert["settings.repos"]:
        tokens = json.loads(cell)
        assert tokens and all(re.fullmatch(r"\d+(\.\d+){3}:\d+/[\w-]+", t) for t in tokens)
        assert {t.split("/", 1)[1] for t in tokens} <= repos
    assert set(alert["settings.user"]) == {"admin"}
    assert set(alert["settings.risk"]) <= {"low", "medium", "high", "critical"}


# --- demo workbook: determinism and bad rows --------------------------------------------------


def test_demo_frames_are_deterministic():
    first, second = synth.demo_frames(), synth.demo_frames()
    assert list(first) == list(second)
    for sheet in first:
        pd.testing.assert_frame_equal(first[sheet], second[sheet])


def test_demo_workbook_reads_back_as_the_frames(demo):
    for sheet, frame in synth.demo_frames().items():
        # Director's literal "None" (unset reference) reads back as NaN, as in the samples.
        expected = frame.replace({"None": np.nan})
        pd.testing.assert_frame_equal(demo[sheet], expected, check_dtype=False, obj=sheet)


def _problems(frames: dict[str, pd.DataFrame]) -> set[tuple[str, int, str]]:
    """Every (sheet, excel_row, column) with one of the problems the demo is meant to show."""
    found = set()
    repos = set(frames["Repo"]["original_repo_name"])
    groups = set(frames["DeviceGroups"]["name"])
    for i, row in frames["Repo"].iterrows():
        if not all(part.isdigit() for part in split(row["retention_days"])):
            found.add(("Repo", i + 2, "retention_days"))
    for i, row in frames["RoutingPolicy"].iterrows():
        for column in ("catch_all", "repo"):
            if not empty(row[column]) and row[column] not in repos:
                found.add(("RoutingPolicy", i + 2, column))
    for i, row in frames["Device"].iterrows():
        if not set(split(row["device_groups"])) <= groups:
            found.add(("Device", i + 2, "device_groups"))
        for column in ("confidentiality", "integrity", "availability"):
            if row[column] not in synth.RISK_LEVELS:
                found.add(("Device", i + 2, column))
    for i, name in frames["Alert"]["name"].items():
        if empty(name):
            found.add(("Alert", i + 2, "name"))
    return found


def test_bad_rows_are_exactly_where_declared(demo):
    declared = {(b["sheet"], b["excel_row"], b["column"]) for b in synth.DEMO_BAD_ROWS}
    assert len(declared) == 5
    assert _problems(demo) == declared
    assert all(bad["problem"] for bad in synth.DEMO_BAD_ROWS)


def test_bad_rows_point_at_the_excel_cells(demo_path):
    book = openpyxl.load_workbook(demo_path, read_only=True)
    for bad in synth.DEMO_BAD_ROWS:
        sheet = book[bad["sheet"]]
        header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
        column = header.index(bad["column"]) + 1
        assert sheet.cell(bad["excel_row"], column).value == bad["value"], bad
    book.close()


# --- demo workbook: references join inside the workbook ---------------------------------------


def test_processing_policy_joins_resolve(demo):
    pp, rp, ep = demo["ProcessingPolicy"], demo["RoutingPolicy"], demo["EnrichmentPolicy"]
    assert set(pp["norm_policy"]) <= set(demo["NormalizationPolicy"]["policy_name"])
    assert set(pp["routing_policy_id"]) <= set(rp["policy_id"])
    enriched = pp["enrich_policy"][~pp["enrich_policy"].map(empty)]
    assert len(enriched) and set(enriched) <= set(ep["policy_id"])
    assert pp["enrich_policy"].map(empty).any()  # and some processing policies have none
    bad_rp = {b["excel_row"] - 2 for b in synth.DEMO_BAD_ROWS if b["sheet"] == "RoutingPolicy"}
    assert not set(pp["routing_policy_id"]) & set(rp.loc[list(bad_rp), "policy_id"])


def test_enrichment_sheets_join_on_policy_and_spec(demo):
    keys = demo["EnrichmentPolicy"][["policy_name", "spec_index", "source"]]
    for sheet in ("EnrichmentRules", "EnrichmentCriteria"):
        joined = demo[sheet].merge(keys, on=["policy_name", "spec_index", "source"], how="left",
                                   indicator=True)  # fmt: skip
        assert (joined["_merge"] == "both").all(), sheet


def test_collectors_devices_and_groups_join(demo):
    device, fetcher, groups = demo["Device"], demo["DeviceFetcher"], demo["DeviceGroups"]
    assert set(fetcher["app"]) == {"SyslogCollector"}
    merged = fetcher.merge(device, left_on="device_name", right_on="name", validate="1:1")
    assert (merged["device_id_x"] == merged["device_id_y"]).all()
    policies = fetcher["processpolicy"].dropna()
    assert set(policies) <= set(demo["ProcessingPolicy"]["policy_id"])
    proxies = merged.loc[merged["proxy_condition"] == "use_as_proxy", "ip"]
    users = fetcher[fetcher["proxy_condition"] == "uses_proxy"]
    assert len(proxies) and len(users)
    proxy_ips = {ip for cell in proxies for ip in split(cell)}
    assert all(set(split(cell)) <= proxy_ips for cell in users["proxy_ip"])
    members = {member for cell in groups["device_ids"] for member in split(cell)}
    assert members <= set(device["device_id"])


# --- synthetic workbooks ---------------------------------------------------------------------


@pytest.mark.parametrize("devices", [0, 1, 57, 3000])
def test_synthetic_sizes_are_exact(devices):
    frames = synth.synthetic_frames(devices)
    assert list(frames) == list(synth.COLUMNS)
    for sheet, frame in frames.items():
        assert list(frame.columns) == list(synth.COLUMNS[sheet]), sheet
    bad = round(devices * 0.001)
    assert len(frames["Device"]) == devices
    assert len(frames["DeviceFetcher"]) == min(devices - bad, 1000)
    assert len(frames["DeviceGroups"]) == len(synth.SYNTH_GROUPS) == 20


def test_synthetic_frames_are_seeded():
    first, again = synth.synthetic_frames(500, seed=3), synth.synthetic_frames(500, seed=3)
    for sheet in first:
        pd.testing.assert_frame_equal(first[sheet], again[sheet])
    other = synth.synthetic_frames(500, seed=4)["Device"]
    assert not other["name"].equals(first["Device"]["name"])


def test_synthetic_devices_look_real():
    frames = synth.synthetic_frames(5000, bad_ratio=0.0)
    device = frames["Device"]
    assert device["name"].str.fullmatch(r"[a-z]+-[a-z]{3}-[a-z]+-\d{5}").all()
    assert device["name"].is_unique and device["device_id"].is_unique
    ips = device["ip"].str.split(" | ", regex=False)
    assert ips.map(len).between(1, 3).all() and ips.map(len).max() == 3
    assert ips.explode().is_unique
    groups = device["device_groups"].str.split(" | ", regex=False)
    assert groups.map(len).between(1, 2).all()
    assert set(groups.explode()) == set(frames["DeviceGroups"]["name"])
    for column in ("confidentiality", "integrity", "availability"):
        assert set(device[column]) == set(synth.RISK_LEVELS)
    assert device["timezone"].nunique() > 3


def test_synthetic_bad_ratio_is_honoured():
    frames = synth.synthetic_frames(3000, bad_ratio=0.01)
    device, known = frames["Device"], set(frames["DeviceGroups"]["name"])
    empty_names = device["name"].isna().sum()
    duplicates = device["name"].dropna().duplicated().sum()
    unknown = (~device["device_groups"].str.split(" | ", regex=False).map(known.issuperset)).sum()
    assert (empty_names, duplicates, unknown) == (10, 10, 10)
    clean = synth.synthetic_frames(3000, bad_ratio=0.0)["Device"]
    assert clean["name"].notna().all() and clean["name"].is_unique


def test_synthetic_rejects_bad_arguments():
    with pytest.raises(ValueError):
        synth.synthetic_frames(-1)
    with pytest.raises(ValueError):
        synth.synthetic_frames(10, bad_ratio=1.5)
    with pytest.raises(ValueError):
        synth.synthetic_inventory(10, changed=0.6, missing=0.6)


def test_synthetic_inventory_has_the_read_shape():
    inventory = synth.synthetic_inventory(2000, changed=0.05, missing=0.05)
    assert len(inventory) == 1900
    keys = {"id", "name", "ip", "device_groups", "risk_values", "timezone", "active"}
    for device in inventory[:50]:
        assert keys <= set(device)
        assert HEX24.match(device["id"]) and isinstance(device["ip"], list)
        assert set(device["risk_values"]) == {"availability", "confidentiality", "integrity"}
    assert len({device["id"] for device in inventory}) == 1900


def test_synthetic_inventory_differs_from_the_sheet_as_asked():
    sheet = synth.synthetic_frames(2000, bad_ratio=0.0)["Device"].set_index("name")
    inventory = synth.synthetic_inventory(2000, changed=0.05, missing=0.05)
    groups = synth.synthetic_group_inventory(inventory)
    group_names = {group["id"]: group["name"] for group in groups}
    differing = []
    for device in inventory:
        row = sheet.loc[device["name"]]
        fields = {
            "ip": sorted(device["ip"]) != sorted(split(row["ip"])),
            "timezone": device["timezone"] != row["timezone"],
            "groups": sorted(group_names[g] for g in device["device_groups"])
            != sorted(split(row["device_groups"])),
            "risk": any(device["risk_values"][k] != row[k] for k in device["risk_values"]),
        }
        differing.append(sum(fields.values()))
    assert differing.count(1) == 100 and differing.count(0) == 1800
    assert sum(len(group["devices"]) for group in groups) == sum(
        len(device["device_groups"]) for device in inventory
    )


# --- writers and the CLI ---------------------------------------------------------------------


def test_streaming_writer_matches_pandas_writer(tmp_path):
    frames = synth.synthetic_frames(300, bad_ratio=0.02)
    streamed = read_xlsx(synth.write_xlsx(frames, tmp_path / "a.xlsx", write_only=True))
    written = read_xlsx(synth.write_xlsx(frames, tmp_path / "b.xlsx", write_only=False))
    for sheet in frames:
        pd.testing.assert_frame_equal(streamed[sheet], written[sheet], obj=sheet)
    assert len(streamed["Device"]) == 300


def test_csv_output_has_one_file_per_sheet(tmp_path):
    paths = synth.write_synthetic_csv(tmp_path / "csv", devices=120, seed=1)
    assert [path.stem for path in paths] == list(synth.COLUMNS)
    assert len(pd.read_csv(tmp_path / "csv" / "Device.csv")) == 120


def test_cli_writes_a_readable_demo_workbook(tmp_path):
    out = tmp_path / "demo.xlsx"
    result = CliRunner().invoke(make_workbook_command, [str(out)], standalone_mode=False)
    assert result.exit_code == 0, result.output
    assert result.return_value == 0
    assert "deliberately bad rows" in result.output and str(out) in result.output
    assert list(read_xlsx(out)) == list(synth.COLUMNS)


def test_cli_writes_synthetic_csv_and_xlsx(tmp_path):
    runner = CliRunner()
    result = runner.invoke(make_workbook_command, [str(tmp_path / "c"), "--devices", "40",
                                                         "--seed", "2", "--csv"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "c" / "Device.csv")) == 40
    result = runner.invoke(make_workbook_command, [str(tmp_path / "s.xlsx"), "--help"])
    assert result.exit_code == 0
    result = runner.invoke(make_workbook_command, [str(tmp_path / "s.xlsx"), "--devices",
                                                         "25"])  # fmt: skip
    assert result.exit_code == 0 and len(read_xlsx(tmp_path / "s.xlsx")["Device"]) == 25


def test_cli_rejects_demo_with_devices(tmp_path):
    result = CliRunner().invoke(
        make_workbook_command, [str(tmp_path / "x.xlsx"), "--demo", "--devices", "5"]
    )
    assert result.exit_code == 2 and "choose one" in result.output
