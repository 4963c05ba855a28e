"""The Android app's build setup, manifest and resources, checked without the Android SDK.

The app module cannot be built here (no android.jar, no dex compiler, no Maven), so this holds what can be
checked: the resources and manifest link with aapt2 against Debian's framework-res.apk (and a broken
reference makes that link fail), every R.* name and view-binding field the Kotlin code uses exists in the
linked resources, the iqlite-core calls the Kotlin code makes exist in iqlite-core, and the Gradle files,
manifest and FileProvider setup are what the app's code relies on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
APP = DEMO / "app"
MANIFEST = APP / "src" / "main" / "AndroidManifest.xml"
RES = APP / "src" / "main" / "res"
APP_GRADLE = APP / "build.gradle.kts"
LINK_SCRIPT = DEMO / "scripts" / "link_resources.sh"
CORE_SOURCES = DEMO / "iqlite-core" / "src" / "main" / "java" / "dev" / "iqlite" / "core"
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
KOTLIN_FILES = sorted((APP / "src").rglob("*.kt"))
MAIN_KOTLIN_FILES = sorted((APP / "src" / "main" / "java").rglob("*.kt"))

needs_aapt2 = pytest.mark.skipif(
    shutil.which("aapt2") is None or not FRAMEWORK_RES.is_file(),
    reason=f"needs aapt2 on PATH and {FRAMEWORK_RES} (Debian: apt-get install aapt android-framework-res)",
)


def _gradle_text() -> str:
    return APP_GRADLE.read_text()


def _gradle_int(key: str) -> int:
    match = re.search(rf"^\s*{key}\s*=\s*(\d+)\s*$", _gradle_text(), re.MULTILINE)
    assert match, f"no `{key} = <number>` in {APP_GRADLE}"
    return int(match.group(1))


def _android(element: ET.Element, name: str) -> str | None:
    return element.get(ANDROID_NS + name)


def _run_link(demo_dir: Path, out_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(demo_dir / "scripts" / "link_resources.sh"), str(out_dir)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The link script's output folder (resources.apk, gen/.../R.java), after a successful link."""
    if shutil.which("aapt2") is None or not FRAMEWORK_RES.is_file():
        pytest.skip(f"needs aapt2 on PATH and {FRAMEWORK_RES} (Debian: apt-get install aapt android-framework-res)")
    out = tmp_path_factory.mktemp("aapt2")
    done = _run_link(DEMO, out)
    assert done.returncode == 0, f"aapt2 link failed:\n{done.stdout}\n{done.stderr}"
    return out


def _r_names(linked_dir: Path) -> dict[str, set[str]]:
    """Resource names per type ("string", "id", ...) from the R.java aapt2 generated."""
    r_java = next(linked_dir.glob("gen/**/R.java"))
    names: dict[str, set[str]] = {}
    kind = None
    for line in r_java.read_text().splitlines():
        if m := re.match(r"\s*public static final class (\w+) \{", line):
            kind = m.group(1)
        elif kind and (m := re.match(r"\s*public static final int(?:\[\])? (\w+)=", line)):
            names.setdefault(kind, set()).add(m.group(1))
    return names


# --- aapt2 -------------------------------------------------------------------------------------------------


@needs_aapt2
def test_resources_and_manifest_link_with_aapt2(linked: Path) -> None:
    assert (linked / "resources.apk").stat().st_size > 0
    assert next(linked.glob("gen/dev/iqlite/demo/R.java"), None) is not None


@needs_aapt2
def test_link_script_fails_with_aapt2_error_on_a_broken_reference(tmp_path: Path) -> None:
    copy = tmp_path / "android_demo"
    shutil.copytree(DEMO / "scripts", copy / "scripts")
    shutil.copytree(APP, copy / "app", ignore=shutil.ignore_patterns("assets", "androidTest"))
    manifest = copy / "app" / "src" / "main" / "AndroidManifest.xml"
    manifest.write_text(manifest.read_text().replace("@xml/file_paths", "@xml/no_such_paths"))
    done = _run_link(copy, tmp_path / "out")
    assert done.returncode != 0
    assert "no_such_paths" in done.stderr and "not found" in done.stderr


@needs_aapt2
def test_kotlin_uses_only_resources_that_exist(linked: Path) -> None:
    names = _r_names(linked)
    missing = []
    for path in KOTLIN_FILES:
        text = path.read_text()
        for kind, name in re.findall(r"(?<![\w.])R\.(\w+)\.(\w+)", text):
            if name not in names.get(kind, set()):
                missing.append(f"{path.name}: R.{kind}.{name}")
    assert not missing, "resources used in Kotlin but not defined: " + ", ".join(missing)


@needs_aapt2
def test_view_binding_fields_match_layout_ids(linked: Path) -> None:
    """`binding.fooBar` (view binding) needs a view with android:id="@+id/foo_bar" in the bound layout."""
    layouts = _r_names(linked)["layout"]
    problems = []
    for path in MAIN_KOTLIN_FILES:
        text = path.read_text()
        for binding_class in set(re.findall(r"\b(\w+)Binding\.inflate\(", text)):
            layout = re.sub(r"(?<!^)([A-Z])", r"_\1", binding_class).lower()
            if layout not in layouts:
                problems.append(f"{path.name}: {binding_class}Binding has no layout {layout}.xml")
                continue
            ids = set(re.findall(r'android:id="@\+id/(\w+)"', (RES / "layout" / f"{layout}.xml").read_text()))
            for field in set(re.findall(r"\bbinding\.(\w+)", text)) - {"root"}:
                snake = re.sub(r"([A-Z])", r"_\1", field).lower()
                if snake not in ids and not any(
                    snake in re.findall(r'android:id="@\+id/(\w+)"', (RES / "layout" / f"{other}.xml").read_text())
                    for other in layouts
                ):
                    problems.append(f"{path.name}: binding.{field} has no view with id {snake}")
    assert not problems, "\n".join(problems)


# --- Gradle ------------------------------------------------------------------------------------------------


def test_settings_include_app_and_core() -> None:
    settings = (DEMO / "settings.gradle.kts").read_text()
    assert 'include(":app")' in settings
    assert 'include(":iqlite-core")' in settings
    assert (DEMO / "iqlite-core").is_dir()
    core_build = DEMO / "iqlite-core" / "build.gradle.kts"
    if core_build.is_file() and "repositories {" in core_build.read_text():
        # A module that declares its own repositories breaks the build under FAIL_ON_PROJECT_REPOS.
        assert "FAIL_ON_PROJECT_REPOS" not in settings


def test_root_build_pins_agp_and_kotlin() -> None:
    root = (DEMO / "build.gradle.kts").read_text()
    assert re.search(r'id\("com\.android\.application"\) version "8\.\d+\.\d+" apply false', root)
    assert re.search(r'id\("org\.jetbrains\.kotlin\.android"\) version "2\.\d+\.\d+" apply false', root)


def test_app_sdk_levels() -> None:
    min_sdk, target_sdk, compile_sdk = _gradle_int("minSdk"), _gradle_int("targetSdk"), _gradle_int("compileSdk")
    assert min_sdk >= 23
    assert target_sdk >= 34
    assert compile_sdk >= target_sdk > min_sdk


def test_app_depends_on_litert_and_iqlite_core() -> None:
    text = _gradle_text()
    version = re.search(r'val litertVersion = "(\d+\.\d+\.\d+)"', text)
    assert version, "LiteRT version not pinned"
    assert 'implementation("com.google.ai.edge.litert:litert:$litertVersion")' in text
    assert 'implementation(project(":iqlite-core"))' in text
    for library in ("androidx.recyclerview:recyclerview:", "androidx.exifinterface:exifinterface:",
                    "androidx.activity:activity-ktx:", "kotlinx-coroutines-android:"):
        assert library in text


def test_model_is_stored_uncompressed() -> None:
    assert re.search(r'noCompress\s*\+=\s*"tflite"', _gradle_text())
    assert (APP / "src" / "main" / "assets" / "iqlite.tflite").stat().st_size > 0


def test_instrumented_tests_share_the_golden_folder() -> None:
    match = re.search(r'getByName\("androidTest"\)\.assets\.srcDirs\("([^"]+)"\)', _gradle_text())
    assert match, "androidTest assets are not pointed at the shared golden folder"
    golden = (APP / match.group(1)).resolve()
    assert golden == ROOT / "tests" / "golden"
    assert (golden / "iqlite.json").is_file()
    assert any((golden / "images").glob("*.png"))


# --- Manifest, camera, FileProvider ------------------------------------------------------------------------


def test_manifest_declares_the_screens() -> None:
    root = ET.parse(MANIFEST).getroot()
    assert root.get("package") is None, "AGP 8 takes the package from `namespace`, not the manifest"
    activities = {_android(a, "name"): a for a in root.iter("activity")}
    assert set(activities) == {".MainActivity", ".DetailActivity"}
    launcher = activities[".MainActivity"]
    assert _android(launcher, "exported") == "true"
    actions = {_android(a, "name") for a in launcher.iter("action")}
    categories = {_android(c, "name") for c in launcher.iter("category")}
    assert "android.intent.action.MAIN" in actions and "android.intent.category.LAUNCHER" in categories
    assert _android(activities[".DetailActivity"], "exported") == "false"


def test_camera_goes_through_a_file_provider() -> None:
    root = ET.parse(MANIFEST).getroot()
    permissions = {_android(p, "name") for p in root.iter("uses-permission")}
    # Declaring CAMERA would make ACTION_IMAGE_CAPTURE need a runtime grant; the system camera app needs none.
    assert "android.permission.CAMERA" not in permissions
    features = {_android(f, "name"): _android(f, "required") for f in root.iter("uses-feature")}
    assert features.get("android.hardware.camera") == "false"

    (provider,) = list(root.iter("provider"))
    assert _android(provider, "name") == "androidx.core.content.FileProvider"
    assert _android(provider, "authorities") == "${applicationId}.fileprovider"
    assert _android(provider, "exported") == "false"
    assert _android(provider, "grantUriPermissions") == "true"
    (meta,) = list(provider.iter("meta-data"))
    assert _android(meta, "name") == "android.support.FILE_PROVIDER_PATHS"
    assert _android(meta, "resource") == "@xml/file_paths"

    paths = ET.parse(RES / "xml" / "file_paths.xml").getroot()
    cache_paths = [p.get("path") for p in paths.iter("cache-path")]
    main = (APP / "src" / "main" / "java" / "dev" / "iqlite" / "demo" / "MainActivity.kt").read_text()
    camera_dir = re.search(r'CAMERA_DIR = "(\w+)"', main)
    assert camera_dir and f"{camera_dir.group(1)}/" in cache_paths
    assert '"$packageName.fileprovider"' in main
    assert "ActivityResultContracts.TakePicture()" in main
    assert "ActivityResultContracts.PickMultipleVisualMedia()" in main


# --- Kotlin sources ----------------------------------------------------------------------------------------


def test_kotlin_sources_exist() -> None:
    names = {p.name for p in MAIN_KOTLIN_FILES}
    assert {"MainActivity.kt", "DetailActivity.kt", "QualityScorerHelper.kt", "PhotoDecoder.kt"} <= names
    assert any(p.name == "GoldenOutputTest.kt" for p in KOTLIN_FILES)


def test_kotlin_sources_have_no_stub_markers() -> None:
    marker = re.compile(r"\bTODO\b|\bFIXME\b|\bXXX\b|\bTBD\b|NotImplementedError|not implemented|\bstub\b",
                        re.IGNORECASE)
    found = [f"{p.relative_to(APP)}:{n}: {line.strip()}"
             for p in KOTLIN_FILES for n, line in enumerate(p.read_text().splitlines(), 1) if marker.search(line)]
    assert not found, "stub markers in Kotlin sources:\n" + "\n".join(found)


def test_scoring_resizes_with_core_not_the_android_scaler() -> None:
    """Bitmap.createScaledBitmap is not Pillow's antialiased bilinear; the model input must come from Resizer."""
    for path in MAIN_KOTLIN_FILES:
        assert "createScaledBitmap" not in path.read_text(), path.name
    helper = (APP / "src" / "main" / "java" / "dev" / "iqlite" / "demo" / "QualityScorerHelper.kt").read_text()
    assert "Resizer.resize(" in helper
    assert "ModelMetadata.parse(" in helper


def test_kotlin_calls_into_iqlite_core_exist() -> None:
    """Each `CoreClass.member` the Kotlin code names must be a public static member of that Java class."""
    if not CORE_SOURCES.is_dir():
        pytest.skip("android_demo/iqlite-core sources are not there")
    core_classes = {p.stem for p in CORE_SOURCES.glob("*.java")}
    problems = []
    for path in KOTLIN_FILES:
        text = path.read_text()
        for cls in re.findall(r"^import dev\.iqlite\.core\.(\w+)$", text, re.MULTILINE):
            if cls not in core_classes:
                problems.append(f"{path.name}: imports dev.iqlite.core.{cls}, which does not exist")
                continue
            java = (CORE_SOURCES / f"{cls}.java").read_text()
            for member in set(re.findall(rf"(?<![\w.]){cls}\.([a-zA-Z_]\w*)", text)):
                declared = re.search(rf"public static [\w<>\[\], ]*\b{member}\b\s*[(=;]", java)
                if not declared:
                    problems.append(f"{path.name}: {cls}.{member} is not a public static member of {cls}.java")
    assert not problems, "\n".join(problems)


def test_kotlin_uses_existing_iqlite_core_instance_members() -> None:
    """Members read from core objects (`metadata.imageSize()`, `outputQuantization.scale`, ...) exist in Java."""
    if not CORE_SOURCES.is_dir():
        pytest.skip("android_demo/iqlite-core sources are not there")
    receivers = {r"\bmetadata": "ModelMetadata", r"\boutputQuantization": "Quantization", r"\bimage": "RgbImage",
                 r"\.image": "RgbImage"}
    problems = []
    for path in KOTLIN_FILES:
        text = path.read_text()
        for receiver, cls in receivers.items():
            java = (CORE_SOURCES / f"{cls}.java").read_text()
            for member in set(re.findall(rf"{receiver}\.([a-zA-Z_]\w*)", text)):
                if not re.search(rf"public (?:final )?[\w<>\[\], ]*\b{member}\b\s*[(=;]", java):
                    problems.append(f"{path.name}: {cls} has no public member {member}")
    assert not problems, "\n".join(problems)
