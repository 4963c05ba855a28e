package dev.iqlite.core;

import java.nio.charset.StandardCharsets;

/**
 * Just enough of the FlatBuffers binary format to read a .tflite model and its metadata, by hand (no
 * flatbuffers library on the classpath). Every read is bounds-checked: a damaged file gives an
 * {@link IllegalArgumentException} naming what was being read, never an ArrayIndexOutOfBoundsException.
 *
 * <p>Format, little-endian throughout: the buffer starts with a uint32 offset to the root table. A table
 * starts with an int32 that, subtracted from the table's position, gives its vtable: uint16 vtable size,
 * uint16 table size, then one uint16 per field slot (in schema declaration order; 0 = field absent) with
 * the field's offset inside the table. Scalars are stored inline; tables, strings and vectors are stored
 * as a uint32 offset relative to where the offset itself sits. Vectors and strings start with a uint32
 * element count. Positions here are absolute byte offsets; -1 means "absent".
 */
final class FlatBufferReader {
    private final byte[] buf;
    private final String what;

    FlatBufferReader(byte[] buf, String what) {
        this.buf = buf;
        this.what = what;
    }

    /** The file identifier (bytes 4–8), or "" when the buffer is too short. */
    String identifier() {
        return buf.length < 8 ? "" : new String(buf, 4, 4, StandardCharsets.ISO_8859_1);
    }

    int root() {
        return deref(0);
    }

    /** Absolute position of a field of the table at {@code table}, or -1 when absent. */
    int field(int table, int slot) {
        int vtable = table - i32(table);
        check(vtable, 4);
        int vtableSize = u16(vtable);
        int voffset = 4 + 2 * slot;
        if (voffset + 2 > vtableSize) {
            return -1;
        }
        int offset = u16(vtable + voffset);
        return offset == 0 ? -1 : table + offset;
    }

    int u8(int table, int slot, int fallback) {
        int p = field(table, slot);
        return p < 0 ? fallback : u8(p);
    }

    long u32(int table, int slot, long fallback) {
        int p = field(table, slot);
        return p < 0 ? fallback : i32(p) & 0xFFFFFFFFL;
    }

    long u64(int table, int slot, long fallback) {
        int p = field(table, slot);
        return p < 0 ? fallback : i64(p);
    }

    /** The table referenced by a field, or -1. */
    int table(int table, int slot) {
        int p = field(table, slot);
        return p < 0 ? -1 : deref(p);
    }

    /** The vector referenced by a field (position of its length word), or -1. */
    int vector(int table, int slot) {
        int p = field(table, slot);
        if (p < 0) {
            return -1;
        }
        int vec = deref(p);
        check(vec, 4);
        return vec;
    }

    String string(int table, int slot) {
        int vec = vector(table, slot);
        if (vec < 0) {
            return null;
        }
        int n = length(vec, 1);
        return new String(buf, vec + 4, n, StandardCharsets.UTF_8);
    }

    /** Number of elements of a vector whose elements take {@code elementSize} bytes (checked to fit). */
    int length(int vec, int elementSize) {
        if (vec < 0) {
            return 0;
        }
        long n = i32(vec) & 0xFFFFFFFFL;
        if (n * elementSize > buf.length - (long) vec - 4) {
            throw corrupt("a vector of " + n + " elements at byte " + vec + " runs past the end");
        }
        return (int) n;
    }

    int tableAt(int vec, int i) {
        return deref(vec + 4 + 4 * i);
    }

    int intAt(int vec, int i) {
        return i32(vec + 4 + 4 * i);
    }

    float floatAt(int vec, int i) {
        return Float.intBitsToFloat(i32(vec + 4 + 4 * i));
    }

    long longAt(int vec, int i) {
        return i64(vec + 4 + 8 * i);
    }

    byte[] bytes(int vec) {
        int n = length(vec, 1);
        byte[] out = new byte[n];
        if (n > 0) {
            System.arraycopy(buf, vec + 4, out, 0, n);
        }
        return out;
    }

    int[] ints(int vec) {
        int n = length(vec, 4);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = intAt(vec, i);
        }
        return out;
    }

    float[] floats(int vec) {
        int n = length(vec, 4);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = floatAt(vec, i);
        }
        return out;
    }

    long[] longs(int vec) {
        int n = length(vec, 8);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = longAt(vec, i);
        }
        return out;
    }

    private int deref(int p) {
        long target = p + (i32(p) & 0xFFFFFFFFL);
        if (target >= buf.length) {
            throw corrupt("an offset at byte " + p + " points past the end");
        }
        return (int) target;
    }

    private int u8(int p) {
        check(p, 1);
        return buf[p] & 0xFF;
    }

    private int u16(int p) {
        check(p, 2);
        return (buf[p] & 0xFF) | (buf[p + 1] & 0xFF) << 8;
    }

    private int i32(int p) {
        check(p, 4);
        return (buf[p] & 0xFF) | (buf[p + 1] & 0xFF) << 8 | (buf[p + 2] & 0xFF) << 16 | (buf[p + 3] & 0xFF) << 24;
    }

    private long i64(int p) {
        check(p, 8);
        return (i32(p) & 0xFFFFFFFFL) | ((long) i32(p + 4)) << 32;
    }

    private void check(int p, int size) {
        if (p < 0 || (long) p + size > buf.length) {
            throw corrupt("a read of " + size + " bytes at " + p + " is outside the " + buf.length + " bytes");
        }
    }

    private IllegalArgumentException corrupt(String detail) {
        return new IllegalArgumentException("corrupt " + what + " flatbuffer: " + detail);
    }
}
