package dev.iqlite.core;

/**
 * Applies an EXIF orientation (tag 0x0112, values 1–8) to pixels, as Pillow's {@code ImageOps.exif_transpose}
 * does in {@code training.core.images.load_rgb}, so the model sees the photo the way a person does.
 *
 * <pre>
 * 1 as stored              5 transpose (swap x and y)
 * 2 mirror left-right      6 rotate 90 degrees clockwise
 * 3 rotate 180 degrees     7 transverse (rotate 90 clockwise, then mirror left-right)
 * 4 mirror top-bottom      8 rotate 90 degrees counter-clockwise
 * </pre>
 * Any other value (0, missing, corrupt) leaves the image as it is, as Pillow does.
 */
public final class ExifOrientation {
    public static final int NORMAL = 1;

    private ExifOrientation() {}

    /** Whether the orientation swaps width and height (5–8). */
    public static boolean swapsDimensions(int orientation) {
        return orientation >= 5 && orientation <= 8;
    }

    /** The image as it is displayed; a new image unless the orientation is 1 or unknown. */
    public static RgbImage apply(RgbImage image, int orientation) {
        if (orientation < 2 || orientation > 8) {
            return image;
        }
        int w = image.width;
        int h = image.height;
        int outW = swapsDimensions(orientation) ? h : w;
        int outH = swapsDimensions(orientation) ? w : h;
        int[] in = image.pixels;
        int[] out = new int[in.length];
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                int sx;
                int sy;
                switch (orientation) {
                    case 2: sx = w - 1 - x; sy = y; break;
                    case 3: sx = w - 1 - x; sy = h - 1 - y; break;
                    case 4: sx = x; sy = h - 1 - y; break;
                    case 5: sx = y; sy = x; break;
                    case 6: sx = y; sy = h - 1 - x; break;
                    case 7: sx = w - 1 - y; sy = h - 1 - x; break;
                    default: sx = w - 1 - y; sy = x; break; // 8
                }
                out[y * outW + x] = in[sy * w + sx];
            }
        }
        return new RgbImage(outW, outH, out);
    }

    /** Packed pixels oriented; the result's width and height are swapped when {@link #swapsDimensions} says so. */
    public static int[] apply(int[] pixels, int width, int height, int orientation) {
        RgbImage out = apply(new RgbImage(width, height, pixels), orientation);
        return out.pixels == pixels ? pixels.clone() : out.pixels;
    }
}
