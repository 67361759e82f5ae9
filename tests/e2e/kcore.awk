# A plain k-core reference for the e2e tests (no recpipe code involved).
# Reads "user item value" lines (one per distinct pair); removes users with
# fewer than MU items and items with fewer than MI users, all at once per
# round, until both hold.  Prints
#   users_before items_before nnz_before users_removed items_removed
#   nnz_removed rounds users_after items_after nnz_after sum_after
# and, with -v OUT=file, writes the surviving "user item value" lines there.
{ u[NR] = $1; i[NR] = $2; v[NR] = $3; alive[NR] = 1; du[$1]++; di[$2]++ }
END {
  n = NR
  for (x in du) nu0++
  for (x in di) ni0++
  rounds = 0
  do {
    changed = 0
    for (k = 1; k <= n; k++)
      if (alive[k] && (du[u[k]] < MU || di[i[k]] < MI)) { dead[k] = 1; changed = 1 }
    for (k = 1; k <= n; k++)
      if (dead[k]) { alive[k] = 0; dead[k] = 0; du[u[k]]--; di[i[k]]-- }
    if (changed) rounds++
  } while (changed)
  for (k = 1; k <= n; k++)
    if (alive[k]) {
      nnz++; s += v[k]
      if (OUT != "") print u[k], i[k], v[k] > OUT
      if (!(u[k] in su)) { su[u[k]] = 1; nu++ }
      if (!(i[k] in si)) { si[i[k]] = 1; ni++ }
    }
  printf "%d %d %d %d %d %d %d %d %d %d %d\n", nu0, ni0, n, nu0 - nu, ni0 - ni, n - nnz, rounds,
    nu, ni, nnz, s
}
