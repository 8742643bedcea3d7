"""``syncwright health``: per-object report in input order, JSON, customizations, --test, bad input."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncwright import cli
from syncwright.commands.health import health
from syncwright.health.testing import HealthTestCase, check, collect

FIXTURES = Path(__file__).parent / "fixtures"
CUSTOM = FIXTURES / "customizations"

OBJECTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags}
data: {ready: "true"}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: tls}
status:
  conditions: [{type: Ready, status: "False", message: issuer missing}]
"""


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "a.yaml"
    a.write_text(OBJECTS)
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "status": {"phase": "Failed", "message": "evicted"}}))
    return a, b


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(health, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


def test_json_in_input_order_one_entry_per_object(files: tuple[Path, Path]) -> None:
    a, b = files
    code, out = invoke("-f", str(a), "-f", str(b), "-o", "json")
    assert code == 0  # a report: Degraded does not fail the command
    assert json.loads(out) == [
        {"file": str(a), "status": "Progressing",
         "message": "Waiting for rollout to finish: 1 of 2 updated replicas are available..."},
        {"file": str(a), "status": None, "message": ""},
        {"file": str(a), "status": "Degraded", "message": "issuer missing"},
        {"file": str(b), "status": "Degraded", "message": "evicted"},
    ]


def test_customizations_and_settings_flags(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = files
    code, out = invoke("-f", str(a), "--customizations", str(CUSTOM), "-o", "json")
    assert code == 0
    statuses = [(r["status"], r["message"]) for r in json.loads(out)]
    assert statuses[1:] == [("Healthy", "ready flag set"), ("Degraded", "issuer missing")]
    # the customization's Deployment script returns nil for this one: no health, as Argo CD
    assert statuses[0] == (None, "")
    code, out = invoke("-f", str(a), "--customizations", str(CUSTOM),
                       "--settings", str(FIXTURES / "settings" / "argocd-cm.yaml"), "-o", "json")
    assert [r["message"] for r in json.loads(out)][1:] == ["core key", "from the per-key setting"]


def test_table_output(files: tuple[Path, Path]) -> None:
    a, b = files
    code, out = invoke("-f", str(a), "-f", str(b))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert "apps/Deployment prod/web" in lines[0] and "Progressing" in lines[0]
    assert "(no health check for this kind)" in lines[1]
    assert lines[3].startswith(str(b)) and "Degraded" in lines[3] and lines[3].endswith("evicted")


def test_lua_failure_in_a_customization_is_reported_not_raised(tmp_path: Path) -> None:
    d = tmp_path / "c" / "ConfigMap"
    d.mkdir(parents=True)
    (d / "health.lua").write_text("while true do end")
    f = tmp_path / "cm.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    code, out = invoke("-f", str(f), "--customizations", str(tmp_path / "c"), "-o", "json")
    assert code == 0
    [rec] = json.loads(out)
    assert rec["status"] == "Unknown" and "timed out" in rec["message"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read object file"),
    ("kind: [unclosed", "invalid YAML at line 2"),
    ("- a\n- b\n", "document is a list, not a mapping"),
    ("metadata: {name: x}\n", "object is missing apiVersion, kind"),
])
def test_bad_input_exits_1_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    content: str | None, message: str,
) -> None:
    f = tmp_path / "obj.yaml"
    if content is not None:
        f.write_text(content)
    monkeypatch.setitem(cli.COMMANDS, "health", ("health", "health", "Health of objects."))
    monkeypatch.setattr(sys, "argv", ["syncwright", "health", "-f", str(f)])
    with pytest.raises(SystemExit) as exit_:
        cli.run()
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and message in err and str(f) in err and "Traceback" not in err


def test_bad_customizations_dir_or_settings_exit_1(tmp_path: Path, files: tuple[Path, Path]) -> None:
    a, _ = files
    res = CliRunner().invoke(health, ["-f", str(a), "--settings", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 1 and "cannot read settings file" in str(res.exception)


def test_usage_errors() -> None:
    assert CliRunner().invoke(health, []).exit_code == 2
    assert CliRunner().invoke(health, ["-f", "x", "--test", "y"]).exit_code == 2


def test_health_test_runner_passes_on_the_fixtures() -> None:
    code, out = invoke("--test", str(CUSTOM))
    assert code == 0, out
    assert out.splitlines()[-1] == "9 passed, 0 failed"


def test_health_test_runner_reports_failures(tmp_path: Path) -> None:
    shutil.copytree(CUSTOM / "ConfigMap", tmp_path / "ConfigMap")
    t = tmp_path / "ConfigMap" / "health_test.yaml"
    t.write_text(t.read_text().replace("message: ready flag set", "message: something else"))
    code, out = invoke("--test", str(tmp_path))
    assert code == 1
    assert "FAIL" in out and "expected 'Healthy' 'something else'" in out and "got      'Healthy' 'ready flag set'" in out
    code, out = invoke("--test", str(tmp_path), "-o", "json")
    results = json.loads(out)
    assert code == 1 and [r["passed"] for r in results] == [False, True]


def test_malformed_health_test_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "X").mkdir()
    (tmp_path / "X" / "health.lua").write_text("return nil")
    (tmp_path / "X" / "health_test.yaml").write_text("tests:\n- inputPath: 3\n")
    res = CliRunner().invoke(health, ["--test", str(tmp_path)])
    assert res.exit_code == 1 and "needs healthStatus" in str(res.exception)


# The pytest helper users can copy to run their own Argo CD customization tests.
@pytest.mark.parametrize("case", collect(CUSTOM), ids=str)
def test_customization_cases_with_the_pytest_helper(case: HealthTestCase) -> None:
    check(case)
