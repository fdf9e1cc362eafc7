"""benchmarks/bench_gpu.py measures the engine itself: its smoke mode on CPU, checked against the engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from fvc.train import engine
from fvc.train.oom import BatchPlan

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One CPU smoke run of every section with naive_cnn (the small model), and what the engine's loop saw."""
    bench = _bench()
    seen = []  # one entry per engine.train_epoch call: (the batches it was given, the steps it reported)
    original = engine.train_epoch

    def spy(model, batches, plan, cfg, *, on_step=None, **kwargs):
        steps = []

        def counted(step, loss, mean):
            steps.append(step)
            if on_step is not None:
                on_step(step, loss, mean)

        out = original(model, batches, plan, cfg, on_step=counted, **kwargs)
        seen.append((type(batches).__name__, len(batches), plan, steps))
        return out

    path = tmp_path_factory.mktemp("bench") / "bench_gpu.json"
    mp = pytest.MonkeyPatch()
    mp.setattr(engine, "train_epoch", spy)
    try:
        rc = bench.main(["--smoke", "--models", "naive_cnn", "--engine-model", "naive_cnn", "--oom-model", "naive_cnn",
                         "--warmup", "1", "--steps", "2", "--json", str(path)])  # fmt: skip
    finally:
        mp.undo()
    assert rc == 0
    return bench, json.loads(path.read_text()), seen


def test_the_report_has_every_section_and_no_errors(smoke):
    bench, report, _ = smoke
    assert report["errors"] == []
    assert {"run", "env", "engine", "oom", "throughput", "elapsed_s"} <= set(report)
    assert report["run"] == {"smoke": True, "warmup": 1, "steps": 2, "models": ["naive_cnn"], "argv": report["run"]["argv"]}
    assert report["env"]["device"] == "cpu" and report["env"]["engine_amp_dtype"] == "None"
    (row,) = report["throughput"]
    assert row["model"] == "naive_cnn" and set(bench.MODES) <= set(row)
    assert row["engine_epoch"]["ok"] and row["engine_epoch"]["backoffs"] == []


def test_throughput_counts_the_steps_the_engines_loop_took(smoke):
    bench, report, seen = smoke
    (row,) = report["throughput"]
    timed = [entry for entry in seen if entry[0] == "list"]  # the benchmark's batches; train() passes its loader's
    assert len(timed) == len(bench.MODES)  # one engine.train_epoch per mode
    for mode, (_, n, plan, steps) in zip(bench.MODES, timed, strict=True):
        m = row[mode]
        assert n == 3 and steps == [0, 1, 2] and plan == BatchPlan(row["batch"], 1)
        assert m["engine_steps"] == len(steps) and m["optimizer_steps"] == len(steps)  # AdamW stepped once per batch
        assert m["timed_steps"] == len(steps) - 1  # after one warm-up step
        assert m["clips_per_s"] > 0 and m["losses_finite"]
    # Ratios against the fp32 baseline of the same run.
    assert row["amp_over_fp32"] == round(row["amp"]["clips_per_s"] / row["fp32"]["clips_per_s"], 2)
    assert row["det_over_amp"] == round(row["amp_det"]["clips_per_s"] / row["amp"]["clips_per_s"], 2)
    # train() itself runs the same loop: every epoch of the sections' train() calls went through it.
    assert any(entry[0] == "tqdm" for entry in seen)


def test_the_resumed_run_ends_where_the_uninterrupted_one_does(smoke):
    _, report, _ = smoke
    out = report["engine"]
    assert out["model"] == "naive_cnn"
    for mode in ("default", "workflow_deterministic"):
        res = out[mode]
        assert res["resumed_from"] == 0 and res["epochs_A"] == res["epochs_C"] == [0, 1]
        assert res["last_weights_max_abs_diff"] == 0.0 and res["best_weights_max_abs_diff"] == 0.0
        assert set(res["history_max_abs_diff"].values()) == {0.0}
        assert res["losses_finite"] and res["best_epoch_A"] == res["best_epoch_C"]


def test_the_oom_back_off_halves_the_batch_as_fvc_train_oom_plans_it(smoke):
    _, report, _ = smoke
    oom = report["oom"]
    assert oom["requested_batch"] == 8 and oom["simulated_oom_at"] == [8, 4]  # limit 2 clips: fails at 8, then 4
    planned = [BatchPlan(8, 1), BatchPlan(8, 1).halved(), BatchPlan(8, 1).halved().halved()]
    assert oom["planned_by_oom"] == [{"batch_size": p.batch_size, "accumulate": p.accumulate} for p in planned]
    assert oom["final_plan"] == {"batch_size": 2, "accumulate": 4, "effective": 8} and oom["plan_as_oom_plans"]
    assert oom["history_plan"] == [{"batch_size": 2, "accumulate": 4}] and oom["effective_kept"]
    assert oom["backoffs"] == oom["logged_warnings"] == [
        "epoch 0: out of memory at batch size 8; retrying with 4 x 2 accumulation",
        "epoch 0: out of memory at batch size 4; retrying with 2 x 4 accumulation",
    ]
    assert oom["losses_finite"]
