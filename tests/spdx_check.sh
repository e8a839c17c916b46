#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source file of the project names its license (MIT, see LICENSE) in an
# SPDX line within its first three lines.  Usage: spdx_check.sh SOURCE_DIR
set -euo pipefail
cd "$1"
missing=$(find include src tests bench examples tools fuzz python cmake .ci \
    \( -name '*.c' -o -name '*.h' -o -name '*.inc' -o -name '*.py' -o -name '*.sh' \
       -o -name 'CMakeLists.txt' -o -name '*.cmake' -o -name '*.h.in' \) -type f \
    -not -path '*/__pycache__/*' -not -path 'tests/data/*' -not -path 'fuzz/corpus/*' |
    while read -r f; do head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || echo "$f"; done)
[[ -z $missing ]] || { echo "no SPDX line in:"; echo "$missing"; exit 1; }
grep -q 'MIT License' LICENSE
echo "every source file carries SPDX-License-Identifier: MIT"
