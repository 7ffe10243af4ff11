# Shell helpers shared by the benchmark scripts (bench/timer, bench/pop-churn, bench/compare,
# scripts/bench-acl). Source it after setting BENCH_NAME (the log prefix); it sets TMP (a temp
# dir, removed at exit unless RMQ_BENCH_KEEP=1) and PIDS (processes stopped at exit).
#
#   BENCH_NAME=bench/timer; source "$ROOT/bench/lib.sh"

TMP="$(mktemp -d -t "rmq-${BENCH_NAME//\//-}.XXXXXX")"
PIDS=()

# alive PID: running (a zombie child, dead but not yet reaped, counts as gone).
alive() {
    local state
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
    [[ -n "$state" && "$state" != Z ]]
}

# stop_pid PID: SIGTERM, up to 15 s, then SIGKILL; reaped either way.
stop_pid() {
    local pid="$1"
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ "${RMQ_BENCH_KEEP:-0}" == 1 ]]; then echo "$BENCH_NAME: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&2; }
fail() { echo "$BENCH_NAME: FAILED: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# wait_line FILE PATTERN TIMEOUT_S PID: 0 once PATTERN shows up in FILE; 1 on timeout or when PID
# is gone.
wait_line() {
    local file="$1" pattern="$2" tries=$(($3 * 100)) pid="$4"
    for ((; tries > 0; tries--)); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        alive "$pid" || return 1
        sleep 0.01
    done
    return 1
}

# free_port: a port p with p-2, p and p+1 free (the Java broker also binds its fast port p-2 and
# HA port p+1).
free_port() {
    python3 - <<'PY'
import socket
def free(p):
    if p < 1024 or p > 65535: return False
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if free(p - 2) and free(p) and free(p + 1):
        print(p); break
PY
}

JAVA_OPENS=(--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED
            --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED
            --add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED)
JAVA5_NAMESRV_JVM=(-server -Xms256m -Xmx256m -Xmn128m -XX:-OmitStackTraceInFastThrow)
JAVA5_BROKER_JVM=(-server -Xms1g -Xmx1g -Xmn512m -XX:+UseG1GC -XX:G1HeapRegionSize=16m -XX:G1ReservePercent=25
                  -XX:InitiatingHeapOccupancyPercent=30 -XX:SoftRefLRUPolicyMSPerMB=0 -XX:-OmitStackTraceInFastThrow
                  -XX:MaxDirectMemorySize=4g -XX:-UseLargePages)

# build_rmq_release: sets RMQ to a fresh release build of the rmq binary.
build_rmq_release() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    RMQ="$CARGO_TARGET_DIR/release/rmq"
    log "cargo build --release -p rmq-cli"
    cargo build --release -p rmq-cli >&2
}

# java5_classpaths: resolves the 5.x oracle's classpaths (namesrv 5.1.4, broker 5.3.1) into
# $TMP/ns5.cp and $TMP/broker5.cp.
java5_classpaths() {
    log "resolving the Java 5.x classpaths (Maven Central)"
    mvn -B -q -ntp -f "$ROOT/conformance/java/oracle5/pom.xml" -Pnamesrv dependency:build-classpath \
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$TMP/ns5.cp" >&2
    mvn -B -q -ntp -f "$ROOT/conformance/java/oracle5/pom.xml" -Pbroker dependency:build-classpath \
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$TMP/broker5.cp" >&2
}

# start_pair KIND DIR [BROKER_CONF_LINES]: a name server and a broker (KIND rmq, or java for the
# 5.x oracle) on fresh ports with a store in DIR; sets NS_PID, BROKER_PID, NS_ADDR.
start_pair() {
    local kind="$1" dir="$2" extra="${3:-}" ns_port
    mkdir -p "$dir/conf" "$dir/logs"
    ns_port="$(free_port)"
    NS_ADDR="127.0.0.1:$ns_port"
    if [[ "$kind" == rmq ]]; then
        HOME="$dir" "$RMQ" namesrv --listen-port "$ns_port" >"$dir/namesrv.out" 2>&1 &
    else
        printf 'listenPort=%s\n' "$ns_port" >"$dir/namesrv.properties"
        java "${JAVA5_NAMESRV_JVM[@]}" "${JAVA_OPENS[@]}" -Duser.home="$dir" -Drocketmq.home.dir="$dir" \
            -cp "$(cat "$TMP/ns5.cp")" org.apache.rocketmq.namesrv.NamesrvStartup -c "$dir/namesrv.properties" \
            >"$dir/namesrv.out" 2>&1 &
    fi
    NS_PID=$!
    PIDS+=("$NS_PID")
    wait_line "$dir/namesrv.out" "boot success" 60 "$NS_PID" || { tail "$dir/namesrv.out" >&2; fail "$kind name server did not boot"; }
    cat >"$dir/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerIP1=127.0.0.1
listenPort=$(free_port)
storePathRootDir=$dir/store
storePathCommitLog=$dir/store/commitlog
flushDiskType=ASYNC_FLUSH
autoCreateTopicEnable=true
EOF
    [[ -n "$extra" ]] && printf '%s\n' "$extra" >>"$dir/broker.conf"
    if [[ "$kind" == rmq ]]; then
        HOME="$dir" "$RMQ" broker -c "$dir/broker.conf" -n "$NS_ADDR" >"$dir/broker.out" 2>&1 &
    else
        java "${JAVA5_BROKER_JVM[@]}" "${JAVA_OPENS[@]}" -Duser.home="$dir" -Drocketmq.home.dir="$dir" \
            -cp "$(cat "$TMP/broker5.cp")" org.apache.rocketmq.broker.BrokerStartup -c "$dir/broker.conf" -n "$NS_ADDR" \
            >"$dir/broker.out" 2>&1 &
    fi
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    wait_line "$dir/broker.out" "boot success" 120 "$BROKER_PID" || { tail -n 30 "$dir/broker.out" >&2; fail "$kind broker did not boot"; }
}

# replace_section FILE NAME REPORT: replaces <!-- NAME:begin ... NAME:end --> in FILE with REPORT's text.
replace_section() {
    local file="$1" name="$2" report="$3"
    [[ -f "$file" ]] && grep -q "<!-- $name:begin" "$file" || fail "$file has no <!-- $name:begin --> section to replace"
    python3 - "$file" "$name" "$report" <<'PY'
import re, sys
path, name, rep = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
s = open(path).read()
s = re.sub(r"<!-- %s:begin.*?<!-- %s:end -->" % (name, name), lambda _: rep, s, flags=re.S)
open(path, "w").write(s)
PY
    log "updated the $name:begin/end section of $file"
}
