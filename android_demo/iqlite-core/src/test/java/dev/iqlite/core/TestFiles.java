package dev.iqlite.core;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.json.JSONException;
import org.json.JSONObject;

/** Where the shared golden files and the shipped model are: the repository root, found once. */
final class TestFiles {
    private static Path root;
    private static JSONObject golden;

    private TestFiles() {}

    /** -Diqlite.repo=... (set by scripts/jvm_test.sh and the Gradle build), else walk up from the working dir. */
    static synchronized Path repo() {
        if (root == null) {
            String property = System.getProperty("iqlite.repo");
            if (property != null && !property.isEmpty()) {
                root = Paths.get(property).toAbsolutePath();
            } else {
                for (File dir = new File(System.getProperty("user.dir")).getAbsoluteFile(); dir != null;
                        dir = dir.getParentFile()) {
                    if (new File(dir, "tests/golden/iqlite.json").isFile()) {
                        root = dir.toPath();
                        break;
                    }
                }
            }
            if (root == null || !Files.isRegularFile(root.resolve("tests/golden/iqlite.json"))) {
                throw new IllegalStateException("cannot find the repository root (tests/golden/iqlite.json); "
                        + "run from inside the repository or pass -Diqlite.repo=PATH");
            }
        }
        return root;
    }

    static Path goldenImages() {
        return repo().resolve("tests/golden/images");
    }

    static Path shippedModel() {
        return repo().resolve("android_demo/app/src/main/assets/iqlite.tflite");
    }

    /** tests/golden/iqlite.json, parsed; read-only by convention, since every test shares the one object. */
    static synchronized JSONObject golden() throws IOException, JSONException {
        if (golden == null) {
            golden = new JSONObject(new String(Files.readAllBytes(repo().resolve("tests/golden/iqlite.json")),
                    StandardCharsets.UTF_8));
        }
        return golden;
    }

    /** The golden record's "images": image name to its record (file, width, height, hashes, raw output, score). */
    static JSONObject goldenImagesRecord() throws IOException, JSONException {
        return golden().getJSONObject("images");
    }

    static String sha256(byte[] data) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(data);
            StringBuilder hex = new StringBuilder();
            for (byte b : digest) {
                hex.append(String.format("%02x", b & 0xFF));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
