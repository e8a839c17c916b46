#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates the data-file fixtures in tests/data/io/ with NumPy.

Run with Debian's interpreter, which has numpy:

    /usr/bin/python3 tests/reference/make_io_reference.py [output-dir]

The output directory defaults to tests/data/io next to this script.  Nothing here is
random: two runs with the same numpy write identical files.  tests/test_io.c reads:

  *.npy          arrays written by numpy (numpy.save / numpy.lib.format.write_array)
  *.csv          CSV files, good and bad, written byte for byte from the strings below
  expected.txt   the values tensorgrad must read, in the format of tests/support:
                 `key v1 v2 ...` (repr of each float64, row-major) and `key.shape`.
                 For a .npy file, key is its name without .npy; for a CSV file,
                 key is the file name without .csv followed by the chosen columns.
"""
import csv
import io
import os
import sys

import numpy as np
from numpy.lib import format as npformat

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "io")

expected = []


def record(key, arr):
    arr = np.asarray(arr, dtype=np.float64)
    expected.append("%s.shape %s" % (key, " ".join(str(d) for d in arr.shape)))
    expected.append("%s %s" % (key, " ".join(repr(float(v)) for v in arr.reshape(-1, order="C"))))


def save(name, arr, version=None, expect=True):
    path = os.path.join(OUT, name + ".npy")
    with open(path, "wb") as f:
        if version is None:
            np.save(f, arr, allow_pickle=True)
        else:
            npformat.write_array(f, arr, version=version, allow_pickle=True)
    if expect:
        record(name, np.asarray(arr).astype(np.float64))


def npy_fixtures():
    base = (np.arange(24, dtype=np.float64) - 11.5) * 0.25          # exact in float16 too
    base3 = base.reshape(2, 3, 4)
    for dt in ["<f8", "<f4", "<f2", ">f8", ">f4"]:
        save("float_%s" % dt[1:] + ("_be" if dt[0] == ">" else ""), base3.astype(dt))
    ints = (np.arange(24) - 11).reshape(2, 3, 4)
    for dt in ["<i8", "<i4", "<i2", "|i1", ">i4"]:
        save("int_%s" % dt[1:] + ("_be" if dt[0] == ">" else ""), ints.astype(dt))
    uints = (np.arange(24) * 10).reshape(2, 3, 4)
    for dt in ["<u8", "<u4", "<u2", "|u1", ">u2"]:
        save("uint_%s" % dt[1:] + ("_be" if dt[0] == ">" else ""), uints.astype(dt))
    for dt in ["<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1"]:
        info = np.iinfo(dt)
        save("limits_%s" % dt[1:], np.array([info.min, info.max, 0, 1], dtype=dt))
    save("bool", np.array([[True, False, True], [False, False, True]]))
    save("float_f2_special", np.array([np.inf, -np.inf, 65504.0, 6e-08, -0.0, 1.0], dtype="<f2"))
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 0.1])
    save("float_f8_special", special)
    for v in [(1, 0), (2, 0), (3, 0)]:
        save("version_%d" % v[0], base3, version=v)
    save("fortran_f8", np.asfortranarray(base3))
    save("fortran_f4", np.asfortranarray(base.reshape(4, 6).astype("<f4")))
    save("fortran_1d", np.asfortranarray(base[:5]))
    save("fortran_i2_be", np.asfortranarray(ints.astype(">i2")))
    # written by numpy.save from float64: tensorgrad's tg_save_npy must match these bytes
    save("save_0d", np.array(2.5))
    save("save_1d", base[:5])
    save("save_2d", base.reshape(4, 6))
    save("save_3d", base3)
    save("save_8d", np.arange(256, dtype=np.float64).reshape(2, 2, 2, 2, 2, 2, 2, 2))
    save("save_empty_1d", np.zeros(0))
    save("save_empty_3d", np.zeros((2, 0, 3)))
    save("save_big_dims", np.zeros((1234567, 0, 89)))
    # refused: non-numeric dtypes
    save("bad_complex", np.array([1 + 2j, 3j]), expect=False)
    save("bad_object", np.array([1, "a", None], dtype=object), expect=False)
    save("bad_structured", np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]), expect=False)
    save("bad_unicode", np.array(["abc", "de"]), expect=False)
    save("bad_bytes", np.array([b"abc", b"de"]), expect=False)
    save("bad_datetime", np.array(["2024-01-01"], dtype="datetime64[D]"), expect=False)
    save("bad_longdouble", np.zeros(2, dtype=np.longdouble), expect=False)
    save("bad_9d", np.zeros((1,) * 9), expect=False)


CSV = {
    # header, a quoted header name, a quoted text column with commas and quotes,
    # spaces around numbers, no final line end
    "quotes": 'id,x,"label, quoted",y\n'
              '1, 0.5 ,"a, ""b"", c",-1e3\n'
              '2,\t-2.25,plain,  7\n'
              '3,"1e-3","multi\nline, field",nan\n'
              '4,inf,"",-inf',
    # CRLF line ends, a final CRLF, a blank line, quoted numbers
    "crlf": "a;b;c\r\n1;2;3\r\n\r\n\"4.5\";5;6\r\n-7;8e2;9\r\n",
    # no header: columns by 0-based index; tabs
    "noheader": "1.5\t2\t3\n4\t5.25\t6\n7\t8\t-9.5\n",
    # a UTF-8 byte-order mark and lone CR line ends
    "bom_cr": "\ufeffx,y\r1,2\r3,4\r",
    "header_only": "x,y,z\n",
    # bad files: each error's message names path:line:column
    "bad_cell": "x,y\n1,2\n3,abc\n5,6\n",
    "empty_cell": "x,y\n1,2\n3,\n",
    "ragged_short": "x,y,z\n1,2,3\n4,5\n",
    "ragged_long": "x,y,z\n1,2,3\n4,5,6\n7,8,9,10\n",
    "unterminated": 'x,y\n1,2\n3,"4\n5,6\n',
    "after_quote": 'x,y\n1,"2"x\n',
    "empty": "",
    "blank_lines": "\n\r\n\n",
}

CSV_GOOD = {
    "quotes": (",", True, ["y", "x", "id"]),
    "crlf": (";", True, ["c", "a"]),
    "noheader": ("\t", False, ["2", "0", "1", "0"]),
    "bom_cr": (",", True, ["y", "x"]),
    "header_only": (",", True, ["z", "x"]),
}


def csv_fixtures():
    for name, text in CSV.items():
        with open(os.path.join(OUT, name + ".csv"), "wb") as f:
            f.write(text.encode("utf-8"))
    for name, (delim, header, cols) in CSV_GOOD.items():
        text = CSV[name].lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        names = rows.pop(0) if header else [str(i) for i in range(len(rows[0]))]
        idx = [names.index(c) for c in cols]
        data = np.array([[float(r[i].strip()) for i in idx] for r in rows]).reshape(len(rows), len(cols))
        record("%s.%s" % (name, ".".join(cols)), data)


def main():
    os.makedirs(OUT, exist_ok=True)
    npy_fixtures()
    csv_fixtures()
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("# values of the fixtures in this directory, from tests/reference/make_io_reference.py\n")
        f.write("# (numpy %s); do not edit by hand\n" % np.__version__)
        f.write("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
