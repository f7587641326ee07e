#!/usr/bin/env python3
"""A real Apache Kafka cluster on loopback, for Nexum's tests and benchmarks.

    kafka_cluster.py start  [--dir DIR] [--brokers N] [--owner-pid PID] [--timeout S]
    kafka_cluster.py stop   [--dir DIR]
    kafka_cluster.py status [--dir DIR] [--bootstrap]
    kafka_cluster.py kill-broker  ID [--dir DIR]      # kill -9 one broker
    kafka_cluster.py stop-broker  ID [--dir DIR]      # controlled shutdown: its leaderships move first
    kafka_cluster.py start-broker ID [--dir DIR]      # start it again (same ports, same data)
    kafka_cluster.py fetch                            # only fetch the broker's jars

Layout: one KRaft controller (process.roles=controller) and N brokers
(process.roles=broker, ids 1..N), each its own JVM. The controller quorum
lives on its own node so that a test can take two of three brokers down and
see NOT_ENOUGH_REPLICAS from the one left (with a combined 3-node quorum,
two nodes down would also lose the quorum, and the survivor could no longer
shrink its ISR). Tests never kill the controller.

Topics default to replication factor min(3, N) and min.insync.replicas
min(2, N), and so do the internal offsets and transaction topics. `start`
returns once a produce with acks=all succeeds, and prints the bootstrap list.

The broker's jars come from Maven by package name (tests/kafka/pom.xml) into
a cache outside the repository ($NEXUM_CACHE or ~/.cache/nexum), so a
second run does not touch the network. Only the Python standard library and
kcat are used here.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
POM = os.path.join(HERE, "pom.xml")
CONTROLLER_ID = 1000
STATE_FILE = "cluster.json"


def die(message):
    print(f"kafka_cluster: {message}", file=sys.stderr)
    sys.exit(1)


def kafka_version():
    with open(POM, encoding="utf-8") as f:
        m = re.search(r"<kafka.version>([^<]+)</kafka.version>", f.read())
    if not m:
        die(f"{POM} has no <kafka.version>")
    return m.group(1)


def cache_root():
    root = os.environ.get("NEXUM_CACHE")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "nexum")
    return root


def default_dir():
    return os.environ.get("NEXUM_KAFKA_DIR") or os.path.join(tempfile.gettempdir(), f"nexum-kafka-{os.getuid()}")


def fetch_libs():
    """Returns the directory holding the broker's jars, fetching them once."""
    version = kafka_version()
    home = os.path.join(cache_root(), f"kafka-{version}")
    libs = os.path.join(home, "libs")
    marker = os.path.join(home, ".complete")
    if os.path.exists(marker):
        return libs
    if shutil.which("mvn") is None:
        die("mvn not found (./dev setup installs maven)")
    os.makedirs(home, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="libs.", dir=home)
    print(f"kafka_cluster: fetching Apache Kafka {version} with Maven into {home}", file=sys.stderr)
    cmd = ["mvn", "-B", "-q", "-f", POM, "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={staging}"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        die(f"Maven could not fetch the broker ({' '.join(cmd)}):\n{result.stdout[-4000:]}")
    if os.path.isdir(libs):
        shutil.rmtree(libs)
    os.rename(staging, libs)
    with open(marker, "w", encoding="utf-8") as f:
        f.write(version + "\n")
    return libs


def free_ports(count):
    """Ports the kernel hands out for bind(0); all held open until chosen so they differ."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def jvm_options():
    # Small heap so four JVMs fit beside the tests; SerialGC and C1 only start
    # fastest on two cores. NEXUM_KAFKA_JVM_OPTS replaces all of it (the
    # benchmarks use the full JIT).
    extra = os.environ.get("NEXUM_KAFKA_JVM_OPTS")
    if extra is not None:
        return extra.split()
    return ["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"]


LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""


def node_dir(state, node_id):
    return os.path.join(state["dir"], f"node-{node_id}")


def write_node_config(state, node_id):
    nd = node_dir(state, node_id)
    os.makedirs(os.path.join(nd, "data"), exist_ok=True)
    os.makedirs(os.path.join(nd, "logs"), exist_ok=True)
    n = len(state["brokers"])
    rf = min(3, n)
    min_isr = min(2, n)
    controller = state["controller"]
    props = {
        "node.id": node_id,
        "controller.quorum.voters": f"{CONTROLLER_ID}@127.0.0.1:{controller['port']}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": os.path.join(nd, "data"),
        "num.network.threads": 2,
        "num.io.threads": 4,
        "background.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        # The controller notices a dead broker after broker.session.timeout.ms
        # and moves its leaderships; the defaults (9 s) would make every
        # failover test wait that long.
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 3000,
        # With eligible leader replicas (on by default since Kafka 4.1) the
        # controller publishes its own min.insync.replicas as the cluster's
        # default, overriding the brokers': so every node gets the topic defaults.
        "num.partitions": 1,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
    }
    if node_id == CONTROLLER_ID:
        props.update({
            "process.roles": "controller",
            "listeners": f"CONTROLLER://127.0.0.1:{controller['port']}",
        })
    else:
        port = state["brokers"][str(node_id)]["port"]
        props.update({
            "process.roles": "broker",
            "listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": 10,
            "unclean.leader.election.enable": "false",
            # Consumer groups form at once instead of after 3 s, and tests may
            # use session timeouts below the default 6 s floor.
            "group.initial.rebalance.delay.ms": 0,
            "group.min.session.timeout.ms": 1000,
            # A follower that stops fetching leaves the ISR after this.
            "replica.lag.time.max.ms": 10000,
            "replica.socket.timeout.ms": 10000,
            "log.segment.bytes": 64 * 1024 * 1024,
        })
    path = os.path.join(nd, "server.properties")
    with open(path, "w", encoding="utf-8") as f:
        for k, v in props.items():
            f.write(f"{k}={v}\n")
    with open(os.path.join(nd, "log4j2.properties"), "w", encoding="utf-8") as f:
        f.write(LOG4J2)
    return path


def java_cmd(state, node_id, main, args):
    nd = node_dir(state, node_id)
    return (["java"] + jvm_options() +
            ["-Djava.awt.headless=true",
             f"-Dkafka.logs.dir={os.path.join(nd, 'logs')}",
             f"-Dlog4j2.configurationFile={os.path.join(nd, 'log4j2.properties')}",
             "-cp", os.path.join(state["libs"], "*"), main] + args)


def format_nodes(state, node_ids):
    procs = []
    for node_id in node_ids:
        config = write_node_config(state, node_id)
        out = open(os.path.join(node_dir(state, node_id), "format.log"), "w", encoding="utf-8")
        procs.append((node_id, out, subprocess.Popen(
            java_cmd(state, node_id, "kafka.tools.StorageTool",
                     ["format", "-t", state["cluster_id"], "-c", config, "--ignore-formatted"]),
            stdout=out, stderr=subprocess.STDOUT)))
    for node_id, out, p in procs:
        rc = p.wait()
        out.close()
        if rc != 0:
            return f"formatting node {node_id}'s storage failed (exit {rc}):\n" + tail(
                os.path.join(node_dir(state, node_id), "format.log"))
    return None


def launch(state, node_id):
    nd = node_dir(state, node_id)
    out = open(os.path.join(nd, "logs", "stdout.log"), "ab")
    p = subprocess.Popen(java_cmd(state, node_id, "kafka.Kafka", [os.path.join(nd, "server.properties")]),
                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, cwd=nd)
    out.close()
    entry = state["controller"] if node_id == CONTROLLER_ID else state["brokers"][str(node_id)]
    entry["pid"] = p.pid
    save_state(state)
    return p.pid


def tail(path, lines=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})\n"


def node_logs_tail(state, node_id):
    nd = node_dir(state, node_id)
    text = ""
    for name in ("logs/server.log", "logs/stdout.log"):
        path = os.path.join(nd, name)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            text += f"--- last lines of {path}\n" + tail(path)
    return text or f"(node {node_id} wrote no log in {nd})\n"


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child not yet reaped) is dead too.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def save_state(state):
    path = os.path.join(state["dir"], STATE_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, path)


def load_state(directory):
    path = os.path.join(directory, STATE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def bootstrap(state):
    return ",".join(f"127.0.0.1:{b['port']}" for _, b in sorted(state["brokers"].items(), key=lambda kv: int(kv[0])))


def kcat(args, timeout=20):
    try:
        return subprocess.run(["kcat"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, 124, e.stdout or "", (e.stderr or "") + "\n(timed out)")


def registered_brokers(state):
    r = kcat(["-b", bootstrap(state), "-L", "-J", "-m", "5"], timeout=15)
    if r.returncode != 0:
        return set()
    try:
        return {b["id"] for b in json.loads(r.stdout).get("brokers", [])}
    except (ValueError, KeyError):
        return set()


def first_dead(state, node_ids):
    for node_id in node_ids:
        entry = state["controller"] if node_id == CONTROLLER_ID else state["brokers"][str(node_id)]
        if not alive(entry.get("pid")):
            return node_id
    return None


def wait_ready(state, timeout):
    """Until every broker is registered and an acks=all produce to an
    RF=min(3,N), min.insync.replicas=min(2,N) topic succeeds."""
    deadline = time.monotonic() + timeout
    all_nodes = [CONTROLLER_ID] + [int(i) for i in state["brokers"]]
    want = {int(i) for i in state["brokers"]}
    last = ""
    while time.monotonic() < deadline:
        dead = first_dead(state, all_nodes)
        if dead is not None:
            return f"node {dead} exited during startup\n" + node_logs_tail(state, dead)
        if registered_brokers(state) >= want:
            # Auto-created with the brokers' default replication factor and
            # min.insync.replicas; librdkafka's default acks is all (-1).
            try:
                r = subprocess.run(
                    ["kcat", "-b", bootstrap(state), "-P", "-t", "nexum.cluster.ready", "-p", "0",
                     "-X", "acks=all", "-X", "message.timeout.ms=10000"],
                    input=f"ready {time.time()}\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    timeout=30)
            except subprocess.TimeoutExpired:
                r = subprocess.CompletedProcess([], 124, "", "kcat produce timed out")
            if r.returncode == 0 and "ERROR" not in r.stderr:
                return None
            last = r.stderr.strip()
        time.sleep(0.5)
    return (f"the cluster did not accept an acks=all produce within {timeout:.0f} s"
            + (f" (last kcat error: {last})" if last else "") + "\n"
            + "".join(node_logs_tail(state, n) for n in all_nodes))


def cmd_start(args):
    directory = os.path.abspath(args.dir)
    existing = load_state(directory)
    if existing is not None:
        if all(alive(e.get("pid")) for e in [existing["controller"]] + list(existing["brokers"].values())):
            print(bootstrap(existing))
            return
        stop_cluster(existing, quiet=True)
    if shutil.which("kcat") is None:
        die("kcat not found (./dev setup installs it)")
    if shutil.which("java") is None:
        die("java not found (./dev setup installs openjdk-17-jre-headless)")
    libs = fetch_libs()
    # Ports are free when chosen but not held: another process may take one
    # before the JVM binds it. That failure alone is retried, with new ports.
    for attempt in (1, 2):
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.makedirs(directory)
        ports = free_ports(args.brokers + 1)
        state = {
            "dir": directory,
            "libs": libs,
            "version": kafka_version(),
            "cluster_id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "controller": {"port": ports[0], "pid": None},
            "brokers": {str(i): {"port": ports[i], "pid": None} for i in range(1, args.brokers + 1)},
        }
        save_state(state)
        started = time.monotonic()
        error = format_nodes(state, [CONTROLLER_ID] + list(range(1, args.brokers + 1)))
        if error is None:
            launch(state, CONTROLLER_ID)
            for i in range(1, args.brokers + 1):
                launch(state, i)
            error = wait_ready(state, args.timeout)
        if error is None:
            break
        stop_cluster(state, quiet=True, keep=True)
        if attempt == 1 and "Address already in use" in error:
            print("kafka_cluster: a port was taken before its broker bound it; retrying with new ports",
                  file=sys.stderr)
            continue
        die(f"cluster in {directory} did not start: {error}(scratch data kept in {directory})")
    if args.owner_pid:
        start_watchdog(directory, args.owner_pid)
    print(f"kafka_cluster: {args.brokers} broker(s) + 1 controller, Kafka {state['version']}, ready in "
          f"{time.monotonic() - started:.1f} s; data in {directory}", file=sys.stderr)
    print(bootstrap(state))


def start_watchdog(directory, owner_pid):
    """A detached process that stops the cluster once `owner_pid` is gone, so a
    test run killed before its cleanup leaves no brokers behind."""
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", "--dir", directory,
                      "--owner-pid", str(owner_pid)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def cmd_watch(args):
    directory = os.path.abspath(args.dir)
    while alive(args.owner_pid):
        time.sleep(1)
        if load_state(directory) is None:
            return
    state = load_state(directory)
    if state is not None:
        stop_cluster(state, quiet=True)


def stop_cluster(state, quiet=False, keep=False):
    entries = list(state["brokers"].values()) + [state["controller"]]
    pids = [e["pid"] for e in entries if alive(e.get("pid"))]
    # Scratch data goes away with the cluster, so no controlled shutdown is
    # owed to anyone: SIGTERM, a short grace, then SIGKILL.
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if not keep:
        shutil.rmtree(state["dir"], ignore_errors=True)
    if not quiet:
        print(f"kafka_cluster: stopped {len(pids)} process(es), removed {state['dir']}", file=sys.stderr)


def cmd_stop(args):
    state = load_state(os.path.abspath(args.dir))
    if state is None:
        print(f"kafka_cluster: no cluster in {os.path.abspath(args.dir)}", file=sys.stderr)
        return
    stop_cluster(state)


def cmd_status(args):
    directory = os.path.abspath(args.dir)
    state = load_state(directory)
    if state is None:
        die(f"no cluster in {directory} (start one with ./dev kafka start)")
    nodes = [("controller", CONTROLLER_ID, state["controller"])] + [
        (f"broker {i}", int(i), b) for i, b in sorted(state["brokers"].items(), key=lambda kv: int(kv[0]))]
    up = {n: alive(e.get("pid")) for _, n, e in nodes}
    if args.bootstrap:
        if not any(up[int(i)] for i in state["brokers"]):
            die(f"no broker of the cluster in {directory} is running")
        print(bootstrap(state))
        return
    print(f"Kafka {state['version']} cluster in {directory}, bootstrap {bootstrap(state)}")
    for name, n, e in nodes:
        print(f"  {name:<11} port {e['port']:<6} pid {e.get('pid')}  {'up' if up[n] else 'DOWN'}")
    if not all(up.values()):
        sys.exit(3)


def broker_entry(state, broker):
    entry = state["brokers"].get(str(broker))
    if entry is None:
        die(f"no broker {broker} (brokers are {', '.join(sorted(state['brokers']))})")
    return entry


def signal_broker(args, sig, timeout, what):
    """Sends `sig` to a running broker and waits up to `timeout` s for it to exit."""
    state = load_state(os.path.abspath(args.dir)) or die(f"no cluster in {args.dir}")
    pid = broker_entry(state, args.broker).get("pid")
    if not alive(pid):
        die(f"broker {args.broker} is not running")
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        die(f"broker {args.broker} (pid {pid}) {what} within {timeout:.0f} s")


def cmd_kill_broker(args):
    signal_broker(args, signal.SIGKILL, 10, "survived SIGKILL")


def cmd_stop_broker(args):
    """SIGTERM: a controlled shutdown. The broker asks the controller to move
    every leadership it holds to an in-sync follower before it exits, so its
    partitions change leader without a session timeout (a rolling restart's
    step, the "leader moved" of the tests)."""
    signal_broker(args, signal.SIGTERM, args.timeout, "did not finish its controlled shutdown")


def cmd_start_broker(args):
    state = load_state(os.path.abspath(args.dir)) or die(f"no cluster in {args.dir}")
    entry = broker_entry(state, args.broker)
    if alive(entry.get("pid")):
        die(f"broker {args.broker} is already running (pid {entry['pid']})")
    # The controller still lists a killed broker until its session times out,
    # so registration alone says nothing: wait for this incarnation's own
    # "Kafka Server started" in its log.
    log = os.path.join(node_dir(state, args.broker), "logs", "server.log")
    seen = os.path.getsize(log) if os.path.exists(log) else 0
    launch(state, args.broker)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not alive(state["brokers"][str(args.broker)]["pid"]):
            die(f"broker {args.broker} exited while restarting\n" + node_logs_tail(state, args.broker))
        started = False
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                f.seek(seen if os.path.getsize(log) >= seen else 0)
                started = "Kafka Server started" in f.read()
        if started and args.broker in registered_brokers(state):
            return
        time.sleep(0.3)
    die(f"broker {args.broker} did not register within {args.timeout:.0f} s\n" + node_logs_tail(state, args.broker))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_dir(p):
        p.add_argument("--dir", default=default_dir(),
                       help="the cluster's scratch and control directory (default $NEXUM_KAFKA_DIR or "
                            "/tmp/nexum-kafka-UID)")
        return p

    p = with_dir(sub.add_parser("start"))
    p.add_argument("--brokers", type=int, default=3)
    p.add_argument("--owner-pid", type=int, default=0, help="stop the cluster when this process exits")
    p.add_argument("--timeout", type=float, default=180)
    p.set_defaults(func=cmd_start)
    with_dir(sub.add_parser("stop")).set_defaults(func=cmd_stop)
    p = with_dir(sub.add_parser("status"))
    p.add_argument("--bootstrap", action="store_true", help="print only the bootstrap list")
    p.set_defaults(func=cmd_status)
    p = with_dir(sub.add_parser("kill-broker"))
    p.add_argument("broker", type=int)
    p.set_defaults(func=cmd_kill_broker)
    p = with_dir(sub.add_parser("stop-broker"))
    p.add_argument("broker", type=int)
    p.add_argument("--timeout", type=float, default=90)
    p.set_defaults(func=cmd_stop_broker)
    p = with_dir(sub.add_parser("start-broker"))
    p.add_argument("broker", type=int)
    p.add_argument("--timeout", type=float, default=90)
    p.set_defaults(func=cmd_start_broker)
    p = with_dir(sub.add_parser("watch"))
    p.add_argument("--owner-pid", type=int, required=True)
    p.set_defaults(func=cmd_watch)
    sub.add_parser("fetch").set_defaults(func=lambda a: print(fetch_libs()))
    args = parser.parse_args()
    if getattr(args, "brokers", 1) < 1:
        die("--brokers must be at least 1")
    args.func(args)


if __name__ == "__main__":
    main()
