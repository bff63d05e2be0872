"""lrem.train from Python: a short pretraining run then stage 1, with progress callbacks,
keyword options merged over a config file, and errors that name the field."""

import json

import pytest

import lrem
import lrem.train

OBJECTS = ["shoe", "hat", "cup", "lamp"]
NEEDS = ["walk outside", "cover my head", "drink tea", "light the room"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    corpus = d / "corpus.txt"
    corpus.write_text(
        "\n".join(f"to {n} you use a {o}. the red {o} is here." for _ in range(20) for o, n in zip(OBJECTS, NEEDS))
        + "\n"
    )
    triplets = d / "triplets.jsonl"
    triplets.write_text(
        "".join(json.dumps({"query": f"i want to {n}", "cot": o, "item": f"red {o}"}) + "\n" for o, n in zip(OBJECTS, NEEDS))
    )
    return d, corpus, triplets


def tiny_model():
    return {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 64}


def test_pretrain_then_sft(toy):
    d, corpus, triplets = toy
    reports = []
    result = lrem.train.pretrain(corpus=str(corpus), output_dir=str(d / "base"), vocab_size=300, seq_len=32,
                                 batch_size=4, max_steps=8, lr=3e-3, log_every=1, num_threads=1, quiet=True,
                                 model=tiny_model(), progress=reports.append)
    assert result["steps"] == 8
    assert [r["step"] for r in reports] == list(range(1, 9))
    assert reports[-1]["metrics"]["loss"] < reports[0]["metrics"]["loss"]
    model = lrem.Model.load(result["output_dir"])
    assert model.config.hidden_size == 32

    # Continued pretraining starts from the model's loss and keeps its tokenizer (here with
    # bfloat16 products, which the toy's losses do not tell from float32's).
    more = []
    lrem.train.pretrain(corpus=corpus, output_dir=d / "more", init_model=d / "base", seq_len=32, batch_size=4,
                        max_steps=2, lr=3e-3, log_every=1, num_threads=1, quiet=True, progress=more.append,
                        precision="bfloat16")
    assert more[0]["metrics"]["loss"] < 0.5 * (reports[0]["metrics"]["loss"] + reports[-1]["metrics"]["loss"])
    assert lrem.Model.load(str(d / "more")).tokenizer.vocab_size == model.tokenizer.vocab_size
    with pytest.raises(lrem.InvalidArgument, match="field 'precision' must be float32 or bfloat16"):
        lrem.train.pretrain(corpus=str(corpus), output_dir=str(d / "half"), init_model=str(d / "base"),
                            precision="float16")
    with pytest.raises(lrem.InvalidArgument, match="init_model"):
        lrem.train.pretrain(corpus=str(corpus), output_dir=str(d / "both"), init_model=str(d / "base"), vocab_size=300)

    config = d / "stage1.json"
    config.write_text(json.dumps({"model": str(d / "base"), "data": str(triplets), "batch_size": 4,
                                  "max_steps": 100, "quiet": True, "num_threads": 1}))
    out = lrem.train.sft(str(config), output_dir=str(d / "stage1"), max_steps=3)  # keywords win
    assert out["steps"] == 3
    assert {"loss", "sft_loss", "nce_loss", "accuracy", "lr"} <= set(out["final_metrics"])
    records = [json.loads(line) for line in (d / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3]  # log_every 10: only the final step is logged


    # LoRA from Python: a nested options dict; the checkpoint's adapter merges into a plain model
    # (pathlib paths accepted) equal to the run's own merged output.
    lora = lrem.train.sft(str(config), output_dir=d / "lora", max_steps=2, lr=1e-2, gradient_checkpointing=True,
                          lora={"r": 4, "alpha": 8})
    assert lora["steps"] == 2
    assert (d / "lora" / "checkpoint-2" / "adapter_config.json").is_file()
    lrem.train.merge_adapter(d / "lora" / "checkpoint-2", d / "merged")
    merged, trained = lrem.Model.load(d / "merged"), lrem.Model.load(d / "lora")
    assert merged.fingerprint == trained.fingerprint


def test_errors_name_the_field(toy):
    d, corpus, _ = toy
    with pytest.raises(lrem.FormatError, match="'lerning_rate'"):
        lrem.train.pretrain(corpus=str(corpus), output_dir=str(d / "x"), lerning_rate=1.0)
    with pytest.raises(lrem.FormatError, match="'rank'"):
        lrem.train.sft(model="m", data="d", output_dir=str(d / "z"), lora={"rank": 8})
    with pytest.raises(lrem.InvalidArgument, match="'group_size'"):
        lrem.train.grpo(model="m", data="d", output_dir=str(d / "y"), group_size=1)
    with pytest.raises(lrem.InvalidArgument, match="'loss_aggregation'"):
        lrem.train.grpo(model="m", data="d", output_dir=str(d / "y"), loss_aggregation="mean", ppo_epochs=2)


def test_cli_seed_overrides_the_config(toy, lrem_cli):
    import hashlib
    import subprocess

    d, corpus, triplets = toy
    lrem.train.pretrain(corpus=str(corpus), output_dir=str(d / "seed-base"), vocab_size=300, seq_len=32, batch_size=4,
                        max_steps=2, num_threads=1, quiet=True, model=tiny_model())

    def stage1(out, *seed):
        config = d / f"{out}.json"
        config.write_text(json.dumps({"model": str(d / "seed-base"), "data": str(triplets), "batch_size": 2,
                                      "max_steps": 2, "quiet": True, "num_threads": 1, "seed": 5,
                                      "output_dir": str(d / out)}))
        run = subprocess.run([str(lrem_cli), "train", "sft", "--config", str(config), *seed], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return hashlib.sha256((d / out / "model.safetensors").read_bytes()).hexdigest()

    from_config = stage1("seed-config")
    assert stage1("seed-5", "--seed", "5") == from_config
    assert stage1("seed-6", "--seed", "6") != from_config


def test_cli_training_takes_the_process_group_from_the_launchers_environment(toy, lrem_cli):
    """One config for every rank: RANK / WORLD_SIZE / MASTER_* (as torchrun sets them) make a
    2-rank run, whose weights match the same run started with --world-size / --rank."""
    import os
    import socket
    import subprocess

    d, corpus, _ = toy
    config = d / "ddp.json"
    config.write_text(json.dumps({"corpus": str(corpus), "vocab_size": 300, "seq_len": 32, "batch_size": 2,
                                  "max_steps": 2, "num_threads": 1, "quiet": True, "model": tiny_model(),
                                  "output_dir": str(d / "env-run")}))

    def port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def run(out, env_of_rank, args_of_rank):
        procs = [subprocess.Popen([str(lrem_cli), "train", "pretrain", "--config", str(config), *args_of_rank(r)],
                                  env=dict(os.environ, **env_of_rank(r)), cwd=d, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for r in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        return (d / out / "model.safetensors").read_bytes()

    p1, p2 = port(), port()
    from_env = run("env-run", lambda r: {"RANK": str(r), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                                         "MASTER_PORT": str(p1)}, lambda r: [])
    config_json = json.loads(config.read_text())
    # The same job through the command-line switches, into another directory.
    config.write_text(json.dumps(dict(config_json, output_dir=str(d / "flag-run"), master_port=p2)))
    from_flags = run("flag-run", lambda r: {}, lambda r: ["--world-size", "2", "--rank", str(r)])
    assert from_env == from_flags
