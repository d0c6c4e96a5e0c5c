"""Max pooling in an ONNX graph as onnxruntime runs it.

jax2onnx writes Keras' ``MaxPooling1D/2D/3D`` (``lax.reduce_window``) as one ``MaxPool`` over the
batch, spatial and channel axes of an input unsqueezed to ``(1, 1, N, *spatial, C)``, with a
window of 1 on the batch and channel axes. The graph is valid ONNX, but onnxruntime pools over 1-3
spatial axes only ("Unsupported pooling size"), so every exported CNN failed to run. Rewritten
here as the pooling onnxruntime runs: ``(N, C, *spatial)`` in, the same values out.
"""

from __future__ import annotations


def pool_spatial_axes_only(graph) -> bool:
    """Rewrite the graph's wide ``MaxPool`` nodes in place; True when one was rewritten."""
    from onnx import helper, numpy_helper
    import numpy as np

    changed = False
    made_by = {out: n.op_type for n in graph.node for out in n.output}
    for node in list(graph.node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = list(attrs.get("kernel_shape", []))
        k = len(kernel) - 2  # spatial axes, between the batch and the channel axis
        strides = list(attrs.get("strides", [1] * len(kernel)))
        pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
        dilations = list(attrs.get("dilations", [1] * len(kernel)))
        if node.op_type != "MaxPool" or not 1 <= k <= 3 or made_by.get(node.input[0]) != "Unsqueeze":
            continue  # not jax2onnx's pattern: a pooling onnxruntime runs as it is
        ones = [kernel, strides, dilations]  # the batch and channel axes: windows of 1, no padding
        if any(e[0] != 1 or e[-1] != 1 for e in ones) or pads[0] or pads[k + 1] or pads[k + 2] or pads[-1]:
            continue
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        name, x, y = node.name or node.output[0], node.input[0], node.output[0]
        axes = numpy_helper.from_array(np.array([0, 1], dtype=np.int64), f"{name}_lead_axes")
        graph.initializer.append(axes)
        to_nc = [0, k + 1, *range(1, k + 1)]  # (N, *spatial, C) -> (N, C, *spatial)
        back = [0, *range(2, k + 2), 1]
        new = [
            helper.make_node("Squeeze", [x, axes.name], [f"{name}_nsc"]),
            helper.make_node("Transpose", [f"{name}_nsc"], [f"{name}_ncs"], perm=to_nc),
            helper.make_node("MaxPool", [f"{name}_ncs"], [f"{name}_pooled"], kernel_shape=kernel[1:-1],
                             strides=strides[1:-1], pads=pads[1 : k + 1] + pads[k + 3 : 2 * k + 3],
                             dilations=dilations[1:-1], ceil_mode=int(attrs.get("ceil_mode", 0))),
            helper.make_node("Transpose", [f"{name}_pooled"], [f"{name}_nsc_out"], perm=back),
            helper.make_node("Unsqueeze", [f"{name}_nsc_out", axes.name], [y]),
        ]
        at = list(graph.node).index(node)
        graph.node.remove(node)
        for i, n in enumerate(new):
            graph.node.insert(at + i, n)
        changed = True
    return changed
