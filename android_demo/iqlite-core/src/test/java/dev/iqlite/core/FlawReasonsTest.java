package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * FlawReasons against the golden record (the reasons Python names for each golden image's flaw output, under
 * the thresholds in the shipped model's metadata), and the rule itself on small hand-made specs.
 *
 * <p>Nothing here states a threshold or a text of the shipped model: they come from its metadata, and the
 * expected reasons from tests/golden/iqlite.json, both of which change when the model is recalibrated.
 */
class FlawReasonsTest {
    static byte[] model;
    static ModelMetadata meta;
    static FlawReasons shipped;

    @BeforeAll
    static void load() throws IOException {
        model = Files.readAllBytes(TestFiles.shippedModel());
        meta = ModelMetadata.parse(model);
        shipped = FlawReasons.fromMetadata(meta);
    }

    // --- The shipped model and the golden record ----------------------------------------------------------

    static List<String> codes(List<FlawReasons.Reason> reasons) {
        List<String> out = new ArrayList<>();
        for (FlawReasons.Reason r : reasons) {
            out.add(r.code);
        }
        return out;
    }

    static int[] ints(JSONArray array) throws JSONException {
        int[] out = new int[array.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.getInt(i);
        }
        return out;
    }

    static List<String> strings(JSONArray array) throws JSONException {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < array.length(); i++) {
            out.add(array.getString(i));
        }
        return out;
    }

    @Test
    void everyGoldenImageGetsPythonsReasonsInPythonsOrder() throws IOException, JSONException {
        assertNotNull(shipped, "the shipped model has no flaw_reasons metadata");
        JSONObject images = TestFiles.goldenImagesRecord();
        List<String> mismatches = new ArrayList<>();
        int checked = 0;
        for (Iterator<String> names = images.keys(); names.hasNext(); ) {
            String name = names.next();
            JSONObject record = images.getJSONObject(name);
            assertTrue(record.has("flaw_raw") && record.has("reasons"),
                    name + ": the golden record has no flaw_raw/reasons; re-record it with `python -m export golden`");
            int[] raw = ints(record.getJSONArray("flaw_raw"));
            List<String> expected = strings(record.getJSONArray("reasons"));
            List<FlawReasons.Reason> got = shipped.evaluate(raw);
            if (!codes(got).equals(expected)) {
                mismatches.add(name + ": flaw_raw " + Arrays.toString(raw) + " gives " + got + ", Python names "
                        + expected);
            }
            assertEquals(got, shipped.evaluate(toBytes(raw)), name + ": the byte[] overload");
            checked++;
        }
        assertTrue(checked > 0, "no golden images");
        assertTrue(mismatches.isEmpty(), String.join("\n", mismatches));
    }

    static byte[] toBytes(int[] raw) {
        byte[] out = new byte[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = (byte) raw[i];
        }
        return out;
    }

    @Test
    void goldenReasonsHaveTheTextsAndNumbersOfTheMetadata() throws IOException, JSONException {
        JSONObject spec = meta.iqlite().getJSONObject(FlawReasons.METADATA_KEY);
        JSONObject byCode = new JSONObject();
        JSONArray entries = spec.getJSONArray("reasons");
        for (int i = 0; i < entries.length(); i++) {
            byCode.put(entries.getJSONObject(i).getString("code"), entries.getJSONObject(i));
        }
        JSONObject images = TestFiles.goldenImagesRecord();
        for (Iterator<String> names = images.keys(); names.hasNext(); ) {
            String name = names.next();
            int[] raw = ints(images.getJSONObject(name).getJSONArray("flaw_raw"));
            double previous = Double.POSITIVE_INFINITY;
            for (FlawReasons.Reason r : shipped.evaluate(raw)) {
                JSONObject entry = byCode.getJSONObject(r.code);
                assertEquals(entry.getString("text"), r.text, name);
                assertEquals(entry.getString("statistic"), r.statistic, name);
                assertEquals(entry.getDouble("threshold"), r.threshold, name);
                assertEquals(shipped.quantization().dequantize(raw[entry.getInt("index")]), r.value, name);
                assertTrue(r.severity > 0 && r.severity <= previous, name + ": " + r);
                previous = r.severity;
            }
        }
    }

    @Test
    void theShippedSpecNamesTheModelsSecondOutput() throws IOException, JSONException {
        JSONObject spec = meta.iqlite().getJSONObject(FlawReasons.METADATA_KEY);
        assertEquals(spec.getString("output"), shipped.outputName());
        assertEquals(meta.outputIndex(shipped.outputName()), shipped.outputIndex());
        assertEquals(2, meta.outputs().size());
        assertEquals(1, shipped.outputIndex());
        ModelMetadata.TensorInfo out = meta.outputs().get(shipped.outputIndex());
        assertSame(out, shipped.output());
        assertEquals("uint8", out.type);
        assertSame(out.quantization, shipped.quantization());
        assertEquals(out.numElements(), shipped.size());
        assertEquals(strings(spec.getJSONArray("statistics")), shipped.statistics());
        assertEquals(spec.getJSONArray("reasons").length(), shipped.rules().size());
        Set<String> ruleCodes = new HashSet<>();
        for (FlawReasons.Rule rule : shipped.rules()) {
            assertEquals(shipped.statistics().get(rule.index), rule.statistic, rule.code);
            assertFalse(rule.text.isEmpty(), rule.code);
            ruleCodes.add(rule.code);
        }
        for (String pythonOnly : shipped.pythonOnly()) {
            assertFalse(ruleCodes.contains(pythonOnly), pythonOnly + " is Python-only, yet the model names it");
        }
        JSONObject images = TestFiles.goldenImagesRecord();
        for (Iterator<String> names = images.keys(); names.hasNext(); ) {
            String name = names.next();
            assertEquals(shipped.size(), images.getJSONObject(name).getJSONArray("flaw_raw").length(), name);
        }
        // the score output is still output 0, and the app contract holds with the second output
        assertEquals(0, meta.outputIndex(meta.output().name));
        meta.checkAppContract();
    }

    /** The shipped model with one same-length run of bytes in its iqlite JSON replaced (see ModelMetadataTest). */
    static ModelMetadata withJsonEdit(String from, String to) {
        assertEquals(from.length(), to.length(), "a same-length edit keeps every flatbuffer offset valid");
        byte[] needle = from.getBytes(StandardCharsets.UTF_8);
        int at = ModelMetadataTest.indexOf(model, needle);
        assertTrue(at >= 0, from + " is not in the shipped model");
        assertEquals(-1, ModelMetadataTest.indexOf(Arrays.copyOfRange(model, at + 1, model.length), needle),
                from + " occurs twice");
        byte[] edited = model.clone();
        System.arraycopy(to.getBytes(StandardCharsets.UTF_8), 0, edited, at, needle.length);
        return ModelMetadata.parse(edited);
    }

    @Test
    void aModelWithoutTheBlockHasNoReasons() {
        ModelMetadata without = withJsonEdit("\"flaw_reasons\":{", "\"flaw_reasonz\":{");
        assertNull(FlawReasons.fromMetadata(without));
        without.checkAppContract(); // it still scores: the extra output is ignored
        ModelMetadata damaged = withJsonEdit("{\"architecture\"", "[\"architecture\"");
        assertNull(FlawReasons.fromMetadata(damaged));
        damaged.checkAppContract();
    }

    @Test
    void aBlockNamingNoOutputOfTheModelIsAnError() {
        ModelMetadata wrong = withJsonEdit("\"output\":\"flaw_statistics\"", "\"output\":\"flaw_statisticz\"");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FlawReasons.fromMetadata(wrong));
        assertTrue(e.getMessage().contains("'flaw_statisticz' is not an output of the model"), e.getMessage());
        assertTrue(e.getMessage().contains("flaw_statistics"), "the message lists the outputs: " + e.getMessage());
        IllegalStateException contract = assertThrows(IllegalStateException.class, wrong::checkAppContract);
        assertEquals(e.getMessage(), contract.getMessage());
    }

    @Test
    void anUnknownSideInTheShippedBlockIsAnError() {
        ModelMetadata wrong = withJsonEdit("\"fires_when\":\"below\",\"index\":2",
                "\"fires_when\":\"belov\",\"index\":2");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FlawReasons.fromMetadata(wrong));
        assertTrue(e.getMessage().contains("fires_when is 'belov'"), e.getMessage());
    }

    @Test
    void aDamagedBlockGivesNullOrIllegalArgumentNothingElse() {
        byte[] start = "\"flaw_reasons\":{".getBytes(StandardCharsets.UTF_8);
        int from = ModelMetadataTest.indexOf(model, start);
        assertTrue(from >= 0);
        java.util.Random random = new java.util.Random(11);
        byte[] alphabet = "{}[]\",:0123456789.-eE abcnulltrue".getBytes(StandardCharsets.UTF_8);
        for (int trial = 0; trial < 300; trial++) {
            byte[] damaged = model.clone();
            for (int flips = 0; flips < 1 + trial % 3; flips++) {
                damaged[from + random.nextInt(1200)] = alphabet[random.nextInt(alphabet.length)];
            }
            ModelMetadata m = ModelMetadata.parse(damaged); // the flatbuffer is intact: only the JSON changed
            try {
                FlawReasons f = FlawReasons.fromMetadata(m);
                if (f != null) {
                    f.evaluate(new int[f.size()]);
                }
            } catch (IllegalArgumentException expected) {
                // the only acceptable failure
            }
        }
    }

    // --- The rule, on a small spec with exact binary numbers ----------------------------------------------------

    /** Flaw output scale 1/16 and zero point 16: raw q means (q - 16) / 16, so 24 is 0.5 and 22 is 0.375. */
    static final Quantization SIXTEENTHS = new Quantization(0.0625f, 16);

    static final String SPEC = "{\"format\": 1, \"output\": \"flaws\", \"statistics\": [\"a\", \"b\", \"c\"],"
            + " \"reasons\": ["
            + "{\"code\": \"a_low\", \"text\": \"A is low\", \"statistic\": \"a\", \"index\": 0,"
            + " \"fires_when\": \"below\", \"threshold\": 0.5, \"severe\": 0.25},"
            + "{\"code\": \"b_high\", \"text\": \"B is high\", \"statistic\": \"b\", \"index\": 1,"
            + " \"fires_when\": \"above\", \"threshold\": 0.5, \"severe\": 0.75},"
            + "{\"code\": \"c_high\", \"text\": \"C is high\", \"statistic\": \"c\", \"index\": 2,"
            + " \"fires_when\": \"above\", \"threshold\": 0.25, \"severe\": 0.25}],"
            + " \"rule\": \"see model_flaws.py\", \"python_only\": [\"d_python\"]}";

    static List<ModelMetadata.TensorInfo> outputs(String flawType, Quantization flawQuantization) {
        return List.of(
                new ModelMetadata.TensorInfo("score", new int[] {1, 1}, "uint8", Quantization.SHIPPED_OUTPUT),
                new ModelMetadata.TensorInfo("flaws", new int[] {1, 3}, flawType, flawQuantization));
    }

    static FlawReasons spec(String json) throws JSONException {
        return FlawReasons.fromSpec(new JSONObject(json), outputs("uint8", SIXTEENTHS));
    }

    static FlawReasons spec() throws JSONException {
        return spec(SPEC);
    }

    @Test
    void theSpecsFacts() throws JSONException {
        FlawReasons f = spec();
        assertEquals("flaws", f.outputName());
        assertEquals(1, f.outputIndex());
        assertEquals(3, f.size());
        assertSame(SIXTEENTHS, f.quantization());
        assertEquals(List.of("a", "b", "c"), f.statistics());
        assertEquals(List.of("d_python"), f.pythonOnly());
        assertEquals(List.of("a_low", "b_high", "c_high"),
                f.rules().stream().map(r -> r.code).collect(java.util.stream.Collectors.toList()));
        assertEquals(FlawReasons.BELOW, f.rules().get(0).firesWhen);
        assertEquals(0.25, f.rules().get(0).severe);
    }

    @Test
    void belowFiresUnderTheThresholdOnly() throws JSONException {
        FlawReasons f = spec();
        List<FlawReasons.Reason> r = f.evaluate(new int[] {22, 24, 16}); // a 0.375, b 0.5, c 0
        assertEquals(1, r.size());
        FlawReasons.Reason low = r.get(0);
        assertEquals("a_low", low.code);
        assertEquals("A is low", low.text);
        assertEquals("a", low.statistic);
        assertEquals(0.375, low.value);
        assertEquals(0.5, low.threshold);
        assertEquals(0.5, low.severity); // (0.5 - 0.375) / |0.25 - 0.5|
        assertEquals(List.of(), f.evaluate(new int[] {24, 16, 16})); // exactly at the threshold: past 0, no reason
        assertEquals(List.of(), f.evaluate(new int[] {255, 16, 16}));
        assertEquals(6.0, f.evaluate(new int[] {0, 16, 16}).get(0).severity); // value -1: a zero point below 0
    }

    @Test
    void aboveFiresOverTheThresholdOnly() throws JSONException {
        FlawReasons f = spec();
        List<FlawReasons.Reason> r = f.evaluate(new int[] {32, 26, 16}); // a 1.0, b 0.625
        assertEquals(List.of("b_high"), codes(r));
        assertEquals(0.625, r.get(0).value);
        assertEquals(0.5, r.get(0).severity); // (0.625 - 0.5) / |0.75 - 0.5|
        assertEquals(List.of(), f.evaluate(new int[] {32, 24, 20})); // b and c exactly at their thresholds
        assertEquals(List.of(), f.evaluate(new int[] {32, 0, 0}));
    }

    @Test
    void aSevereEqualToTheThresholdMeasuresSeverityInPlainUnits() throws JSONException {
        List<FlawReasons.Reason> r = spec().evaluate(new int[] {32, 16, 28}); // c 0.75, threshold = severe = 0.25
        assertEquals(List.of("c_high"), codes(r));
        assertEquals(0.5, r.get(0).severity); // past 0.5 over a span of 1
    }

    @Test
    void mostSevereFirst() throws JSONException {
        FlawReasons f = spec();
        // a 0.375 (severity 0.5), b 0.875 (1.5), c 0.5 (0.25)
        assertEquals(List.of("b_high", "a_low", "c_high"), codes(f.evaluate(new int[] {22, 30, 24})));
        // a 0 (2.0), b 0.875 (1.5), c 0.5 (0.25)
        assertEquals(List.of("a_low", "b_high", "c_high"), codes(f.evaluate(new int[] {16, 30, 24})));
        // a 0.375 (0.5), b 0.5 (none), c 1.0 (0.75)
        assertEquals(List.of("c_high", "a_low"), codes(f.evaluate(new int[] {22, 24, 32})));
    }

    @Test
    void equalSeveritiesKeepTheOrderOfTheList() throws JSONException {
        int[] raw = {22, 26, 24}; // a 0.5, b 0.5, c 0.25
        assertEquals(List.of("a_low", "b_high", "c_high"), codes(spec().evaluate(raw)));
        // the same reasons listed b, a, c: b comes first now
        JSONObject swapped = new JSONObject(SPEC);
        JSONArray reasons = swapped.getJSONArray("reasons");
        JSONObject first = reasons.getJSONObject(0);
        reasons.put(0, reasons.getJSONObject(1));
        reasons.put(1, first);
        FlawReasons f = FlawReasons.fromSpec(swapped, outputs("uint8", SIXTEENTHS));
        assertEquals(List.of("b_high", "a_low", "c_high"), codes(f.evaluate(raw)));
        assertEquals(f.evaluate(raw).get(0).severity, f.evaluate(raw).get(1).severity);
    }

    @Test
    void severityIsComputedInDoubleInPythonsOrder() throws JSONException {
        // a float32 scale that is not a short decimal, and thresholds that are not binary fractions
        Quantization q = new Quantization(0.003930085338652134f, 3);
        String json = SPEC.replace("\"threshold\": 0.5, \"severe\": 0.25", "\"threshold\": 0.24, \"severe\": 0.15");
        FlawReasons f = FlawReasons.fromSpec(new JSONObject(json), outputs("uint8", q));
        for (int raw = 0; raw < 256; raw++) {
            double value = (double) 0.003930085338652134f * (raw - 3L);
            double past = 0.24 - value;
            List<FlawReasons.Reason> r = f.evaluate(new int[] {raw, 0, 0});
            if (past > 0) {
                assertEquals(1, r.size(), "raw " + raw);
                assertEquals(value, r.get(0).value, "raw " + raw);
                assertEquals(past / Math.abs(0.15 - 0.24), r.get(0).severity, "raw " + raw);
            } else {
                assertEquals(List.of(), r, "raw " + raw);
            }
        }
    }

    @Test
    void rawValuesMustBeTheOutputsUint8s() throws JSONException {
        FlawReasons f = spec();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.evaluate(new int[] {1, 2}));
        assertTrue(e.getMessage().contains("expected the 3 raw values of output 'flaws', got 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> f.evaluate((int[]) null));
        assertThrows(IllegalArgumentException.class, () -> f.evaluate((byte[]) null));
        e = assertThrows(IllegalArgumentException.class, () -> f.evaluate(new int[] {1, 256, 3}));
        assertTrue(e.getMessage().contains("256"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> f.evaluate(new int[] {-1, 2, 3}));
        // signed bytes are read as uint8: (byte) 200 is 200, so b = 11.5 fires
        assertEquals(List.of("b_high"), codes(f.evaluate(new byte[] {(byte) 32, (byte) 200, (byte) 16})));
        assertEquals(f.evaluate(new int[] {32, 200, 16}), f.evaluate(new byte[] {32, (byte) 200, 16}));
    }

    // --- Spec errors ------------------------------------------------------------------------------------------

    static Stream<Arguments> unsoundSpecs() {
        return Stream.of(
                Arguments.of("\"format\": 1", "\"format\": 2", "format is 2; this app reads format 1"),
                Arguments.of("\"format\": 1,", "", "format is missing"),
                Arguments.of("\"output\": \"flaws\"", "\"output\": \"nope\"", "'nope' is not an output of the model"),
                Arguments.of("\"output\": \"flaws\"", "\"output\": \"score\"", "output 0, the score"),
                Arguments.of("\"output\": \"flaws\"", "\"output\": 7", "has output 7, not a non-empty string"),
                Arguments.of("\"index\": 2", "\"index\": 3", "'c_high' reads column 3 of the 3-value output"),
                Arguments.of("\"index\": 2", "\"index\": 1.5", "reads column 1.5"),
                Arguments.of("\"index\": 2", "\"index\": -1", "reads column -1"),
                Arguments.of("\"fires_when\": \"below\"", "\"fires_when\": \"under\"",
                        "'a_low' fires_when is 'under', expected 'above' or 'below'"),
                Arguments.of("\"threshold\": 0.5, \"severe\": 0.25", "\"threshold\": \"0.5\", \"severe\": 0.25",
                        "'a_low' has threshold '0.5', not a finite number"),
                Arguments.of(", \"severe\": 0.25}", "}", "'a_low' has no severe"),
                Arguments.of("\"text\": \"A is low\", ", "", "'a_low' has no text"),
                Arguments.of("\"text\": \"A is low\"", "\"text\": \"\"", "'a_low' has text '', not a non-empty string"),
                Arguments.of("\"code\": \"b_high\"", "\"code\": \"a_low\"", "'a_low' is listed twice"),
                Arguments.of("\"code\": \"a_low\", ", "", "reasons[0] has no code"),
                Arguments.of("\"statistics\": [\"a\", \"b\", \"c\"]", "\"statistics\": [\"a\", \"b\"]",
                        "statistics names 2 columns, output 'flaws' has 3"),
                Arguments.of("\"statistics\": [\"a\", \"b\", \"c\"]", "\"statistics\": [\"a\", 2, \"c\"]",
                        "statistics[1] is 2, not a string"),
                Arguments.of("\"statistic\": \"b\"", "\"statistic\": \"c\"",
                        "'b_high' reads statistic 'c', but column 1 is 'b'"),
                Arguments.of("\"reasons\": [", "\"reasons\": 3, \"reasonz\": [", "reasons is 3, not a list"),
                Arguments.of("\"python_only\": [\"d_python\"]", "\"python_only\": \"d_python\"",
                        "python_only is 'd_python', not a list"));
    }

    @ParameterizedTest(name = "{2}")
    @MethodSource("unsoundSpecs")
    void unsoundSpecsSayWhatIsWrong(String from, String to, String message) throws JSONException {
        assertTrue(SPEC.contains(from), from);
        String json = SPEC.replace(from, to);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec(json));
        assertTrue(e.getMessage().startsWith("the model's flaw_reasons metadata is unsound: "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void theFlawOutputMustBeQuantizedUint8() throws JSONException {
        JSONObject json = new JSONObject(SPEC);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FlawReasons.fromSpec(json, outputs("float32", null)));
        assertTrue(e.getMessage().contains("output 'flaws' must be quantized uint8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FlawReasons.fromSpec(json, outputs("uint8", null)));
        assertThrows(IllegalArgumentException.class, () -> FlawReasons.fromSpec(json, outputs("int8", SIXTEENTHS)));
    }

    @Test
    void aBlockThatIsNoObjectIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FlawReasons.fromSpec("flaws", outputs("uint8", SIXTEENTHS)));
        assertTrue(e.getMessage().contains("not a JSON object"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> FlawReasons.fromSpec(new JSONArray(), outputs("uint8", SIXTEENTHS)));
    }

    @Test
    void anEmptyReasonsListNamesNothing() throws JSONException {
        String json = SPEC.substring(0, SPEC.indexOf("\"reasons\": [") + "\"reasons\": [".length())
                + SPEC.substring(SPEC.indexOf("], \"rule\""));
        FlawReasons f = spec(json);
        assertEquals(List.of(), f.rules());
        assertEquals(List.of(), f.evaluate(new int[] {0, 255, 255}));
    }
}
