package dev.iqlite.core;

/**
 * An 8-bit RGB image as packed pixels: {@code pixels[y * width + x] = 0xRRGGBB} (any alpha byte is ignored).
 *
 * <p>This is the shape {@code android.graphics.Bitmap#getPixels} fills (ARGB ints), so the app passes what
 * it gets from a decoded bitmap without conversion.
 */
public final class RgbImage {
    public final int width;
    public final int height;
    /** Row-major packed pixels, {@code 0x??RRGGBB}; length {@code width * height}. */
    public final int[] pixels;

    public RgbImage(int width, int height, int[] pixels) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (pixels == null || pixels.length != (long) width * height) {
            throw new IllegalArgumentException("expected " + ((long) width * height) + " pixels for "
                    + width + "x" + height + ", got " + (pixels == null ? "null" : pixels.length));
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
    }

    /** From row-major RGB bytes (3 per pixel), e.g. a model input or a numpy {@code tobytes()}. */
    public static RgbImage fromRgbBytes(int width, int height, byte[] rgb) {
        if (rgb == null || rgb.length != 3L * width * height) {
            throw new IllegalArgumentException("expected " + (3L * width * height) + " RGB bytes for "
                    + width + "x" + height + ", got " + (rgb == null ? "null" : rgb.length));
        }
        int[] pixels = new int[width * height];
        for (int i = 0, j = 0; i < pixels.length; i++, j += 3) {
            pixels[i] = (rgb[j] & 0xFF) << 16 | (rgb[j + 1] & 0xFF) << 8 | (rgb[j + 2] & 0xFF);
        }
        return new RgbImage(width, height, pixels);
    }

    /** Row-major RGB bytes, 3 per pixel: the layout of the uint8 model input (HWC) and of numpy's bytes. */
    public byte[] toRgbBytes() {
        byte[] out = new byte[pixels.length * 3];
        for (int i = 0, j = 0; i < pixels.length; i++, j += 3) {
            int p = pixels[i];
            out[j] = (byte) (p >> 16);
            out[j + 1] = (byte) (p >> 8);
            out[j + 2] = (byte) p;
        }
        return out;
    }

    /** The pixel at (x, y) as 0xRRGGBB (alpha dropped). */
    public int rgb(int x, int y) {
        return pixels[y * width + x] & 0xFFFFFF;
    }
}
