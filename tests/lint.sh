#!/bin/sh
# make lint: (1) no file of a module core includes lua.h (only lua_*.c
# bindings may); (2) includes go down (below); (3) clang-format reports no
# differences.
rc=0
bad=$(grep -lE '#include[[:space:]]*[<"](lua|lauxlib|lualib|rpl)\.h' \
      runtime/core/*.c runtime/core/*.h runtime/solo/*.c modules/*/*.c modules/*/*.h \
      $(ls runtime/schedule/*.c runtime/schedule/*.h | grep -v schedule/schedule.c) 2>/dev/null \
      | grep -v '/lua_[^/]*\.c$')
if [ -n "$bad" ]; then
  echo "lint: core files must not include Lua headers:"; echo "$bad" | sed 's/^/  /'; rc=1
fi
# (2) includes go down (DESIGN.md "Layout"): runtime/core and runtime/solo
# include only runtime/core headers; a module includes runtime/core
# headers, its own headers, rpl.h (its binding: rule 1) and other modules'
# public headers only: modules/<m>/<m>.h, and those listed in PUBLIC.  So
# no module reaches into another's internals (als_impl.h, reg_impl.h, ...),
# the foundation depends on no module, and what a module needs of another
# is named in one header.
PUBLIC="io/reader.h"
bad=$(for f in runtime/core/*.c runtime/core/*.h runtime/solo/*.c modules/*/*.c modules/*/*.h; do
  [ -f "$f" ] || continue
  d=${f%/*}
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r h; do
    [ -f "runtime/core/$h" ] && continue
    case $d in
      runtime/core | runtime/solo)
        echo "$f: includes \"$h\" (runtime/core and runtime/solo include only runtime/core headers)"
        continue ;;
    esac
    [ -f "$d/$h" ] && continue
    [ "$h" = rpl.h ] && continue
    owner=$(ls modules/*/"$h" 2>/dev/null | head -1)
    if [ -z "$owner" ]; then
      echo "$f: includes \"$h\", which is neither in runtime/core nor a module's public header"
      continue
    fi
    o=${owner#modules/}
    o=${o%%/*}
    [ "$h" = "$o.h" ] && continue
    case " $PUBLIC " in *" $o/$h "*) continue ;; esac
    echo "$f: includes \"$h\", a private header of modules/$o (use its public $o.h)"
  done
done)
if [ -n "$bad" ]; then
  echo "lint: includes must go down:"; echo "$bad" | sed 's/^/  /'; rc=1
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
