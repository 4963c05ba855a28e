"""Join two .tflite models that read the same image into one model with both models' outputs.

Why: the flaw statistics (`iqlite.export.flaw_graph`) are converted to int8 on their own, with their own
calibration photos, and then joined to whichever photo model ships (post-training quantized or
quantization-aware trained, whose conversion path does not know about them). The score part stays bit
for bit what it was; the apps find one more output tensor. Both models must take the same raw-pixel input
(uint8, shape [1, S, S, 3], scale 1, zero point 0): the second model's input is replaced by the first's.

The merge works on the TFLite schema's object API (`ai_edge_litert.schema_py_generated`): the second
model's buffers, tensors and operators are appended, every index renumbered, operator codes shared, and its
outputs added after the first model's (so output 0 stays the score) and to the serving signature.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from iqlite.training.core.errors import UserError

__all__ = ["MergeError", "keep_outputs", "merge_outputs"]

_FILE_IDENTIFIER = b"TFL3"


class MergeError(UserError):
    """Two models that cannot share one input (different input shapes, types or quantization)."""


def merge_outputs(primary: bytes, secondary: bytes, prefix: str, output_names: list[str]) -> bytes:
    """`primary` with `secondary`'s operators and outputs added, both reading `primary`'s input.

    `secondary`'s tensors are renamed `prefix/NAME`, and its outputs `output_names` (one per output, in order),
    which are also their names in the serving signature.
    """
    first, second = _unpack(primary), _unpack(secondary)
    graph, other = _only_subgraph(first), _only_subgraph(second)
    if len(other.inputs) != 1 or len(graph.inputs) != 1:
        raise MergeError("both models must have exactly one input to share")
    if len(output_names) != len(other.outputs):
        raise MergeError(f"{len(other.outputs)} output names needed, got {len(output_names)}")
    shared_input, replaced_input = graph.inputs[0], other.inputs[0]
    _check_same_input(graph.tensors[shared_input], other.tensors[replaced_input])

    buffer_of = _append_buffers(first, second)
    tensor_of = {}
    for index, tensor in enumerate(other.tensors):
        if index == replaced_input:
            tensor_of[index] = shared_input
            continue
        tensor.buffer = buffer_of[tensor.buffer]
        tensor.name = f"{prefix}/{_text(tensor.name)}".encode()
        tensor_of[index] = len(graph.tensors)
        graph.tensors.append(tensor)
    opcode_of = _merged_opcodes(first, second)
    for op in other.operators:
        op.opcodeIndex = opcode_of[op.opcodeIndex]
        op.inputs = _renumbered(op.inputs, tensor_of)
        op.outputs = _renumbered(op.outputs, tensor_of)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = _renumbered(op.intermediates, tensor_of)
        graph.operators.append(op)
    added = [tensor_of[int(i)] for i in other.outputs]
    for index, name in zip(added, output_names, strict=True):
        graph.tensors[index].name = name.encode()
    graph.outputs = np.concatenate([np.asarray(graph.outputs, np.int32), np.asarray(added, np.int32)])
    for signature in first.signatureDefs or []:
        for index, name in zip(added, output_names, strict=True):
            signature.outputs.append(schema.TensorMapT())
            signature.outputs[-1].name, signature.outputs[-1].tensorIndex = name.encode(), index
    builder = flatbuffers.Builder(len(primary) + len(secondary) + 4096)
    builder.Finish(first.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def keep_outputs(content: bytes, count: int) -> bytes:
    """The model with only its first `count` outputs, and only the operators, tensors and buffers they need.

    The inverse of `merge_outputs` (how a model's flaw outputs are replaced by newly calibrated ones).
    """
    model = _unpack(content)
    graph = _only_subgraph(model)
    outputs = [int(i) for i in graph.outputs][:count]
    needed = set(outputs) | {int(i) for i in graph.inputs}
    kept_ops = []
    for op in reversed(graph.operators):
        if any(int(i) in needed for i in op.outputs):
            kept_ops.append(op)
            needed.update(int(i) for i in op.inputs if int(i) >= 0)
            needed.update(int(i) for i in (op.intermediates if op.intermediates is not None else []))
    kept_ops.reverse()
    old_tensors = sorted(needed)
    tensor_of = {old: new for new, old in enumerate(old_tensors)}
    kept_buffers = {0} | {graph.tensors[i].buffer for i in old_tensors} | {m.buffer for m in model.metadata or []}
    buffer_of = {old: new for new, old in enumerate(sorted(kept_buffers))}
    model.buffers = [model.buffers[i] for i in sorted(kept_buffers)]
    for meta in model.metadata or []:
        meta.buffer = buffer_of[meta.buffer]
    graph.tensors = [graph.tensors[i] for i in old_tensors]
    for tensor in graph.tensors:
        tensor.buffer = buffer_of[tensor.buffer]
    for op in kept_ops:
        op.inputs = _renumbered(op.inputs, tensor_of)
        op.outputs = _renumbered(op.outputs, tensor_of)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = _renumbered(op.intermediates, tensor_of)
    graph.operators = kept_ops
    graph.inputs = _renumbered(graph.inputs, tensor_of)
    graph.outputs = _renumbered(outputs, tensor_of)
    for signature in model.signatureDefs or []:
        signature.inputs = [t for t in signature.inputs or [] if t.tensorIndex in tensor_of]
        signature.outputs = [t for t in signature.outputs or [] if t.tensorIndex in outputs]
        for t in [*signature.inputs, *signature.outputs]:
            t.tensorIndex = tensor_of[t.tensorIndex]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _unpack(content: bytes) -> schema.ModelT:
    if len(content) < 8 or bytes(content[4:8]) != _FILE_IDENTIFIER:
        raise MergeError("not a TFLite model (file identifier TFL3 missing)")
    return schema.ModelT.InitFromPackedBuf(bytearray(content), 0)


def _only_subgraph(model: schema.ModelT) -> schema.SubGraphT:
    if len(model.subgraphs or []) != 1:
        raise MergeError(f"expected a model with one subgraph, found {len(model.subgraphs or [])}")
    graph = model.subgraphs[0]
    graph.tensors = list(graph.tensors or [])
    graph.operators = list(graph.operators or [])
    return graph


def _check_same_input(kept: schema.TensorT, replaced: schema.TensorT) -> None:
    def describe(t: schema.TensorT) -> tuple:
        q = t.quantization
        scale = tuple(np.asarray(q.scale).tolist()) if q is not None and q.scale is not None else ()
        zero = tuple(np.asarray(q.zeroPoint).tolist()) if q is not None and q.zeroPoint is not None else ()
        return tuple(np.asarray(t.shape).tolist()), int(t.type), scale, zero

    if describe(kept) != describe(replaced):
        raise MergeError(f"the models read different inputs: {describe(kept)} vs {describe(replaced)} "
                         "(shape, type, scale, zero point)")


def _append_buffers(first: schema.ModelT, second: schema.ModelT) -> dict[int, int]:
    """Buffer index in `second` -> index in `first` (buffer 0, the empty sentinel, stays 0)."""
    first.buffers = list(first.buffers or [])
    mapping = {0: 0}
    for index, buffer in enumerate(second.buffers or []):
        if index == 0:
            continue
        mapping[index] = len(first.buffers)
        first.buffers.append(buffer)
    return mapping


def _opcode_key(code: schema.OperatorCodeT) -> tuple:
    return code.builtinCode, code.deprecatedBuiltinCode, _text(code.customCode), code.version


def _merged_opcodes(first: schema.ModelT, second: schema.ModelT) -> dict[int, int]:
    first.operatorCodes = list(first.operatorCodes or [])
    known = {_opcode_key(code): i for i, code in enumerate(first.operatorCodes)}
    mapping = {}
    for index, code in enumerate(second.operatorCodes or []):
        key = _opcode_key(code)
        if key not in known:
            known[key] = len(first.operatorCodes)
            first.operatorCodes.append(code)
        mapping[index] = known[key]
    return mapping


def _renumbered(indices, mapping: dict[int, int]) -> np.ndarray:
    return np.asarray([mapping[int(i)] if int(i) >= 0 else -1 for i in indices], np.int32)


def _text(value: bytes | str | None) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
