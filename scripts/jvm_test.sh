#!/usr/bin/env bash
# Compile and test the plain-Java module the Android app uses (android_demo/iqlite-core) with javac and the
# JUnit 5 console launcher: no Gradle, no network, no Android SDK. About 10 s. The module's one library,
# org.json, is part of Android; here it comes from Debian's libandroid-json-java, the same (AOSP) code.
#   bash scripts/jvm_test.sh                      # all tests
#   bash scripts/jvm_test.sh --select-class dev.iqlite.core.ResizerTest   # extra args go to the launcher
# Last line: "jvm tests: N passed, M failed"; exit status non-zero on any failure or missing tool.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
module=android_demo/iqlite-core
build=$module/build/jvm
java_dir=${JUNIT_JARS:-/usr/share/java}
launcher=$java_dir/junit-platform-console-standalone.jar
org_json=${ORG_JSON_JAR:-/usr/share/java/com.android.json.jar}

missing() {
    echo "jvm tests: cannot run: $1" >&2
    echo "install them with: apt-get install default-jdk-headless junit5 libandroid-json-java" >&2
    exit 2
}
command -v javac >/dev/null 2>&1 || missing "javac (a JDK, 17 or later) is not on PATH"
command -v java >/dev/null 2>&1 || missing "java is not on PATH"
[ -f "$launcher" ] || missing "$launcher (JUnit 5 console launcher) not found"
[ -f "$org_json" ] || missing "$org_json (org.json, from libandroid-json-java) not found"
main_cp=$org_json                # on the app, org.json comes from the platform (android.jar)
test_cp=$launcher:$org_json      # the standalone launcher bundles the Jupiter API, params and engine

rm -rf "$build"
mkdir -p "$build/main" "$build/test"
find "$module/src/main/java" -name '*.java' > "$build/main-sources.txt"
find "$module/src/test/java" -name '*.java' > "$build/test-sources.txt"
javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$build/main" -cp "$main_cp" @"$build/main-sources.txt"
javac --release 17 -encoding UTF-8 -d "$build/test" -cp "$build/main:$test_cp" @"$build/test-sources.txt"

select=("$@")
[ ${#select[@]} -gt 0 ] || select=(--scan-class-path)  # every test class, unless told which
set +e
java -Diqlite.repo="$repo" -Djava.awt.headless=true -jar "$launcher" \
    --class-path "$build/main:$build/test:$org_json" \
    --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
    --reports-dir="$build/reports" "${select[@]}" 2>&1 | tee "$build/junit.log"
status=${PIPESTATUS[0]}
set -e

# The launcher's summary lines look like "[        42 tests successful      ]". A test class whose set-up
# (@BeforeAll) fails runs none of its tests: that shows as a failed container, not as failed tests.
count() { sed -n "s/^\[ *\([0-9]*\) $1 *\]$/\1/p" "$build/junit.log" | tail -1; }
passed=$(count "tests successful")
failed=$(count "tests failed")
broken=$(count "containers failed")
note=""
[ "${broken:-0}" -eq 0 ] || note=" (and ${broken} test containers failed, e.g. a class whose @BeforeAll threw: see above)"
echo "jvm tests: ${passed:-0} passed, ${failed:-0} failed${note}"
if [ "$status" -ne 0 ] || [ -z "$passed" ]; then
    exit 1
fi
