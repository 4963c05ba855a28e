"""Pin the int8 model's output quantization to the whole star range, 0–5.

Why: post-training quantization sets every activation's range from the representative photos, the output's
too. The output range always includes 0, so its top is the highest score any representative photo got, say
4.6: a phone photo the float model scores 4.9 would then come out as 4.6, and the app could never show five
stars. The last op of an iqlite model is `sigmoid(z) * 5` (a MUL whose int8 kernel re-derives its scaling
from the tensors' quantization at load time), so we can simply declare its output range to be exactly [0, 5]
afterwards: uint8 output q then means q * 5/255 stars, with 0.02-star steps over the full range, for every
model, whatever photos it was calibrated on.

The file is patched in place (same size, same layout): only the scale, zero point and min/max of the output
tensor and of the int8 tensor feeding its final QUANTIZE change. A check after the patch makes sure no other
tensor changed (flatbuffers may share identical vectors between tables).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

__all__ = ["OutputRangeError", "pin_output_range"]

_UINT8, _INT8 = schema.TensorType.UINT8, schema.TensorType.INT8
# Ops whose int8 kernels compute their output requantization from whatever scale the output tensor carries.
# Ops with fixed output ranges (LOGISTIC, TANH, SOFTMAX) or same-scale constraints (RESHAPE, CONCATENATION)
# must not be patched, so anything else is refused rather than guessed at.
_FREE_SCALE_OPS = {schema.BuiltinOperator.MUL: "MUL"}


class OutputRangeError(ValueError):
    """The model's tail is not the `MUL -> QUANTIZE(uint8)` pattern this patch knows how to re-range."""


def pin_output_range(content: bytes, low: float, high: float) -> bytes:
    """Return a copy of an int8 .tflite whose uint8 output means `low + q * (high - low) / 255`."""
    if not high > low:
        raise ValueError(f"need high > low, got {low}–{high}")
    buf = bytearray(content)
    model = schema.Model.GetRootAs(buf, 0)
    graph = _single_subgraph(model)
    out_index = graph.Outputs(0)
    producers = _producers(graph)
    out = graph.Tensors(out_index)
    if out.Type() != _UINT8:
        raise OutputRangeError("the model output is not uint8 (convert with inference_output_type=tf.uint8)")
    targets = [out_index]
    feeder = producers.get(out_index)
    if feeder is not None and _opcode(model, feeder) == schema.BuiltinOperator.QUANTIZE:
        mid_index = feeder.Inputs(0)
        if graph.Tensors(mid_index).Type() != _INT8:
            raise OutputRangeError("the final QUANTIZE does not read an int8 tensor")
        targets.append(mid_index)
        feeder = producers.get(mid_index)
    if feeder is None or _opcode(model, feeder) not in _FREE_SCALE_OPS:
        raise OutputRangeError(
            "the model does not end in sigmoid * 5 (a MUL); cannot pin its output range safely"
        )
    scale = (high - low) / 255.0
    zero_uint8 = int(round(-low / scale))
    if not 0 <= zero_uint8 <= 255:
        raise ValueError(f"range {low}–{high} does not contain 0, which a uint8 zero point must represent")
    before = _all_quantization(graph)
    for index in targets:
        zero = zero_uint8 if graph.Tensors(index).Type() == _UINT8 else zero_uint8 - 128
        _write_quantization(graph.Tensors(index), scale, zero, low, high)
    _check_only_targets_changed(before, bytes(buf), targets)
    return bytes(buf)


def _single_subgraph(model: schema.Model) -> schema.SubGraph:
    if model.SubgraphsLength() != 1:
        raise OutputRangeError(f"expected one subgraph, found {model.SubgraphsLength()}")
    graph = model.Subgraphs(0)
    if graph.OutputsLength() != 1:
        raise OutputRangeError(f"expected one output tensor, found {graph.OutputsLength()}")
    return graph


def _producers(graph: schema.SubGraph) -> dict[int, schema.Operator]:
    """Tensor index -> the operator that writes it."""
    found = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        for j in range(op.OutputsLength()):
            found[op.Outputs(j)] = op
    return found


def _opcode(model: schema.Model, op: schema.Operator) -> int:
    """Builtin op code; codes below 127 may sit in the deprecated field, so read both (the schema's rule)."""
    code = model.OperatorCodes(op.OpcodeIndex())
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())


def _write_quantization(tensor: schema.Tensor, scale: float, zero: int, low: float, high: float) -> None:
    """Overwrite per-tensor scale and zero point (and min/max when stored) through writable numpy views."""
    q = tensor.Quantization()
    if q is None or q.ScaleLength() != 1 or q.ZeroPointLength() != 1:
        raise OutputRangeError(f"tensor {tensor.Name().decode()} is not quantized per tensor")
    q.ScaleAsNumpy()[0] = scale
    q.ZeroPointAsNumpy()[0] = zero
    if q.MinLength() == 1 and q.MaxLength() == 1:
        q.MinAsNumpy()[0] = low
        q.MaxAsNumpy()[0] = high


def _all_quantization(graph: schema.SubGraph) -> list[tuple]:
    """Every tensor's (scale, zero point, min, max) as plain tuples, to compare before and after."""
    rows = []
    for i in range(graph.TensorsLength()):
        q = graph.Tensors(i).Quantization()
        if q is None:
            rows.append(())
            continue
        rows.append(tuple(_values(v) for v in (q.ScaleAsNumpy(), q.ZeroPointAsNumpy(), q.MinAsNumpy(),
                                                  q.MaxAsNumpy())))
    return rows


def _values(view) -> tuple:
    """A copy of a flatbuffer vector (the generated API returns 0, not an empty array, for a missing one)."""
    return tuple(np.asarray(view).ravel().tolist()) if not isinstance(view, int) else ()


def _check_only_targets_changed(before: list[tuple], patched: bytes, targets: list[int]) -> None:
    after = _all_quantization(schema.Model.GetRootAs(patched, 0).Subgraphs(0))
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
    if not set(changed) <= set(targets):
        raise OutputRangeError(f"patching the output range changed tensors {changed}, expected {targets}")
