#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: a JDK, JUnit 5 and org.json (libandroid-json-java, the
# AOSP code Android ships) for the plain-Java module the Android app uses, aapt2 and the platform's
# framework-res.apk (Android resource link check), adb (the phone benchmark's no-device path), and chromium
# (the web demo's headless browser test). Installs only what is missing, with apt-get (as root, or through sudo).
set -euo pipefail

missing=()
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/junit-platform-console-standalone.jar ] || missing+=(junit5)
[ -f /usr/share/java/com.android.json.jar ] || missing+=(libandroid-json-java)
command -v aapt2 >/dev/null 2>&1 || missing+=(aapt)
[ -f /usr/share/android-framework-res/framework-res.apk ] || missing+=(android-framework-res)
command -v adb >/dev/null 2>&1 || missing+=(adb)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v flatc >/dev/null 2>&1 || missing+=(flatbuffers-compiler)  # TFLite metadata: independent reader, codegen
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif sudo -n true 2>/dev/null; then
  apt_get=(sudo -n apt-get)
else
  echo "error: need root or sudo to run: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq || true  # a stale index still usually resolves these packages
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
