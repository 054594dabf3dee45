import json
import shutil
from pathlib import Path

import pytest

from adapters.base import MapContext
from bridge.errors import MappingFileInvalid, MappingNotFound, PublishedMappingChanged
from mappings.registry import BUNDLED_ROOT, MappingRegistry, canonical_digest, check_all, publish, semver_key

V2_SEX = "http://terminology.hl7.org/CodeSystem/v2-0001"
BPJS_SEX = "urn:jembatan:codesystem:bpjs-jenis-kelamin"
FHIR_SEX = "http://hl7.org/fhir/administrative-gender"


def _map(map_id="local-sex", version="1.0.0", status="draft", codes=(("1", "male"), ("2", "female"))):
    return {
        "resourceType": "ConceptMap",
        "id": map_id,
        "version": version,
        "status": status,
        "group": [
            {
                "source": "urn:local",
                "target": FHIR_SEX,
                "element": [{"code": c, "target": [{"code": t, "equivalence": "equivalent"}]} for c, t in codes],
            }
        ],
    }


def _write(root: Path, obj: dict, indent=None) -> Path:
    path = root / obj["id"] / f"{obj['version']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent))
    return path


@pytest.fixture
def bundled() -> MappingRegistry:
    return MappingRegistry()


@pytest.mark.parametrize(
    ("system", "code", "target"),
    [
        (V2_SEX, "M", "male"),
        (V2_SEX, "F", "female"),
        (V2_SEX, "A", "other"),
        (BPJS_SEX, "L", "male"),
        (BPJS_SEX, "P ", "female"),
    ],
)
def test_sex_codes_translate_to_fhir(bundled, system, code, target):
    assert bundled.translate("administrative-gender", "1.0.0", system, code).target == target


def test_reverse_translation_can_choose_the_target_system(bundled):
    cmap = bundled.get("administrative-gender")
    assert cmap.translate(FHIR_SEX, "female", reverse=True, target_system=BPJS_SEX).target == "P"
    assert cmap.translate(FHIR_SEX, "female", reverse=True, target_system=V2_SEX).target == "F"


def test_patient_class_maps_to_act_code(bundled):
    tr = bundled.translate("v2-0004-to-encounter-class", None, "http://terminology.hl7.org/CodeSystem/v2-0004", "O")
    assert (tr.target, tr.target_system) == ("AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode")


def test_unmapped_code_is_an_issue_never_a_pass_through(bundled):
    ctx = MapContext(bundled)
    assert ctx.translate("v2-0004-to-encounter-class", None, "R", expression="Encounter.class") is None
    (issue,) = ctx.outcome.issues
    assert (issue.severity, issue.code, issue.message_id) == ("error", "code-invalid", "GW-2201")
    assert issue.expression == ("Encounter.class",)
    assert ctx.used_mappings["v2-0004-to-encounter-class"]["version"] == "1.0.0"


def test_digest_ignores_formatting_but_not_content(tmp_path):
    a = MappingRegistry([tmp_path]) if _write(tmp_path, _map()) else None
    digest = a.get("local-sex").digest
    _write(tmp_path, _map(), indent=4)
    assert MappingRegistry([tmp_path]).get("local-sex").digest == digest
    _write(tmp_path, _map(codes=(("1", "female"),)))
    assert MappingRegistry([tmp_path]).get("local-sex").digest != digest


def test_published_version_cannot_change_in_place(tmp_path):
    _write(tmp_path, _map(status="active"))
    publish(tmp_path, "local-sex", "1.0.0")
    assert MappingRegistry([tmp_path]).get("local-sex").status == "active"
    _write(tmp_path, _map(status="active", codes=(("1", "female"),)))
    with pytest.raises(PublishedMappingChanged):
        MappingRegistry([tmp_path])
    assert any("changed in place" in p for p in check_all([tmp_path]))


def test_publishing_a_new_version_keeps_the_old_one(tmp_path):
    _write(tmp_path, _map(status="active"))
    publish(tmp_path, "local-sex", "1.0.0")
    _write(tmp_path, _map(version="1.1.0", status="active", codes=(("1", "male"), ("9", "unknown"))))
    publish(tmp_path, "local-sex", "1.1.0")
    registry = MappingRegistry([tmp_path])
    assert registry.versions("local-sex") == ["1.0.0", "1.1.0"]
    assert registry.get("local-sex").version == "1.1.0"
    assert registry.translate("local-sex", "1.0.0", "urn:local", "9").target is None


def test_unknown_map_or_version_is_mapping_not_found(bundled):
    with pytest.raises(MappingNotFound):
        bundled.get("nope")
    with pytest.raises(MappingNotFound) as info:
        bundled.get("administrative-gender", "9.9.9")
    assert "1.0.0" in info.value.message


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.update(id="other"), "differs from folder"),
        (lambda m: m.update(version="2.0.0"), "differs from file name"),
        (lambda m: m.update(status="published"), "status"),
        (lambda m: m["group"][0]["element"][0]["target"][0].update(equivalence="same"), "bad equivalence"),
        (lambda m: m["group"][0]["element"].append(m["group"][0]["element"][0]), "listed twice"),
    ],
)
def test_invalid_files_are_refused_with_a_reason(tmp_path, mutate, message):
    obj = _map()
    path = _write(tmp_path, obj)
    mutate(obj)
    path.write_text(json.dumps(obj))
    with pytest.raises(MappingFileInvalid) as info:
        MappingRegistry([tmp_path])
    assert message in info.value.message


def test_active_but_unpublished_is_reported(tmp_path):
    _write(tmp_path, _map(status="active"))
    assert any("not published" in p for p in check_all([tmp_path]))


def test_bundled_mappings_are_all_valid_and_published():
    assert check_all([BUNDLED_ROOT]) == []


def test_semver_orders_numerically_and_releases_after_prereleases():
    assert sorted(["1.10.0", "1.2.0", "1.2.0-rc.1"], key=semver_key) == ["1.2.0-rc.1", "1.2.0", "1.10.0"]


def test_cli_check_reports_problems_in_operator_folders(tmp_path):
    from tests.helpers import make_app

    maps = tmp_path / "maps"
    path = _write(maps, _map())
    app = make_app(tmp_path, MAPPING_PATHS=[str(maps)])
    assert app.test_cli_runner().invoke(args=["mappings", "check"]).exit_code == 0
    path.write_text("{not json")
    result = app.test_cli_runner().invoke(args=["mappings", "check"])
    assert result.exit_code == 1
    assert "cannot read JSON" in result.output


def test_canonical_digest_is_key_order_independent():
    assert canonical_digest({"a": 1, "b": [1, 2]}) == canonical_digest({"b": [1, 2], "a": 1})


def test_copy_of_bundled_root_loads_identically(tmp_path):
    shutil.copytree(BUNDLED_ROOT, tmp_path / "m", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    a, b = MappingRegistry(), MappingRegistry([tmp_path / "m"])
    assert {(c.map_id, c.version, c.digest) for c in a} == {(c.map_id, c.version, c.digest) for c in b}


def test_latest_version_follows_a_root_loaded_later(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, _map(version="1.0.0"))
    _write(first, _map(version="1.10.0", codes=(("1", "male"),)))
    _write(second, _map(version="2.0.0", codes=(("2", "female"),)))
    registry = MappingRegistry([first])
    assert registry.get("local-sex").version == "1.10.0"
    assert registry.get("local-sex").version == "1.10.0"  # the remembered answer
    registry._load_root(second)
    assert registry.get("local-sex").version == "2.0.0"
    assert registry.get("local-sex", "1.0.0").version == "1.0.0"
