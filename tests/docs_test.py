#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs the commands and programs of one Markdown file (README.md, docs/*.md).

    docs_test.py --source SRC --build BUILD --cc CC [--max-bytes N] FILE.md

Registered with ctest as docs_<name> by tests/CMakeLists.txt, one test per
file, so that the documentation cannot rot. Every fenced block is handled by
its language, in the order of the file, in one scratch directory that mirrors
the source tree (a symlink to each top-level entry, `build` pointing at BUILD)
so that commands written for the top of a clone run as written and their
outputs land in the scratch directory:

  sh, bash   run with bash -euo pipefail; must exit 0
  c          a program (it has main): compiled with -Wall -Wextra -Wpedantic
             -Werror against BUILD's libtensorgrad.so and run, must exit 0; a
             fragment (no main) is an excerpt, not a program: compiled (as a
             translation unit after #include <tensorgrad.h>) only when marked
             `compile`, otherwise only counted
  python     run with /usr/bin/python3 (PYTHONPATH=BUILD/python); a block that
             imports tensorgrad is skipped, saying so, when BUILD has no
             Python package
  cmake      the CMakeLists.txt of a project beside the files written so far
             (see `file`): configured against the installed copy, built, and
             its program `prog` run
  others     (text, json, none) are not commands and are not run

HOME is a directory in the scratch directory. BUILD is first installed into
PREFIX there, and the
commands see PKG_CONFIG_PATH, CMAKE_PREFIX_PATH and LD_LIBRARY_PATH pointing
there, as after `cmake --install build` into a system prefix. As root, Open MPI
is told that root may run it (OMPI_ALLOW_RUN_AS_ROOT) and may oversubscribe.

An HTML comment on the line just before a fence changes what happens:

  <!-- docs-test: skip REASON -->  not run; REASON is printed (it is required)
  <!-- docs-test: ci -->           every line must be run verbatim by .ci/run
                                   (the quick start, which ctest cannot run)
  <!-- docs-test: file NAME -->    also written to NAME, for later blocks
  <!-- docs-test: compile -->      a C fragment that must compile

Links to local files that do not exist are reported (not failed: other
branches add pages that the README links). With --max-bytes the file must be
smaller than N bytes. Exits 1 when any block fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*-->\s*$")
LINK = re.compile(r"\]\(([^)\s]+)\)")
TIMEOUT = 300


def slug(where):
    """README.md:54 -> README_md_54, for file names"""
    return re.sub(r"[^A-Za-z0-9]+", "_", where)


def blocks(lines):
    """(line number, language, marker, marker argument, text) of each fenced block."""
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1).lower()
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise SystemExit(f"line {start + 1}: unterminated code block")
        prev = lines[start - 1] if start > 0 else ""
        mk = MARKER.match(prev)
        marker, arg = (mk.group(1), mk.group(2)) if mk else (None, "")
        out.append((start + 1, lang, marker, arg, "".join(lines[start + 1:j])))
        i = j + 1
    return out


class Runner:
    def __init__(self, args, md):
        self.args, self.md = args, md
        self.failed, self.counts, self.notes = [], {}, []
        self.tmp = tempfile.mkdtemp(prefix="tg-docs-test.")
        self.files = []          # files written by `file` markers
        self.build = os.path.realpath(args.build)
        self.source = os.path.realpath(args.source)
        for name in os.listdir(self.source):
            if name in (".git",) or name.startswith("build"):
                continue
            os.symlink(os.path.join(self.source, name), os.path.join(self.tmp, name))
        os.symlink(self.build, os.path.join(self.tmp, "build"))
        self.prefix = os.path.join(self.tmp, "prefix")
        self.env = dict(os.environ)
        self.env["HOME"] = os.path.join(self.tmp, "home")   # `--prefix "$HOME/..."` stays in here
        os.makedirs(self.env["HOME"])
        for var in ("CPATH", "C_INCLUDE_PATH", "LIBRARY_PATH", "LD_PRELOAD"):
            self.env.pop(var, None)
        self.installed = False

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def run(self, cmd, what, cwd=None, **kw):
        print("+ " + (cmd if isinstance(cmd, str) else " ".join(cmd)), flush=True)
        try:
            r = subprocess.run(cmd, cwd=cwd or self.tmp, env=self.env, timeout=TIMEOUT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
        except subprocess.TimeoutExpired:
            self.failed.append(f"{what}: timed out after {TIMEOUT} s")
            return False
        sys.stdout.write(r.stdout[-4000:])
        if r.returncode != 0:
            self.failed.append(f"{what}: exit status {r.returncode}")
            return False
        return True

    def install(self):
        """BUILD installed into PREFIX; the environment points there."""
        if self.installed:
            return
        self.installed = True
        r = subprocess.run(["cmake", "--install", self.build, "--prefix", self.prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.stdout.write(r.stdout)
            raise SystemExit("FAIL: cmake --install failed")
        libdirs, pcdirs = set(), set()
        for root, _, names in os.walk(self.prefix):
            for n in names:
                if n.startswith("libtensorgrad.so"):
                    libdirs.add(root)
                if n == "tensorgrad.pc":
                    pcdirs.add(root)
        self.env["PKG_CONFIG_PATH"] = ":".join(sorted(pcdirs))
        self.env["CMAKE_PREFIX_PATH"] = self.prefix
        self.env["LD_LIBRARY_PATH"] = ":".join(sorted(libdirs))
        self.env["PYTHONPATH"] = os.path.join(self.build, "python")
        if os.geteuid() == 0:
            self.env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        self.env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        if os.path.islink(path) or os.path.exists(path):
            raise SystemExit(f"FAIL: `file {name}` would replace {path}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def block_c(self, where, text, path, compile_fragment):
        if path is None:
            path = self.write(f"block_{slug(where)}.c", text)
        warn = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
        inc = ["-I" + os.path.join(self.source, "include"), "-I" + os.path.join(self.build, "include")]
        if re.search(r"\bint\s+main\s*\(", text):
            exe = path[:-2] + ".bin"
            ok = self.run([self.args.cc, *warn, *inc, path, "-o", exe, "-L" + self.build, "-ltensorgrad",
                           "-Wl,-rpath," + self.build, "-lm"], f"{where}: compile")
            if ok and self.run([exe], f"{where}: run"):
                self.count("C programs compiled and run")
            return
        if not compile_fragment:
            self.count("C excerpts (not compiled)")
            return
        frag = self.write(f"fragment_{slug(where)}.c", "#include <tensorgrad.h>\n" + text)
        unused = ["-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-const-variable"]
        if self.run([self.args.cc, *warn, *unused, *inc, "-c", frag, "-o", frag[:-2] + ".o"],
                    f"{where}: compile the fragment"):
            self.count("C fragments compiled")

    def block_python(self, where, text):
        if re.search(r"^\s*(import|from)\s+tensorgrad\b", text, re.M) and \
                not os.path.exists(os.path.join(self.build, "python", "tensorgrad", "__init__.py")):
            self.notes.append(f"{where}: skipped, this build has no Python package (build/python/tensorgrad)")
            self.count("skipped")
            return
        path = self.write(f"block_{slug(where)}.py", text)
        if self.run(["/usr/bin/python3", path], f"{where}: python"):
            self.count("Python blocks run")

    def block_cmake(self, where, text):
        proj = os.path.join(self.tmp, f"cmake_{slug(where)}")
        os.makedirs(proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write(text)
        for src in self.files:
            shutil.copy(src, proj)
        ok = self.run(["cmake", "-S", proj, "-B", os.path.join(proj, "build"), "-DCMAKE_C_COMPILER=" + self.args.cc,
                       "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"], f"{where}: cmake configure")
        ok = ok and self.run(["cmake", "--build", os.path.join(proj, "build")], f"{where}: cmake build")
        prog = os.path.join(proj, "build", "prog")
        if ok and os.path.exists(prog):
            ok = self.run([prog], f"{where}: run prog")
        if ok:
            self.count("CMake projects built")

    def block(self, where, lang, marker, arg, text):
        if marker == "skip":
            if not arg:
                self.failed.append(f"{where}: `docs-test: skip` needs a reason")
                return
            self.notes.append(f"{where}: not run ({arg})")
            self.count("skipped")
            return
        if marker == "ci":
            with open(os.path.join(self.source, ".ci", "run")) as f:
                ci = f.read()
            for line in text.splitlines():
                line = line.strip()
                if line and not line.startswith("#") and line not in ci:
                    self.failed.append(f"{where}: .ci/run does not run `{line}`")
            self.count("blocks checked against .ci/run")
            return
        path = None
        if marker == "compile" and lang != "c":
            self.failed.append(f"{where}: `docs-test: compile` is for C blocks")
            return
        if marker == "file":
            path = self.write(arg, text)
            self.files.append(path)
        elif marker not in (None, "compile"):
            self.failed.append(f"{where}: unknown marker `docs-test: {marker}`")
            return
        if lang in ("sh", "bash", "shell"):
            self.install()
            if self.run(["bash", "-euo", "pipefail", "-c", text], f"{where}: shell"):
                self.count("shell blocks run")
        elif lang == "c":
            self.block_c(where, text, path, marker == "compile")
        elif lang in ("python", "py"):
            self.install()
            self.block_python(where, text)
        elif lang == "cmake":
            self.install()
            self.block_cmake(where, text)
        else:
            self.count("not commands (" + (lang or "plain") + ")")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--max-bytes", type=int)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("md")
    args = ap.parse_args()
    with open(args.md) as f:
        lines = f.readlines()
    r = Runner(args, args.md)
    name = os.path.relpath(os.path.realpath(args.md), os.path.realpath(args.source))
    try:
        size = os.path.getsize(args.md)
        if args.max_bytes and size >= args.max_bytes:
            r.failed.append(f"{name} is {size} bytes, not under {args.max_bytes}")
        here = os.path.dirname(os.path.realpath(args.md))
        for target in LINK.findall("".join(lines)):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            note = f"link to {target}: no such file (yet)"
            if not os.path.exists(os.path.join(here, target.split("#")[0])) and note not in r.notes:
                r.notes.append(note)
        for line, lang, marker, arg, text in blocks(lines):
            where = f"{name}:{line}"
            print(f"--- {where} ({lang or 'plain'}{', ' + marker if marker else ''})", flush=True)
            r.block(where, lang, marker, arg, text)
    finally:
        if not args.keep:
            shutil.rmtree(r.tmp, ignore_errors=True)
    print(f"\n{name}: " + ", ".join(f"{v} {k}" for k, v in sorted(r.counts.items())))
    for n in r.notes:
        print("note: " + n)
    for f in r.failed:
        print("FAIL: " + f)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
