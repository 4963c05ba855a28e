package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FlawReasonTextTest {
    /** training.flaws.flaw_reasons.RULES, code and text (tests/test_android_contract.py checks the Java source too). */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "too_dark|Too dark: add light or turn up the exposure",
        "overexposed|Overexposed or glare: colours are washed out; reduce the exposure or avoid direct light",
        "blurry|Blurry: hold the phone still, tap to focus on the item, or use more light",
        "low_contrast|Low contrast: the photo looks flat or hazy; clean the lens, avoid backlight, use even light",
        "noisy|Noisy or grainy: use more light so the camera needs less sensitivity",
        "subject_not_distinct|Subject not distinct: it blends into the background; use a plain backdrop of a "
            + "contrasting colour"})
    void everyCodeHasPythonsText(String code, String text) {
        assertEquals(text, FlawReasonText.text(code));
        assertEquals(text, FlawReasonText.textOrCode(code));
        assertTrue(FlawReasonText.isKnown(code));
    }

    @Test
    void codesInRuleOrder() {
        assertEquals(List.of("too_dark", "overexposed", "blurry", "low_contrast", "noisy", "subject_not_distinct"),
                FlawReasonText.codes());
    }

    @Test
    void unknownCodes() {
        assertFalse(FlawReasonText.isKnown("tilted"));
        assertEquals("tilted", FlawReasonText.textOrCode("tilted"));
        assertEquals("null", FlawReasonText.textOrCode(null));
        assertThrows(IllegalArgumentException.class, () -> FlawReasonText.text("tilted"));
    }
}
