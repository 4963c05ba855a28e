package dev.iqlite.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The flaws a model names for a photo ("too dark", "blurry", ...), from the model's flaw output and the
 * thresholds and texts its metadata carries: the Java twin of
 * {@code iqlite.training.flaws.model_flaws.reasons_from_statistics}.
 *
 * <p>The model's "iqlite" custom metadata has a {@code flaw_reasons} block (format 1):
 * <pre>
 * {"format": 1, "output": "flaw_statistics", "statistics": ["underexposure", ...],
 *  "reasons": [{"code": "too_dark", "text": "Too dark: ...", "statistic": "underexposure", "index": 0,
 *               "fires_when": "above", "threshold": 0.93, "severe": 0.96}, ...],
 *  "rule": "...", "python_only": ["subject_not_distinct"]}
 * </pre>
 * {@code output} names one of the model's outputs: a quantized uint8 tensor with one value per statistic.
 * For each reason, in list order:
 * <pre>
 * value    = scale * (q - zero_point)                       q: the raw uint8 of column index
 * past     = value - threshold (fires "above")  or  threshold - value (fires "below")
 * fires    when past &gt; 0
 * severity = past / |severe - threshold|                    (1 instead of a zero |severe - threshold|)
 * </pre>
 * and the reasons that fire come most severe first, equal severities in list order. Everything is computed
 * in double, in this order, as Python does, so the app names exactly the reasons {@code export score --reasons}
 * and {@code tests/golden/iqlite.json} name. The thresholds and texts are the model's, never this code's: a
 * recalibrated model brings its own.
 *
 * <p>Reasons listed in {@code python_only} (the subject/background one) are not computed by the model and
 * so are never named here.
 */
public final class FlawReasons {
    /** The key of the block in the "iqlite" custom metadata. */
    public static final String METADATA_KEY = "flaw_reasons";
    /** The one spec format this code reads. */
    public static final int FORMAT = 1;
    public static final String ABOVE = "above";
    public static final String BELOW = "below";

    /** One reason that fired for a photo. */
    public static final class Reason {
        /** Stable code ("too_dark", "blurry", ...): apps and CSVs key on it. */
        public final String code;
        /** The sentence to show the seller, from the model's metadata. */
        public final String text;
        /** How far past its threshold, in units of |severe - threshold|: 1 means as bad as "severe". */
        public final double severity;
        /** The statistic the reason reads, dequantized. */
        public final double value;
        /** The statistic's name ("underexposure"), or null when the spec does not say. */
        public final String statistic;
        public final double threshold;

        Reason(String code, String text, double severity, double value, String statistic, double threshold) {
            this.code = code;
            this.text = text;
            this.severity = severity;
            this.value = value;
            this.statistic = statistic;
            this.threshold = threshold;
        }

        @Override
        public boolean equals(Object other) {
            if (!(other instanceof Reason)) {
                return false;
            }
            Reason r = (Reason) other;
            return code.equals(r.code) && text.equals(r.text) && Double.compare(severity, r.severity) == 0
                    && Double.compare(value, r.value) == 0 && Objects.equals(statistic, r.statistic)
                    && Double.compare(threshold, r.threshold) == 0;
        }

        @Override
        public int hashCode() {
            return Objects.hash(code, text, severity, value, statistic, threshold);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s (severity %.3f, %s %s vs threshold %s)", code, severity,
                    statistic == null ? "value" : statistic, value, threshold);
        }
    }

    /** One entry of the spec's reasons list: when a reason fires. */
    public static final class Rule {
        public final String code;
        public final String text;
        /** The statistic's name, or null when the spec does not say. */
        public final String statistic;
        /** The column of the flaw output it reads. */
        public final int index;
        /** {@link #ABOVE} or {@link #BELOW}. */
        public final String firesWhen;
        public final double threshold;
        public final double severe;

        Rule(String code, String text, String statistic, int index, String firesWhen, double threshold,
                double severe) {
            this.code = code;
            this.text = text;
            this.statistic = statistic;
            this.index = index;
            this.firesWhen = firesWhen;
            this.threshold = threshold;
            this.severe = severe;
        }

        @Override
        public String toString() {
            return code + ": column " + index + " " + firesWhen + " " + threshold + " (severe " + severe + ")";
        }
    }

    private final String outputName;
    private final int outputIndex;
    private final ModelMetadata.TensorInfo output;
    private final Quantization quantization;
    private final int size;
    private final List<String> statistics;
    private final List<Rule> rules;
    private final List<String> pythonOnly;

    private FlawReasons(String outputName, int outputIndex, ModelMetadata.TensorInfo output, int size,
            List<String> statistics, List<Rule> rules, List<String> pythonOnly) {
        this.outputName = outputName;
        this.outputIndex = outputIndex;
        this.output = output;
        this.quantization = output.quantization;
        this.size = size;
        this.statistics = statistics;
        this.rules = rules;
        this.pythonOnly = pythonOnly;
    }

    /**
     * The flaw reasons of a model, or null when its metadata has no flaw_reasons block (an older model,
     * which outputs only the score; also one whose iqlite JSON is damaged, which still scores). An
     * IllegalArgumentException, naming what is wrong, when the block is there but unsound: not format 1,
     * naming no output of the model, a field missing or of the wrong kind, a column out of range.
     */
    public static FlawReasons fromMetadata(ModelMetadata model) {
        JSONObject iqlite = model.iqlite();
        Object spec = iqlite == null ? null : iqlite.opt(METADATA_KEY);
        if (spec == null || spec == JSONObject.NULL) {
            return null;
        }
        return fromSpec(spec, model.outputs());
    }

    /**
     * The flaw reasons a spec describes, for a model with these outputs (in the model's order); {@code spec}
     * is the flaw_reasons block as a JSONObject. IllegalArgumentException when it is unsound.
     */
    public static FlawReasons fromSpec(Object spec, List<ModelMetadata.TensorInfo> outputs) {
        if (!(spec instanceof JSONObject)) {
            throw bad("the block is not a JSON object");
        }
        JSONObject s = (JSONObject) spec;
        Object format = s.opt("format");
        if (!(format instanceof Number) || ((Number) format).doubleValue() != FORMAT) {
            throw bad("format is " + describe(format) + "; this app reads format " + FORMAT);
        }
        String outputName = string(s, "output", "the block");
        int outputIndex = -1;
        for (int i = 0; i < outputs.size(); i++) {
            if (outputName.equals(outputs.get(i).name)) {
                if (outputIndex >= 0) {
                    throw bad("the model has two outputs named '" + outputName + "'");
                }
                outputIndex = i;
            }
        }
        if (outputIndex < 0) {
            List<String> names = new ArrayList<>();
            for (ModelMetadata.TensorInfo t : outputs) {
                names.add(t.name);
            }
            throw bad("output '" + outputName + "' is not an output of the model (its outputs: " + names + ")");
        }
        if (outputIndex == 0) {
            throw bad("output '" + outputName + "' is output 0, the score");
        }
        ModelMetadata.TensorInfo output = outputs.get(outputIndex);
        if (!"uint8".equals(output.type) || output.quantization == null) {
            throw bad("output '" + outputName + "' must be quantized uint8, found " + output);
        }
        long elements = output.numElements();
        if (elements < 1 || elements > 1 << 16) {
            throw bad("output '" + outputName + "' has shape " + Arrays.toString(output.shape()));
        }
        int size = (int) elements;

        List<String> statistics = null;
        if (s.has("statistics")) {
            statistics = strings(s.opt("statistics"), "statistics");
            if (statistics.size() != size) {
                throw bad("statistics names " + statistics.size() + " columns, output '" + outputName + "' has "
                        + size);
            }
        }
        Object list = s.opt("reasons");
        if (!(list instanceof JSONArray)) {
            throw bad("reasons is " + describe(list) + ", not a list");
        }
        JSONArray entries = (JSONArray) list;
        List<Rule> rules = new ArrayList<>();
        Set<String> codes = new HashSet<>();
        for (int i = 0; i < entries.length(); i++) {
            Object e = entries.opt(i);
            String where = "reasons[" + i + "]";
            if (!(e instanceof JSONObject)) {
                throw bad(where + " is not a JSON object");
            }
            JSONObject entry = (JSONObject) e;
            String code = string(entry, "code", where);
            where = "reason '" + code + "'";
            if (!codes.add(code)) {
                throw bad(where + " is listed twice");
            }
            String text = string(entry, "text", where);
            double index = number(entry, "index", where);
            if (index != Math.floor(index) || index < 0 || index >= size) {
                throw bad(where + " reads column " + entry.opt("index") + " of the " + size + "-value output '"
                        + outputName + "'");
            }
            int column = (int) index;
            String firesWhen = string(entry, "fires_when", where);
            if (!ABOVE.equals(firesWhen) && !BELOW.equals(firesWhen)) {
                throw bad(where + " fires_when is '" + firesWhen + "', expected '" + ABOVE + "' or '" + BELOW + "'");
            }
            double threshold = number(entry, "threshold", where);
            double severe = number(entry, "severe", where);
            String statistic = null;
            if (entry.has("statistic")) {
                statistic = string(entry, "statistic", where);
                if (statistics != null && !statistic.equals(statistics.get(column))) {
                    throw bad(where + " reads statistic '" + statistic + "', but column " + column + " is '"
                            + statistics.get(column) + "'");
                }
            } else if (statistics != null) {
                statistic = statistics.get(column);
            }
            rules.add(new Rule(code, text, statistic, column, firesWhen, threshold, severe));
        }
        List<String> pythonOnly = s.has("python_only")
                ? strings(s.opt("python_only"), "python_only") : Collections.<String>emptyList();
        return new FlawReasons(outputName, outputIndex, output, size,
                statistics == null ? null : Collections.unmodifiableList(statistics),
                Collections.unmodifiableList(rules), Collections.unmodifiableList(pythonOnly));
    }

    /**
     * The reasons that fire for one photo, most severe first (empty when none does): {@code raw} is the flaw
     * output's raw uint8 values (0–255), all {@link #size} of them in the tensor's order.
     */
    public List<Reason> evaluate(int[] raw) {
        if (raw == null || raw.length != size) {
            throw new IllegalArgumentException("expected the " + size + " raw values of output '" + outputName
                    + "', got " + (raw == null ? "null" : raw.length));
        }
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] < 0 || raw[i] > 255) {
                throw new IllegalArgumentException("raw value " + i + " of output '" + outputName + "' is " + raw[i]
                        + ", not a uint8 (0-255)");
            }
        }
        List<Reason> fired = new ArrayList<>();
        for (Rule rule : rules) {
            double value = quantization.dequantize(raw[rule.index]);
            if (Double.isNaN(value) || Double.isInfinite(value)) {
                continue;
            }
            double past = ABOVE.equals(rule.firesWhen) ? value - rule.threshold : rule.threshold - value;
            if (!(past > 0)) {
                continue;
            }
            double span = Math.abs(rule.severe - rule.threshold);
            if (span == 0) {
                span = 1.0;
            }
            fired.add(new Reason(rule.code, rule.text, past / span, value, rule.statistic, rule.threshold));
        }
        // List.sort is stable: equal severities keep the order of the reasons list.
        fired.sort((a, b) -> Double.compare(b.severity, a.severity));
        return Collections.unmodifiableList(fired);
    }

    /** {@link #evaluate(int[])} of the bytes of a uint8 tensor buffer (Java bytes are signed). */
    public List<Reason> evaluate(byte[] raw) {
        if (raw == null) {
            return evaluate((int[]) null);
        }
        int[] values = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            values[i] = raw[i] & 0xFF;
        }
        return evaluate(values);
    }

    /** The name of the flaw output ("flaw_statistics"). */
    public String outputName() {
        return outputName;
    }

    /** Its index among the model's outputs (LiteRT's {@code getOutputTensor(i)}); never 0, the score. */
    public int outputIndex() {
        return outputIndex;
    }

    public ModelMetadata.TensorInfo output() {
        return output;
    }

    /** How the flaw output's raw values turn into statistics. */
    public Quantization quantization() {
        return quantization;
    }

    /** How many raw values the flaw output holds (one per statistic). */
    public int size() {
        return size;
    }

    /** The statistics' names, column by column, or null when the spec does not list them. */
    public List<String> statistics() {
        return statistics;
    }

    /** The reasons the model can name, in the spec's order. */
    public List<Rule> rules() {
        return rules;
    }

    /** Reason codes that only the Python scorer computes (not in the model), so never named here. */
    public List<String> pythonOnly() {
        return pythonOnly;
    }

    // --- Validation helpers ----------------------------------------------------------------------------------

    private static IllegalArgumentException bad(String detail) {
        return new IllegalArgumentException("the model's " + METADATA_KEY + " metadata is unsound: " + detail);
    }

    private static String string(JSONObject o, String key, String where) {
        Object v = o.opt(key);
        if (!(v instanceof String) || ((String) v).isEmpty()) {
            throw bad(where + " has " + (v == null ? "no " + key : key + " " + describe(v) + ", not a non-empty string"));
        }
        return (String) v;
    }

    private static double number(JSONObject o, String key, String where) {
        Object v = o.opt(key);
        double d = v instanceof Number ? ((Number) v).doubleValue() : Double.NaN;
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            throw bad(where + " has " + (v == null ? "no " + key : key + " " + describe(v) + ", not a finite number"));
        }
        return d;
    }

    private static List<String> strings(Object v, String key) {
        if (!(v instanceof JSONArray)) {
            throw bad(key + " is " + describe(v) + ", not a list");
        }
        JSONArray array = (JSONArray) v;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < array.length(); i++) {
            Object item = array.opt(i);
            if (!(item instanceof String)) {
                throw bad(key + "[" + i + "] is " + describe(item) + ", not a string");
            }
            out.add((String) item);
        }
        return out;
    }

    private static String describe(Object v) {
        if (v == null) {
            return "missing";
        }
        if (v instanceof String) {
            return "'" + v + "'";
        }
        return String.valueOf(v);
    }
}
