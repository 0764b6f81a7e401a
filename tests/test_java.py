"""Java build files: hostile and broken ones are skipped with a reason; Gradle versions from gradle.properties."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import scan

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<project><dependencies><dependency><groupId>org.lz4</groupId><artifactId>lz4-java</artifactId>
<version>&lol2;</version></dependency></dependencies></project>
"""


def test_hostile_and_broken_poms_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pom.xml").write_text(BILLION_LAUGHS)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "pom.xml").write_text("<project><dependencies>")
    result = scan(tmp_path, display="")
    assert result.findings == ()
    assert sorted((s.path, s.reason.value) for s in result.skipped) == [("a/pom.xml", "malformed"),
                                                                        ("b/pom.xml", "malformed")]


def test_gradle_kotlin_with_version_from_gradle_properties(tmp_path: Path) -> None:
    (tmp_path / "gradle.properties").write_text("# versions\nnettyTcnativeVersion=2.0.20.Final\n")
    (tmp_path / "build.gradle.kts").write_text(
        'dependencies {\n    implementation("io.netty:netty-tcnative-boringssl-static:$nettyTcnativeVersion")\n}\n')
    result = scan(tmp_path, display="")
    assert [(f.rule_id, f.location.line, f.message) for f in result.findings] == [
        ("ARM-JAVA-UPGRADE-FOR-ARM64", 2, "io.netty:netty-tcnative-boringssl-static:2.0.20.Final: 2.0.20.Final has "
                                          "no aarch64 native library; 2.0.31 is the first release with one. "
                                          "Upgrade to netty-tcnative-boringssl-static 2.0.31 or later.")]
