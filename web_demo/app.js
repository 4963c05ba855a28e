// iqlite web demo: score photos on this device with the int8 .tflite model and LiteRT.js (WebAssembly).
// Preprocessing mirrors training.images.load_for_model: decode, EXIF orientation, RGB (alpha over white,
// no colour management), Pillow-exact BILINEAR resize to SxS, uint8 HWC. See resize.js.
// A model with the "flaw_statistics" output also names each photo's fixable flaws (too dark, blurry, ...)
// from that output and the thresholds in its metadata (the sidecar's flaw_output / flaw_reasons): reasons.js.
import { loadLiteRt, loadAndCompile, Tensor } from '@litertjs/core';
import { flawReasons } from './reasons.js';
import { resizeRgb, rgbaToRgbOnWhite } from './resize.js';

const MODEL_URL = './model/iqlite.tflite';
const SIDECAR_URL = './model/iqlite.json';
const WASM_DIR = new URL('./wasm/', import.meta.url).href;

const $ = (id) => document.getElementById(id);
const state = { model: null, info: null, outputs: null, queue: Promise.resolve(), pending: 0, done: 0 };
const NO_FLAW_TEXT = 'No fixable flaw found';

/** Nearest half star, clipped to [0, 5], ties up (ScoreScale.stars / round_half_stars). */
export function halfStars(score) {
  return Math.min(5, Math.max(0, Math.floor(score * 2 + 0.5) / 2));
}

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

function showMeta(info, extra) {
  const rows = [
    ['Model', `${info.name} ${info.version}`],
    ['Input', `${info.image_size}×${info.image_size} RGB uint8 (${info.input.shape.join('×')})`],
    ['Output', `uint8, stars = ${info.output.scale.toPrecision(8)} × (q − ${info.output.zero_point})`],
    ['Flaw reasons', info.flaw_output && info.flaw_reasons
      ? `${info.flaw_reasons.reasons.map((r) => r.code.replace(/_/g, ' ')).join(', ')} (output `
        + `${info.flaw_output.name}, ${info.flaw_output.shape.join('×')} uint8)`
      : 'none (this model has no flaw statistics output)'],
    ['File', `${(info.size_bytes / 1000).toFixed(1)} KB, sha256 ${info.sha256.slice(0, 12)}…`],
    ...extra,
  ];
  const dl = $('meta');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

/**
 * Where the sidecar's output `spec` is in LiteRT.js's outputs. LiteRT.js runs the default signature, whose
 * outputs it names by signature key (the sidecar's signature_name), in the signature's order; the tensor
 * name and the interpreter's position are fallbacks for a model without a signature.
 */
function outputPosition(details, spec, what) {
  let position = -1;
  for (const key of [spec.signature_name, spec.name]) {
    if (position < 0 && key) position = details.findIndex((d) => d.name === key);
  }
  if (position < 0 && details.length === (state.info.flaw_output ? 2 : 1)) position = spec.index;
  const d = details[position];
  if (!d) {
    throw new Error(`the model has no ${what} output ${spec.signature_name || spec.name} `
      + `(its outputs: ${details.map((x) => x.name).join(', ')})`);
  }
  if (d.dtype !== spec.dtype || Array.from(d.shape).join() !== spec.shape.join()) {
    throw new Error(`the model's ${what} output ${d.name} is ${d.dtype} [${Array.from(d.shape)}], the sidecar `
      + `says ${spec.dtype} [${spec.shape}]`);
  }
  return position;
}

async function init() {
  const t0 = performance.now();
  const info = await (await fetch(SIDECAR_URL)).json();
  const threads = self.crossOriginIsolated === true && (navigator.hardwareConcurrency || 1) > 1;
  await loadLiteRt(WASM_DIR, { threads });
  const modelBytes = new Uint8Array(await (await fetch(MODEL_URL)).arrayBuffer());
  const numThreads = threads ? Math.min(4, navigator.hardwareConcurrency) : 1;
  const model = await loadAndCompile(modelBytes, { accelerator: 'wasm', cpuOptions: { numThreads } });
  const input = model.getInputDetails()[0];
  const shape = Array.from(input.shape);
  const want = [1, info.image_size, info.image_size, 3];
  if (shape.join() !== want.join() || input.dtype !== 'uint8') {
    throw new Error(`model input is ${input.dtype} [${shape}], expected uint8 [${want}]`);
  }
  state.info = info;
  const outputDetails = model.getOutputDetails();
  state.outputs = {
    score: outputPosition(outputDetails, info.output, 'score'),
    flaw: info.flaw_output ? outputPosition(outputDetails, info.flaw_output, 'flaw statistics') : null,
  };
  state.model = model;
  const loadMs = performance.now() - t0;
  showMeta(info, [
    ['Runtime', `LiteRT.js, WebAssembly, ${numThreads} thread(s) (input ${input.name})`],
    ['Loaded in', `${loadMs.toFixed(0)} ms`],
  ]);
  document.body.dataset.loadMs = loadMs.toFixed(1);
  document.body.dataset.threads = String(threads);
  setStatus('Ready: drop or pick photos.', 'ready');
  document.body.dataset.ready = '1';
}

/** Decode a file to model input: SxS RGB uint8, as training.images.load_for_model makes it. */
async function preprocess(file, size) {
  const bitmap = await createImageBitmap(file, {
    imageOrientation: 'from-image',
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none',
  });
  try {
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' });
    ctx.globalCompositeOperation = 'copy';
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
    const rgb = rgbaToRgbOnWhite(rgba);
    return { pixels: resizeRgb(rgb, width, height, size, size), width, height };
  } finally {
    bitmap.close();
  }
}

async function infer(pixels) {
  const size = state.info.image_size;
  const tensor = new Tensor(pixels, [1, size, size, 3]);
  let outputs;
  try {
    outputs = await state.model.run(tensor);
    const raw = Array.from(outputs[state.outputs.score].toTypedArray())[0];
    const flawRaw = state.outputs.flaw === null ? null : Array.from(outputs[state.outputs.flaw].toTypedArray());
    return { raw, flawRaw };
  } finally {
    tensor.delete();
    if (outputs) for (const t of outputs) t.delete();
  }
}

function renderStars(el, stars) {
  el.replaceChildren();
  for (let i = 1; i <= 5; i++) {
    const s = document.createElement('span');
    s.textContent = '★';
    s.className = stars >= i ? 'full' : (stars >= i - 0.5 ? 'half' : 'empty');
    el.append(s);
  }
}

/** The reasons list shown under the stars: one item per reason, or a short line when none fire. */
function renderReasons(reasons) {
  if (!reasons.length) {
    const none = document.createElement('p');
    none.className = 'reasons-none';
    none.textContent = NO_FLAW_TEXT;
    return none;
  }
  const ul = document.createElement('ul');
  ul.className = 'reasons';
  ul.setAttribute('aria-label', 'Flaws to fix');
  for (const r of reasons) {
    const item = document.createElement('li');
    item.dataset.code = r.code;
    item.dataset.severity = r.severity.toFixed(3);
    item.textContent = r.text;
    ul.append(item);
  }
  return ul;
}

function makeTile(file) {
  const li = document.createElement('li');
  li.className = 'tile';
  li.dataset.state = 'pending';
  li.dataset.name = file.name;
  const img = document.createElement('img');
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  img.onerror = () => img.removeAttribute('src');
  const info = document.createElement('div');
  info.className = 'info';
  const name = document.createElement('div');
  name.className = 'name';
  name.textContent = file.name;
  info.append(name);
  li.append(img, info);
  $('grid').append(li);
  return li;
}

async function scoreFile(file, li) {
  const info = li.querySelector('.info');
  try {
    const t0 = performance.now();
    const { pixels } = await preprocess(file, state.info.image_size);
    const t1 = performance.now();
    const { raw, flawRaw } = await infer(pixels);
    const t2 = performance.now();
    // The model input's digest, to compare with the golden set's input_sha256 (Python's preprocessing).
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', pixels));
    li.dataset.inputSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    const score = state.info.output.scale * (raw - state.info.output.zero_point);
    const stars = halfStars(score);
    const starsEl = document.createElement('div');
    starsEl.className = 'stars';
    starsEl.setAttribute('role', 'img');
    renderStars(starsEl, stars);
    const line = document.createElement('div');
    line.className = 'score';
    line.textContent = `${score.toFixed(2)} / 5 · ${(t2 - t1).toFixed(0)} ms (+${(t1 - t0).toFixed(0)} ms prep)`;
    info.append(starsEl, line);
    // No flaw output (an older model): no reasons, and no list.
    const reasons = flawRaw === null ? [] : flawReasons(flawRaw, state.info.flaw_output, state.info.flaw_reasons);
    if (flawRaw !== null) {
      info.append(renderReasons(reasons));
      li.dataset.flawRaw = flawRaw.join(',');
    }
    Object.assign(li.dataset, {
      raw: String(raw), score: score.toFixed(4), stars: String(stars),
      reasons: reasons.map((r) => r.code).join(';'),
      inferMs: (t2 - t1).toFixed(2), prepMs: (t1 - t0).toFixed(2), state: 'done',
    });
    const said = flawRaw === null ? '' : (reasons.length ? `. ${reasons.map((r) => r.text).join('. ')}`
      : `. ${NO_FLAW_TEXT}`);
    li.setAttribute('aria-label', `${file.name}: ${stars} of 5 stars (score ${score.toFixed(2)})${said}`);
  } catch (err) {
    const e = document.createElement('div');
    e.className = 'error';
    e.textContent = `Could not score: ${err && err.message ? err.message : err}`;
    info.append(e);
    li.dataset.state = 'error';
    li.dataset.error = e.textContent;
    li.setAttribute('aria-label', `${file.name}: ${e.textContent}`);
  }
}

function addFiles(files) {
  for (const file of files) {
    const li = makeTile(file);
    state.pending++;
    document.body.dataset.pending = String(state.pending);
    state.queue = state.queue.catch(() => {}).then(async () => {
      await scoreFile(file, li);
      state.pending--;
      state.done++;
      document.body.dataset.pending = String(state.pending);
      document.body.dataset.scored = String(state.done);
    });
  }
}

function wireInputs() {
  const drop = $('drop');
  $('files').addEventListener('change', (ev) => {
    addFiles(Array.from(ev.target.files));
    ev.target.value = '';
  });
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  }
  for (const type of ['dragleave', 'drop']) {
    drop.addEventListener(type, () => drop.classList.remove('over'));
  }
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    addFiles(Array.from(ev.dataTransfer.files));
  });
}

wireInputs();
state.queue = init().catch((err) => {
  console.error(err);
  setStatus(`Could not load the model: ${err && err.message ? err.message : err}`, 'error');
  document.body.dataset.ready = 'error';
  throw err;
});
