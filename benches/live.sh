#!/usr/bin/env bash
# Live throughput on loopback: Postfix's smtp-source against `smtpsim serve` and against
# Postfix's smtp-sink, alternately; `smtpsim proxy --profile passthrough` in front of smtp-sink
# against smtp-sink alone; with --maildir, `serve --maildir` (an fsync per message) against a
# private Postfix (smtpd + cleanup, delivering to a Maildir) set up under a temporary directory;
# with --haproxy, the passthrough proxy against HAProxy (TCP mode, one thread) in front of the
# same smtp-sink, a reference for what any relay costs on the machine.
# Prints every run with the CPU time the server (or proxy) under test spent on it, then the
# medians in messages/s and their ratio. Not a test: nothing is asserted; the figures are for
# people.
#
#   benches/live.sh [--runs N] [--sessions S] [--messages M] [--length L] [--maildir]
#                   [--haproxy] [--transcript-file] [--only serve|proxy|maildir|haproxy]
#
# --haproxy needs haproxy on PATH or in /usr/sbin (Debian: apt-get install haproxy).
# --transcript-file: serve's and proxy's transcript goes to a file (under a temporary
# directory) instead of /dev/null, so its formatting and writing are measured too.
# SERVE_ARGS / PROXY_ARGS: more arguments for serve / proxy (e.g. SERVE_ARGS="--threads 2").
#
# Needs a release build (cargo build --release), smtp-source and smtp-sink (Postfix) on PATH
# or in /usr/sbin; --maildir needs root and a Postfix installation (its `postfix` user).
# Every server it starts listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail

RUNS=3 SESSIONS=10 MESSAGES=5000 LENGTH=1000 MAILDIR=0 HAPROXY=0 ONLY= TRANSCRIPT_FILE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --sessions) SESSIONS=$2; shift 2 ;;
        --messages) MESSAGES=$2; shift 2 ;;
        --length) LENGTH=$2; shift 2 ;;
        --maildir) MAILDIR=1; shift ;;
        --haproxy) HAPROXY=1; shift ;;
        --transcript-file) TRANSCRIPT_FILE=1; shift ;;
        --only) ONLY=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--sessions S] [--messages M] [--length L] [--maildir] [--haproxy] [--transcript-file] [--only serve|proxy|maildir|haproxy]" >&2; exit 2 ;;
    esac
done
# Bounded: at most 20 runs a side of at most 50,000 messages.
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 20 ] && [ "$MESSAGES" -le 50000 ] || { echo "runs 1..20, messages <= 50000" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMTPSIM=${SMTPSIM:-$ROOT/target/release/smtpsim}
PATH=$PATH:/usr/sbin
for tool in "$SMTPSIM" smtp-source smtp-sink; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
# A free port range of our own (override with BASE_PORT).
BASE_PORT=${BASE_PORT:-$((20000 + $$ % 20000))}
WORK=$(mktemp -d /tmp/smtpsim-live-bench.XXXXXX)
PIDS=()
POSTFIX_CONF= PF_LOG=

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$POSTFIX_CONF" ]; then postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true; fi
    [ -z "$PF_LOG" ] || rm -f "$PF_LOG"
    rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until something accepts on 127.0.0.1:$1 (at most 10 s).
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2; exit 1
}

# CPU time (user + system, in clock ticks) process $1 has spent so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Which process serves each port, for its CPU time.
PORT_PID=()

# One smtp-source run against port $1: prints messages per second, and the CPU milliseconds per
# 1,000 messages of the process serving the port ("n/a" for Postfix, whose work is spread over
# short-lived smtpd and cleanup processes).
run_source() {
    local start end pid=${PORT_PID[$1]:-} cpu_before=0 cpu_after=0
    [ -z "$pid" ] || cpu_before=$(cpu_ticks "$pid")
    start=$(date +%s%N)
    timeout 300 smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$LENGTH" -f bench@localhost -t bench@localhost "127.0.0.1:$1" >/dev/null
    end=$(date +%s%N)
    [ -z "$pid" ] || cpu_after=$(cpu_ticks "$pid")
    awk -v m="$MESSAGES" -v ns=$((end - start)) -v pid="$pid" -v ticks=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %s\n", m / (ns / 1e9), pid == "" ? "n/a" : sprintf("%.0f ms", ticks / hz * 1e6 / m) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Alternates smtp-source runs against ports $2 (named $3) and $4 (named $5), $RUNS each,
# starting with a warm-up run against each that is not counted; prints the medians and ratio.
compare() {
    local title=$1 port_a=$2 name_a=$3 port_b=$4 name_b=$5 a=() b=() i rate_a rate_b cpu_a cpu_b
    echo "## $title"
    run_source "$port_a" >/dev/null
    run_source "$port_b" >/dev/null
    for i in $(seq "$RUNS"); do
        read -r rate_a cpu_a < <(run_source "$port_a")
        read -r rate_b cpu_b < <(run_source "$port_b")
        a+=("$rate_a") b+=("$rate_b")
        echo "run $i: $name_a $rate_a/s ($cpu_a CPU per 1,000 messages), $name_b $rate_b/s ($cpu_b)"
    done
    local ma mb
    ma=$(printf '%s\n' "${a[@]}" | median)
    mb=$(printf '%s\n' "${b[@]}" | median)
    awk -v ma="$ma" -v mb="$mb" -v na="$name_a" -v nb="$name_b" \
        'BEGIN { printf "median: %s %.0f messages/s, %s %.0f messages/s: %.2fx\n\n", na, ma, nb, mb, ma / mb }'
}

# Where a transcript goes: /dev/null, or a file named $1 under $WORK (--transcript-file).
transcript() { if [ "$TRANSCRIPT_FILE" = 1 ]; then echo "$WORK/$1.out"; else echo /dev/null; fi; }

start_serve() { # port [extra args...]
    local port=$1; shift
    # shellcheck disable=SC2086 # SERVE_ARGS is a list of words
    "$SMTPSIM" serve --listen "127.0.0.1:$port" "$@" ${SERVE_ARGS:-} >"$(transcript "serve-$port")" 2>"$WORK/serve-$port.err" &
    PIDS+=($!) PORT_PID[$port]=$!
    wait_port "$port"
}

start_sink() { # port
    smtp-sink -u nobody "127.0.0.1:$1" 100 2>"$WORK/sink-$1.err" &
    PIDS+=($!) PORT_PID[$1]=$!
    wait_port "$1"
}

start_proxy() { # port; in front of the smtp-sink
    # shellcheck disable=SC2086 # PROXY_ARGS is a list of words
    "$SMTPSIM" proxy --listen "127.0.0.1:$1" --upstream "127.0.0.1:$SINK" --profile passthrough ${PROXY_ARGS:-} >"$(transcript proxy)" 2>"$WORK/proxy.err" &
    PIDS+=($!) PORT_PID[$1]=$!
    wait_port "$1"
}

# HAProxy in TCP mode, one thread, in the foreground, in front of the smtp-sink: a plain relay
# of bytes both ways with no SMTP in it, the reference for what relaying costs on the machine.
start_haproxy() { # port
    command -v haproxy >/dev/null || { echo "missing: haproxy (--haproxy)" >&2; exit 2; }
    printf '%s\n' global '    nbthread 1' '    maxconn 4000' defaults '    mode tcp' \
        '    timeout connect 5s' '    timeout client 30s' '    timeout server 30s' \
        'listen relay' "    bind 127.0.0.1:$1" "    server sink 127.0.0.1:$SINK" >"$WORK/haproxy.cfg"
    haproxy -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.err" &
    PIDS+=($!) PORT_PID[$1]=$!
    wait_port "$1"
}

# A private Postfix: its own configuration, queue and data directories under $WORK, smtpd on
# 127.0.0.1:$1 only, mail for @localhost delivered by virtual(8) into $WORK/pf-mail/Maildir/.
start_postfix() {
    local port=$1 conf=$WORK/pf-conf
    # Postfix writes its log only under its maillog_file_prefixes (/var by default).
    PF_LOG=/var/tmp/$(basename "$WORK").maillog
    mkdir -p "$conf" "$WORK/pf-queue" "$WORK/pf-data" "$WORK/pf-mail/Maildir"
    chown -R postfix "$WORK/pf-data" "$WORK/pf-mail"
    chmod 755 "$WORK"
    cat >"$conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $WORK/pf-queue
data_directory = $WORK/pf-data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localdomain
mydestination =
local_transport = error:no local delivery
virtual_mailbox_domains = localhost
virtual_mailbox_base = $WORK/pf-mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file = $PF_LOG
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
EOF
    { echo "127.0.0.1:$port inet n - n - - smtpd"; cat "$ROOT/tests/parity/postfix-services.cf"; } >"$conf/master.cf"
    POSTFIX_CONF=$conf
    postfix -c "$conf" check >"$WORK/pf-check" 2>&1 || { cat "$WORK/pf-check" >&2; exit 1; }
    postfix -c "$conf" start >"$WORK/pf-start" 2>&1 || { cat "$WORK/pf-start" >&2; exit 1; }
    wait_port "$port"
}

echo "# benches/live.sh $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores: smtp-source -s $SESSIONS -m $MESSAGES -l $LENGTH, $RUNS alternating runs a side after one warm-up each"
echo "# $("$SMTPSIM" --version 2>/dev/null || echo smtpsim) at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); transcripts to $(if [ "$TRANSCRIPT_FILE" = 1 ]; then echo a file; else echo /dev/null; fi); SERVE_ARGS='${SERVE_ARGS:-}' PROXY_ARGS='${PROXY_ARGS:-}'"
echo

SERVE=$BASE_PORT SINK=$((BASE_PORT + 1)) PROXY=$((BASE_PORT + 2)) MSERVE=$((BASE_PORT + 3)) POSTFIX=$((BASE_PORT + 4)) HAPROXY_PORT=$((BASE_PORT + 5))
start_sink "$SINK"
if [ -z "$ONLY" ] || [ "$ONLY" = serve ]; then
    start_serve "$SERVE"
    compare "serve against smtp-sink" "$SERVE" serve "$SINK" smtp-sink
fi
if [ -z "$ONLY" ] || [ "$ONLY" = proxy ]; then
    start_proxy "$PROXY"
    compare "proxy --profile passthrough in front of smtp-sink against smtp-sink alone" "$PROXY" proxy "$SINK" smtp-sink
fi
if [ "$HAPROXY" = 1 ] || [ "$ONLY" = haproxy ]; then
    [ -n "${PORT_PID[$PROXY]:-}" ] || start_proxy "$PROXY"
    start_haproxy "$HAPROXY_PORT"
    compare "proxy --profile passthrough against HAProxy (TCP mode, one thread), both in front of smtp-sink" "$PROXY" proxy "$HAPROXY_PORT" haproxy
fi
if [ "$MAILDIR" = 1 ] || [ "$ONLY" = maildir ]; then
    start_serve "$MSERVE" --maildir "$WORK/serve-maildir"
    start_postfix "$POSTFIX"
    compare "serve --maildir (fsync per message) against Postfix smtpd+cleanup (queue file fsync; virtual(8) to a Maildir)" "$MSERVE" "serve --maildir" "$POSTFIX" postfix
fi
