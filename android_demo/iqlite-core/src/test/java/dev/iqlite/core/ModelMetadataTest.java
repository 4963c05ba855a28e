package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The shipped model read by hand; expected values are what `python -m export info --json` prints for it. */
class ModelMetadataTest {
    static byte[] model;
    static ModelMetadata meta;

    @BeforeAll
    static void load() throws IOException {
        model = Files.readAllBytes(TestFiles.shippedModel());
        meta = ModelMetadata.parse(model);
    }

    @Test
    void inputTensor() {
        ModelMetadata.TensorInfo in = meta.input();
        assertEquals("serving_default_image:0", in.name);
        assertArrayEquals(new int[] {1, 384, 384, 3}, in.shape());
        assertEquals("uint8", in.type);
        assertNotNull(in.quantization);
        assertEquals(1.0f, in.quantization.scale);
        assertEquals(0, in.quantization.zeroPoint);
        assertEquals(384, meta.imageSize());
    }

    @Test
    void outputTensorMatchesTheGoldenRecord() throws IOException, JSONException {
        ModelMetadata.TensorInfo out = meta.output();
        assertEquals("StatefulPartitionedCall:0", out.name);
        assertArrayEquals(new int[] {1, 1}, out.shape());
        assertEquals("uint8", out.type);
        JSONObject golden = TestFiles.golden();
        assertEquals(golden.getDouble("output_scale"), (double) meta.outputQuantization().scale);
        assertEquals(golden.getLong("output_zero_point"), meta.outputQuantization().zeroPoint);
        assertEquals(0.019607843831181526, (double) meta.outputQuantization().scale);
        assertEquals(Quantization.SHIPPED_OUTPUT.scale, meta.outputQuantization().scale);
        assertEquals(golden.getInt("image_size"), meta.imageSize());
    }

    @Test
    void outputsInTheModelsOrderScoreFirst() throws JSONException {
        assertEquals(2, meta.outputs().size());
        assertEquals(meta.output(), meta.outputs().get(0));
        assertEquals(0, meta.outputIndex("StatefulPartitionedCall:0"));
        assertEquals(-1, meta.outputIndex("no such output"));
        assertEquals(1L, meta.output().numElements());
        ModelMetadata.TensorInfo flaws = meta.outputs().get(1);
        String named = meta.iqlite().getJSONObject("flaw_reasons").getString("output");
        assertEquals(named, flaws.name);
        assertEquals(1, meta.outputIndex(named));
        assertEquals("uint8", flaws.type);
        assertEquals(2, flaws.shape().length);
        assertEquals(1, flaws.shape()[0]);
        assertNotNull(flaws.quantization);
        assertThrows(UnsupportedOperationException.class, () -> meta.outputs().clear());
    }

    @Test
    void embeddedMetadata() {
        assertTrue(meta.hasMetadata());
        assertEquals("iqlite photo quality", meta.name());
        assertEquals("0.1.0", meta.version());
        assertEquals("iqlite contributors", meta.author());
        assertTrue(meta.license().startsWith("Apache-2.0"), meta.license());
        assertTrue(meta.description().startsWith("Photo quality scorer for on-device use"), meta.description());
        assertEquals("1.5.0", meta.minParserVersion());
        assertEquals("RGB", meta.inputColorSpace());
        assertArrayEquals(new int[] {384, 384}, meta.inputDefaultSize());
        assertArrayEquals(new float[] {0f}, meta.inputMean());
        assertArrayEquals(new float[] {1f}, meta.inputStd());
    }

    @Test
    void iqliteCustomMetadata() throws JSONException {
        assertTrue(meta.customMetadata().containsKey("iqlite"));
        assertTrue(meta.iqliteJson().startsWith("{"));
        JSONObject iqlite = meta.iqlite();
        assertEquals(1, iqlite.getInt("format"));
        assertEquals(Integer.valueOf(384), meta.metadataImageSize());
        JSONObject quantization = iqlite.getJSONObject("output_quantization");
        assertEquals("uint8", quantization.getString("dtype"));
        assertEquals((double) meta.outputQuantization().scale, quantization.getDouble("scale"));
        assertEquals(0, quantization.getInt("zero_point"));
        assertEquals(2.5, meta.goodThreshold());
        assertTrue(iqlite.getJSONObject("score").getBoolean("higher_is_better"));
        assertEquals("MobileNetV2", iqlite.getJSONObject("architecture").getString("backbone"));
        assertTrue(iqlite.getString("preprocessing").contains("BILINEAR"));
    }

    @Test
    void iqliteHandsOutACopy() throws JSONException {
        meta.iqlite().put("image_size", 1).getJSONObject("score").put("good_threshold", 4.5);
        assertEquals(Integer.valueOf(384), meta.metadataImageSize());
        assertEquals(2.5, meta.goodThreshold());
    }

    /**
     * The shipped model with one run of bytes inside its iqlite JSON replaced by another of the same length, so
     * the flatbuffer around it stays sound and only what org.json reads changes.
     */
    static ModelMetadata withJsonEdit(String from, String to) {
        assertEquals(from.length(), to.length(), "a same-length edit keeps every flatbuffer offset valid");
        byte[] edited = model.clone();
        byte[] needle = from.getBytes(StandardCharsets.UTF_8);
        int at = indexOf(edited, needle);
        assertTrue(at >= 0, from + " is not in the shipped model");
        assertEquals(-1, indexOf(Arrays.copyOfRange(edited, at + 1, edited.length), needle), from + " occurs twice");
        System.arraycopy(to.getBytes(StandardCharsets.UTF_8), 0, edited, at, needle.length);
        return ModelMetadata.parse(edited);
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void goodThresholdComesFromTheMetadata() {
        ModelMetadata stricter = withJsonEdit("\"good_threshold\":2.5", "\"good_threshold\":3.5");
        assertEquals(3.5, stricter.goodThreshold());
        ModelMetadata unstated = withJsonEdit("\"good_threshold\":2.5", "\"good_thresh_ld\":2.5");
        assertEquals(ScoreScale.GOOD_THRESHOLD, unstated.goodThreshold());
    }

    @Test
    void aStatedImageSizeThatDisagreesWithTheInputBreaksTheContract() {
        ModelMetadata wrong = withJsonEdit("\"image_size\":384", "\"image_size\":385");
        assertEquals(Integer.valueOf(385), wrong.metadataImageSize());
        assertEquals(384, wrong.imageSize());
        IllegalStateException e = assertThrows(IllegalStateException.class, wrong::checkAppContract);
        assertTrue(e.getMessage().contains("385") && e.getMessage().contains("384"), e.getMessage());

        ModelMetadata notANumber = withJsonEdit("\"image_size\":384", "\"image_size\":\"x\"");
        assertNull(notANumber.metadataImageSize());
        notANumber.checkAppContract();
    }

    @Test
    void damagedIqliteJsonFallsBackToTheTensorFacts() {
        // '{' turned into '[' : the entry is no longer a JSON object (nor valid JSON at all)
        ModelMetadata damaged = withJsonEdit("{\"architecture\"", "[\"architecture\"");
        assertTrue(damaged.iqliteJson().startsWith("[\"architecture\""));
        assertNull(damaged.iqlite());
        assertNull(damaged.metadataImageSize());
        assertEquals(ScoreScale.GOOD_THRESHOLD, damaged.goodThreshold());
        assertEquals(384, damaged.imageSize());
        damaged.checkAppContract();
    }

    @Test
    void shippedModelMeetsTheAppContract() throws IOException {
        meta.checkAppContract();
        ModelMetadata fromStream = ModelMetadata.read(new ByteArrayInputStream(model));
        assertEquals(meta.imageSize(), fromStream.imageSize());
    }

    @Test
    void notAModel() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelMetadata.parse("PNG not a model".getBytes()));
        assertTrue(e.getMessage().contains("TFL3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelMetadata.parse(new byte[3]));
    }

    @Test
    void truncatedModelsFailWithAClearError() {
        for (int length : new int[] {8, 12, 64, 1000, 20000, model.length / 2, model.length - 1000}) {
            byte[] cut = Arrays.copyOf(model, length);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelMetadata.parse(cut),
                    "length " + length);
            assertTrue(e.getMessage().contains("corrupt") || e.getMessage().contains("empty"), e.getMessage());
        }
    }

    @Test
    void damagedModelsNeverThrowAnythingButIllegalArgument() {
        Random random = new Random(6);
        for (int trial = 0; trial < 300; trial++) {
            byte[] damaged = model.clone();
            for (int flips = 0; flips < 4; flips++) {
                int at = 8 + random.nextInt(trial % 2 == 0 ? 4096 : model.length - 8); // headers, or anywhere
                damaged[at] = (byte) random.nextInt(256);
            }
            try {
                ModelMetadata.parse(damaged);
            } catch (IllegalArgumentException expected) {
                // the only acceptable failure
            }
        }
    }}
