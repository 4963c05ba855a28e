"""The Android app's build setup, manifest and resources, checked without the Android SDK.

The app module cannot be built here (no android.jar, no dex compiler, no Maven), so this checks what real tools
can check: the resources and manifest link with aapt2 against Debian's framework-res.apk (and a broken reference
makes that link fail); every R.* name the Kotlin code uses is in the R.java aapt2 generated, and every view-binding
field is an id in the bound layout; every call the Kotlin code makes into iqlite-core exists, with that many
arguments, in the public API of iqlite-core as javac compiled it; and the rules Gradle, the package installer and
FileProvider apply to the build files and the manifest hold.

What only an Android build can check (that the Kotlin compiles, the APK packs) is left to Gradle; what only a
phone can check (the app's preprocessing and model give Python's bytes and outputs) is GoldenOutputTest.kt.
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
CORE = DEMO / "iqlite-core"
MANIFEST = APP / "src" / "main" / "AndroidManifest.xml"
RES = APP / "src" / "main" / "res"
APP_GRADLE = APP / "build.gradle.kts"
CORE_SOURCES = CORE / "src" / "main" / "java"
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
ORG_JSON_JAR = Path("/usr/share/java/com.android.json.jar")  # libandroid-json-java, as in scripts/jvm_test.sh

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


def _kotlin_code(path: Path) -> str:
    """A Kotlin file without its comments, so KDoc that names `Resizer.resize` or `R.string.x` counts for nothing.

    A `//` after a colon (a URL in a string) is left alone; this is no full lexer, but the sources here need none.
    """
    text = re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.DOTALL)
    return re.sub(r"(?<!:)//.*", "", text)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# --- aapt2 -------------------------------------------------------------------------------------------------


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
    """`R.kind.name` in Kotlin must be in the R class aapt2 generates; otherwise the Kotlin does not compile."""
    names = _r_names(linked)
    missing = []
    for path in KOTLIN_FILES:
        for kind, name in re.findall(r"(?<![\w.])R\.(\w+)\.(\w+)", _kotlin_code(path)):
            if name not in names.get(kind, set()):
                missing.append(f"{path.name}: R.{kind}.{name}")
    assert not missing, "resources used in Kotlin but not defined: " + ", ".join(missing)


def _binding_fields(layout: str) -> set[str]:
    """The fields view binding generates for a layout: `root`, and each view id in lowerCamelCase.

    Every configuration of the layout (layout/, layout-land/, ...) counts: view binding merges them.
    """
    fields = {"root"}
    for path in RES.glob(f"layout*/{layout}.xml"):
        for element in ET.parse(path).getroot().iter():
            view_id = _android(element, "id")
            if view_id and (m := re.fullmatch(r"@\+?id/(\w+)", view_id)):
                head, *rest = m.group(1).split("_")
                fields.add(head + "".join(part[:1].upper() + part[1:] for part in rest))
    return fields


@needs_aapt2
def test_view_binding_fields_match_layout_ids(linked: Path) -> None:
    """`binding.fooBar` needs a view with android:id="@+id/foo_bar" in a layout whose binding that file uses."""
    layouts = _r_names(linked)["layout"]
    problems = []
    for path in MAIN_KOTLIN_FILES:
        code = _kotlin_code(path)
        bindings = re.findall(r"^import [\w.]+\.databinding\.(\w+)Binding$", code, re.MULTILINE)
        used = set(re.findall(r"\bbinding\.(\w+)", code))
        if used and not bindings:
            problems.append(f"{path.name}: uses binding.* but imports no view-binding class")
        fields: set[str] = set()
        for binding_class in bindings:
            layout = re.sub(r"(?<!^)([A-Z])", r"_\1", binding_class).lower()
            if layout not in layouts:
                problems.append(f"{path.name}: {binding_class}Binding has no layout {layout}.xml")
            fields |= _binding_fields(layout)
        problems += [f"{path.name}: binding.{field} is no view id in the layout of {', '.join(bindings)}"
                     for field in sorted(used - fields)]
    assert not problems, "\n".join(problems)


# --- Kotlin against the compiled iqlite-core ----------------------------------------------------------------


VARARGS = -1  # the argument count recorded for a Java varargs method: it takes any number


class _JavaClass:
    """What Kotlin can reach of one compiled Java class: public members, with the argument counts of methods."""

    def __init__(self, public: bool) -> None:
        self.public = public
        self.static: dict[str, set[int] | None] = {}  # name -> argument counts (None: a field or nested class)
        self.instance: dict[str, set[int] | None] = {}

    def add(self, declaration: str) -> None:
        match = re.search(r"([\w$.]+)\(([^)]*)\)", declaration)
        table = self.static if " static " in f" {declaration} " else self.instance
        if not match:  # a field: the last word before the ';'
            table[declaration.rstrip(";").split()[-1]] = None
            return
        name, params = match.group(1), match.group(2).strip()
        if "." in name:  # a constructor: javap writes the class's full name
            return
        # Commas inside type arguments (Map<String, byte[]>) separate no parameters: drop two levels of <...>.
        count = len(re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", params)).split(",")) if params else 0
        counts = table.setdefault(name, set())
        if counts is not None:
            counts.add(VARARGS if "..." in params else count)


def _parse_javap(text: str) -> dict[str, _JavaClass]:
    """Simple class name (Outer.Inner for nested ones) -> its public API, from `javap -public` output."""
    classes: dict[str, _JavaClass] = {}
    current = None
    for line in text.splitlines():
        if m := re.match(r"((?:\w+ )*)(?:class|interface|enum) dev\.iqlite\.core\.([\w$]+)", line):
            current = _JavaClass(public="public" in m.group(1).split())
            classes[m.group(2).replace("$", ".")] = current
        elif current and line.startswith("  ") and line.rstrip().endswith(";"):
            current.add(re.sub(r" throws [\w.,\s]+;$", ";", line.strip()))
    for name, java_class in list(classes.items()):
        if "." in name:  # a public nested class is reachable as Outer.Inner
            outer, inner = name.rsplit(".", 1)
            if java_class.public and outer in classes:
                classes[outer].static[inner] = None
    return classes


@pytest.fixture(scope="module")
def core_api(tmp_path_factory: pytest.TempPathFactory) -> dict[str, _JavaClass]:
    """iqlite-core compiled with javac (against org.json, as on Android) and read back with javap."""
    if shutil.which("javac") is None or shutil.which("javap") is None or not ORG_JSON_JAR.is_file():
        pytest.skip(f"needs javac, javap and {ORG_JSON_JAR} (Debian: apt-get install default-jdk-headless "
                    "libandroid-json-java)")
    out = tmp_path_factory.mktemp("iqlite-core")
    sources = sorted(str(p) for p in CORE_SOURCES.rglob("*.java"))
    javac = subprocess.run(["javac", "--release", "17", "-encoding", "UTF-8", "-d", str(out),
                            "-cp", str(ORG_JSON_JAR), *sources], capture_output=True, text=True, timeout=120)
    assert javac.returncode == 0, f"iqlite-core does not compile:\n{javac.stderr}"
    class_files = sorted(str(p) for p in out.rglob("*.class"))
    javap = subprocess.run(["javap", "-public", "-cp", f"{out}:{ORG_JSON_JAR}", *class_files],
                           capture_output=True, text=True, timeout=120)
    assert javap.returncode == 0, javap.stderr
    return _parse_javap(javap.stdout)


def _argument_count(code: str, open_paren: int) -> int:
    """How many arguments the call whose '(' is at `open_paren` passes: top-level commas, strings skipped."""
    depth, count, in_string, i = 0, 0, False, open_paren
    while i < len(code):
        c = code[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                inner = code[open_paren + 1:i].strip()
                return count + 1 if inner else 0
        elif c == "," and depth == 1:
            count += 1
        i += 1
    raise AssertionError(f"unbalanced call at {code[open_paren:open_paren + 60]!r}")


def _check_member(java: _JavaClass, table: dict[str, set[int] | None], member: str, code: str, end: int) -> str | None:
    """Why `member` at code[end] is not reachable in `table`, or None when it is."""
    is_call = code[end:end + 1] == "("
    if member not in table:
        getter = "get" + member[:1].upper() + member[1:]
        if not is_call and (getter in java.instance or "is" + getter[3:] in java.instance):
            return None  # Kotlin reads a Java getter as a property
        return "no such public member"
    counts = table[member]
    if is_call and counts is not None:
        n = _argument_count(code, end)
        if n not in counts and VARARGS not in counts:
            return f"called with {n} arguments; the Java takes {sorted(counts)}"
    return None


def test_kotlin_calls_into_iqlite_core_exist(core_api: dict[str, _JavaClass]) -> None:
    """`CoreClass.member(...)` in Kotlin must be a public static member of the compiled class, taking that many
    arguments; a core change that breaks the app shows here, not first in an Android build."""
    problems = []
    for path in KOTLIN_FILES:
        code = _kotlin_code(path)
        for cls in re.findall(r"^import dev\.iqlite\.core\.(\w+)$", code, re.MULTILINE):
            java = core_api.get(cls)
            if java is None or not java.public:
                problems.append(f"{path.name}: imports dev.iqlite.core.{cls}, which is not a public class there")
                continue
            for m in re.finditer(rf"(?<![\w.]){cls}\.([a-zA-Z_]\w*)", code):
                if why := _check_member(java, java.static, m.group(1), code, m.end()):
                    problems.append(f"{path.name}: {cls}.{m.group(1)}: {why}")
    assert not problems, "\n".join(problems)


def test_kotlin_uses_existing_iqlite_core_instance_members(core_api: dict[str, _JavaClass]) -> None:
    """Members read from core objects (`metadata.imageSize()`, `image.width`, ...) must exist in the compiled class.

    The type of a name comes from its Kotlin declarations (`val metadata: ModelMetadata`) in any of the app's
    files; a name declared with two different types is not checked, since this reads no expression types.
    """
    declared: dict[str, set[str]] = {}
    for path in KOTLIN_FILES:
        for name, type_name in re.findall(r"\b([a-z]\w*)\s*:\s*([A-Z][\w.]*)\b", _kotlin_code(path)):
            declared.setdefault(name, set()).add(type_name)
    typed = {name: types.pop() for name, types in declared.items() if len(types) == 1}
    receivers = {name: cls for name, cls in typed.items() if cls in core_api}
    assert receivers, "found no Kotlin declaration typed with an iqlite-core class"
    problems = []
    for path in KOTLIN_FILES:
        code = _kotlin_code(path)
        for name, cls in receivers.items():
            for m in re.finditer(rf"\b{name}\.([a-zA-Z_]\w*)", code):
                if why := _check_member(core_api[cls], core_api[cls].instance, m.group(1), code, m.end()):
                    problems.append(f"{path.name}: {name}.{m.group(1)} ({cls}): {why}")
    assert not problems, "\n".join(problems)


# --- Gradle ------------------------------------------------------------------------------------------------

# From the Android Gradle plugin release notes: the oldest Gradle each AGP line runs on, and the highest
# compileSdk it supports. A newer AGP needs its row added from its release notes.
AGP_COMPATIBILITY = {
    (8, 2): ((8, 2), 34),
    (8, 3): ((8, 4), 34),
    (8, 4): ((8, 6), 34),
    (8, 5): ((8, 7), 34),
    (8, 6): ((8, 7), 35),
    (8, 7): ((8, 9), 35),
    (8, 8): ((8, 10, 2), 35),
}


def _module_dirs() -> dict[str, Path]:
    """Gradle project path (":app") -> its folder, from settings.gradle.kts."""
    settings = (DEMO / "settings.gradle.kts").read_text()
    modules = {name: DEMO / name.lstrip(":").replace(":", "/") for name in re.findall(r'include\("([:\w-]+)"\)',
                                                                                        settings)}
    for name, folder in re.findall(r'project\("([:\w-]+)"\)\.projectDir\s*=\s*file\("([^"]+)"\)', settings):
        modules[name] = DEMO / folder
    return modules


def test_project_dependencies_are_modules_of_the_build() -> None:
    """Each `project(":x")` a build file names is included in settings and has a build file; otherwise Gradle
    stops at configuration. The Kotlin's dev.iqlite.core imports need the app to depend on the module that
    declares that package."""
    modules = _module_dirs()
    assert ":app" in modules
    for name, folder in modules.items():
        assert (folder / "build.gradle.kts").is_file(), f"{name}: no build.gradle.kts in {folder}"
    for name, folder in modules.items():
        for used in re.findall(r'project\("([:\w-]+)"\)', (folder / "build.gradle.kts").read_text()):
            assert used in modules, f"{name} depends on {used}, which settings.gradle.kts does not include"

    core_packages = {m.group(1) for p in CORE_SOURCES.rglob("*.java")
                     if (m := re.search(r"^package ([\w.]+);", p.read_text(), re.MULTILINE))}
    assert core_packages == {"dev.iqlite.core"}
    core = next(name for name, folder in modules.items() if folder.resolve() == CORE.resolve())
    if any("import dev.iqlite.core." in _kotlin_code(p) for p in MAIN_KOTLIN_FILES):
        assert re.search(rf'^\s*(?:implementation|api)\(project\("{core}"\)\)', _gradle_text(), re.MULTILINE)

    settings = (DEMO / "settings.gradle.kts").read_text()
    if any("repositories {" in (folder / "build.gradle.kts").read_text() for folder in modules.values()):
        # A module that declares its own repositories breaks the build under FAIL_ON_PROJECT_REPOS.
        assert "FAIL_ON_PROJECT_REPOS" not in settings


def test_core_imports_are_gradle_dependencies_of_the_core() -> None:
    """Every library package iqlite-core imports (org.json) has a dependency of that group in its build file:
    jvm_test.sh puts Debian's jar on javac's classpath, but Gradle compiles with only what is declared."""
    build = (CORE / "build.gradle.kts").read_text()
    versions = dict(re.findall(r'^val (\w+) = "([^"]+)"', build, re.MULTILINE))

    def groups(configurations: str) -> set[str]:
        found = set()
        for coordinate in re.findall(rf'^\s*(?:{configurations})\("([^"]+)"\)', build, re.MULTILINE):
            group, _artifact, version = coordinate.split(":")
            version = re.sub(r"\$(\w+)", lambda m: versions.get(m.group(1), "?"), version)
            assert re.fullmatch(r"[\w.-]+", version), f"{coordinate}: not a pinned version"
            found.add(group)
        return found

    def library_imports(folder: str) -> set[str]:
        imports = set()
        for path in (CORE / "src" / folder / "java").rglob("*.java"):
            for name in re.findall(r"^import (?:static )?([\w.]+)\.\w+;", path.read_text(), re.MULTILINE):
                if not name.startswith(("java.", "javax.", "dev.iqlite.")):
                    imports.add(name)
        return imports

    main_groups = groups("compileOnly|implementation|api")
    test_groups = main_groups | groups("testImplementation")
    for folder, declared in (("main", main_groups), ("test", test_groups)):
        for package in sorted(library_imports(folder)):
            assert any(package == g or package.startswith(g + ".") for g in declared), (
                f"iqlite-core {folder} imports {package}, but its build.gradle.kts declares no such dependency")
    assert "org.json" in main_groups, "iqlite-core's ModelMetadata reads the iqlite JSON with org.json"


def test_agp_gradle_and_sdk_levels_are_compatible() -> None:
    """The wrapper's Gradle is one the pinned AGP runs on, and compileSdk is one it supports."""
    root = (DEMO / "build.gradle.kts").read_text()
    agp = re.search(r'id\("com\.android\.application"\) version "(\d+\.\d+\.\d+)"', root)
    assert agp, "the AGP version is not pinned in android_demo/build.gradle.kts"
    wrapper = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    gradle = re.search(r"distributionUrl=.*/gradle-([\d.]+)-(?:bin|all)\.zip", wrapper)
    assert gradle, "no Gradle distribution in gradle-wrapper.properties"
    line = _version(agp.group(1))[:2]
    assert line in AGP_COMPATIBILITY, f"AGP {agp.group(1)}: add its row to AGP_COMPATIBILITY from the release notes"
    min_gradle, max_api = AGP_COMPATIBILITY[line]
    needed = ".".join(map(str, min_gradle))
    assert _version(gradle.group(1)) >= min_gradle, f"AGP {agp.group(1)} needs Gradle {needed} or later"
    min_sdk, target_sdk, compile_sdk = _gradle_int("minSdk"), _gradle_int("targetSdk"), _gradle_int("compileSdk")
    assert compile_sdk <= max_api, f"AGP {agp.group(1)} supports compileSdk up to {max_api}"
    assert min_sdk <= target_sdk <= compile_sdk


def test_instrumented_tests_share_the_golden_folder() -> None:
    match = re.search(r'getByName\("androidTest"\)\.assets\.srcDirs\("([^"]+)"\)', _gradle_text())
    assert match, "androidTest assets are not pointed at the shared golden folder"
    golden = (APP / match.group(1)).resolve()
    assert golden == ROOT / "tests" / "golden"
    assert (golden / "iqlite.json").is_file()
    assert any((golden / "images").glob("*.png"))


# --- Manifest, camera, FileProvider ------------------------------------------------------------------------


def test_every_activity_is_declared_and_every_declared_one_exists() -> None:
    """An Activity subclass missing from the manifest throws ActivityNotFoundException when started; a declared
    activity without its class throws ClassNotFoundException when launched."""
    namespace = re.search(r'^\s*namespace\s*=\s*"([\w.]+)"', _gradle_text(), re.MULTILINE)
    assert namespace
    root = ET.parse(MANIFEST).getroot()
    assert root.get("package") is None, "AGP 8 takes the package from `namespace`, not the manifest"
    declared = set()
    for activity in root.iter("activity"):
        name = _android(activity, "name") or ""
        declared.add(namespace.group(1) + name if name.startswith(".") else name)
    in_kotlin = set()
    for path in MAIN_KOTLIN_FILES:
        code = _kotlin_code(path)
        package = re.search(r"^package ([\w.]+)", code, re.MULTILINE)
        for cls in re.findall(r"^\s*(?:\w+\s+)*class\s+(\w+)[^{\n]*?:\s*\w*Activity\(\)", code, re.MULTILINE):
            in_kotlin.add(f"{package.group(1)}.{cls}")
    assert in_kotlin, "found no Activity subclass in the Kotlin sources"
    assert declared == in_kotlin


def test_manifest_meets_the_platform_export_rules() -> None:
    """From targetSdk 31 the installer refuses a component with an intent filter and no explicit
    android:exported; the launcher can only start a launcher activity that is exported."""
    root = ET.parse(MANIFEST).getroot()
    if _gradle_int("targetSdk") >= 31:
        for component in ("activity", "activity-alias", "service", "receiver", "provider"):
            for element in root.iter(component):
                if element.find("intent-filter") is not None:
                    assert _android(element, "exported") in ("true", "false"), _android(element, "name")
    launchers = [a for a in root.iter("activity")
                 if {"android.intent.action.MAIN"} <= {_android(x, "name") for x in a.iter("action")}
                 and {"android.intent.category.LAUNCHER"} <= {_android(x, "name") for x in a.iter("category")}]
    assert len(launchers) == 1, "exactly one launcher activity"
    assert _android(launchers[0], "exported") == "true"


def test_camera_goes_through_a_file_provider() -> None:
    """The camera app writes into a FileProvider uri: the manifest, file_paths.xml and MainActivity must agree."""
    root = ET.parse(MANIFEST).getroot()
    permissions = {_android(p, "name") for p in root.iter("uses-permission")}
    # Declaring CAMERA would make ACTION_IMAGE_CAPTURE need a runtime grant; the system camera app needs none.
    assert "android.permission.CAMERA" not in permissions
    features = {_android(f, "name"): _android(f, "required") for f in root.iter("uses-feature")}
    assert features.get("android.hardware.camera") == "false"

    # FileProvider refuses to start when exported or without grantUriPermissions.
    (provider,) = list(root.iter("provider"))
    assert _android(provider, "name") == "androidx.core.content.FileProvider"
    assert _android(provider, "exported") == "false"
    assert _android(provider, "grantUriPermissions") == "true"
    (meta,) = list(provider.iter("meta-data"))
    assert _android(meta, "name") == "android.support.FILE_PROVIDER_PATHS"
    assert _android(meta, "resource") == "@xml/file_paths"

    # getUriForFile throws unless the authority is the provider's and the file lies under a configured path.
    main = _kotlin_code(APP / "src" / "main" / "java" / "dev" / "iqlite" / "demo" / "MainActivity.kt")
    assert _android(provider, "authorities") == "${applicationId}.fileprovider"
    assert '"$packageName.fileprovider"' in main  # packageName is the applicationId at run time
    paths = ET.parse(RES / "xml" / "file_paths.xml").getroot()
    cache_paths = [p.get("path") for p in paths.iter("cache-path")]
    camera_dir = re.search(r'CAMERA_DIR = "(\w+)"', main)
    assert camera_dir and "File(cacheDir, CAMERA_DIR)" in main
    assert f"{camera_dir.group(1)}/" in cache_paths


# --- Kotlin sources ----------------------------------------------------------------------------------------


def test_kotlin_sources_have_no_stub_markers() -> None:
    marker = re.compile(r"\bTODO\b|\bFIXME\b|\bXXX\b|\bTBD\b|NotImplementedError|not implemented|\bstub\b",
                        re.IGNORECASE)
    found = [f"{p.relative_to(APP)}:{n}: {line.strip()}"
             for p in KOTLIN_FILES for n, line in enumerate(p.read_text().splitlines(), 1) if marker.search(line)]
    assert not found, "stub markers in Kotlin sources:\n" + "\n".join(found)
