package dev.iqlite.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * What the app needs to know about a .tflite model, read from the file's bytes without any TFLite or
 * flatbuffers library: the input and output tensors (shape, type, quantization) and the embedded TFLite
 * metadata (name, version, ..., the input's normalization and the "iqlite" custom JSON).
 *
 * <p>Output 0 is the score. A model may have more outputs after it: the shipped one has a second,
 * {@code flaw_statistics}, which {@link FlawReasons} reads with the thresholds and texts of the metadata.
 *
 * <p>Field slots follow the schemas' declaration order: the TFLite model schema ({@code schema.fbs};
 * {@code ai_edge_litert.schema_py_generated} shows it) and the TFLite metadata schema 1.5.0
 * ({@code metadata_schema.fbs}; {@code export/metadata.py} writes it). The metadata flatbuffer (file
 * identifier "M001") sits in the model buffer named by the "TFLITE_METADATA" entry of {@code Model.metadata}.
 *
 * <p>The "iqlite" custom JSON is read with {@code org.json}: Android ships it in the platform, and the JVM
 * tests take the same implementation from Debian's {@code libandroid-json-java}.
 */
public final class ModelMetadata {
    public static final String METADATA_NAME = "TFLITE_METADATA";
    public static final String CUSTOM_METADATA_NAME = "iqlite";

    // tflite schema.fbs: table slots in declaration order
    private static final int MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4, MODEL_METADATA = 6;
    private static final int SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2;
    private static final int TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_NAME = 3, TENSOR_QUANTIZATION = 4;
    private static final int QUANT_SCALE = 2, QUANT_ZERO_POINT = 3;
    private static final int BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2;
    private static final int METADATA_ENTRY_NAME = 0, METADATA_ENTRY_BUFFER = 1;
    // metadata_schema.fbs 1.5.0
    private static final int MM_NAME = 0, MM_DESCRIPTION = 1, MM_VERSION = 2, MM_SUBGRAPHS = 3, MM_AUTHOR = 4,
            MM_LICENSE = 5, MM_MIN_PARSER_VERSION = 7;
    private static final int SGM_INPUTS = 2, SGM_CUSTOM_METADATA = 9;
    private static final int TM_CONTENT = 3, TM_PROCESS_UNITS = 4;
    private static final int CONTENT_TYPE = 0, CONTENT_PROPERTIES = 1, IMAGE_PROPERTIES = 2;
    private static final int IP_COLOR_SPACE = 0, IP_DEFAULT_SIZE = 1, SIZE_WIDTH = 0, SIZE_HEIGHT = 1;
    private static final int PU_OPTIONS_TYPE = 0, PU_OPTIONS = 1, NORMALIZATION_OPTIONS = 1;
    private static final int NORM_MEAN = 0, NORM_STD = 1;
    private static final int CUSTOM_NAME = 0, CUSTOM_DATA = 1;

    private static final String[] TENSOR_TYPES = {"float32", "float16", "int32", "uint8", "int64", "string",
        "bool", "int16", "complex64", "int8", "float64", "complex128", "uint64", "resource", "variant", "uint32",
        "uint16", "int4", "bfloat16", "int2"};
    private static final String[] COLOR_SPACES = {"UNKNOWN", "RGB", "GRAYSCALE"};

    /** One input or output tensor of the model's main subgraph. */
    public static final class TensorInfo {
        public final String name;
        private final int[] shape;
        /** numpy-style type name: "uint8", "float32", ... */
        public final String type;
        /** Per-tensor quantization, or null when the tensor is not quantized (no scale, or a scale of 0). */
        public final Quantization quantization;

        TensorInfo(String name, int[] shape, String type, Quantization quantization) {
            this.name = name;
            this.shape = shape;
            this.type = type;
            this.quantization = quantization;
        }

        public int[] shape() {
            return shape.clone();
        }

        /** How many values the tensor holds: the product of its shape (1 for a scalar). */
        public long numElements() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape) + " " + type
                    + (quantization == null ? ", not quantized" : ", " + quantization);
        }
    }

    private final TensorInfo input;
    /** Every output of the main subgraph, in the model's order: index i is LiteRT's output i. */
    private final List<TensorInfo> outputs;
    private final boolean hasMetadata;
    private final String name, description, version, author, license, minParserVersion;
    private final String inputColorSpace;
    private final int[] inputDefaultSize;
    private final float[] inputMean, inputStd;
    private final Map<String, byte[]> customMetadata;
    /** The parsed "iqlite" JSON, or null when absent or not a JSON object; never handed out (it is mutable). */
    private final JSONObject iqlite;

    private ModelMetadata(TensorInfo input, List<TensorInfo> outputs, MetadataFields m) {
        this.input = input;
        this.outputs = Collections.unmodifiableList(outputs);
        this.hasMetadata = m != null;
        MetadataFields f = m != null ? m : new MetadataFields();
        this.name = f.name;
        this.description = f.description;
        this.version = f.version;
        this.author = f.author;
        this.license = f.license;
        this.minParserVersion = f.minParserVersion;
        this.inputColorSpace = f.inputColorSpace;
        this.inputDefaultSize = f.inputDefaultSize;
        this.inputMean = f.inputMean;
        this.inputStd = f.inputStd;
        this.customMetadata = Collections.unmodifiableMap(f.custom);
        byte[] json = f.custom.get(CUSTOM_METADATA_NAME);
        this.iqlite = json == null ? null : jsonObject(new String(json, StandardCharsets.UTF_8));
    }

    /**
     * The JSON object in {@code text}, or null when it is not one. A model whose iqlite entry is damaged still
     * runs: the app then falls back to the tensor facts and the default threshold instead of refusing it.
     */
    private static JSONObject jsonObject(String text) {
        try {
            return new JSONObject(text);
        } catch (JSONException notAnObject) {
            return null;
        }
    }

    /** Reads a whole model from a stream (e.g. {@code context.getAssets().open("iqlite.tflite")}). */
    public static ModelMetadata read(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[1 << 16];
        for (int n; (n = in.read(chunk)) > 0; ) {
            out.write(chunk, 0, n);
        }
        return parse(out.toByteArray());
    }

    /** Parses a model's bytes; IllegalArgumentException for bytes that are not a (sound) TFLite model. */
    public static ModelMetadata parse(byte[] model) {
        FlatBufferReader fb = new FlatBufferReader(model, "TFLite model");
        if (!"TFL3".equals(fb.identifier())) {
            throw new IllegalArgumentException("not a TFLite model: expected file identifier TFL3 at bytes 4-8, found '"
                    + fb.identifier() + "'");
        }
        int root = fb.root();
        int subgraphs = fb.vector(root, MODEL_SUBGRAPHS);
        if (fb.length(subgraphs, 4) == 0) {
            throw new IllegalArgumentException("the TFLite model has no subgraph");
        }
        int graph = fb.tableAt(subgraphs, 0);
        int tensors = fb.vector(graph, SUBGRAPH_TENSORS);
        int[] inputs = fb.ints(fb.vector(graph, SUBGRAPH_INPUTS));
        int[] outputs = fb.ints(fb.vector(graph, SUBGRAPH_OUTPUTS));
        if (inputs.length != 1 || outputs.length < 1) {
            throw new IllegalArgumentException("expected a model with one input and at least one output, found "
                    + inputs.length + " and " + outputs.length);
        }
        TensorInfo input = tensor(fb, tensors, inputs[0]);
        List<TensorInfo> outputTensors = new ArrayList<>(outputs.length);
        for (int index : outputs) {
            outputTensors.add(tensor(fb, tensors, index));
        }
        MetadataFields metadata = null;
        int entries = fb.vector(root, MODEL_METADATA);
        for (int i = 0, n = fb.length(entries, 4); i < n; i++) {
            int entry = fb.tableAt(entries, i);
            if (METADATA_NAME.equals(fb.string(entry, METADATA_ENTRY_NAME))) {
                long index = fb.u32(entry, METADATA_ENTRY_BUFFER, 0);
                metadata = metadataFields(bufferBytes(fb, model, root, index));
                break;
            }
        }
        return new ModelMetadata(input, outputTensors, metadata);
    }

    private static TensorInfo tensor(FlatBufferReader fb, int tensors, int index) {
        int n = fb.length(tensors, 4);
        if (index < 0 || index >= n) {
            throw new IllegalArgumentException("tensor index " + index + " out of range (" + n + " tensors)");
        }
        int t = fb.tableAt(tensors, index);
        int type = fb.u8(t, TENSOR_TYPE, 0);
        String typeName = type < TENSOR_TYPES.length ? TENSOR_TYPES[type] : "type" + type;
        Quantization q = null;
        int quant = fb.table(t, TENSOR_QUANTIZATION);
        if (quant >= 0) {
            float[] scales = fb.floats(fb.vector(quant, QUANT_SCALE));
            long[] zeroPoints = fb.longs(fb.vector(quant, QUANT_ZERO_POINT));
            if (scales.length == 1 && scales[0] > 0) {
                q = new Quantization(scales[0], zeroPoints.length > 0 ? zeroPoints[0] : 0);
            }
        }
        return new TensorInfo(fb.string(t, TENSOR_NAME), fb.ints(fb.vector(t, TENSOR_SHAPE)), typeName, q);
    }

    private static byte[] bufferBytes(FlatBufferReader fb, byte[] model, int root, long index) {
        int buffers = fb.vector(root, MODEL_BUFFERS);
        int n = fb.length(buffers, 4);
        if (index >= n) {
            throw new IllegalArgumentException("the " + METADATA_NAME + " entry points at buffer " + index
                    + ", but the model has " + n);
        }
        int buffer = fb.tableAt(buffers, (int) index);
        int data = fb.vector(buffer, BUFFER_DATA);
        if (fb.length(data, 1) > 0) {
            return fb.bytes(data);
        }
        long offset = fb.u64(buffer, BUFFER_OFFSET, 0);
        long size = fb.u64(buffer, BUFFER_SIZE, 0);
        if (offset > 1 && size > 0 && offset + size <= model.length) { // data stored after the flatbuffer
            return Arrays.copyOfRange(model, (int) offset, (int) (offset + size));
        }
        throw new IllegalArgumentException("the " + METADATA_NAME + " entry points at an empty buffer");
    }

    private static final class MetadataFields {
        String name, description, version, author, license, minParserVersion, inputColorSpace;
        int[] inputDefaultSize;
        float[] inputMean, inputStd;
        final Map<String, byte[]> custom = new LinkedHashMap<>();
    }

    private static MetadataFields metadataFields(byte[] data) {
        FlatBufferReader fb = new FlatBufferReader(data, "TFLite metadata");
        if (!"M001".equals(fb.identifier())) {
            throw new IllegalArgumentException("not TFLite metadata: expected file identifier M001, found '"
                    + fb.identifier() + "'");
        }
        MetadataFields f = new MetadataFields();
        int root = fb.root();
        f.name = fb.string(root, MM_NAME);
        f.description = fb.string(root, MM_DESCRIPTION);
        f.version = fb.string(root, MM_VERSION);
        f.author = fb.string(root, MM_AUTHOR);
        f.license = fb.string(root, MM_LICENSE);
        f.minParserVersion = fb.string(root, MM_MIN_PARSER_VERSION);
        int subgraphs = fb.vector(root, MM_SUBGRAPHS);
        if (fb.length(subgraphs, 4) == 0) {
            return f;
        }
        int graph = fb.tableAt(subgraphs, 0);
        int inputs = fb.vector(graph, SGM_INPUTS);
        if (fb.length(inputs, 4) > 0) {
            readInputMetadata(fb, fb.tableAt(inputs, 0), f);
        }
        int custom = fb.vector(graph, SGM_CUSTOM_METADATA);
        for (int i = 0, n = fb.length(custom, 4); i < n; i++) {
            int entry = fb.tableAt(custom, i);
            String key = fb.string(entry, CUSTOM_NAME);
            f.custom.put(key == null ? "" : key, fb.bytes(fb.vector(entry, CUSTOM_DATA)));
        }
        return f;
    }

    private static void readInputMetadata(FlatBufferReader fb, int tensor, MetadataFields f) {
        int content = fb.table(tensor, TM_CONTENT);
        if (content >= 0 && fb.u8(content, CONTENT_TYPE, 0) == IMAGE_PROPERTIES) {
            int properties = fb.table(content, CONTENT_PROPERTIES);
            if (properties >= 0) {
                int color = fb.u8(properties, IP_COLOR_SPACE, 0);
                f.inputColorSpace = color < COLOR_SPACES.length ? COLOR_SPACES[color] : "unknown (" + color + ")";
                int size = fb.table(properties, IP_DEFAULT_SIZE);
                if (size >= 0) {
                    f.inputDefaultSize = new int[] {(int) fb.u32(size, SIZE_WIDTH, 0), (int) fb.u32(size, SIZE_HEIGHT, 0)};
                }
            }
        }
        int units = fb.vector(tensor, TM_PROCESS_UNITS);
        for (int i = 0, n = fb.length(units, 4); i < n; i++) {
            int unit = fb.tableAt(units, i);
            int options = fb.table(unit, PU_OPTIONS);
            if (fb.u8(unit, PU_OPTIONS_TYPE, 0) == NORMALIZATION_OPTIONS && options >= 0) {
                f.inputMean = fb.floats(fb.vector(options, NORM_MEAN));
                f.inputStd = fb.floats(fb.vector(options, NORM_STD));
            }
        }
    }

    // --- Tensor facts --------------------------------------------------------------------------------------

    public TensorInfo input() {
        return input;
    }

    /** The score output: output 0. */
    public TensorInfo output() {
        return outputs.get(0);
    }

    /** Every output, in the model's order (index i is LiteRT's {@code getOutputTensor(i)}); output 0 is the score. */
    public List<TensorInfo> outputs() {
        return outputs;
    }

    /** The index of the output named {@code name}, or -1 when the model has none of that name. */
    public int outputIndex(String name) {
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i).name != null && outputs.get(i).name.equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** S of the input shape [1, S, S, 3]; IllegalStateException for any other input shape. */
    public int imageSize() {
        int[] s = input.shape;
        if (s.length != 4 || s[0] != 1 || s[1] != s[2] || s[1] <= 0 || s[3] != 3) {
            throw new IllegalStateException("expected an input of shape [1, S, S, 3], found " + Arrays.toString(s));
        }
        return s[1];
    }

    /** How to turn the raw output into stars; IllegalStateException for a model with an unquantized output. */
    public Quantization outputQuantization() {
        TensorInfo output = output();
        if (output.quantization == null) {
            throw new IllegalStateException("the model's output " + output + " is not quantized");
        }
        return output.quantization;
    }

    /**
     * Checks the contract the app is written against and says what is wrong otherwise: one uint8 RGB
     * image [1, S, S, 3] in (raw 0–255: scale 1 and zero point 0, or no quantization), one uint8 value out
     * with a quantization as output 0, where the model has iqlite metadata its image_size equal to S, and
     * where that metadata has a flaw_reasons block, a sound one ({@link FlawReasons#fromMetadata}). Further
     * outputs that no flaw_reasons block names are allowed: the app sizes a buffer for them and ignores them.
     */
    public void checkAppContract() {
        int size = imageSize();
        if (!"uint8".equals(input.type)) {
            throw new IllegalStateException("expected a uint8 input, found " + input);
        }
        Quantization q = input.quantization;
        if (q != null && (q.scale != 1.0f || q.zeroPoint != 0)) {
            throw new IllegalStateException("expected raw 0-255 input (scale 1, zero point 0), found " + input);
        }
        TensorInfo output = output();
        if (!"uint8".equals(output.type) || output.numElements() != 1) {
            throw new IllegalStateException("expected one uint8 output value, found " + output);
        }
        outputQuantization();
        Integer stated = metadataImageSize();
        if (stated != null && stated != size) {
            throw new IllegalStateException("the metadata says image_size " + stated + ", the model's input is " + size);
        }
        try {
            FlawReasons.fromMetadata(this);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    // --- Embedded metadata -------------------------------------------------------------------------------------

    /** Whether the model carries TFLite metadata (a "TFLITE_METADATA" buffer). */
    public boolean hasMetadata() {
        return hasMetadata;
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    public String version() {
        return version;
    }

    public String author() {
        return author;
    }

    public String license() {
        return license;
    }

    public String minParserVersion() {
        return minParserVersion;
    }

    /** The input's colour space from its ImageProperties ("RGB"), or null. */
    public String inputColorSpace() {
        return inputColorSpace;
    }

    /** The input's [width, height] from its ImageProperties, or null. */
    public int[] inputDefaultSize() {
        return inputDefaultSize == null ? null : inputDefaultSize.clone();
    }

    /** The input normalization's mean (feed (x - mean) / std), or null when the metadata has none. */
    public float[] inputMean() {
        return inputMean == null ? null : inputMean.clone();
    }

    public float[] inputStd() {
        return inputStd == null ? null : inputStd.clone();
    }

    /** Every CustomMetadata entry of the main subgraph, name to raw bytes. */
    public Map<String, byte[]> customMetadata() {
        return customMetadata;
    }

    /** The "iqlite" custom metadata as JSON text, or null when absent. */
    public String iqliteJson() {
        byte[] data = customMetadata.get(CUSTOM_METADATA_NAME);
        return data == null ? null : new String(data, StandardCharsets.UTF_8);
    }

    /**
     * The "iqlite" custom metadata as a JSON object, or null when absent or not a JSON object. Each call
     * parses a fresh copy, so a caller that changes it changes nothing here.
     */
    public JSONObject iqlite() {
        return iqlite == null ? null : jsonObject(iqliteJson());
    }

    /** The image_size the iqlite metadata states, or null when there is none (or it is not a number). */
    public Integer metadataImageSize() {
        Object v = iqlite == null ? null : iqlite.opt("image_size");
        return v instanceof Number ? Integer.valueOf(((Number) v).intValue()) : null;
    }

    /** The good/bad threshold the metadata states, or {@link ScoreScale#GOOD_THRESHOLD} when absent. */
    public double goodThreshold() {
        JSONObject score = iqlite == null ? null : iqlite.optJSONObject("score");
        double v = score == null ? Double.NaN : score.optDouble("good_threshold");
        return Double.isNaN(v) ? ScoreScale.GOOD_THRESHOLD : v;
    }
}
