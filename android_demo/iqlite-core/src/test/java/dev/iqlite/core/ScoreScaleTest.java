package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ScoreScaleTest {

    /** Python's round(x, 4): the exact binary value rounded half to even. */
    static double round4(double x) {
        return new BigDecimal(x).setScale(4, RoundingMode.HALF_EVEN).doubleValue();
    }

    @Test
    void goldenRawOutputsGiveTheRecordedScoresAndPythonsStars() throws IOException, JSONException {
        JSONObject golden = TestFiles.golden();
        Quantization q = new Quantization((float) golden.getDouble("output_scale"),
                golden.getLong("output_zero_point"));
        assertEquals(Quantization.SHIPPED_OUTPUT.scale, q.scale);
        // round_half_stars(TFLiteScorer.dequantize(raw)) for each golden image, from Python
        Map<String, Double> pythonStars = Map.of("sharp_landscape", 4.0, "sharp_portrait", 4.0, "blurred", 1.0,
                "dark", 3.0, "overexposed", 3.5, "noisy", 4.0, "low_contrast", 2.5);
        JSONObject images = TestFiles.goldenImagesRecord();
        Set<String> names = new HashSet<>();
        for (Iterator<String> it = images.keys(); it.hasNext(); ) {
            String name = it.next();
            names.add(name);
            JSONObject record = images.getJSONObject(name);
            int raw = record.getInt("raw_output");
            double score = q.score(raw);
            assertEquals(record.getDouble("score"), round4(score), name);
            assertEquals(pythonStars.get(name), ScoreScale.stars(score), name);
            assertEquals(score, q.score((byte) raw), name);
        }
        assertEquals(pythonStars.keySet(), names);
    }

    @Test
    void everyRawValueGivesPythonsStars() {
        // sha256(",".join(str(round_half_stars(clip(float32(5/255) * q, 0, 5))) for q in range(256)))
        StringBuilder joined = new StringBuilder();
        for (int raw = 0; raw < 256; raw++) {
            joined.append(raw == 0 ? "" : ",").append(ScoreScale.stars(Quantization.SHIPPED_OUTPUT.score(raw)));
        }
        assertEquals("0d6fcab744426d54eb176a16d3166251db83dd7d8aa6197e90aaa1d5d1f84d53",
                TestFiles.sha256(joined.toString().getBytes(StandardCharsets.UTF_8)));
        assertEquals(0.0, Quantization.SHIPPED_OUTPUT.score(0));
        assertEquals(5.0, Quantization.SHIPPED_OUTPUT.score(255));
        assertEquals(5.0, Quantization.SHIPPED_OUTPUT.score((byte) 0xFF));
    }

    /** Values and results from training.core.score_scale.round_half_stars. */
    @ParameterizedTest(name = "stars({0}) = {1}")
    @CsvSource({"-1.0, 0.0", "0.0, 0.0", "0.1, 0.0", "0.2499, 0.0", "0.25, 0.5", "0.74, 0.5", "0.75, 1.0",
        "1.0, 1.0", "2.2, 2.0", "2.25, 2.5", "2.4999, 2.5", "2.5, 2.5", "2.75, 3.0", "3.24, 3.0", "4.74, 4.5",
        "4.75, 5.0", "4.9, 5.0", "5.0, 5.0", "5.3, 5.0"})
    void halfStarsRoundTiesUp(double score, double stars) {
        assertEquals(stars, ScoreScale.stars(score));
    }

    @Test
    void dequantizationClampsAndHonoursTheZeroPoint() {
        Quantization q = new Quantization(0.5f, 10);
        assertEquals(-5.0, q.dequantize(0));
        assertEquals(0.0, q.score(0));
        assertEquals(2.5, q.score(15));
        assertEquals(5.0, q.score(255));
        assertThrows(IllegalArgumentException.class, () -> new Quantization(0f, 0));
        assertThrows(IllegalArgumentException.class, () -> new Quantization(Float.NaN, 0));
    }

    @Test
    void goodThresholdAndWidgetHelpers() {
        assertEquals(2.5, ScoreScale.GOOD_THRESHOLD);
        assertTrue(ScoreScale.isGood(2.5));
        assertFalse(ScoreScale.isGood(2.4999));
        assertEquals(3, ScoreScale.fullStars(3.5));
        assertTrue(ScoreScale.hasHalfStar(3.5));
        assertFalse(ScoreScale.hasHalfStar(4.0));
        assertEquals("4.0", ScoreScale.format(4.0392));
        assertTrue(Double.isNaN(ScoreScale.stars(Double.NaN)));
    }
}
