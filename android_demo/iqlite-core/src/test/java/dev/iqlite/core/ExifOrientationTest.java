package dev.iqlite.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExifOrientationTest {
    /** 2 wide, 3 high: rows {1, 2}, {3, 4}, {5, 6}. */
    static final RgbImage IMAGE = new RgbImage(2, 3, new int[] {1, 2, 3, 4, 5, 6});

    /**
     * What Pillow's ImageOps.exif_transpose made of this image saved with each orientation tag
     * (size as width x height, then the pixels row by row).
     */
    @ParameterizedTest(name = "orientation {0}")
    @CsvSource({"1, 2, 3, '1 2 3 4 5 6'", "2, 2, 3, '2 1 4 3 6 5'", "3, 2, 3, '6 5 4 3 2 1'",
        "4, 2, 3, '5 6 3 4 1 2'", "5, 3, 2, '1 3 5 2 4 6'", "6, 3, 2, '5 3 1 6 4 2'", "7, 3, 2, '6 4 2 5 3 1'",
        "8, 3, 2, '2 4 6 1 3 5'"})
    void matchesPillowExifTranspose(int orientation, int width, int height, String pixels) {
        RgbImage out = ExifOrientation.apply(IMAGE, orientation);
        assertEquals(width, out.width);
        assertEquals(height, out.height);
        int[] expected = java.util.Arrays.stream(pixels.split(" ")).mapToInt(Integer::parseInt).toArray();
        assertArrayEquals(expected, out.pixels);
        assertArrayEquals(expected, ExifOrientation.apply(IMAGE.pixels, 2, 3, orientation));
        assertEquals(width != 2, ExifOrientation.swapsDimensions(orientation));
    }

    @Test
    void unknownOrientationsLeaveTheImageAlone() {
        for (int orientation : new int[] {0, 9, -1, 65535}) {
            assertSame(IMAGE, ExifOrientation.apply(IMAGE, orientation));
        }
    }

    @Test
    void inversePairsRestoreTheImage() {
        // 6 (clockwise) then 8 (counter-clockwise); 2, 3, 4, 5 and 7 are their own inverses.
        RgbImage rotated = ExifOrientation.apply(ExifOrientation.apply(IMAGE, 6), 8);
        assertArrayEquals(IMAGE.pixels, rotated.pixels);
        for (int o : new int[] {2, 3, 4, 5, 7}) {
            assertArrayEquals(IMAGE.pixels, ExifOrientation.apply(ExifOrientation.apply(IMAGE, o), o).pixels);
        }
    }
}
