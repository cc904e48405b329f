"""Where a Ray run's time goes: the CPU every process spends on the small-message pipeline.

    python benchmarks/ray_cpu.py [--reps 7] [--n 100000]

``ray_vs_threads.py`` says how long a run takes; this says why. For each
repetition it builds the small-message pipeline of ``workloads.py`` (a source,
two transforms, a sink: ``--n`` integers), runs it once with threads and once
on Ray (Ray started and the pool of node-host processes warm, as for a
student's second run), and reads from ``/proc`` the CPU time each process
spent during the run: this notebook-like process (the hub and the sink), each
node-host process, and Ray's own processes (``raylet``, ``gcs_server``...).
Medians over the repetitions are printed.

On a machine with ``c`` cores a run cannot take less wall time than its CPU
time divided by ``c``: when the processes' CPU together is more than twice the
threaded run's time on two cores, no schedule of them reaches half the
threads' speed, however the batches are routed. Linux only (``/proc``).

    python benchmarks/ray_cpu.py --calls [--reps 7]

says what one call to a node-host process costs: a transform (``triple``) is
loaded into a warm host, which is then called 200 times in a row, each call
waited for, for each kind of call (an empty one, a ``take`` of one integer, a
``take`` of a batch of 5,000 as the hub sends them), first as Ray calls, then
over the wire a run uses (``ray_wire.py``). For each, the medians over the
repetitions of the host's CPU per call, this process's CPU per call, and the
time the node's own work took inside the host (unpickling the batch and
calling the function: the report's ``elapsed``).
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has spent so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def ray_processes() -> dict[int, str]:
    """Ray's own processes and its workers on this machine, pid -> a short name."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv)
        if b"ray::" in argv[0] or b"/ray/" in text:
            found[int(entry)] = os.path.basename(argv[0].decode(errors="replace"))[:30]
    return found


def per_call(reps: int) -> None:
    """What one call to a warm node-host process costs, by kind of call and way (see the docstring)."""
    import pickle

    from ray import cloudpickle

    from dissyslab import Transform
    from dissyslab.ray_hosts import EdgeRef
    from dissyslab.ray_pool import connect, host_pool, import_paths
    from dissyslab.ray_wire import Wire
    from workloads import triple

    ray = connect()
    host = host_pool(ray).take(1)[0]
    node = Transform(fn=triple, name="triple")
    payload = cloudpickle.dumps((node, "triple", [[EdgeRef(1, "triple->next")]],
                                 [EdgeRef(0, "source->triple")], False, None))
    pid, _ = ray.get(host.actor.load.remote(import_paths(), payload))
    one, many = pickle.dumps([1]), pickle.dumps(list(range(5000)), protocol=5)
    n = 200  # (CPU comes in 10 ms ticks: 0.05 ms per call)
    print(f"one call to a warm node-host process, {n} calls in a row (each waited for), "
          f"{reps} repetitions, load average {os.getloadavg()[0]:.1f} (medians, ms per call)")
    print(f"  {'call':30} {'wall':>6} {'host CPU':>9} {'this CPU':>9} {'node work':>10}")
    ray_calls = {"Ray call: empty (pid)": lambda: ray.get(host.actor.pid.remote()),
                 "Ray call: take 1 integer": lambda: ray.get(host.actor.take.remote([(0, 0, one)])),
                 "Ray call: take 5,000 integers": lambda: ray.get(
                     host.actor.take.remote([(0, 0, many)]))}
    timed_calls(ray_calls, reps, n, pid)

    wire = Wire(ray.util.get_node_ip_address())  # as a run does (ray_engine.RayEngine.connect)
    serving = host.actor.serve.remote(wire.address, wire.secret, "triple")
    wire.accept({"triple"}, lambda: False, lambda: None)

    def over_wire(items):
        wire.call("triple", "take", items)
        while True:
            for _, report in wire.reports(1.0):
                return report[1]
    wire_calls = {"wire: take 1 integer": lambda: over_wire([(0, 0, one)]),
                  "wire: take 5,000 integers": lambda: over_wire([(0, 0, many)])}
    timed_calls(wire_calls, reps, n, pid)
    wire.close()
    ray.get(serving)
    host_pool(ray).give_back(host)


def timed_calls(calls: dict, reps: int, n: int, pid: int) -> None:
    """Time ``n`` calls in a row of each of ``calls`` (each returns its answer), ``reps`` times."""
    for name, call in calls.items():
        rows = {"wall": [], "host": [], "here": [], "work": []}
        for _ in range(reps):
            host_cpu, here, start = cpu_of(pid), time.process_time(), time.perf_counter()
            answers = [call() for _ in range(n)]
            rows["wall"].append((time.perf_counter() - start) / n)
            rows["host"].append((cpu_of(pid) - host_cpu) / n)
            rows["here"].append((time.process_time() - here) / n)
            rows["work"].append(sum(a[4] for a in answers if isinstance(a, tuple)) / n)
        med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
        print(f"  {name:30} {med['wall']:6.2f} {med['host']:9.2f} {med['here']:9.2f} "
              f"{med['work']:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--calls", action="store_true", help="what one call to a host costs")
    args = parser.parse_args()
    if args.calls:
        per_call(args.reps)
        return

    from dissyslab import network
    from workloads import pipeline

    w = pipeline(100)
    network(w.edges).run_network(engine="ray", timeout=300)  # starts Ray and the pool
    w = pipeline(args.n)
    network(w.edges).run_network(engine="ray", timeout=300)
    names = ray_processes()
    rows = {"threads: wall": [], "threads: CPU": [], "ray: wall": [], "ray: this process": [],
            "ray: node hosts": [], "ray: Ray's own": [], "ray: CPU in all": []}
    for _ in range(args.reps):
        w = pipeline(args.n)
        g = network(w.edges)
        cpu, start = time.process_time(), time.perf_counter()
        g.run_network(timeout=300)
        rows["threads: wall"].append(time.perf_counter() - start)
        rows["threads: CPU"].append(time.process_time() - cpu)
        w.check("threads")

        w = pipeline(args.n)
        g = network(w.edges)
        before = {pid: cpu_of(pid) for pid in names}
        cpu, start = time.process_time(), time.perf_counter()
        g.run_network(engine="ray", timeout=300)
        wall, here = time.perf_counter() - start, time.process_time() - cpu
        w.check("ray")
        spent = {pid: cpu_of(pid) - before[pid] for pid in names}
        hosts = sum(v for pid, v in spent.items() if names[pid].startswith("ray::"))
        own = sum(v for pid, v in spent.items() if not names[pid].startswith("ray::"))
        rows["ray: wall"].append(wall)
        rows["ray: this process"].append(here)
        rows["ray: node hosts"].append(hosts)
        rows["ray: Ray's own"].append(own)
        rows["ray: CPU in all"].append(here + hosts + own)
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"small-message pipeline, {args.n:,} integers, {args.reps} repetitions, "
          f"load average {load:.1f} on {cores} cores (medians; CPU from /proc in "
          f"{1000 / TICK:.0f} ms ticks)")
    med = {k: statistics.median(v) for k, v in rows.items()}
    for key, value in med.items():
        print(f"  {key:20} {value * 1000:7.0f} ms")
    least = med["ray: CPU in all"] / cores
    print(f"  a Ray run needs at least {least * 1000:.0f} ms of wall time on {cores} cores "
          f"(its CPU / {cores}); half the threads' speed needs at most "
          f"{2 * med['threads: wall'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
