"""The baseline: the same network as hand-written threads joined by ``queue.SimpleQueue``.

One thread per node, one unbounded queue per receiving node, one message
per ``put``, and an end marker from each sender: what a careful programmer
would write by hand. With ``deep_copy=True`` a node with several receivers
sends each one ``copy.deepcopy(msg)``, the usual way to keep paths apart.
"""

import copy
import queue
import threading

_END = object()


def run_threads(edges, deep_copy=False):
    """Run the network given by ``edges`` (dissyslab nodes) and wait for it to finish."""
    nodes = []
    for edge in edges:
        for node in edge:
            if node not in nodes:
                nodes.append(node)
    inbox = {node: queue.SimpleQueue() for node in nodes if node.kind != "source"}
    senders = {node: sum(1 for _, dst in edges if dst is node) for node in nodes}
    receivers = {node: [inbox[dst] for src, dst in edges if src is node] for node in nodes}
    threads = []
    for node in nodes:
        args = (node.fn, receivers[node], deep_copy and len(receivers[node]) > 1)
        if node.kind == "source":
            target = _source
        else:
            target = _transform if node.kind == "transform" else _sink
            args = (inbox[node], senders[node]) + args
        threads.append(threading.Thread(target=target, args=args, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _source(fn, outs, copying):
    puts = [q.put for q in outs]
    deepcopy = copy.deepcopy
    while True:
        msg = fn()
        if msg is None:
            break
        if copying:
            for put in puts:
                put(deepcopy(msg))
        else:
            for put in puts:
                put(msg)
    for put in puts:
        put(_END)


def _transform(inbox, senders, fn, outs, copying):
    get, puts = inbox.get, [q.put for q in outs]
    deepcopy = copy.deepcopy
    while senders:
        msg = get()
        if msg is _END:
            senders -= 1
            continue
        result = fn(msg)
        if result is None:
            continue
        if copying:
            for put in puts:
                put(deepcopy(result))
        else:
            for put in puts:
                put(result)
    for put in puts:
        put(_END)


def _sink(inbox, senders, fn, outs, copying):
    get = inbox.get
    while senders:
        msg = get()
        if msg is _END:
            senders -= 1
            continue
        fn(msg)
