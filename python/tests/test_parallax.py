"""Tests of the `parallax` Python package (run by python/ci.sh)."""

import json
import math
import pathlib

import pytest

import parallax

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLACE_DATA = ROOT / "crates" / "parallax-place" / "tests" / "data"

MODEL = "llama-3.1-8b"
CLUSTER = "1x2xH100"


@pytest.fixture(scope="module")
def model():
    return parallax.Model(MODEL)


@pytest.fixture(scope="module")
def workload():
    return parallax.Workload("chat", rate=4.0, requests=48)


def small_search(model, workload, **options):
    return parallax.search(model, CLUSTER, workload, slo="ttft=1s,tpot=100ms", **options)


def test_catalog_lists_embedded_data():
    c = parallax.catalog()
    assert MODEL in c["models"]
    assert "H100-SXM" in c["gpus"]
    assert "chat" in c["workloads"]


def test_loading_objects(model, workload):
    assert model.name
    assert model.params > model.active_params * 0.99 > 7e9
    cluster = parallax.Cluster("2x8xH200")
    assert (cluster.nodes, cluster.gpus_per_node, cluster.total_gpus) == (2, 8, 16)
    assert cluster.gpu == "H200"
    assert len(workload) == 48
    assert workload.rate == pytest.approx(4.0)
    reqs = json.loads(workload.requests_json())
    assert len(reqs) == 48 and reqs[0]["prompt_tokens"] > 0
    assert json.loads(model.to_json())["name"] == model.name


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: parallax.Cluster("2x0xH100"), "2x0xH100"),
        (lambda: parallax.Cluster("8xH999"), "H999"),
        (lambda: parallax.Model("no-such-model-xyz"), "no-such-model-xyz"),
        (lambda: parallax.Workload("no-such-trace.jsonl"), "no-such-trace.jsonl"),
        (lambda: parallax.Workload("chat", requests=0), "0"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_value(make, needle):
    with pytest.raises(ValueError) as e:
        make()
    assert needle in str(e.value)


def test_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="cluster"):
        parallax.search(MODEL, 8, "chat")


def test_search_ranks_plans_and_matches_simulate(model, workload):
    r = small_search(model, workload, objective="e2e-mean")
    assert r.report["objective"] == "e2e-mean"
    assert r.report["memory"] == {"setting": "gpu_memory_utilization", "fraction": 0.9}
    assert r.best is not None and r.best["meets_constraints"]
    assert len(r.ranked) >= 2
    values = [p["objective"] for p in r.ranked if p["meets_constraints"]]
    assert values == sorted(values)
    assert r.best["objective"] == pytest.approx(r.best["metrics"]["e2e_s"]["mean"])
    assert {b["name"] for b in r.baselines} == {"heuristic", "max-tp", "best-even-split"}
    # The winner simulated on its own gives the same numbers.
    s = parallax.simulate(model, CLUSTER, r.best["plan"], workload, slo="ttft=1s,tpot=100ms")
    assert s.metrics["e2e_s"] == r.best["metrics"]["e2e_s"]
    assert len(s.requests) == 48
    assert "SearchResult" in repr(r) and "SimulationResult" in repr(s)


def test_search_is_deterministic_and_takes_strings_or_objects(model, workload):
    a = small_search(model, workload, max_plans=2)
    b = parallax.search(
        MODEL, CLUSTER, "chat", rate=4.0, requests=48, slo_ttft_ms=1000.0, slo_tpot_ms=100.0,
        max_plans=2,
    )
    assert a.to_json() == b.to_json()
    assert a.report["stop_reason"] == "plan_limit"
    assert a.report["plans_simulated"] == 2


def test_throughput_objective_with_slos_and_pareto(model, workload):
    r = small_search(model, workload, objective="throughput", pareto=("throughput", "e2e-p99"))
    assert r.best["objective"] > 0
    assert r.report["unit"] == "req/s"
    assert r.pareto["points"]


def test_steady_state_stream_options(model, workload):
    r = small_search(
        model, workload, objective="goodput", max_plans=1, steady_requests=300, arrivals="trace"
    )
    assert r.report["steady_state"]["requests"] == 300
    assert r.report["steady_state"]["arrivals"] == "trace"
    assert r.best["window"]["driving_requests"] >= 300
    assert "latency_drift" in r.best["window"]
    with pytest.raises(ValueError, match="steady_requests"):
        small_search(model, workload, objective="throughput", steady_requests=9)
    with pytest.raises(ValueError, match="steady_requests"):
        small_search(
            model, workload, objective="throughput", steady_requests=parallax.MAX_STEADY_REQUESTS + 1
        )
    with pytest.raises(ValueError, match="arrivals"):
        small_search(model, workload, objective="throughput", arrivals="uniform")
    with pytest.raises(ValueError, match="arrivals"):
        small_search(model, workload, arrivals="trace")
    # too short for the SLO target to be shown: the length from which it can is named
    with pytest.raises(ValueError, match="114 requests or more"):
        small_search(model, workload, objective="throughput", steady_requests=100)


def test_search_option_errors(model, workload):
    with pytest.raises(ValueError, match="objective"):
        small_search(model, workload, objective="fastest")
    with pytest.raises(ValueError, match="SLO"):
        parallax.search(model, CLUSTER, workload, objective="goodput")
    with pytest.raises(ValueError, match="nanms"):
        parallax.search(model, CLUSTER, workload, slo="ttft=nanms")
    with pytest.raises(ValueError, match="time_limit_s"):
        small_search(model, workload, time_limit_s=-1)


def test_dataframes(model, workload):
    pd = pytest.importorskip("pandas")
    r = small_search(model, workload)
    df = r.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == len(r.ranked)
    assert "metrics.e2e_s.p99" in df.columns
    assert list(df["plan"]) == [p["plan"] for p in r.ranked]
    s = parallax.simulate(model, CLUSTER, "tp=2", workload)
    rq = s.to_dataframe()
    assert len(rq) == 48 and "prompt_tokens" in rq.columns


class PassThrough(parallax.CostModel):
    """Defines every method and returns the base model's answer."""

    base = "auto"

    def gemm(self, op, inner):
        assert op["m"] > 0 and op["weight_dtype"]
        return inner

    def prefill_attention(self, op, inner):
        assert op["chunks"] and op["heads"] > 0
        return inner

    def decode_attention(self, op, inner):
        assert op["requests"] > 0
        return inner

    def elementwise(self, op, inner):
        return inner

    def collective(self, op, inner):
        assert op["kind"] in {"all_reduce", "all_gather", "reduce_scatter", "all_to_all",
                              "send_recv"}
        return inner

    def kernel_launch_overhead(self, inner):
        return inner

    def iteration_overhead(self, inner):
        return inner

    def host_overlap_exponent(self, inner):
        return inner

    def graph_kernel_overlap(self, inner):
        return inner


class SlowCollectives(parallax.CostModel):
    name = "slow-collectives"

    def collective(self, op, inner):
        return 50.0 * inner


def ranked_metrics(r):
    return [(p["plan"], p["metrics"]) for p in r.ranked]


@pytest.mark.filterwarnings("ignore:cost_model.kernel_launch_overhead is not called")
@pytest.mark.filterwarnings("ignore:cost_model.host_overlap_exponent is not called")
def test_python_cost_model_pass_through_changes_nothing(model, workload):
    plain = small_search(model, workload)
    for cm in (PassThrough(), parallax.CostModel()):
        wrapped = small_search(model, workload, cost_model=cm)
        assert ranked_metrics(wrapped) == ranked_metrics(plain)
    assert wrapped.report["cost_model"] == "python:CostModel"


def test_python_cost_model_changes_results(model, workload):
    # The bare simulator (engine="none"): an engine model would price small all-reduces as its
    # own custom all-reduce kernel, not with the cost model's collectives.
    plain = parallax.simulate(model, CLUSTER, "tp=2", workload, engine="none")
    slow = parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=SlowCollectives(),
                             engine="none")
    assert slow.cost_model == "slow-collectives"
    comm = lambda s: s.metrics["breakdown_s"].get("communication", 0.0)  # noqa: E731
    assert comm(slow) > 10 * comm(plain) > 0
    assert slow.metrics["e2e_s"]["mean"] > plain.metrics["e2e_s"]["mean"]
    # The search then prefers replicas to tensor parallelism.
    r = small_search(model, workload, cost_model=SlowCollectives(), engine="none")
    assert r.best["plan"].startswith("dp=2")


def test_python_cost_model_errors_are_raised(model, workload):
    class Raises(parallax.CostModel):
        def gemm(self, op, inner):
            raise RuntimeError("boom from python")

    class Negative(parallax.CostModel):
        def gemm(self, op, inner):
            return -1.0

    class NotANumber(parallax.CostModel):
        def elementwise(self, op, inner):
            return "fast"

    with pytest.raises(RuntimeError, match="boom from python"):
        small_search(model, workload, cost_model=Raises())
    with pytest.raises(ValueError, match="gemm returned -1"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=Negative())
    with pytest.raises(TypeError, match="elementwise returned 'fast'"):
        parallax.predict(model, tp=1, prefill=["1x512"], cost_model=NotANumber())


def test_predict(model):
    p = parallax.predict(model, gpu="H100", tp=1, prefill=["1x1024"], decode=["8x2048"])
    assert p["iteration_ms"] > 0
    assert p["tokens"] == 1024 + 8
    assert sum(p["breakdown_ms"].values()) == pytest.approx(p["iteration_ms"], rel=1e-9)
    slower = parallax.predict(model, gpu="H100", tp=1, prefill=["1x1024"], decode=["8x2048"],
                              cost_model="roofline")
    assert slower["cost_model"].startswith("roofline")
    with pytest.raises(ValueError, match="tp = 0"):
        parallax.predict(model, tp=0, prefill=["1x8"])
    with pytest.raises(ValueError, match="1xfoo"):
        parallax.predict(model, prefill=["1xfoo"])


def test_predict_with_expert_parallelism():
    # vLLM's --enable-expert-parallel, as the CLI's predict takes it
    ep = parallax.predict("qwen3-30b-a3b", tp=8, decode=["64x1024"], enable_expert_parallel=True)
    tp = parallax.predict("qwen3-30b-a3b", tp=8, decode=["64x1024"])
    assert ep["plan"] == "dp=1,pp=1,tp=8,moe=ep8xtp1"
    assert tp["plan"] == "dp=1,pp=1,tp=8"
    comm = lambda p: p["breakdown_ms"]["communication"]
    assert comm(ep) == pytest.approx(comm(tp), rel=0.01)
    with pytest.raises(ValueError, match="no MoE layers"):
        parallax.predict("llama-3.1-8b", decode=["1x8"], enable_expert_parallel=True)


def test_predict_matches_the_cli_engine_and_precision(model):
    # The CLI's `predict` defaults: vLLM engine; the bare cost model only when asked.
    p = parallax.predict(model, decode=["32x2048"])
    assert p["engine"] == "vllm"
    assert p["precision"] == "weights bf16 (bf16 GEMMs), activations bf16, kv cache bf16"
    bare = parallax.predict(model, decode=["32x2048"], engine="none")
    assert bare["engine"] == "none"
    fp8 = parallax.predict(model, decode=["32x2048"], quantization="fp8", kv_cache_dtype="fp8")
    assert fp8["precision"] == "weights fp8 (fp8 GEMMs), activations bf16, kv cache fp8"
    assert fp8["iteration_ms"] < 0.9 * p["iteration_ms"]
    eager = parallax.predict(model, decode=["32x2048"], cuda_graphs=False)
    assert not eager["cuda_graph"] and p["cuda_graph"]
    with pytest.raises(ValueError, match="quantization: unknown quantization `fp6`"):
        parallax.predict(model, decode=["8x64"], quantization="fp6")
    with pytest.raises(ValueError, match="kv_cache_dtype: unknown KV-cache dtype `int2`"):
        parallax.predict(model, decode=["8x64"], kv_cache_dtype="int2")
    # beyond the context window, as the CLI refuses it
    with pytest.raises(ValueError, match="context window of 131072 tokens"):
        parallax.predict(model, decode=["1x200000"])


def test_simulate_and_search_take_the_precision_options(model, workload):
    sim = parallax.simulate(model, CLUSTER, "tp=2", workload, quantization="fp8",
                            kv_cache_dtype="fp8")
    assert sim.precision == "weights fp8 (fp8 GEMMs), activations bf16, kv cache fp8"
    assert sim.to_dict()["precision"] == sim.precision
    bf16 = parallax.simulate(model, CLUSTER, "tp=2", workload)
    assert sim.metrics["tpot_ms"]["mean"] < bf16.metrics["tpot_ms"]["mean"]
    with pytest.raises(ValueError, match="quantization"):
        parallax.search(model, CLUSTER, workload, quantization="fp3")


def test_place_matches_published_optimum():
    expected = json.loads((PLACE_DATA / "expected.json").read_text())["optima"]
    name = "throughput/layer_bert24_inference.json"
    r = parallax.place(PLACE_DATA / name)
    assert r["status"]["status"] == "optimal"
    assert math.isclose(r["value"], expected[name], rel_tol=1e-9)
    lat = parallax.place(PLACE_DATA / "latency" / "layer_bert24_inference.json",
                         objective="latency", subgraphs=1)
    assert lat["value"] > 0
    with pytest.raises(ValueError, match="missing.json"):
        parallax.place(PLACE_DATA / "missing.json")
    with pytest.raises(ValueError, match="objective"):
        parallax.place(PLACE_DATA / name, objective="energy")


def test_engine_default_is_vllm_and_none_is_the_bare_simulator():
    r = parallax.simulate("llama-3.1-8b", "1x1xH100", "tp=1", "chat", requests=16)
    bare = parallax.simulate("llama-3.1-8b", "1x1xH100", "tp=1", "chat", requests=16,
                             engine="none")
    assert r.engine == "vllm" and bare.engine == "none"
    assert r.metrics["tpot_ms"]["mean"] != bare.metrics["tpot_ms"]["mean"]
    sg = parallax.simulate("llama-3.1-8b", "1x1xH100", "tp=1", "chat", requests=16,
                           engine="sglang")
    assert sg.engine == "sglang"
    with pytest.raises(ValueError, match="engine"):
        parallax.simulate("llama-3.1-8b", "1x1xH100", "tp=1", "chat", requests=4,
                          engine="vllm-v9")


def test_simulate_names_the_engines_memory_rule(model, workload):
    # vLLM's utilization; SGLang's own default for the plan (TP 2 on an H100: 0.836 less
    # 128 MiB of the reserve per extra GPU); the fp8 KV cache holds twice the tokens.
    vllm = parallax.simulate(model, CLUSTER, "tp=2", workload)
    assert vllm.memory["setting"] == "gpu_memory_utilization"
    assert vllm.memory["fraction"] == 0.9
    sglang = parallax.simulate(model, CLUSTER, "tp=2", workload, engine="sglang")
    assert sglang.memory["setting"] == "mem_fraction_static"
    assert sglang.memory["fraction"] == 0.834
    assert sglang.to_dict()["memory"] == sglang.memory
    fp8 = parallax.simulate(model, CLUSTER, "tp=2", workload, kv_cache_dtype="fp8")
    assert fp8.memory["kv_tokens_per_replica"] > 1.9 * vllm.memory["kv_tokens_per_replica"]
    # vLLM's option means vLLM's rule for any engine
    mine = parallax.simulate(model, CLUSTER, "tp=2", workload, engine="sglang",
                             gpu_memory_utilization=0.8)
    assert mine.memory["setting"] == "gpu_memory_utilization"


def test_capacity_scheduler_policy(model, workload):
    trt = parallax.simulate(model, CLUSTER, "tp=2", workload, engine="trtllm")
    same = parallax.simulate(model, CLUSTER, "tp=2", workload, engine="trtllm",
                             capacity_scheduler_policy="GUARANTEED_NO_EVICT")
    assert trt.metrics == same.metrics
    parallax.simulate(model, CLUSTER, "tp=2", workload, engine="trtllm",
                      capacity_scheduler_policy="max-utilization")
    with pytest.raises(ValueError, match="capacity_scheduler_policy: unknown policy `evict`"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, capacity_scheduler_policy="evict")


def test_mtp_speculative_decoding():
    assert parallax.Model("deepseek-v3").mtp_layers == 1
    assert parallax.Model("llama-3.1-8b").mtp_layers == 0
    # DeepSeek-V3 ships one MTP module: one draft per step, 0.85 accepted by default
    kw = dict(requests=24)
    plain = parallax.simulate("deepseek-v3", "1x8xH200", "tp=8", "chat", **kw)
    mtp = parallax.simulate("deepseek-v3", "1x8xH200", "tp=8", "chat",
                            num_speculative_tokens=1, **kw)
    assert mtp.metrics["tpot_ms"]["mean"] < 0.8 * plain.metrics["tpot_ms"]["mean"]
    p = parallax.predict("deepseek-v3", gpu="H200", tp=8, decode=["16x1024"],
                         num_speculative_tokens=2, speculative_acceptance=[0.8, 0.5])
    assert p["speculation"]["tokens_per_step"] == pytest.approx(2.2)
    r = parallax.search("deepseek-v3", "1x8xH200", "chat", requests=8, max_plans=2,
                        num_speculative_tokens=1)
    assert r.best is not None
    with pytest.raises(ValueError, match="no multi-token-prediction layers"):
        parallax.simulate("llama-3.1-8b", "1x1xH100", "tp=1", "chat", requests=4,
                          num_speculative_tokens=1)
    with pytest.raises(ValueError, match="speculative_acceptance = \\[1.5\\]"):
        parallax.predict("deepseek-v3", gpu="H200", tp=8, decode=["1x128"],
                         num_speculative_tokens=1, speculative_acceptance=[1.5])
    with pytest.raises(ValueError, match="need 2 acceptance rates"):
        parallax.predict("deepseek-v3", gpu="H200", tp=8, decode=["1x128"],
                         num_speculative_tokens=2)
    with pytest.raises(ValueError, match="engine"):
        parallax.simulate("deepseek-v3", "1x8xH200", "tp=8", "chat", requests=4,
                          engine="none", num_speculative_tokens=1)
    with pytest.raises(ValueError, match="needs num_speculative_tokens"):
        parallax.simulate("deepseek-v3", "1x8xH200", "tp=8", "chat", requests=4,
                          speculative_acceptance=[0.5])


# --- Bad input: a clear exception naming the keyword, never a panic or a silent drop. ---


def test_time_limit_s_out_of_range_is_a_value_error_not_a_panic(model, workload):
    graph = PLACE_DATA / "throughput" / "layer_bert24_inference.json"
    for t in (1e20, float("inf"), float("nan"), 0.0, -1.0, parallax.MAX_DURATION_S * 2):
        with pytest.raises(ValueError, match=r"time_limit_s = .*at most 1000000"):
            small_search(model, workload, time_limit_s=t)
        with pytest.raises(ValueError, match=r"time_limit_s = .*at most 1000000"):
            parallax.place(graph, time_limit_s=t)
    assert parallax.MAX_DURATION_S == 1_000_000.0
    # the bound itself is accepted
    r = small_search(model, workload, max_plans=1, time_limit_s=parallax.MAX_DURATION_S)
    assert r.report["plans_simulated"] == 1


class OnlyOverlap:
    """Not a parallax.CostModel, but defines one of the methods: accepted."""

    def graph_kernel_overlap(self, inner):
        return inner


@pytest.mark.parametrize("bad", [5, 1.5, [], ["gemm"], {}, {"gemm": None}, b"auto", object()])
def test_cost_model_of_a_wrong_type_is_a_type_error(model, workload, bad):
    with pytest.raises(TypeError, match=r"cost_model: expected None, a string .*gemm.*"
                                        r"graph_kernel_overlap"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=bad)
    with pytest.raises(TypeError, match="cost_model"):
        parallax.predict(model, decode="1x64", cost_model=bad)


def test_cost_model_objects_and_names(model, workload):
    # a duck-typed object with one method, and a subclass overriding some, are accepted
    plain = parallax.simulate(model, CLUSTER, "tp=2", workload)
    duck = parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=OnlyOverlap())
    assert duck.cost_model == "python:OnlyOverlap"
    assert duck.metrics == plain.metrics
    assert parallax.simulate(model, CLUSTER, "tp=2", workload,
                             cost_model=SlowCollectives()).cost_model == "slow-collectives"

    class Unnamed(parallax.CostModel):
        name = ""

    class NotCallable(parallax.CostModel):
        gemm = 3.0

    class BadBase(parallax.CostModel):
        base = "fast"

    with pytest.raises(ValueError, match=r"cost_model.name = \"\": expected a non-empty"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=Unnamed())
    with pytest.raises(TypeError, match="cost_model.gemm = 3.0: expected a method"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=NotCallable())
    with pytest.raises(ValueError, match=r"cost_model.base = \"fast\""):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=BadBase())
    with pytest.raises(ValueError, match=r"cost_model = \"fastest\": expected \"auto\""):
        parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model="fastest")


@pytest.mark.parametrize("scheduler", ["orca", "static", "vllm"])
def test_chunk_size_with_a_non_chunked_scheduler_is_refused(model, workload, scheduler):
    needle = rf"chunk_size = 256: applies to the chunked-prefill schedulers .*{scheduler}"
    with pytest.raises(ValueError, match=needle):
        parallax.simulate(model, CLUSTER, "tp=2", workload, scheduler=scheduler, chunk_size=256)
    with pytest.raises(ValueError, match=needle):
        small_search(model, workload, scheduler=scheduler, chunk_size=256)
    with pytest.raises(ValueError, match=rf"search_chunk_sizes = .*{scheduler}"):
        small_search(model, workload, scheduler=scheduler, search_chunk_sizes=[256, 512])


def test_chunk_size_zero_names_chunk_size(model, workload):
    with pytest.raises(ValueError, match=r"chunk_size = 0: expected a whole number from 1"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, chunk_size=0)
    # a chunked scheduler takes it
    s = parallax.simulate(model, CLUSTER, "tp=2", workload, scheduler="sarathi", chunk_size=2048)
    assert s.metrics["requests"]["completed"] == 48
    # the simulator's own checks name the keyword too, not its `scheduler.chunk_size`
    with pytest.raises(ValueError, match=r"^chunk_size = 256: expected .*max_num_seqs"):
        parallax.simulate(model, CLUSTER, "tp=2", workload, scheduler="sarathi", chunk_size=256)


def test_place_subgraphs_apply_to_latency_only():
    graph = PLACE_DATA / "throughput" / "layer_bert24_inference.json"
    with pytest.raises(ValueError, match=r"subgraphs = 3: applies to objective=\"latency\" only"):
        parallax.place(graph, subgraphs=3)
    with pytest.raises(ValueError, match=r"subgraphs = 0: expected a whole number"):
        parallax.place(graph, objective="latency", subgraphs=0)
    with pytest.raises(ValueError, match=r"subgraphs = -1"):
        parallax.place(graph, objective="latency", subgraphs=-1)
    with pytest.raises(TypeError, match="subgraphs: expected an int"):
        parallax.place(graph, objective="latency", subgraphs=2.0)
    assert parallax.place(graph, subgraphs=1)["objective"] == "throughput"


@pytest.mark.parametrize("bad", [None, 123, 1.5, ["a.json"]])
def test_place_graph_of_a_wrong_type_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"graph: expected a path \(str or os.PathLike\), got "
                                        + type(bad).__name__):
        parallax.place(bad)


def test_place_takes_str_and_pathlike():
    name = "throughput/layer_bert24_inference.json"
    a = parallax.place(PLACE_DATA / name)
    b = parallax.place(str(PLACE_DATA / name))
    assert a["value"] == b["value"]


def test_predict_takes_one_spec_string_or_none(model):
    one = parallax.predict(model, decode="32x2048")
    listed = parallax.predict(model, decode=["32x2048"])
    assert one == listed and one["tokens"] == 32
    p = parallax.predict(model, prefill="1x512", decode=None)
    assert p == parallax.predict(model, prefill=["1x512"])
    assert parallax.predict(model, prefill=("1x512",), decode=None)["tokens"] == 512
    with pytest.raises(TypeError, match="decode: expected a batch spec string"):
        parallax.predict(model, decode=32)
    with pytest.raises(TypeError, match=r"prefill\[1\]: expected a batch spec string"):
        parallax.predict(model, prefill=["1x8", 8])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, seed=-1), "seed"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, seed=2**64), "seed"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", "chat", requests=-1), "requests"),
        (lambda m, w: parallax.search(m, CLUSTER, "chat", requests=0), "requests"),
        (lambda m, w: parallax.search(m, CLUSTER, w, requests=parallax.MAX_REQUESTS + 1),
         "requests"),
        (lambda m, w: small_search(m, w, max_plans=-1), "max_plans"),
        (lambda m, w: small_search(m, w, max_plans=0), "max_plans"),
        (lambda m, w: small_search(m, w, max_gpus=-1), "max_gpus"),
        (lambda m, w: small_search(m, w, max_gpus=2**32), "max_gpus"),
        (lambda m, w: small_search(m, w, max_pp=-1), "max_pp"),
        (lambda m, w: small_search(m, w, max_num_seqs=-1), "max_num_seqs"),
        (lambda m, w: small_search(m, w, max_num_seqs=parallax.MAX_NUM_SEQS + 1),
         "max_num_seqs"),
        (lambda m, w: small_search(m, w, max_num_batched_tokens=-1), "max_num_batched_tokens"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w,
                                        max_num_batched_tokens=parallax.MAX_BATCHED_TOKENS + 1),
         "max_num_batched_tokens"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, chunk_size=-1), "chunk_size"),
        (lambda m, w: small_search(m, w, chunk_size=parallax.MAX_BATCHED_TOKENS + 1),
         "chunk_size"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, num_speculative_tokens=-1),
         "num_speculative_tokens"),
        (lambda m, w: parallax.predict(m, decode="1x8", num_speculative_tokens=2**40),
         "num_speculative_tokens"),
        (lambda m, w: parallax.predict(m, tp=-1, decode="1x8"), "tp"),
        (lambda m, w: parallax.predict(m, tp=2**32, decode="1x8"), "tp"),
        (lambda m, w: parallax.Workload("chat", requests=-1), "requests"),
        (lambda m, w: parallax.Workload("chat", requests=2**70), "requests"),
        (lambda m, w: small_search(m, w, search_max_num_seqs=[8, 0]),
         r"search_max_num_seqs\[1\]"),
        (lambda m, w: small_search(m, w, search_max_num_seqs=[parallax.MAX_NUM_SEQS + 1]),
         r"search_max_num_seqs\[0\]"),
        (lambda m, w: small_search(m, w, search_chunk_sizes=[parallax.MAX_BATCHED_TOKENS + 1]),
         r"search_chunk_sizes\[0\]"),
    ],
)
def test_out_of_range_counts_name_the_argument(model, workload, call, name):
    with pytest.raises(ValueError, match=rf"^{name} = .*: expected a whole number from \d+ to "
                                         rf"\d+$"):
        call(model, workload)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, seed=True), "seed"),
        (lambda m, w: parallax.simulate(m, CLUSTER, "tp=2", w, max_num_seqs=8.0),
         "max_num_seqs"),
        (lambda m, w: small_search(m, w, requests=True), "requests"),
        (lambda m, w: small_search(m, w, max_plans="2"), "max_plans"),
        (lambda m, w: parallax.predict(m, tp=False, decode="1x8"), "tp"),
        (lambda m, w: parallax.Workload("chat", requests=True), "requests"),
        (lambda m, w: parallax.Workload("chat", requests=4.0), "requests"),
        (lambda m, w: small_search(m, w, search_max_num_seqs="8,16"), "search_max_num_seqs"),
        (lambda m, w: small_search(m, w, search_chunk_sizes=[256, True]),
         r"search_chunk_sizes\[1\]"),
    ],
)
def test_non_integer_counts_are_type_errors_naming_the_argument(model, workload, call, name):
    with pytest.raises(TypeError, match=rf"^{name}: expected "):
        call(model, workload)


def test_counts_within_range_and_index_types_are_accepted(model, workload):
    class Index:
        def __index__(self):
            return 2

    r = small_search(model, workload, max_plans=Index())
    assert r.report["plans_simulated"] == 2
    assert len(parallax.Workload("chat", requests=Index())) == 2
    s = parallax.simulate(model, CLUSTER, "tp=2", workload, seed=2**64 - 1)
    assert s.metrics["requests"]["completed"] == 48


def test_search_limits_match_the_cli(model, workload):
    assert parallax.MAX_LIST_VALUES == 64
    with pytest.raises(ValueError, match="search_max_num_seqs: expected at most 64 values, got 65"):
        small_search(model, workload, search_max_num_seqs=list(range(1, 66)))
    with pytest.raises(ValueError, match="search_chunk_sizes: expected at most 64 values, got 65"):
        small_search(model, workload, search_chunk_sizes=[256] * 65)
    for p in (1e300, -1.0, float("nan"), parallax.MAX_PRICE_PER_GPU_HOUR * 2):
        with pytest.raises(ValueError, match=r"price_per_gpu_hour = .*\[0, 1000000\]"):
            small_search(model, workload, price_per_gpu_hour=p)
    with pytest.raises(ValueError, match=r"pareto = \(\"e2e-mean\", \"e2e-mean\"\): expected two "
                                         r"different objectives"):
        small_search(model, workload, pareto=("e2e-mean", "e2e-mean"))
    # aliases of one objective are the same objective
    with pytest.raises(ValueError, match="two different objectives"):
        small_search(model, workload, pareto=("e2e-mean", "E2E_MEAN"))


def test_pareto_error_names_pareto(model, workload):
    with pytest.raises(ValueError) as e:
        small_search(model, workload, pareto=("e2e-mean", "nope"))
    msg = str(e.value)
    assert msg.startswith("pareto = ") and '"nope" is not an objective' in msg
    assert "objective`" not in msg and "energy" in msg


@pytest.mark.parametrize("spec, what", [
    ("/nonexistent.toml", "does not exist"),
    ("no-such-cluster.toml", "does not exist"),
    ("no/such/dir/x", "does not exist"),
    (str(ROOT / "crates"), "is a directory"),
])
def test_missing_cluster_file_says_so(spec, what):
    with pytest.raises(ValueError) as e:
        parallax.Cluster(spec)
    msg = str(e.value)
    assert spec in msg and what in msg and "NxGxGPU" in msg
    assert "gpus per node" not in msg
    with pytest.raises(ValueError, match=what):
        parallax.search(MODEL, spec, "chat")


def test_python_cost_model_graph_kernel_overlap_range(model, workload):
    class HugeOverlap(parallax.CostModel):
        def graph_kernel_overlap(self, inner):
            return 5.0

    class NegativeOverlap(parallax.CostModel):
        def graph_kernel_overlap(self, inner):
            return -1e-6

    for cm in (HugeOverlap(), NegativeOverlap()):
        with pytest.raises(ValueError, match=r"graph_kernel_overlap returned -?[\de.-]+, expected "
                                             r"a time in \[0, 1\] seconds"):
            parallax.simulate(model, CLUSTER, "tp=2", workload, cost_model=cm)
        with pytest.raises(ValueError, match="graph_kernel_overlap returned"):
            parallax.predict(model, decode="8x1024", cost_model=cm)


def test_ctrl_c_stops_a_running_search():
    # A search of a few minutes (a Python cost model on a large cluster); Ctrl-C after
    # 0.5 s must raise KeyboardInterrupt promptly instead of after the whole search.
    import _thread
    import threading
    import time

    class Slow(parallax.CostModel):
        def gemm(self, op, inner):
            time.sleep(0.001)
            return inner

        def decode_attention(self, op, inner):
            time.sleep(0.001)
            return inner

    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            parallax.search(
                "llama-3.1-70b", "4x8xH100", "chat", cost_model=Slow(), time_limit_s=600
            )
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30


def test_heterogeneous_clusters_get_a_cost_model_per_kind(workload):
    c = parallax.Cluster("1x2xH100+1x2xA100")
    assert c.groups == [(1, 2, "H100-SXM"), (1, 2, "A100-80GB-SXM")]
    assert c.total_gpus == 4
    s = parallax.simulate(MODEL, c, "tp=2", workload, requests=8)
    assert s.metrics["requests"]["completed"] == 8
    r = parallax.search(MODEL, c, workload, requests=8, max_plans=20)
    assert r.best is not None
    for bad in ("roofline", parallax.CostModel()):
        with pytest.raises(ValueError, match=r"heterogeneous cluster .*None or \"auto\""):
            parallax.simulate(MODEL, c, "tp=2", workload, requests=8, cost_model=bad)


def test_a_searched_disaggregated_deployment_simulates(workload):
    r = parallax.search(MODEL, "1x4xH100", workload, requests=16)
    ranked = r.report["disaggregation"]["ranked"]
    assert ranked
    plan = ranked[0]["plan"]
    s = parallax.simulate(MODEL, "1x4xH100", plan, workload, requests=16)
    assert s.plan == plan and s.memory is None
    assert s.metrics["e2e_s"]["mean"] == pytest.approx(ranked[0]["metrics"]["e2e_s"]["mean"])
    assert json.loads(s.to_json())["plan"] == plan


def test_options_are_checked_as_the_cli_checks_flags(model, workload):
    # one value or a list to search over, not both
    with pytest.raises(ValueError, match="max_num_seqs and search_max_num_seqs"):
        small_search(model, workload, max_num_seqs=8, search_max_num_seqs=[16, 32])
    with pytest.raises(ValueError, match="chunk_size and search_chunk_sizes"):
        small_search(model, workload, scheduler="sarathi", chunk_size=2048,
                     search_chunk_sizes=[1024])
    # SLOs in the CLI's duration range, and an SLO text that sets something
    sim = lambda **k: parallax.simulate(model, CLUSTER, "tp=2", workload, requests=4, **k)
    for k in ({"slo_ttft_ms": 1e12}, {"slo_tpot_ms": 1e-9}, {"slo": "ttft=1e12s"}, {"slo": ","}):
        with pytest.raises(ValueError):
            sim(**k)
    # a bool is no number
    for k in ({"rate": True}, {"gpu_memory_utilization": True}, {"slo_ttft_ms": True}):
        with pytest.raises(TypeError, match="expected a number, got bool"):
            sim(**k)
    with pytest.raises(TypeError, match="rate: expected a number, got bool"):
        parallax.Workload("chat", rate=True)
    with pytest.raises(ValueError, match="an int of 401 digits"):
        sim(rate=10**400)
    with pytest.raises(ValueError, match="an int of 401 digits"):
        parallax.Workload("chat", rate=10**400)
    # None means the default, whatever the option
    a = sim(seed=None, engine=None, kv_cache_dtype=None)
    b = sim()
    assert a.metrics == b.metrics
    # an unknown keyword names the function called
    with pytest.raises(TypeError, match=r"search\(\) got an unexpected keyword argument 'top'"):
        small_search(model, workload, top=3)
    with pytest.raises(ValueError, match=r"engine = \"bogus\""):
        sim(engine="bogus")
    with pytest.raises(ValueError, match="prefill/decode") as e:
        parallax.predict(MODEL, prefill=None, decode=None)
    assert "--" not in str(e.value)


def test_paths_are_accepted_where_text_is():
    config = ROOT / "crates" / "parallax-ir" / "data" / "models"
    configs = sorted(config.glob("*.json")) if config.is_dir() else []
    if configs:
        assert parallax.Model(configs[0]).name
    with pytest.raises(ValueError, match="does not exist"):
        parallax.Cluster(pathlib.Path("/nonexistent/cluster.toml"))
    with pytest.raises(TypeError, match="os.PathLike"):
        parallax.Model(3)


def test_engine_models_warn_of_host_methods_they_would_not_call(workload):
    class Launch(parallax.CostModel):
        def kernel_launch_overhead(self, inner):
            return 1e-3

    sim = lambda **k: parallax.simulate(MODEL, CLUSTER, "tp=2", workload, requests=4,
                                        cost_model=Launch(), **k)
    with pytest.warns(UserWarning, match=r"kernel_launch_overhead is not called under engine"):
        sim()
    slow = sim(engine="vllm-v0")
    fast = parallax.simulate(MODEL, CLUSTER, "tp=2", workload, requests=4, engine="vllm-v0")
    assert slow.metrics["e2e_s"]["mean"] > fast.metrics["e2e_s"]["mean"]

    class Truthy(parallax.CostModel):
        def gemm(self, op, inner):
            return True

    with pytest.raises(TypeError, match="returned True, expected a float"):
        parallax.simulate(MODEL, CLUSTER, "tp=2", workload, requests=4, cost_model=Truthy())


def test_simulate_stops_at_its_time_limit():
    big = "synthetic:requests=200000,rate=2000,prompt=fixed(100),output=fixed(100)"
    with pytest.raises(TimeoutError, match="time_limit_s = 0.05"):
        parallax.simulate(MODEL, "1x8xH100", "dp=8", big, time_limit_s=0.05)
    with pytest.raises(ValueError, match="time_limit_s"):
        parallax.simulate(MODEL, CLUSTER, "tp=2", "chat", requests=4, time_limit_s=0)
    # a run that finishes first is the run without a limit
    a = parallax.simulate(MODEL, CLUSTER, "tp=2", "chat", requests=8, time_limit_s=600)
    b = parallax.simulate(MODEL, CLUSTER, "tp=2", "chat", requests=8)
    assert a.metrics == b.metrics


def test_prefix_caching_is_an_option():
    conv = "synthetic:requests=64,rate=8,prompt=fixed(1024),output=fixed(32),prefix=shared(768)"
    off = parallax.simulate(MODEL, CLUSTER, "dp=2", conv)
    on = parallax.simulate(MODEL, CLUSTER, "dp=2", conv, prefix_caching=True,
                           router="prefix-affinity")
    assert on.metrics["ttft_ms"]["mean"] < off.metrics["ttft_ms"]["mean"]
    with pytest.raises(ValueError, match="prefix_caching on"):
        parallax.simulate(MODEL, CLUSTER, "dp=2", conv, router="prefix-affinity")
    with pytest.raises(TypeError):
        parallax.simulate(MODEL, CLUSTER, "dp=2", conv, prefix_caching="yes")
    r = parallax.search(MODEL, CLUSTER, conv, prefix_caching=True, max_plans=10)
    assert r.best is not None


def test_objects_and_results_pickle(model, workload, tmp_path):
    """Models, clusters, workloads and results survive pickling (multiprocessing pools send
    them to worker processes): the copy simulates byte-identically, and needs no file."""
    import pickle

    toml = tmp_path / "c.toml"
    toml.write_text(
        'nodes = 1\ngpus_per_node = 2\ngpu = "H100"\nprice_per_hour = 3.25\n'
        "[intra_node]\nbandwidth_gbytes_per_s = 300\n"
    )
    cluster = parallax.Cluster(str(toml))
    copies = [pickle.loads(pickle.dumps(x)) for x in (model, cluster, workload)]
    toml.unlink()
    m2, c2, w2 = copies
    assert type(m2) is parallax.Model and m2.to_json() == model.to_json()
    assert (c2.spec, c2.groups) == (cluster.spec, cluster.groups)
    assert w2.requests_json() == workload.requests_json() and len(w2) == len(workload)
    a = parallax.simulate(model, cluster, "tp=2", workload)
    b = parallax.simulate(m2, c2, "tp=2", w2)
    assert a.to_json() == b.to_json()
    r = pickle.loads(pickle.dumps(a))
    assert r.to_json() == a.to_json()
    s = small_search(model, workload)
    assert pickle.loads(pickle.dumps(s)).to_json() == s.to_json()
    with pytest.raises(ValueError, match="cannot unpickle a parallax Model"):
        parallax.Model._from_json("{}")
    # a state that is not a valid object is refused as loading refuses it, not simulated
    bad = json.loads(w2.requests_json())
    bad[0]["prompt_tokens"] = 0
    state = json.dumps({"name": "x", "requests": bad, "notes": []})
    with pytest.raises(ValueError, match="cannot unpickle a parallax Workload.*prompt_tokens"):
        parallax.Workload._from_json(state)
    late = json.loads(w2.requests_json())
    late[0]["arrival_s"], late[1]["arrival_s"] = late[1]["arrival_s"] + 1.0, late[0]["arrival_s"]
    with pytest.raises(ValueError, match="arrival order"):
        parallax.Workload._from_json(json.dumps({"name": "x", "requests": late, "notes": []}))
    cstate = json.loads(cluster.__reduce__()[1][0])
    cstate["nodes"] = 0
    with pytest.raises(ValueError, match="cannot unpickle a parallax Cluster"):
        parallax.Cluster._from_json(json.dumps(cstate))


def test_predict_spans_nodes_as_the_cli():
    """A TP group wider than an HGX node spans nodes of 8, as the CLI's predict prices it."""
    wide = parallax.predict("llama-3.1-70b", gpu="H100", tp=16, decode=["8x1000"])
    assert wide["cluster"] == "2x8xH100-SXM"
    assert parallax.predict("llama-3.1-70b", gpu="H100", tp=8, decode=["8x1000"])[
        "cluster"
    ] == "1x8xH100-SXM"
