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


def _jar(path: Path, members: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_platform_classifier_jars_in_folders_and_fat_jars(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    manifest = {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"}
    _jar(lib / "netty-transport-native-epoll-4.1.94.Final-linux-x86_64.jar", manifest)
    _jar(lib / "netty-tcnative-boringssl-static-2.0.61.Final-linux-x86_64.jar", manifest)
    _jar(lib / "netty-tcnative-boringssl-static-2.0.61.Final-linux-aarch_64.jar", manifest)
    inner = tmp_path / "inner.jar"
    _jar(inner, manifest)
    _jar(tmp_path / "app.jar", {"BOOT-INF/lib/netty-transport-native-kqueue-4.1.94.Final-osx-x86_64.jar":
                                inner.read_bytes(), "BOOT-INF/lib/guava-33.0.0-jre.jar": inner.read_bytes()})
    inner.unlink()
    result = scan(tmp_path, display="")
    assert sorted((f.rule_id, f.location.path) for f in result.findings) == [
        ("ARM-JAVA-X86-CLASSIFIER", "app.jar!BOOT-INF/lib/netty-transport-native-kqueue-4.1.94.Final-osx-x86_64.jar"),
        ("ARM-JAVA-X86-CLASSIFIER", "lib/netty-transport-native-epoll-4.1.94.Final-linux-x86_64.jar")]
