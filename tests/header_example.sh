#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The complete example at the top of include/tensorgrad.h, cut out of the
# comment, wrapped in main() and compiled as strict C11 (-std=c11 -Wpedantic
# -Werror: no M_PI, no POSIX extras), linked with the shared library and run.
# Usage: header_example.sh HEADER CC SHARED_LIB [FLAG...]
set -euo pipefail
header=$1 cc=$2 lib=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
    printf '#include <stdio.h>\n#include <tensorgrad.h>\nint main(void)\n{\n'
    # the lines after "EXAMPLE:" up to the comment's end, without their "**" margin
    sed -n '/^\*\* EXAMPLE:/,/^\*\//p' "$header" | sed '1d;$d' | sed -E 's/^\*\*( |$)//'
    printf '    return tg_last_status() != TG_OK;\n}\n'
} >"$work/example.c"
grep -q tg_backward "$work/example.c" || { echo "no example found in $header" >&2; exit 1; }
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$@" -I"$(dirname "$header")" "$work/example.c" \
    -o "$work/example" "$lib" -Wl,-rpath,"$(dirname "$lib")" -lm
"$work/example"
echo "the header's example compiles as C11 and runs"
