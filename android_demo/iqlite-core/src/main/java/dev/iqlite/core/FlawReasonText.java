package dev.iqlite.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seller-facing sentence of each flaw reason code, the same texts as {@code training.flaws.flaw_reasons.RULES}
 * (codes are stable: apps and CSVs key on them). {@code tests/test_android_contract.py} checks this file
 * against the Python rules, so the two cannot drift apart.
 */
public final class FlawReasonText {
    private static final Map<String, String> TEXTS = new LinkedHashMap<>();

    static {
        TEXTS.put("too_dark", "Too dark: add light or turn up the exposure");
        TEXTS.put("overexposed",
                "Overexposed or glare: colours are washed out; reduce the exposure or avoid direct light");
        TEXTS.put("blurry", "Blurry: hold the phone still, tap to focus on the item, or use more light");
        TEXTS.put("low_contrast",
                "Low contrast: the photo looks flat or hazy; clean the lens, avoid backlight, use even light");
        TEXTS.put("noisy", "Noisy or grainy: use more light so the camera needs less sensitivity");
        TEXTS.put("subject_not_distinct",
                "Subject not distinct: it blends into the background; use a plain backdrop of a contrasting colour");
    }

    private FlawReasonText() {}

    /** Every known code, in the order of the Python rules. */
    public static List<String> codes() {
        return Collections.unmodifiableList(new ArrayList<>(TEXTS.keySet()));
    }

    /** Whether {@code code} is a known reason code. */
    public static boolean isKnown(String code) {
        return TEXTS.containsKey(code);
    }

    /** The text of a known code; IllegalArgumentException for an unknown one. */
    public static String text(String code) {
        String text = TEXTS.get(code);
        if (text == null) {
            throw new IllegalArgumentException("unknown flaw reason code " + code + "; known: " + TEXTS.keySet());
        }
        return text;
    }

    /**
     * The text of a code, or the code itself when unknown (e.g. a newer model or server sends a reason this
     * app version does not know): something to show, never a crash.
     */
    public static String textOrCode(String code) {
        String text = TEXTS.get(code);
        return text != null ? text : String.valueOf(code);
    }
}
