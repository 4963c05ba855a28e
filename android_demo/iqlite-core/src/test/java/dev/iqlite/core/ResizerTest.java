package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ResizerTest {

    static RgbImage decodePng(Path path) throws IOException {
        BufferedImage img = ImageIO.read(path.toFile());
        if (img == null) {
            throw new IOException(path + ": javax.imageio cannot decode it");
        }
        int w = img.getWidth();
        int h = img.getHeight();
        return new RgbImage(w, h, img.getRGB(0, 0, w, h, null, 0, w));
    }

    /** Every golden PNG: decoded pixels and the 384 px model input hash exactly as Python's record says. */
    @TestFactory
    Stream<DynamicTest> goldenImagesMatchPythonPreprocessing() throws IOException, JSONException {
        int size = TestFiles.golden().getInt("image_size");
        JSONObject images = TestFiles.goldenImagesRecord();
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<String> it = images.keys(); it.hasNext(); ) {
            String name = it.next();
            JSONObject record = images.getJSONObject(name);
            tests.add(DynamicTest.dynamicTest(name, () -> {
                RgbImage image = decodePng(TestFiles.goldenImages().resolve(record.getString("file")));
                assertEquals(record.getInt("width"), image.width);
                assertEquals(record.getInt("height"), image.height);
                assertEquals(record.getString("pixels_sha256"), TestFiles.sha256(image.toRgbBytes()), "decoded pixels");
                byte[] input = Resizer.resize(image.toRgbBytes(), image.width, image.height, size, size);
                assertEquals(3 * size * size, input.length);
                assertEquals(record.getString("input_sha256"), TestFiles.sha256(input),
                        "model input (Pillow BILINEAR to " + size + " px)");
                assertArrayEquals(input, Resizer.toModelInput(image.pixels, image.width, image.height, size));
            }));
        }
        assertEquals(7, tests.size(), "golden images in tests/golden/iqlite.json");
        return tests.stream();
    }

    /** A pattern with structure at every scale, the same formula as the Python that made the hashes below. */
    static byte[] pattern(int w, int h) {
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    int v = x * 37 + y * 91 + c * 53 + (x * y) % 17 + ((x * x * 7 + y * y * 3) % 29) * 5;
                    out[(y * w + x) * 3 + c] = (byte) (v & 255);
                }
            }
        }
        return out;
    }

    /**
     * SHA-256 of Pillow 13's {@code Image.fromarray(pattern(w, h)).resize((ow, oh), BILINEAR)} bytes, with
     * pattern = (x*37 + y*91 + c*53 + (x*y)%17 + ((7x^2 + 3y^2) % 29)*5) & 255 (numpy, computed once).
     */
    static Stream<Arguments> pillowCases() {
        return Stream.of(
                Arguments.of(1, 7, 4, 4, "3f77bfd51da5c84e7a92ac0feb36397451be0b22ba750203fb5b86bd40d2a443"),
                Arguments.of(7, 1, 3, 3, "89fcd77e11a8f1eced0b8ca1d44df710f243fa059161655e82016ca788eb2e24"),
                Arguments.of(3, 2, 8, 8, "679c22b2cbd2467c0adbd32a89503a3e9ff66c133544be1c4de32862d17c4565"),
                Arguments.of(5, 5, 5, 5, "68daf17e9a66dbcf273f6a47f40edec1a1c8cb6ecf16c64b0d463032495a52a6"),
                Arguments.of(640, 480, 384, 384, "2f0117683ff6c05a3d84794a64bbac8a99a54bbc06db3b0fab89e9113b159abe"),
                Arguments.of(7, 13, 3, 5, "f6717f43ec7c9c16c1d05ec29738534343b1a52e9d9452465ffc71004f792ace"),
                Arguments.of(100, 1, 10, 10, "934015d518216699f359cfa4ed702170039fbcaff49002f5619f8f4a029fe511"),
                Arguments.of(2, 2, 1, 1, "8f12d5b2c3e8e001d44dd522ced423b34b89962c23fe6df979e45a903017abc3"),
                Arguments.of(10, 10, 25, 7, "1454ce67d10df5316399884619e7a080d95c0bc6d89001faf3c5e568208a64aa"),
                Arguments.of(33, 65, 16, 130, "1bd8a6aaa897e30b432a6ab904481d97da4f6c5db63f61cfce0aeeb7c06a3d02"),
                Arguments.of(1, 1, 3, 3, "5088447325a593506a8db208be9c46be881bb9a5b22f6769b4cf9cf038a19a1d"),
                Arguments.of(360, 540, 384, 384, "8ddb0148e0c93eefe4ec274588c01ab52fa6445230aecb29b25f61ce86b73c6c"),
                Arguments.of(1000, 999, 384, 384, "e0d1e8d3be84456471318042c488ff63b36479735c33f716553f8e1f8c9604be"),
                // either side of Pillow 13's pass-order rule (h - oh > 2 * (w - ow): vertical first)
                Arguments.of(54, 29, 43, 7, "e17234c7b7fb314a69a42a4947df00aa247bec7eb80fe8be53897de02ac8eb91"),
                Arguments.of(56, 57, 35, 17, "fbb21354b999659f52ae9fd84c89e621fc3ea6625f4677b375472ee69f3a97ce"),
                Arguments.of(29, 84, 7, 38, "7c912902bc59f94993c0e7cc7cfc2ca8a60f8fab759264aac4f46aa7296b0da9"),
                Arguments.of(12, 30, 9, 24, "a9ccf4da1e727c8498e5fa886dd590a35c1cd2528df997727b8b98daeaefea9c"),
                Arguments.of(12, 31, 9, 24, "d25d233b13790c807e812ab5e6338d19a0de1cb59473d6ca049bbcc71a44a823"));
    }

    @ParameterizedTest(name = "{0}x{1} -> {2}x{3}")
    @MethodSource("pillowCases")
    void matchesPillowBitForBit(int w, int h, int outW, int outH, String sha256) {
        byte[] out = Resizer.resize(pattern(w, h), w, h, outW, outH);
        assertEquals(outW * outH * 3, out.length);
        assertEquals(sha256, TestFiles.sha256(out));
    }

    /**
     * 400 size pairs from 1 to 90 px each way (up, down, mixed; 119 of them take the vertical-first order),
     * drawn by an LCG, all outputs hashed together; the hash is Pillow 13.0.0's on the same pairs.
     */
    @Test
    void matchesPillowOnManyRandomSizes() throws Exception {
        java.security.MessageDigest all = java.security.MessageDigest.getInstance("SHA-256");
        long[] state = {2024};
        java.util.function.IntSupplier next = () -> {
            state[0] = (state[0] * 1103515245L + 12345L) % (1L << 31);
            return 1 + (int) ((state[0] >> 8) % 90);
        };
        int verticalFirst = 0;
        for (int i = 0; i < 400; i++) {
            int w = next.getAsInt();
            int h = next.getAsInt();
            int ow = next.getAsInt();
            int oh = next.getAsInt();
            all.update(Resizer.resize(pattern(w, h), w, h, ow, oh));
            verticalFirst += Resizer.verticalFirst(w, h, ow, oh) && ow != w ? 1 : 0;
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : all.digest()) {
            hex.append(String.format("%02x", b & 0xFF));
        }
        assertEquals(119, verticalFirst);
        assertEquals("2418488f312fddd56e1a7debda0d5fe411259ac68e765e776d162ba23160334d", hex.toString());
    }

    @Test
    void upscaleSmallExampleByValue() {
        // Pillow: Image.fromarray(pattern(3, 2)).resize((4, 3), BILINEAR), red channel.
        byte[] out = Resizer.resize(pattern(3, 2), 3, 2, 4, 3);
        int[][] expected = {{0, 45, 125, 214}, {53, 99, 152, 196}, {106, 152, 178, 177}};
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 4; x++) {
                assertEquals(expected[y][x], out[(y * 4 + x) * 3] & 0xFF, "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void uniformImageStaysUniformAtEverySize() {
        int[] pixels = new int[17 * 9];
        java.util.Arrays.fill(pixels, 0xFF123456);
        for (int size : new int[] {1, 2, 5, 9, 17, 40, 384}) {
            int[] out = Resizer.resize(pixels, 17, 9, size, size);
            for (int p : out) {
                assertEquals(0x123456, p);
            }
        }
    }

    @Test
    void packedAndByteApisAgreeAndIgnoreAlpha() {
        byte[] rgb = pattern(31, 17);
        RgbImage image = RgbImage.fromRgbBytes(31, 17, rgb);
        int[] withAlpha = image.pixels.clone();
        for (int i = 0; i < withAlpha.length; i++) {
            withAlpha[i] |= 0xFF000000;
        }
        byte[] fromBytes = Resizer.resize(rgb, 31, 17, 12, 20);
        assertArrayEquals(fromBytes, RgbImage.fromRgbBytes(12, 20, fromBytes).toRgbBytes());
        assertArrayEquals(fromBytes, new RgbImage(12, 20, Resizer.resize(withAlpha, 31, 17, 12, 20)).toRgbBytes());
        assertArrayEquals(fromBytes, Resizer.resize(image, 12, 20).toRgbBytes());
    }

    @Test
    void sameSizeIsACopy() {
        byte[] rgb = pattern(4, 4);
        byte[] out = Resizer.resize(rgb, 4, 4, 4, 4);
        assertArrayEquals(rgb, out);
        assertNotSame(rgb, out);
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> Resizer.resize(new byte[12], 2, 2, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> Resizer.resize(new byte[11], 2, 2, 3, 3));
        assertThrows(IllegalArgumentException.class, () -> Resizer.resize(new int[3], 2, 2, 3, 3));
        assertThrows(IllegalArgumentException.class, () -> new RgbImage(0, 3, new int[0]));
    }
}
