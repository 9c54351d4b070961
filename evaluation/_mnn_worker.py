"""Runs SDD-FIQA's .mnn model for evaluation/peers.py in a separate interpreter (a virtual
environment that holds the ``MNN`` runtime, kept out of the main environment: the package's
converter tools phone home). Reads batches from stdin and writes scores to stdout, each as a
length-prefixed .npy; stops at end of input. Only the runtime (MNN.Interpreter) is used.

    ~/.cache/tinyfq-native/venv-mnn/bin/python evaluation/_mnn_worker.py MODEL.mnn
"""

import io
import os
import struct
import sys

# MNN prints to stdout when it loads: keep the real stdout for the replies only
_reply = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)

import MNN  # noqa: E402
import numpy as np  # noqa: E402


def main(model: str) -> int:
    net = MNN.Interpreter(model)
    session = net.createSession({"numThread": 1})
    inp, out = net.getSessionInput(session), net.getSessionOutput(session)
    rd, wr = sys.stdin.buffer, _reply
    while True:
        head = rd.read(8)
        if len(head) < 8:
            return 0
        batch = np.load(io.BytesIO(rd.read(struct.unpack("<Q", head)[0])))  # (N, 3, 112, 112)
        scores = np.empty(len(batch), np.float32)
        for i, x in enumerate(batch):
            tmp = MNN.Tensor(
                (1, 3, 112, 112),
                MNN.Halide_Type_Float,
                np.ascontiguousarray(x[None], np.float32),
                MNN.Tensor_DimensionType_Caffe,
            )
            inp.copyFrom(tmp)
            net.runSession(session)
            scores[i] = float(np.array(out.getData(), np.float32).reshape(-1)[0])
        buf = io.BytesIO()
        np.save(buf, scores)
        wr.write(struct.pack("<Q", buf.tell()) + buf.getvalue())
        wr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
