#!/usr/bin/env python3
"""Whether two directories written by benches/outputs.sh hold the same outputs: every file byte for byte,
but the clock (ISO timestamps in summary.json, report.html and the workbook's parts) and the elapsed
seconds. usage: python3 benches/same_outputs.py DIR_A DIR_B   (exit 1 if any file differs)"""
import os, re, sys, zipfile

STAMP = re.compile(rb'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?')


def normalized(path):
    if path.endswith('.xlsx'):
        z = zipfile.ZipFile(path)
        return b''.join(STAMP.sub(b'T', z.read(n)) for n in sorted(z.namelist()))
    data = open(path, 'rb').read()
    if path.endswith(('.json', '.html')):
        data = re.sub(rb'"(elapsed|seconds)[^,\n]*', b'', STAMP.sub(b'T', data))
    return data


a, b = sys.argv[1], sys.argv[2]
files = differ = 0
for root, _, names in os.walk(a):
    for name in names:
        pa = os.path.join(root, name)
        pb = os.path.join(b, os.path.relpath(pa, a))
        files += 1
        if not os.path.exists(pb) or normalized(pa) != normalized(pb):
            print('differs:', os.path.relpath(pa, a))
            differ += 1
print(f'{files} files compared, {differ} differ')
sys.exit(1 if differ else 0)
