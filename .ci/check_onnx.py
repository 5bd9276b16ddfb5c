"""Independent validation of the ONNX files the test suite exported, with Debian's python3-onnx.

For each model: onnx.checker.check_model(full_check=True), then strict shape inference with type
checking. Exits non-zero on the first problem, naming the file. Not a test runner: it prints one
line per model and a closing count in its own words.
"""
import glob
import os
import sys

import onnx
from onnx import checker, shape_inference


def main(folder: str) -> int:
    files = sorted(glob.glob(os.path.join(folder, "*.onnx")))
    if not files:
        print(f"check_onnx: no .onnx files in {folder}", file=sys.stderr)
        return 1
    for path in files:
        model = onnx.load(path)
        try:
            checker.check_model(model, full_check=True)
            shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
        except Exception as err:  # the checker raises several exception types
            print(f"check_onnx: {os.path.basename(path)} FAILED: {err}", file=sys.stderr)
            return 1
        print(f"check_onnx: {os.path.basename(path)} ok (opset {model.opset_import[0].version}, IR {model.ir_version})")
    print(f"check_onnx: all {len(files)} exported models pass onnx {onnx.__version__} full check and strict shape inference")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
