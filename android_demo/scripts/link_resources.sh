#!/usr/bin/env bash
# Compile and link the app's resources and manifest with aapt2, against a platform framework-res.apk.
#
# This is the part of an Android build that can run without the Android SDK: it proves that every layout,
# value, drawable and xml file compiles, that every @string/@color/@xml/... reference (in the manifest and in
# the resources) resolves, and that only platform attributes and styles are used. It does not compile Kotlin.
#
# Usage: android_demo/scripts/link_resources.sh [OUT_DIR]
#   OUT_DIR (optional) keeps the linked resource APK (resources.apk), the generated R.java (under gen/)
#   and the manifest that was linked (AndroidManifest.xml); without it everything goes to a temp folder.
# Environment: AAPT2 (default: aapt2 on PATH), FRAMEWORK_RES (default: Debian's android-framework-res).
#
# AGP writes the package name (from `namespace`) and minSdk/targetSdk (from app/build.gradle.kts) into the
# manifest when it merges it; this script does the same on a copy, since aapt2 link needs them.
# Exit status: 0 when the link succeeds; non-zero, with aapt2's own error output, when it does not.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$here/app"
gradle_file="$app/build.gradle.kts"
manifest="$app/src/main/AndroidManifest.xml"
res_dir="$app/src/main/res"
aapt2="${AAPT2:-aapt2}"
framework="${FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}"

fail() {
    echo "link_resources: $*" >&2
    exit 1
}

command -v "$aapt2" >/dev/null 2>&1 || fail "aapt2 not found (apt-get install aapt, or set AAPT2)"
[[ -f "$framework" ]] || fail "framework resources not found at $framework (apt-get install android-framework-res, or set FRAMEWORK_RES)"
[[ -f "$manifest" ]] || fail "no manifest at $manifest"
[[ -d "$res_dir" ]] || fail "no resources at $res_dir"

# `key = value` or `key = "value"` from app/build.gradle.kts, first match.
gradle_value() {
    sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"?([^\"[:space:]]+)\"?.*/\1/p" "$gradle_file" | head -n 1
}
namespace="$(gradle_value namespace)"
min_sdk="$(gradle_value minSdk)"
target_sdk="$(gradle_value targetSdk)"
[[ -n "$namespace" ]] || fail "no namespace in $gradle_file"
[[ "$min_sdk" =~ ^[0-9]+$ ]] || fail "no numeric minSdk in $gradle_file"
[[ "$target_sdk" =~ ^[0-9]+$ ]] || fail "no numeric targetSdk in $gradle_file"

if [[ $# -ge 1 ]]; then
    out="$1"
    mkdir -p "$out"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi
rm -rf "$out/compiled" "$out/gen"
mkdir -p "$out/compiled" "$out/gen"

# The manifest as AGP's merger would hand it to aapt2: package attribute added, nothing else changed.
grep -q '<manifest[^>]*package=' "$manifest" && fail "$manifest sets package=; AGP 8 takes it from namespace"
sed -E "0,/<manifest /s//<manifest package=\"$namespace\" /" "$manifest" >"$out/AndroidManifest.xml"

count=0
while IFS= read -r -d '' file; do
    if ! "$aapt2" compile -o "$out/compiled" "$file"; then
        fail "aapt2 compile failed for ${file#"$here"/}"
    fi
    count=$((count + 1))
done < <(find "$res_dir" -type f ! -name '.*' -print0 | sort -z)
[[ $count -gt 0 ]] || fail "no resource files under $res_dir"

flat_files=("$out"/compiled/*.flat)
if ! "$aapt2" link \
    -I "$framework" \
    --manifest "$out/AndroidManifest.xml" \
    --min-sdk-version "$min_sdk" \
    --target-sdk-version "$target_sdk" \
    --version-code 1 \
    --version-name link-check \
    --java "$out/gen" \
    -o "$out/resources.apk" \
    "${flat_files[@]}"; then
    fail "aapt2 link failed (see the errors above)"
fi

echo "link_resources: OK: $count resource files and the manifest of $namespace linked against $(basename "$framework") (minSdk $min_sdk, targetSdk $target_sdk)"
