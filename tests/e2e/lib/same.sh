# Sourced by the e2e tests that compare a program's output with figures the
# README shows: defines SAME, an awk function library (use: awk "$SAME" '...').
# same(printed, readme): the two lines have the same words, and where both
# hold a decimal number the printed one is within one unit of the README's
# last printed digit (0.098 accepts 0.097..0.099): the last digit of a
# figure may differ by machine and build (float summation order)
SAME='function norm(s) { gsub(/[][(),]/, " ", s); return s }
  function same(a, b,   x, y, n, i, d, u) {
    n = split(norm(a), x); if (n != split(norm(b), y)) return 0
    for (i = 1; i <= n; i++) {
      if (x[i] == y[i]) continue
      if (x[i] !~ /^[-+]?[0-9]*\.[0-9]+$/ || y[i] !~ /^[-+]?[0-9]*\.[0-9]+$/) return 0
      u = 10 ^ -(length(y[i]) - index(y[i], "."))
      d = x[i] - y[i]; if (d < 0) d = -d
      if (d > u * 1.000001) return 0
    }
    return 1 }'
