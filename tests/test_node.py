"""Node: lock files pinning linux-x64-only binary packages, and native modules in node_modules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from armscan.limits import Limits
from tests.conftest import BIN, scan

PACKAGE_LOCK = {
    "name": "app", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "app", "dependencies": {"esbuild": "^0.19.0", "sharp": "^0.33.0"}},
        "node_modules/esbuild": {"version": "0.19.12", "optionalDependencies": {"@esbuild/linux-x64": "0.19.12"}},
        "node_modules/@esbuild/linux-x64": {"version": "0.19.12", "cpu": ["x64"], "os": ["linux"], "optional": True},
        "node_modules/@img/sharp-linux-x64": {"version": "0.33.2", "cpu": ["x64"], "os": ["linux"], "optional": True},
        "node_modules/@img/sharp-linux-arm64": {"version": "0.33.2", "cpu": ["arm64"], "os": ["linux"],
                                                "optional": True},
    },
}


def test_package_lock_x64_only_platform_package(tmp_path: Path) -> None:
    text = json.dumps(PACKAGE_LOCK, indent=2)
    (tmp_path / "package-lock.json").write_text(text)
    result = scan(tmp_path, display="")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if '"node_modules/@esbuild/linux-x64"' in row)
    assert [(f.rule_id, f.location.path, f.location.line) for f in result.findings] == [
        ("ARM-NODE-LOCK-X64-ONLY", "package-lock.json", line)]
    assert result.findings[0].message.startswith("@esbuild/linux-x64 is locked for linux x64 and no linux arm64 "
                                                 "build (@esbuild/linux-arm64) is in the lock")


def test_native_module_in_node_modules_and_broken_lock(tmp_path: Path) -> None:
    module = tmp_path / "node_modules" / "fastthing" / "build" / "Release"
    module.mkdir(parents=True)
    shutil.copy(BIN / "libmix-x86_64.so", module / "fastthing.node")
    (tmp_path / "package-lock.json").write_text("{ not json")
    result = scan(tmp_path, display="", use_ignore_files=False)
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "node_modules/fastthing/build/Release/fastthing.node")]


BCRYPT_LOCK = {
    "name": "app", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "app", "dependencies": {"auth-kit": "^2.0.0", "argon2": "^0.41.1"}},
        "node_modules/argon2": {"version": "0.41.1"},
        "node_modules/auth-kit": {"version": "2.3.0", "dependencies": {"bcrypt": "^5.0.0"}},
        "node_modules/bcrypt": {"version": "5.0.1", "hasInstallScript": True,
                                "dependencies": {"node-addon-api": "^3.1.0"}},
        "node_modules/node-addon-api": {"version": "3.2.1"},
        "node_modules/legacy/node_modules/bcrypt": {"version": "3.0.8"},
        "node_modules/legacy": {"version": "1.0.0", "dependencies": {"bcrypt": "^3.0.0"}},
    },
}


def _findings(result: object) -> list[tuple[str, str, int]]:
    return [(f.rule_id, f.location.path, f.location.line or 0) for f in result.findings]  # type: ignore[attr-defined]


def test_package_lock_transitive_native_package_names_the_chain(tmp_path: Path) -> None:
    text = json.dumps(BCRYPT_LOCK, indent=2)
    (tmp_path / "package-lock.json").write_text(text)
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"auth-kit": "^2.0.0", "bcrypt": "^5"}}))
    result = scan(tmp_path, display="")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if '"node_modules/bcrypt"' in row)
    # the lock beside package.json says more than its ranges: package.json gives no finding of its own
    assert _findings(result) == [("ARM-NODE-UPGRADE-FOR-ARM64", "package-lock.json", line)]
    finding = result.findings[0]
    assert finding.message.startswith("bcrypt 3.0.8 and 5.0.1 (locked) has no linux-arm64 build; 6.0.0 is the first "
                                      "release with one. Upgrade to 6.0.0 or later: until then on arm64 npm install "
                                      "compiles it with node-gyp")
    assert finding.message.endswith("Pulled in by auth-kit.")
    assert finding.work.value == "upgrade-dependency" and finding.severity.value == "high"
    assert "argon2" not in finding.message  # 0.41.1 ships linux-arm64 builds


def test_package_lock_v1_nested_and_replacement_advice(tmp_path: Path) -> None:
    lock = {"name": "site", "lockfileVersion": 1, "dependencies": {
        "gulp-sass": {"version": "4.1.0", "requires": {"node-sass": "^4.8.3"}},
        "node-sass": {"version": "4.14.1", "requires": {"lodash": "^4.17.15"}},
        "lodash": {"version": "4.17.21"},
        "tools": {"version": "1.0.0", "requires": {"phantomjs-prebuilt": "^2.1.7"}, "dependencies": {
            "phantomjs-prebuilt": {"version": "2.1.16"}}},
    }}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    result = scan(tmp_path, display="")
    by_rule = {f.rule_id: f for f in result.findings}
    assert sorted(by_rule) == ["ARM-NODE-NO-ARM64", "ARM-NODE-SOURCE-BUILD"]
    assert by_rule["ARM-NODE-SOURCE-BUILD"].message.startswith("node-sass 4.14.1 (locked): no release has a "
                                                               "linux-arm64 build")
    assert "Instead: sass (Dart Sass, pure JavaScript)" in by_rule["ARM-NODE-SOURCE-BUILD"].message
    assert by_rule["ARM-NODE-SOURCE-BUILD"].message.endswith("Pulled in by gulp-sass.")
    assert by_rule["ARM-NODE-NO-ARM64"].severity.value == "blocker"
    assert by_rule["ARM-NODE-NO-ARM64"].message.endswith("Pulled in by tools.")


def test_manifest_ranges_without_a_lock(tmp_path: Path) -> None:
    manifest = {"dependencies": {"bcrypt": "~5.1.0", "zeromq": ">=6.0.0 <6.3.0", "oracledb": "^5.5.0 || ^6.0.0",
                                 "isolated-vm": "latest", "leveldown": "file:../leveldown", "deasync": "a - e^e="},
                "devDependencies": {"@tensorflow/tfjs-node": "3.18"}}
    text = json.dumps(manifest, indent=2)
    (tmp_path / "package.json").write_text(text)
    installed = tmp_path / "node_modules" / "bcrypt"
    installed.mkdir(parents=True)
    (installed / "package.json").write_text(json.dumps({"name": "bcrypt", "dependencies": {"node-sass": "^4"}}))
    result = scan(tmp_path, display="", use_ignore_files=False)
    lines = {name: n for n, row in enumerate(text.splitlines(), start=1) for name in manifest["dependencies"]
             if f'"{name}"' in row} | {"@tensorflow/tfjs-node": text.splitlines().index(
                 next(r for r in text.splitlines() if "tfjs-node" in r)) + 1}
    # ~5.1.0 stops before 6.0.0 and <6.3.0 before zeromq's first arm64 release; ^6.0.0 admits oracledb 6;
    # a tag, a path or a malformed range is not compared (deasync, with no arm64 release, needs no range);
    # node_modules/*/package.json is not the project's
    assert sorted(_findings(result)) == sorted([
        ("ARM-NODE-UPGRADE-FOR-ARM64", "package.json", lines["bcrypt"]),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "package.json", lines["zeromq"]),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "package.json", lines["@tensorflow/tfjs-node"]),
        ("ARM-NODE-SOURCE-BUILD", "package.json", lines["deasync"])])  # no release has one, whatever the range
    tfjs = next(f for f in result.findings if f.location.match == "@tensorflow/tfjs-node")
    assert tfjs.message.startswith("@tensorflow/tfjs-node 3.18 (in devDependencies) has no linux-arm64 build; "
                                   "3.19.0 is the first release with one.")
    assert "on arm64 its install or its first require() fails" in tfjs.message


def test_broken_and_oversized_node_files_are_skipped_not_ready(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pnpm-lock.yaml").write_text("packages: [unclosed\n  - :")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "yarn.lock").write_bytes(b"\x00\x01garbage:\n  version\n")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "package.json").write_text("[1, 2")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "package-lock.json").write_text('{"packages": {"node_modules/bcrypt": "5.0.1"}}')
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "package-lock.json").write_text("[" * 3_000)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "package-lock.json").write_text(json.dumps(BCRYPT_LOCK, indent=2) + " " * 4000)
    result = scan(tmp_path, display="", limits=Limits(max_text_size=4000))
    assert result.findings == ()
    assert sorted((s.path, s.reason.value) for s in result.skipped) == [
        ("a/pnpm-lock.yaml", "malformed"), ("b/yarn.lock", "malformed"), ("c/package.json", "malformed"),
        ("e/package-lock.json", "too-large"), ("f/package-lock.json", "malformed")]


PNPM_V6 = ("lockfileVersion: '6.0'\n\ndependencies:\n  ssr-kit:\n    specifier: ^1.0.0\n    version: 1.0.0\n\n"
           "packages:\n\n  /ssr-kit@1.0.0:\n    dependencies:\n      '@swc/core': 1.2.40(@swc/helpers@0.5.0)\n\n"
           "  /@swc/core@1.2.40(@swc/helpers@0.5.0):\n    resolution: {integrity: sha512-x}\n")
PNPM_V5 = ("lockfileVersion: 5.4\n\nspecifiers:\n  jobs: ^2.0.0\n\ndependencies:\n  jobs: 2.0.0\n\npackages:\n\n"
           "  /jobs/2.0.0:\n    resolution: {integrity: sha512-x}\n"
           "    dependencies:\n      zeromq: 6.0.0_react@17.0.2\n\n"
           "  /zeromq/6.0.0_react@17.0.2:\n    resolution: {integrity: sha512-y}\n    requiresBuild: true\n")


@pytest.mark.parametrize(("text", "line", "start", "parent"), [
    (PNPM_V6, 14, "@swc/core 1.2.40 (locked) has no linux-arm64 build; 1.2.43 is", "ssr-kit"),  # peer suffixes
    (PNPM_V5, 16, "zeromq 6.0.0 (locked) has no linux-arm64 build; 6.3.0 is the first", "jobs"),  # v5 keys
], ids=["v6", "v5"])
def test_pnpm_keys_and_project_dependencies(tmp_path: Path, text: str, line: int, start: str, parent: str) -> None:
    (tmp_path / "pnpm-lock.yaml").write_text(text)
    result = scan(tmp_path, display="")
    assert _findings(result) == [("ARM-NODE-UPGRADE-FOR-ARM64", "pnpm-lock.yaml", line)]
    assert result.findings[0].message.startswith(start)
    assert result.findings[0].message.endswith(f"Pulled in by {parent}.")


def test_image_installed_native_packages_for_the_arm64_rebuild(tmp_path: Path) -> None:
    from fixtures.images.build import Layout, tar_bytes
    from tests.conftest import cli_json

    x86_addon = (BIN / "libmix-x86_64.so").read_bytes()
    app = {
        "app/node_modules/bcrypt/package.json": json.dumps({"name": "bcrypt", "version": "5.0.1"}).encode(),
        "app/node_modules/bcrypt/lib/binding/napi-v3/bcrypt_lib.node": x86_addon,
        "app/node_modules/argon2/package.json": json.dumps({"name": "argon2", "version": "0.41.1"}).encode(),
        "app/node_modules/gulp-sass/node_modules/node-sass/package.json": b'{"version": "4.14.1"}',
        "app/node_modules/deasync/package.json": b"\xff\xfe not json",
        "app/node_modules/express/package.json": b'{"version": "4.18.2"}',
    }
    layout = Layout(tmp_path / "layout")
    layout.tag(layout.image("amd64", [tar_bytes(app)], base=None), "node")
    layout.write_index()
    code, doc = cli_json("image", f"oci:{tmp_path / 'layout'}:node", "--no-index", "--offline")
    found = sorted((f["rule_id"], f["location"]["path"].split("!/", 1)[-1]) for f in doc["findings"])
    assert code == 3 and found == [  # the unreadable deasync manifest leaves the result incomplete
        ("ARM-IMG-NO-ARM64", f"oci:{tmp_path / 'layout'}:node"),
        ("ARM-IMG-NODE-NATIVE", "app/node_modules/bcrypt/lib/binding/napi-v3/bcrypt_lib.node"),
        ("ARM-NODE-SOURCE-BUILD", "app/node_modules/gulp-sass/node_modules/node-sass/package.json"),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "app/node_modules/bcrypt/package.json"),
    ]
    upgrade = next(f for f in doc["findings"] if f["rule_id"] == "ARM-NODE-UPGRADE-FOR-ARM64")
    assert upgrade["message"].startswith("bcrypt 5.0.1 (installed at /app/node_modules/bcrypt) has no linux-arm64 "
                                         "build; 6.0.0 is the first release with one.")
    assert upgrade["location"].get("line") is None
    native = next(f for f in doc["findings"] if f["rule_id"] == "ARM-IMG-NODE-NATIVE")
    assert native["message"].endswith("It belongs to bcrypt, whose releases from 6.0.0 on carry a linux-arm64 "
                                      "build: upgrade it and install on arm64.")
    assert [(s["path"].split("!/", 1)[-1], s["reason"]) for s in doc["skipped"]] == [
        ("app/node_modules/deasync/package.json", "malformed")]


def _prebuilds(root: Path, folders: dict[str, str]) -> None:
    for folder, fixture in folders.items():
        (root / folder).mkdir(parents=True)
        shutil.copy(BIN / fixture, root / folder / "addon.node")


def test_prebuilds_of_other_platforms_are_not_findings_and_darwin_arm64_ports_nothing(tmp_path: Path) -> None:
    package = tmp_path / "node_modules" / "fastthing" / "prebuilds"
    _prebuilds(package, {"linux-x64": "libmix-x86_64.so", "darwin-arm64": "tool-universal.macho",
                         "darwin-x64": "tool-x86_64.macho", "win32-x64": "tool-x64.exe", "linux-arm": "hello-armhf"})
    result = scan(tmp_path, display="", use_ignore_files=False)
    # darwin, win32 and 32-bit ARM builds are never loaded on linux/arm64, and a darwin-arm64 folder is no
    # linux counterpart: the linux x64 build is the one problem
    assert [(f.rule_id, f.location.path, f.ported) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "node_modules/fastthing/prebuilds/linux-x64/addon.node", False)]
    assert len(result.artifacts) == 5  # still in the inventory

    _prebuilds(package, {"linux-arm64": "libmix-aarch64.so"})
    result = scan(tmp_path, display="", use_ignore_files=False)
    assert [(f.rule_id, f.location.path, f.ported) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "node_modules/fastthing/prebuilds/linux-x64/addon.node", True)]


def test_arm64_image_with_prebuilds_for_every_platform_is_not_mislabeled(tmp_path: Path) -> None:
    from fixtures.images.build import Layout, tar_bytes
    from tests.conftest import cli_json

    prebuilds = "app/node_modules/fastthing/prebuilds"
    files = {f"{prebuilds}/{folder}/addon.node": (BIN / fixture).read_bytes() for folder, fixture in {
        "linux-x64": "libmix-x86_64.so", "linux-arm64": "libmix-aarch64.so", "darwin-x64": "tool-x86_64.macho",
        "win32-x64": "tool-x64.exe"}.items()}
    # prebuildify names the arm64 build for its architecture: node.napi.node beside node.napi.armv8.node
    level = "app/node_modules/level/prebuilds"
    files[f"{level}/linux-x64/node.napi.node"] = (BIN / "libmix-x86_64.so").read_bytes()
    files[f"{level}/linux-arm64/node.napi.armv8.node"] = (BIN / "libmix-aarch64.so").read_bytes()
    layout = Layout(tmp_path / "layout")
    layout.tag(layout.image("arm64", [tar_bytes(files)], base=None), "good")
    lonely = {k: v for k, v in files.items() if "linux-arm64" not in k and "/level/" not in k}
    layout.tag(layout.image("arm64", [tar_bytes(lonely)], base=None), "bad")
    layout.write_index()
    code, doc = cli_json("image", f"oci:{tmp_path / 'layout'}:good", "--no-index", "--offline")
    assert (code, doc["findings"], doc["images"][0]["arm64"]) == (0, [], "yes")
    code, doc = cli_json("image", f"oci:{tmp_path / 'layout'}:bad", "--no-index", "--offline")
    assert code == 1 and [f["rule_id"] for f in doc["findings"]] == ["ARM-IMG-ARM64-X86-CONTENT"]
    assert doc["findings"][0]["message"].endswith(f"1 binaries are not arm64: /{prebuilds}/linux-x64/addon.node "
                                                  "(x86_64).")


def test_node_knowledge_is_validated_with_every_problem_named(tmp_path: Path) -> None:
    from armscan.rules_engine.loader import RuleError, load_validated

    bad = tmp_path / "node-packages.yaml"
    bad.write_text("packages:\n  - {name: bcrypt, first-arm64: '6', without: maybe, registry: {check: files},"
                   " evidence: https://example.org}\n  - {name: node-sass, first-arm64: none, without: build,"
                   " registry: {check: script}, evidence: https://example.org}\n")
    with pytest.raises(RuleError) as caught:
        load_validated({"node-packages.yaml": bad}, "node-packages.schema.json", "Node package knowledge")
    problems = str(caught.value).splitlines()[1:]
    assert len(problems) == 5, problems  # version, without, instead for `none`, file and contains for `script`
    assert any("packages/0/first-arm64" in p for p in problems) and any("packages/0/without" in p for p in problems)
    assert any("packages/1" in p and "'instead' is a required property" in p for p in problems)


def test_workspace_members_are_covered_by_the_root_lock(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"name": "mono", "workspaces": ["packages/*"]}))
    (tmp_path / "package-lock.json").write_text(json.dumps(BCRYPT_LOCK, indent=2))
    member = tmp_path / "packages" / "auth"
    member.mkdir(parents=True)
    (member / "package.json").write_text(json.dumps({"name": "auth", "dependencies": {"bcrypt": "^5.0.0"}}))
    loose = tmp_path / "tools" / "legacy"  # not a workspace member's lock: its own ranges count
    loose.mkdir(parents=True)
    (loose / "package.json").write_text(json.dumps({"dependencies": {"node-sass": "^4.14.1"}}))
    result = scan(tmp_path, display="")
    assert sorted((f.rule_id, f.location.path) for f in result.findings) == [
        ("ARM-NODE-SOURCE-BUILD", "tools/legacy/package.json"),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "package-lock.json")]

    # pnpm: members listed in pnpm-workspace.yaml, with an exclusion
    (tmp_path / "package-lock.json").unlink()
    (tmp_path / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n  - '!packages/auth'\n")
    (tmp_path / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
    result = scan(tmp_path, display="")
    assert sorted((f.rule_id, f.location.path) for f in result.findings) == [
        ("ARM-NODE-SOURCE-BUILD", "tools/legacy/package.json"),
        ("ARM-NODE-UPGRADE-FOR-ARM64", "packages/auth/package.json")]


def test_native_module_of_a_known_package_quotes_the_knowledge_base(tmp_path: Path) -> None:
    vendor = tmp_path / "node_modules" / "node-sass" / "vendor" / "linux-x64-83"
    vendor.mkdir(parents=True)
    shutil.copy(BIN / "libmix-x86_64.so", vendor / "binding.node")
    result = scan(tmp_path, display="", use_ignore_files=False)
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "node_modules/node-sass/vendor/linux-x64-83/binding.node")]
    assert result.findings[0].message.endswith("It belongs to node-sass, which has no linux-arm64 build in any "
                                               "release; instead: sass (Dart Sass, pure JavaScript) or "
                                               "sass-embedded, which ships linux-arm64 builds.")
