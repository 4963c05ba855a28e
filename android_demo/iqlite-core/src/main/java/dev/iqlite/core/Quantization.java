package dev.iqlite.core;

/**
 * How a quantized output tensor maps back to real values: {@code real = scale * (q - zeroPoint)}.
 *
 * <p>The shipped int8 model's uint8 output always means stars: scale 5/255 (stored as the float32
 * 0.019607843831181526), zero point 0, so raw 0 is 0 stars and raw 255 is 5 stars.
 */
public final class Quantization {
    /** The shipped model's output quantization (what {@code export tflite} pins the output to). */
    public static final Quantization SHIPPED_OUTPUT = new Quantization((float) (5.0 / 255.0), 0);

    /** The scale as the model stores it (float32). */
    public final float scale;
    public final long zeroPoint;

    public Quantization(float scale, long zeroPoint) {
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("quantization scale must be positive and finite, got " + scale);
        }
        this.scale = scale;
        this.zeroPoint = zeroPoint;
    }

    /** The real value of a raw output, unclamped; computed in double like Python's {@code float(scale) * (q - zp)}. */
    public double dequantize(int raw) {
        return (double) scale * (raw - zeroPoint);
    }

    /** The 0–5 score of a raw uint8 output: dequantized, then clamped to the star range. */
    public double score(int raw) {
        return ScoreScale.clamp(dequantize(raw));
    }

    /** The score of a raw output read from a uint8 tensor buffer (Java bytes are signed). */
    public double score(byte raw) {
        return score(raw & 0xFF);
    }

    @Override
    public String toString() {
        return "scale " + (double) scale + ", zero point " + zeroPoint;
    }
}
