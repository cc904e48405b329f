"""Property: on any DAG, every message reaches every reachable sink once per path, in order."""

from hypothesis import HealthCheck, given, settings

from random_dags import build, check_delivery, dags


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_every_message_reaches_every_sink_once_per_path_in_order(dag):
    g, results = build(dag)
    g.run_network(timeout=20)
    check_delivery(g, dag, results)
