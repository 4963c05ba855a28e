// Reads JSON cases {w,h,ow,oh,rgb(base64)} from argv[2]; prints the resized RGB of each as base64 lines.
import { readFileSync } from 'node:fs';
import { resizeRgb } from '../resize.js';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  const rgb = new Uint8Array(Buffer.from(c.rgb, 'base64'));
  const out = resizeRgb(rgb, c.w, c.h, c.ow, c.oh);
  process.stdout.write(Buffer.from(out).toString('base64') + '\n');
}
