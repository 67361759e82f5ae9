#!/bin/sh
# The last step of `make demo`: the model examples/second_pipeline.lua saved
# (out/shop_als.rpa) served by `recpipe serve examples/serve.yaml` on a free
# port, asked for user u42's top 5, then stopped with SIGTERM.
#   sh examples/serve_demo.sh [RECPIPE]
BIN=${1:-./recpipe}
tmp=$(mktemp -d /tmp/recpipe-demo-serve.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
"$BIN" serve --quiet examples/serve.yaml port=0 port_file="$tmp/port" log_dir="$tmp/logs" &
pid=$!
while [ ! -s "$tmp/port" ]; do
  kill -0 $pid 2>/dev/null || { echo "serve_demo: the server did not start" >&2; exit 1; }
  sleep 0.1
done
port=$(cat "$tmp/port")
echo "\$ recpipe serve examples/serve.yaml   (listening on port $port)"
echo "\$ curl 'localhost:$port/v1/recommend?user=u42&k=5'"
curl -s "localhost:$port/v1/recommend?user=u42&k=5" || exit 1
echo "\$ curl -XPOST localhost:$port/v1/recommend -d '{\"history\":[\"i1\",\"i2\"],\"k\":5}'"
curl -s -XPOST "localhost:$port/v1/recommend" -d '{"history":["i1","i2"],"k":5}' || exit 1
kill -TERM $pid
wait $pid || exit 1
pid=
