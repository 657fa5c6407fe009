"""Expected failures end with one clear `error:` line and an exit code, never a traceback."""

from conftest import TOKEN, cli_env, core_args, run_cli


def run_plan(tenants_file, xlsx, *extra, env=None, cwd=None):
    """``directorsync plan --tenant core`` of ``xlsx`` with ``tenants_file``, then ``extra``."""
    return run_cli("plan", *core_args(tenants_file, xlsx), *extra, env=env, cwd=cwd)


def check(proc, code, *needles):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_missing_workbook(tmp_path, tenants_file, simulator_env):
    proc = run_plan(tenants_file, tmp_path / "nope.xlsx", env=simulator_env)
    check(proc, 3, "error:", "nope.xlsx does not exist")


def test_unreadable_workbook(tmp_path, tenants_file, simulator_env):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a workbook")
    proc = run_plan(tenants_file, bad, env=simulator_env)
    check(proc, 3, "error: cannot read broken.xlsx")


def test_unknown_tenant_lists_known(samples, tenants_file, simulator_env):
    proc = run_cli(
        "plan",
        "--tenant",
        "cor",
        "--tenants-file",
        str(tenants_file),
        "--xlsx",
        str(samples / "core_config.xlsx"),
        env=simulator_env,
    )
    check(proc, 2, "unknown tenant 'cor'", "core, esait, sccoe")


def test_no_director_configured_says_how(samples, tenants_file, tmp_path):
    proc = run_plan(tenants_file, samples / "core_config.xlsx", cwd=tmp_path)
    check(proc, 2, "no Director URL", "directorsync simulator")


def test_apply_says_what_is_missing_on_its_command_line_before_the_settings(tmp_path):
    proc = run_cli("apply", "--tenant", "core", cwd=tmp_path)
    check(proc, 2, "--xlsx is required")
    (tmp_path / "bad.json").write_text("{}")
    proc = run_cli("apply", "--plan", str(tmp_path / "bad.json"), cwd=tmp_path)
    check(proc, 2, "no Director URL")  # settings first: then the plan file is read


def test_unreachable_director(samples, tenants_file, tmp_path):
    env = {
        "DSYNC_DIRECTOR__BASE_URL": "http://127.0.0.1:9",
        "DSYNC_DIRECTOR__TOKEN": TOKEN,
        "DSYNC_DIRECTOR__RETRIES": "0",
    }
    proc = run_plan(
        tenants_file,
        samples / "core_config.xlsx",
        "--resources",
        "repos",
        env=cli_env(extra=env),
        cwd=tmp_path,
    )
    check(proc, 4, "error:", "cannot reach Director at http://127.0.0.1:9: connection refused")
    assert "director.base_url" in proc.stderr and "is running" in proc.stderr


def test_unknown_resource(samples, tenants_file, simulator_env):
    proc = run_plan(
        tenants_file, samples / "core_config.xlsx", "--resources", "repo", env=simulator_env
    )
    check(proc, 2, "unknown resource(s): repo", "repos")


def test_wrong_token_is_a_clear_error(samples, tenants_file, simulator_env):
    env = dict(simulator_env, DSYNC_DIRECTOR__TOKEN="wrong-token-123456")
    proc = run_plan(tenants_file, samples / "core_config.xlsx", "--resources", "repos", env=env)
    check(
        proc,
        4,
        "error:",
        "Director refused the token (HTTP 401)",
        "DSYNC_DIRECTOR__TOKEN / LP_DIRECTOR_API_TOKEN or director.token",
        "expire after 8 hours",
    )
    assert "wrong-token-123456" not in proc.stderr + proc.stdout
    assert "REDACTED" not in proc.stderr


def test_base_url_without_scheme_is_a_config_error(samples, tenants_file, tmp_path):
    env = {"DSYNC_DIRECTOR__BASE_URL": "127.0.0.1:8472", "DSYNC_DIRECTOR__TOKEN": TOKEN}
    proc = run_plan(
        tenants_file,
        samples / "core_config.xlsx",
        "--resources",
        "repos",
        env=cli_env(extra=env),
        cwd=tmp_path,
    )
    check(
        proc,
        2,
        "error:",
        "'127.0.0.1:8472' must start with http:// or https://",
        "DSYNC_DIRECTOR__BASE_URL",
    )
    assert "InvalidSchema" not in proc.stderr


def test_misspelled_tenants_file_key_is_a_config_error(
    samples, tenants_file, tmp_path, simulator_env
):
    typo = tmp_path / "tenants.yml"
    typo.write_text(
        tenants_file.read_text(encoding="utf-8").replace("      backends:", "      backend:", 1)
    )
    proc = run_plan(typo, samples / "core_config.xlsx", env=simulator_env)
    check(
        proc, 2, "error:", "unknown key 'backend' in tenant 'core' siems (did you mean 'backends'?)"
    )
    assert "has no node for" not in proc.stderr


def test_workbook_saved_without_formula_values_in_unread_columns_plans(
    samples, tenants_file, tmp_path, simulator_env
):
    """Openpyxl drops stored formula values: the sheet is planned all the same.

    The sample's formulas are in the unread `active` column (issue 18 item 10; read columns:
    test_workbook_quirks).
    """
    import openpyxl

    resaved = tmp_path / "resaved.xlsx"
    openpyxl.load_workbook(samples / "core_config.xlsx").save(resaved)
    proc = run_plan(tenants_file, resaved, "--resources", "repos", env=simulator_env)
    check(proc, 0)
    assert "formula" not in proc.stderr and "Repo_system" in proc.stdout


def test_a_renamed_sheet_is_named_with_the_sheets_present_and_errors_reach_stderr_in_json(
    samples, tenants_file, simulator_env, tmp_path
):
    """A requested resource whose sheet is absent: the sheets present and a close name are given.

    With ``--format json`` the JSON stays on stdout and the error line goes to stderr.
    """
    import pandas as pd

    book = tmp_path / "renamed.xlsx"
    repos = pd.read_excel(samples / "core_config.xlsx", sheet_name="Repo", engine="calamine")
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        repos.to_excel(writer, sheet_name="Repos", index=False)
    for fmt in ("table", "json"):
        proc = run_plan(
            tenants_file, book, "--resources", "repos", "--format", fmt, env=simulator_env
        )
        check(proc, 1, "sheet 'Repo' is absent", "(sheets: Repos)", "Did you mean 'Repos'?")
        if fmt == "json":
            import json

            assert json.loads(proc.stdout)["notes"][0]["level"] == "error"
        else:
            assert "no row planned (see the errors)" in proc.stdout
            assert "Nothing to change" not in proc.stdout


def test_the_table_says_where_each_workbook_problem_is(
    samples, tenants_file, simulator_env, tmp_path
):
    import pandas as pd

    book = tmp_path / "ninety.xlsx"
    sheets = pd.read_excel(samples / "core_config.xlsx", sheet_name=["Repo"], engine="calamine")
    repo = sheets["Repo"].astype(object)
    repo.loc[1, "retention_days"] = "ninety"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        repo.to_excel(writer, sheet_name="Repo", index=False)
    proc = run_plan(
        tenants_file, book, "--resources", "repos", env={**simulator_env, "COLUMNS": "200"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "Workbook findings" in proc.stdout
    assert "ninety.xlsx › Repo › row 3 › retention_days" in proc.stdout
    assert "'ninety' is not an integer" in proc.stdout
