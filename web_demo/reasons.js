// Flaw reasons from the model's second output ("flaw_statistics"): the rule of
// iqlite.training.flaws.model_flaws.reasons_from_statistics, which Python and the Android app apply too.
//
//   value    = scale * (q - zero_point)              the output column `index`, dequantized
//   past     = value - threshold   (fires "above")   or   threshold - value   (fires "below")
//   fires    when past > 0
//   severity = past / |severe - threshold|           (1 as the divisor when that is 0)
//   order    most severe first; equal severities in the order of the reasons list
//
// JS numbers are float64, as Python's floats are, and the operations run in the same order, so the page
// names exactly the reasons Python names. `spec` is the model metadata's flaw_reasons block (the sidecar's
// "flaw_reasons"); `quantization` is {scale, zero_point} of the flaw output.

/**
 * The reasons that fire for one photo, most severe first.
 * @param {ArrayLike<number>} raw the flaw output's raw uint8 values
 * @param {{scale: number, zero_point: number}} quantization the flaw output's quantization
 * @param {{reasons: Array<object>}|null} spec the flaw_reasons block; null/undefined: no reasons
 * @returns {Array<{code: string, text: string, severity: number, value: number}>}
 */
export function flawReasons(raw, quantization, spec) {
  if (!spec) return [];
  if (!Array.isArray(spec.reasons)) throw new Error("the model's flaw_reasons metadata has no list of reasons");
  const scale = Number(quantization.scale);
  const zeroPoint = Number(quantization.zero_point);
  const fired = [];
  spec.reasons.forEach((entry, order) => {
    const index = Number(entry.index);
    if (!Number.isInteger(index) || index < 0 || index >= raw.length) {
      throw new Error(`flaw reason ${entry.code} reads column ${entry.index} of a ${raw.length}-value output`);
    }
    const value = scale * (Number(raw[index]) - zeroPoint);
    if (!Number.isFinite(value)) return;
    const threshold = Number(entry.threshold);
    const past = entry.fires_when === 'above' ? value - threshold : threshold - value;
    if (!(past > 0)) return;
    const span = Math.abs(Number(entry.severe) - threshold) || 1;
    fired.push({ order, reason: { code: entry.code, text: entry.text, severity: past / span, value } });
  });
  fired.sort((a, b) => b.reason.severity - a.reason.severity || a.order - b.order);
  return fired.map((f) => f.reason);
}
