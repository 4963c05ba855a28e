// Bit-exact port of android_demo/iqlite-core/.../Resizer.java: Pillow 13's Image.resize(BILINEAR) on
// 8-bit RGB, i.e. training.images.resize_for_model. A separable triangle filter whose support widens with
// the downscale factor (antialiased), fixed-point weights with 22 fraction bits, an 8-bit intermediate
// image, and Pillow 13's rule for which pass runs first. Every double operation is in the Java order.

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Pillow 13 runs the vertical pass first when the height shrinks by more than twice the width does. */
export function verticalFirst(width, height, outWidth, outHeight) {
  return outHeight < height && (height - outHeight) > 2 * (width - outWidth);
}

function triangle(x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/** Fixed-point filter coefficients of one axis. */
export function coefficients(inSize, outSize) {
  const in0 = 0.0;
  const scale = Math.fround(inSize) / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = 1.0 * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const k = new Float64Array(kernelSize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const ss = 1.0 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0.0) k[x] /= ww;
      const v = k[x];
      weights[xx * kernelSize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { kernelSize, first, count, weights };
}

function clip8(sum) {
  const v = sum >> PRECISION_BITS; // arithmetic shift: floor
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

function horizontal(src, width, height, outWidth) {
  const c = coefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    let o = y * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++, o += 3) {
      const k = xx * c.kernelSize;
      let p = row + c.first[xx] * 3;
      let r = HALF, g = HALF, b = HALF;
      for (let x = 0, n = c.count[xx]; x < n; x++, p += 3) {
        const w = c.weights[k + x];
        r += src[p] * w;
        g += src[p + 1] * w;
        b += src[p + 2] * w;
      }
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function vertical(src, width, height, outHeight) {
  const c = coefficients(height, outHeight);
  const stride = width * 3;
  const out = new Uint8Array(outHeight * stride);
  for (let yy = 0; yy < outHeight; yy++) {
    const k = yy * c.kernelSize;
    const o = yy * stride;
    const n = c.count[yy];
    const base = c.first[yy] * stride;
    for (let i = 0; i < stride; i++) {
      let sum = HALF;
      let p = base + i;
      for (let y = 0; y < n; y++, p += stride) sum += src[p] * c.weights[k + y];
      out[o + i] = clip8(sum);
    }
  }
  return out;
}

/** Row-major RGB bytes (Uint8Array, 3 per pixel) resized like Pillow BILINEAR; returns a new Uint8Array. */
export function resizeRgb(rgb, width, height, outWidth, outHeight) {
  if (!(width > 0 && height > 0 && outWidth > 0 && outHeight > 0)) {
    throw new RangeError(`sizes must be positive: ${width}x${height} -> ${outWidth}x${outHeight}`);
  }
  if (rgb.length !== 3 * width * height) {
    throw new RangeError(`expected ${3 * width * height} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  }
  let current = rgb;
  if (verticalFirst(width, height, outWidth, outHeight)) {
    current = vertical(current, width, height, outHeight);
    if (outWidth !== width) current = horizontal(current, width, outHeight, outWidth);
  } else {
    if (outWidth !== width) current = horizontal(current, width, height, outWidth);
    if (outHeight !== height) current = vertical(current, outWidth, height, outHeight);
  }
  return current === rgb ? rgb.slice() : current;
}

/**
 * Unpremultiplied RGBA (ImageData.data) to RGB, transparency composited over white with
 * training.images._composite_on_white's integer maths: (c*a + 255*(255-a) + 127) // 255.
 */
export function rgbaToRgbOnWhite(rgba) {
  const n = rgba.length >> 2;
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const a = rgba[4 * i + 3];
    if (a === 255) {
      out[j] = rgba[4 * i];
      out[j + 1] = rgba[4 * i + 1];
      out[j + 2] = rgba[4 * i + 2];
    } else {
      const inv = 255 * (255 - a) + 127;
      out[j] = Math.floor((rgba[4 * i] * a + inv) / 255);
      out[j + 1] = Math.floor((rgba[4 * i + 1] * a + inv) / 255);
      out[j + 2] = Math.floor((rgba[4 * i + 2] * a + inv) / 255);
    }
  }
  return out;
}
