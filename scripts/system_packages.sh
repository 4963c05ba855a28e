#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: a JDK, JUnit 5 and org.json (libandroid-json-java, the
# AOSP code Android ships) for the plain-Java module the Android app uses, aapt2 and the platform's
# framework-res.apk (Android resource link check), adb (the phone benchmark's no-device path), and chromium
# (the web demo's headless browser test), Tesseract 5 with English and the document fonts (the OCR task). Installs
# only what is missing, with apt-get (as root, or through sudo).
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
# The OCR task (iqlite/training/task_quality): Tesseract 5 with its English model, and the fonts documents are set in.
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || missing+=(tesseract-ocr-eng)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || missing+=(fonts-liberation)
[ -f /usr/share/fonts/truetype/freefont/FreeSerif.ttf ] || missing+=(fonts-freefont-ttf)
[ -f /usr/share/fonts/truetype/noto/NotoMono-Regular.ttf ] || missing+=(fonts-noto-mono)
[ -f /usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf ] || missing+=(fonts-crosextra-carlito)
[ -f /usr/share/fonts/truetype/open-sans/OpenSans-Regular.ttf ] || missing+=(fonts-open-sans)
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
