#!/bin/sh
# make lint: (1) no file of a module core includes lua.h (only lua_*.c
# bindings may); (2) clang-format reports no differences.
rc=0
bad=$(grep -lE '#include[[:space:]]*[<"](lua|lauxlib|lualib|rpl)\.h' \
      runtime/core/*.c runtime/core/*.h modules/*/*.c modules/*/*.h \
      $(ls runtime/schedule/*.c runtime/schedule/*.h | grep -v schedule/schedule.c) 2>/dev/null \
      | grep -v '/lua_[^/]*\.c$')
if [ -n "$bad" ]; then
  echo "lint: core files must not include Lua headers:"; echo "$bad" | sed 's/^/  /'; rc=1
fi
if command -v clang-format >/dev/null 2>&1; then
  files=$(ls runtime/*.c runtime/*.h runtime/core/*.c runtime/core/*.h runtime/solo/*.c runtime/serve/*.[ch] \
          runtime/schedule/*.[ch] modules/*/*.c modules/*/*.h tests/unit/*.c tests/unit/*.h \
          tests/bench/*.c tests/e2e/*.c tests/fuzz/*.c tests/fuzz/*.h 2>/dev/null)
  n=0
  for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "lint: $f is not clang-formatted (make format)"; n=$((n + 1))
    fi
  done
  [ $n -eq 0 ] || rc=1
else
  echo "lint: clang-format not installed; format check skipped"
fi
[ $rc -eq 0 ] && echo "lint: ok"
exit $rc
