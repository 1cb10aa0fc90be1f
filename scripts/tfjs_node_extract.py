"""Extracts what tfjs-node's binding needs from TensorFlow's CPU wheel (scripts/setup_tfjs_node.mjs).

Usage: tfjs_node_extract.py WHEEL DEPS_DIR [SOURCE...]
Writes DEPS_DIR/lib/libtensorflow_cc.so.2 and libtensorflow_framework.so.2, and under
DEPS_DIR/include the C API headers (c_api.h, eager/c_api.h, ops.h, kernels.h) and those the
SOURCE files include, with every header they include from the wheel, so the 13,000 other
headers stay in the wheel.
"""
import os
import re
import shutil
import sys
import zipfile

LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']
ROOTS = ['tensorflow/c/c_api.h', 'tensorflow/c/eager/c_api.h', 'tensorflow/c/ops.h', 'tensorflow/c/kernels.h']
INCLUDE_PREFIX = 'tensorflow/include/'
INCLUDE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(wheel, deps, sources):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        lib = os.path.join(deps, 'lib')
        os.makedirs(lib, exist_ok=True)
        for name in LIBRARIES:
            target = os.path.join(lib, name)
            with z.open('tensorflow/' + name) as src, open(target + '.part', 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            os.replace(target + '.part', target)
        pending, seen = list(ROOTS), set()
        for source in sources:
            with open(source, 'rb') as f:
                pending.extend(m.decode() for m in INCLUDE.findall(f.read()))
        while pending:
            header = pending.pop()
            if header in seen or INCLUDE_PREFIX + header not in names:
                continue  # system and third-party headers the C API does not need from the wheel
            seen.add(header)
            text = z.read(INCLUDE_PREFIX + header)
            target = os.path.join(deps, 'include', header)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'wb') as dst:
                dst.write(text)
            pending.extend(m.decode() for m in INCLUDE.findall(text))
        missing = [root for root in ROOTS if root not in seen]
        if missing:
            sys.exit('the wheel has no ' + ', '.join(missing))
    print(f'{len(LIBRARIES)} libraries, {len(seen)} headers')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
