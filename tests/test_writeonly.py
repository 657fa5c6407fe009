"""Fields Director never returns (issue 18, item 11): a warning per object, pushed on demand."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from conftest import session_for, writes

from directorsync.errors import ConfigError
from directorsync.writeonly import NOT_RETURNED, check_forced

BUILT_IN = Path(__file__).resolve().parents[1] / "profiles"


def _policies(path, normalizers: dict[str, str]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "NormalizationPolicy"
    sheet.append(["policy_name", "normalization_packages", "compiled_normalizer"])
    for name, normalizer in normalizers.items():
        sheet.append([name, "EDR", normalizer])
    book.save(path)


def test_a_field_director_never_returns_is_warned_per_object_and_pushed_on_demand(
    simulator, tenants_file, tmp_path
):
    first, changed = tmp_path / "first.xlsx", tmp_path / "changed.xlsx"
    _policies(first, {"np_a": "CEFCompiledNormalizer", "np_b": "CEFCompiledNormalizer"})
    _policies(changed, {"np_a": "CiscoAMPNormalizer", "np_b": "CiscoAMPNormalizer"})
    resources = ["normalization_policies"]
    with session_for(simulator, tenants_file, tmp_path) as s:
        created = s.apply(s.plan("core", first, resources))
        assert {r["status"] for r in created["rows"]} == {"CREATED"}
        plan = s.plan("core", changed, resources)
    assert set(plan.rows["action"]) == {"unchanged"}  # the change cannot be seen
    warnings = [n["message"] for n in plan.notes if n["level"] == "warning"]
    assert warnings == [
        f"'{key}' on lb-backend01, lb-backend02: compiled_normalizer cannot be compared "
        "(Director does not return it), so a change to it is not detected; --force-update "
        f"normalization_policies:{key} sends it"
        for key in ("np_a", "np_b")
    ]

    before = len(writes(simulator))
    forced = {"app.force_update": ["normalization_policies:np_a", "normalization_policies:np_z"]}
    with session_for(simulator, tenants_file, tmp_path, **forced) as s:
        plan = s.plan("core", changed, resources)
        result = s.apply(plan)
    rows = plan.rows.set_index(["key", "node_name"])
    assert set(rows.loc["np_a", "action"]) == {"update"}
    assert set(rows.loc["np_b", "action"]) == {"unchanged"}
    assert set(rows.loc["np_a", "reason"]) == {
        "compiled_normalizer sent as written (--force-update): Director does not return it"
    }
    (change,) = rows.loc[("np_a", "lb-backend01"), "changes"]
    assert change == {
        "field": "compiled_normalizer",
        "before": NOT_RETURNED,
        "after": ["CiscoAMPNormalizer"],
    }
    assert {n["message"] for n in plan.notes if n["level"] == "warning"} >= {
        "--force-update normalization_policies:np_z: no existing object of that key with a "
        "field Director does not return; nothing forced"
    }
    assert {(r["key"], r["status"]) for r in result["rows"]} == {
        ("np_a", "UPDATED"),
        ("np_b", "UNCHANGED"),
    }
    sent = writes(simulator)[before:]
    assert [(r["method"], r["body"]["data"]["compiled_normalizer"]) for r in sent] == [
        ("PUT", "CiscoAMPNormalizer")
    ] * 2


def test_the_profile_setting_pushes_every_such_object(simulator, tenants_file, tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shipped = (BUILT_IN / "normalization_policies.yml").read_text(encoding="utf-8")
    assert shipped.count("\ndiff:\n") == 1
    (profiles / "normalization_policies.yml").write_text(
        shipped.replace("\ndiff:\n", "\ndiff:\n  push_write_only: true\n"), encoding="utf-8"
    )
    xlsx = tmp_path / "np.xlsx"
    _policies(xlsx, {"np_a": "CEFCompiledNormalizer"})
    with session_for(simulator, tenants_file, tmp_path) as s:
        s.apply(s.plan("core", xlsx, ["normalization_policies"]))
    paths = {"profiles.search_paths": [str(profiles)]}
    with session_for(simulator, tenants_file, tmp_path, **paths) as s:
        plan = s.plan("core", xlsx, ["normalization_policies"])
    assert set(plan.rows["action"]) == {"update"}
    assert set(plan.rows["reason"]) == {
        "compiled_normalizer sent as written (diff.push_write_only): Director does not return it"
    }


def test_force_update_items_are_checked():
    known = ["repos", "normalization_policies"]
    assert check_forced([" repos : Repo_a "], known) == ["repos:Repo_a"]
    with pytest.raises(ConfigError, match=r"--force-update 'repos': expected RESOURCE:KEY"):
        check_forced(["repos"], known)
    with pytest.raises(
        ConfigError,
        match=r"--force-update 'rep:x': unknown resource 'rep' \(known: normalization_policies, "
        r"repos\)",
    ):
        check_forced(["rep:x"], known)
