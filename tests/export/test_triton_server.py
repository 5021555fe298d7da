"""A real Triton Inference Server (nvidia-pytriton's binary, Python backend) on 127.0.0.1
serves the package: many sizes, packed graphs, HTTP and gRPC, malformed requests, load."""
import concurrent.futures

import numpy as np
import pytest
import torch

from cases import IN, random_graph

pytest.importorskip("pytriton")
pytest.importorskip("tritonclient.grpc")
from gnnx.serve import Client, ServeError, TritonServer, write_repository  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(sage_package, hetero_package, cpp_runner, tmp_path_factory):
    root = tmp_path_factory.mktemp("repository")
    write_repository(sage_package, str(root))
    write_repository(hetero_package, str(root), name="hetero_model")
    write_repository(sage_package, str(root), name="cpp_model", cpp_runner=cpp_runner)  # the C++ loader's route
    with TritonServer(str(root / "python")) as running:
        yield running


@pytest.fixture(params=["http", "grpc"])
def client(server, request):
    url = server.http_url if request.param == "http" else server.grpc_url
    c = Client(url, protocol=request.param)
    yield c
    c.close()


def test_repository_has_both_configs(sage_package, tmp_path):
    write_repository(sage_package, str(tmp_path))
    python_cfg = (tmp_path / "python" / "gnnx_model" / "config.pbtxt").read_text()
    aoti_cfg = (tmp_path / "torch_aoti" / "gnnx_model" / "config.pbtxt").read_text()
    assert 'backend: "python"' in python_cfg and 'platform: "torch_aoti"' in aoti_cfg
    for cfg in (python_cfg, aoti_cfg):
        assert "max_batch_size: 0" in cfg and f"dims: [ -1, {IN} ]" in cfg and "dims: [ 2, -1 ]" in cfg


@pytest.mark.parametrize("size", [(0, 0), (1, 0), (1, 2), (2, 1), (7, 20), (500, 3000), (5000, 40000)])
def test_served_equals_eager(client, sage_model, size):
    x, edge_index, _, _ = random_graph(*size, seed=size[0])
    with torch.no_grad():
        expected = sage_model(x, edge_index)
    torch.testing.assert_close(client.infer(x, edge_index), expected, rtol=1e-4, atol=1e-5)


def test_packed_graphs_split_back(client, sage_model):
    graphs = [random_graph(n, e, seed=n)[:2] for n, e in [(3, 4), (40, 100), (9, 30), (2, 1)]]
    outs = client.infer_graphs(graphs)
    assert [o.shape[0] for o in outs] == [3, 40, 9, 2]
    with torch.no_grad():
        for (x, edge_index), out in zip(graphs, outs):
            torch.testing.assert_close(out, sage_model(x, edge_index), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "x, edge_index, message",
    [
        (np.zeros((4, IN, 1), np.float32), np.zeros((2, 3), np.int64), "x"),  # wrong rank
        (np.zeros((4, IN + 1), np.float32), np.zeros((2, 3), np.int64), "x"),  # wrong feature size
        (np.zeros((4, IN), np.float32), np.array([[0, 1], [2, 9]]), "node index 9 is outside"),
        (np.zeros((4, IN), np.float32), np.array([[0, -3], [2, 1]]), "node index -3 is outside"),
        (np.zeros((4, IN), np.float32), np.zeros((2, 3), np.int32), "edge_index"),  # wrong dtype
        (np.zeros((3, IN), np.float32), np.zeros((2, 0, 1), np.int64), "edge_index"),  # wrong rank
    ],
)
def test_malformed_requests_get_errors_and_the_server_keeps_serving(client, sage_model, x, edge_index, message):
    with pytest.raises(ServeError, match=message) as error:
        client.infer(x, edge_index)
    assert error.value.is_client_error, error.value.status  # 400 / INVALID_ARGUMENT, not a server fault
    good_x, good_edges, _, _ = random_graph(6, 12)
    with torch.no_grad():
        torch.testing.assert_close(client.infer(good_x, good_edges), sage_model(good_x, good_edges),
                                   rtol=1e-4, atol=1e-5)


def test_load_2000_requests_from_8_clients(server, sage_model):
    graphs = [random_graph(20 + i % 50, 60 + i % 150, seed=i)[:2] for i in range(32)]
    with torch.no_grad():
        expected = [sage_model(x, e) for x, e in graphs]

    def worker(k):
        c = Client(server.http_url if k % 2 else server.grpc_url, protocol="http" if k % 2 else "grpc")
        wrong = 0
        for i in range(250):
            j = (k * 250 + i) % len(graphs)
            if not torch.allclose(c.infer(*graphs[j]), expected[j], rtol=1e-4, atol=1e-5):
                wrong += 1
        c.close()
        return wrong

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8), timeout=600))
    assert results == [0] * 8  # 2,000 answers, none lost (an error would have raised), all right


def _tree_rss(process) -> int:
    """Resident memory of the server and its children (the Python backend's model process)."""
    import psutil

    root = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [root] + root.children(recursive=True))


def test_soak_reports_latency_keeps_memory_flat_and_loses_no_answer(server, sage_model):
    """Concurrent clients for a fixed time (GNNX_SOAK_SECONDS, default 12) on loopback."""
    import os
    import time

    seconds = float(os.environ.get("GNNX_SOAK_SECONDS", "12"))
    graphs = [random_graph(10 + i % 90, 30 + i % 300, seed=i)[:2] for i in range(24)]
    with torch.no_grad():
        expected = [sage_model(x, e) for x, e in graphs]
    warm = Client(server.http_url)
    for x, e in graphs * 4:
        warm.infer(x, e)
    before = _tree_rss(server.process)
    deadline = time.time() + seconds

    def worker(k):
        c = Client(server.http_url if k % 2 else server.grpc_url, protocol="http" if k % 2 else "grpc", timeout=30)
        latencies, wrong, i = [], 0, k
        while time.time() < deadline:
            x, e = graphs[i % len(graphs)]
            start = time.perf_counter()
            out = c.infer(x, e)
            latencies.append(time.perf_counter() - start)
            wrong += not torch.allclose(out, expected[i % len(graphs)], rtol=1e-4, atol=1e-5)
            i += 1
        c.close()
        return latencies, wrong

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(worker, range(6), timeout=seconds + 120))
    after = _tree_rss(server.process)
    latencies = sorted(t for lat, _ in results for t in lat)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"soak: {len(latencies)} answers in {seconds:.0f} s from 6 clients, p50 {p50 * 1e3:.2f} ms, "
          f"p99 {p99 * 1e3:.2f} ms, server memory {before / 2**20:.0f} -> {after / 2**20:.0f} MiB")
    assert sum(wrong for _, wrong in results) == 0  # every answer right; a lost one would have raised
    assert after - before < max(64 * 2**20, before // 5), "server memory grew under a steady load"


def test_a_crashed_model_process_is_an_error_not_a_hang(sage_package, tmp_path):
    """SIGKILL the Python backend's model process: the next request fails with a named error
    (or Triton has restarted the model and answers it) within the client's timeout."""
    import signal
    import time

    import psutil

    write_repository(sage_package, str(tmp_path))
    with TritonServer(str(tmp_path / "python")) as running:
        client = Client(running.http_url, timeout=30)
        x, edge_index, _, _ = random_graph(12, 40)
        client.infer(x, edge_index)
        stubs = [p for p in psutil.Process(running.process.pid).children(recursive=True)
                 if "stub" in p.name() or "stub" in " ".join(p.cmdline())]
        assert stubs, "no model process found under the server"
        for stub in stubs:
            stub.send_signal(signal.SIGKILL)
        start = time.time()
        try:
            out = client.infer(x, edge_index)
            assert out.shape == (12, out.shape[1])  # restarted by Triton, and right
        except ServeError as error:
            assert str(error)  # a named failure, not silence
        assert time.time() - start < 45


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_through_the_cpp_loader(server, sage_model, protocol):
    """The route for CUDA packages where torch's Python loader crashes: the Python backend
    hands requests to a `gnnx_run --serve` child (here with a CPU package)."""
    c = Client(server.http_url if protocol == "http" else server.grpc_url, model="cpp_model", protocol=protocol)
    try:
        for size in [(1, 0), (300, 2000)]:
            x, edge_index, _, _ = random_graph(*size, seed=size[0])
            with torch.no_grad():
                expected = sage_model(x, edge_index)
            torch.testing.assert_close(c.infer(x, edge_index), expected, rtol=1e-4, atol=1e-5)
        with pytest.raises(ServeError, match="node index 12 is outside") as error:
            c.infer(torch.randn(10, IN), torch.tensor([[0, 1], [1, 12]]))
        assert error.value.is_client_error
    finally:
        c.close()


def test_heterogeneous_model_answers_a_plain_kserve_request(server, hetero_model):
    """Inputs named per type (x__paper, edge_index__author__writes__paper), over plain HTTP."""
    import json
    import urllib.request

    from cases import random_hetero_graph

    x_dict, edge_index_dict = random_hetero_graph(9, 4, 15, seed=2)
    named = {f"x__{t}": v for t, v in x_dict.items()}
    named.update({f"edge_index__{'__'.join(k)}": v for k, v in edge_index_dict.items()})
    body = {"inputs": [{"name": n, "shape": list(v.shape), "datatype": "FP32" if v.is_floating_point() else "INT64",
                        "data": v.flatten().tolist()} for n, v in named.items()]}
    request = urllib.request.Request(f"http://{server.http_url}/v2/models/hetero_model/infer",
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        outputs = {o["name"]: o for o in json.load(response)["outputs"]}
    with torch.no_grad():
        expected = hetero_model(x_dict, edge_index_dict)
    for node_type, value in expected.items():
        out = outputs[f"out__{node_type}"]
        torch.testing.assert_close(torch.tensor(out["data"]).view(out["shape"]), value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_heterogeneous_bad_inputs_name_the_type(server, hetero_model, protocol):
    from cases import random_hetero_graph

    client = Client(server.http_url if protocol == "http" else server.grpc_url, model="hetero_model",
                    protocol=protocol)
    x_dict, edge_index_dict = random_hetero_graph(9, 4, 15, seed=3)
    outs = client.infer_named(x=x_dict, edge_index=edge_index_dict)
    with torch.no_grad():
        expected = hetero_model(x_dict, edge_index_dict)
    torch.testing.assert_close(outs["out__author"], expected["author"], rtol=1e-4, atol=1e-5)
    bad = dict(edge_index_dict)
    bad[("paper", "written_by", "author")] = bad[("paper", "written_by", "author")].clone()
    bad[("paper", "written_by", "author")][1, 0] = 4
    with pytest.raises(ServeError, match="edge_index__paper__written_by__author: destination index 4") as error:
        client.infer_named(x=x_dict, edge_index=bad)
    assert error.value.is_client_error
    client.close()
