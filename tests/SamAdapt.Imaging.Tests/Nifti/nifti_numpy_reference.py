#!/usr/bin/python3
"""Independent NIfTI-1 reference reader for SamAdapt's conformance tests: plain numpy, no nibabel.

Usage: nifti_numpy_reference.py FILE...   → one JSON object per line:
  file, shape, datatype, affine (4x4, nibabel get_best_affine rules), which ("sform"/"qform"/"base"),
  qform (the quaternion affine, whatever the codes), qform_code, sform_code,
  sum, min, max (of scaled values, NaN ignored), nonzero, samples {flat index: value} at spread indices, spread non-zero voxels and the argmax.
Header fields are read with numpy.frombuffer at the nifti1.h offsets.
"""
import gzip, json, sys
import numpy as np

DT = {2: 'u1', 4: 'i2', 8: 'i4', 16: 'f4', 64: 'f8', 256: 'i1', 512: 'u2', 768: 'u4', 1024: 'i8', 1280: 'u8'}

def read(path):
    raw = open(path, 'rb').read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    e = '<' if np.frombuffer(raw[:4], '<i4')[0] == 348 else '>'
    assert np.frombuffer(raw[:4], e + 'i4')[0] == 348, 'not NIfTI-1'
    f = lambda off, t, n=1: np.frombuffer(raw[off:off + n * np.dtype(t).itemsize], e + t, count=n)
    dim = f(40, 'i2', 8).astype(int)
    ndim = dim[0]
    shape = [int(d) for d in dim[1:ndim + 1]]
    datatype = int(f(70, 'i2')[0])
    pixdim = f(76, 'f4', 8).astype(np.float64)
    vox_offset = int(f(108, 'f4')[0])
    slope, inter = float(f(112, 'f4')[0]), float(f(116, 'f4')[0])
    qcode, scode = int(f(252, 'i2')[0]), int(f(254, 'i2')[0])
    b, c, d = f(256, 'f4', 3).astype(np.float64)
    qoff = f(268, 'f4', 3).astype(np.float64)
    srow = f(280, 'f4', 12).astype(np.float64).reshape(3, 4)
    qaff = None
    if True:
        a2 = 1.0 - (b * b + c * c + d * d)
        a = np.sqrt(a2) if a2 > 0 else 0.0
        R = np.array([[a*a+b*b-c*c-d*d, 2*b*c-2*a*d, 2*b*d+2*a*c],
                      [2*b*c+2*a*d, a*a+c*c-b*b-d*d, 2*c*d-2*a*b],
                      [2*b*d-2*a*c, 2*c*d+2*a*b, a*a+d*d-c*c-b*b]])
        qfac = -1.0 if pixdim[0] < 0 else 1.0
        z = pixdim[1:4] * np.array([1, 1, qfac])
        qaff = np.eye(4); qaff[:3, :3] = R * z; qaff[:3, 3] = qoff
    if 0 < scode <= 5:
        aff, which = np.vstack([srow, [0, 0, 0, 1]]), 'sform'
    elif 0 < qcode <= 5:
        aff, which = qaff, 'qform'
    else:
        z = pixdim[1:4].copy(); z[0] = -z[0]
        n = np.array((shape + [1, 1, 1])[:3], dtype=np.float64)
        aff = np.eye(4); aff[:3, :3] = np.diag(z); aff[:3, 3] = -(n - 1) / 2 * z
        which = 'base'
    count = int(np.prod(shape))
    data = np.frombuffer(raw, e + DT[datatype], count=count, offset=vox_offset).astype(np.float64)
    if slope != 0 and np.isfinite(slope):
        data = data * slope + inter
    nz = np.flatnonzero(data)
    idx = [int(i * (count - 1) / 7) for i in range(8)]
    idx += [int(nz[int(i * (len(nz) - 1) / 7)]) for i in range(8)] if len(nz) else []
    idx.append(int(np.nanargmax(data)))
    return dict(file=path, shape=shape, datatype=datatype, affine=aff.tolist(), which=which, qform=qaff.tolist(), qform_code=qcode, sform_code=scode,
                sum=float(np.nansum(data)), min=float(np.nanmin(data)), max=float(np.nanmax(data)),
                nonzero=int(np.count_nonzero(data)), samples={str(i): float(data[i]) for i in idx})

for p in sys.argv[1:]:
    print(json.dumps(read(p)))
