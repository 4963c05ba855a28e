// Reads JSON {spec, quantization, cases: [[q, ...], ...]} from argv[2]; prints, one line per case, the JSON
// list of [code, severity, value] that web_demo/reasons.js names (checked against Python's rule).
import { readFileSync } from 'node:fs';
import { flawReasons } from '../reasons.js';

const { spec, quantization, cases } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const raw of cases) {
  const reasons = flawReasons(Uint8Array.from(raw), quantization, spec);
  process.stdout.write(JSON.stringify(reasons.map((r) => [r.code, r.severity, r.value])) + '\n');
}
