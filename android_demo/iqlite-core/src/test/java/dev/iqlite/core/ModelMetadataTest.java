package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;
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
    void outputTensorMatchesTheGoldenRecord() throws IOException {
        ModelMetadata.TensorInfo out = meta.output();
        assertEquals("StatefulPartitionedCall:0", out.name);
        assertArrayEquals(new int[] {1, 1}, out.shape());
        assertEquals("uint8", out.type);
        Object golden = TestFiles.golden();
        assertEquals(MiniJson.number(golden, "output_scale"), (double) meta.outputQuantization().scale);
        assertEquals((long) MiniJson.number(golden, "output_zero_point"), meta.outputQuantization().zeroPoint);
        assertEquals(0.019607843831181526, (double) meta.outputQuantization().scale);
        assertEquals(Quantization.SHIPPED_OUTPUT.scale, meta.outputQuantization().scale);
        assertEquals((long) MiniJson.number(golden, "image_size"), meta.imageSize());
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
    void iqliteCustomMetadata() {
        assertTrue(meta.customMetadata().containsKey("iqlite"));
        assertTrue(meta.iqliteJson().startsWith("{"));
        Object iqlite = meta.iqlite();
        assertEquals(1L, MiniJson.get(iqlite, "format"));
        assertEquals(Integer.valueOf(384), meta.metadataImageSize());
        assertEquals("uint8", MiniJson.get(iqlite, "output_quantization", "dtype"));
        assertEquals((double) meta.outputQuantization().scale,
                MiniJson.number(iqlite, "output_quantization", "scale"));
        assertEquals(0.0, MiniJson.number(iqlite, "output_quantization", "zero_point"));
        assertEquals(2.5, meta.goodThreshold());
        assertEquals(Boolean.TRUE, MiniJson.get(iqlite, "score", "higher_is_better"));
        assertEquals("MobileNetV2", MiniJson.get(iqlite, "architecture", "backbone"));
        assertTrue(((String) MiniJson.get(iqlite, "preprocessing")).contains("BILINEAR"));
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
    }

    @Test
    void miniJson() {
        Object v = MiniJson.parse(" {\"a\": [1, -2.5e1, true, null, \"x\\u00e9\\n\"], \"b\": {}} ");
        assertEquals(Arrays.asList(1L, -25.0, true, null, "x\u00e9\n"), MiniJson.get(v, "a"));
        assertEquals(0, ((java.util.Map<?, ?>) MiniJson.get(v, "b")).size());
        assertEquals(null, MiniJson.get(v, "a", "b"));
        assertTrue(Double.isNaN(MiniJson.number(v, "missing")));
        for (String bad : new String[] {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "1 2", "{1: 2}"}) {
            assertThrows(IllegalArgumentException.class, () -> MiniJson.parse(bad), bad);
        }
    }
}
