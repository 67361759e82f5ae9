#!/bin/sh
# Install the Debian packages recpipe needs, only those that are missing.
# usage: deps.sh [--print] DEBIAN-PACKAGE...
# Each package is checked with pkg-config (the .pc name below); apt-get runs
# only for what is missing, as root.  Not root: print the command to run.
print_only=0
if [ "$1" = "--print" ]; then print_only=1; shift; fi
pc_name() {
  case "$1" in
    liblua5.4-dev) echo lua5.4 ;;
    libopenblas-dev) echo openblas ;;
    zlib1g-dev) echo zlib ;;
    libyaml-dev) echo yaml-0.1 ;;
    check) echo check ;;
    libmicrohttpd-dev) echo libmicrohttpd ;;
    libcjson-dev) echo libcjson ;;
    libsqlite3-dev) echo sqlite3 ;;
    libopenmpi-dev) echo ompi-c ;;
    *) echo "" ;;
  esac
}
missing=""
for p in "$@"; do
  if [ "$p" = pkg-config ]; then
    command -v pkg-config >/dev/null 2>&1 || missing="$missing $p"
    continue
  fi
  pc=$(pc_name "$p")
  if [ -n "$pc" ] && command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists "$pc" || missing="$missing $p"
  else
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  [ $print_only = 1 ] || echo "deps: all present ($*)"
  exit 0
fi
cmd="apt-get install -y --no-install-recommends$missing"
if [ $print_only = 1 ] || [ "$(id -u)" != 0 ]; then
  echo "deps: missing:$missing"
  echo "deps: run as root:  apt-get update && $cmd"
  [ $print_only = 1 ] && exit 0
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && $cmd
