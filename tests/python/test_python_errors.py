"""Refused inputs raise exceptions, never crash the interpreter, and carry the
same one-line message as superlens-cli (compared with the CLI's stderr)."""
import os
import pathlib
import shutil

import numpy as np
import pytest
import superlens

from conftest import FAMILIES, REFERENCE, cli_error

PLANTED = os.path.join(REFERENCE, "llama-planted")


def message(excinfo):
    return str(excinfo.value)


def test_error_classes():
    assert issubclass(superlens.Error, ValueError)
    assert issubclass(superlens.Cancelled, superlens.Error)


def test_missing_folder_is_file_not_found_with_the_cli_message(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(FileNotFoundError) as e:
        superlens.open(missing)
    assert message(e) == cli_error("info", missing)
    with pytest.raises(FileNotFoundError):
        superlens.open(pathlib.Path(missing))


def test_damaged_models_are_refused_with_the_cli_message(tmp_path):
    bad = tmp_path / "truncated"
    shutil.copytree(PLANTED, bad)
    st = bad / "model.safetensors"
    st.write_bytes(st.read_bytes()[:5000])
    with pytest.raises(superlens.Error) as e:
        superlens.open(str(bad))
    assert message(e) == cli_error("info", str(bad))

    garbage = tmp_path / "garbage-config"
    shutil.copytree(PLANTED, garbage)
    (garbage / "config.json").write_text("{ not json")
    with pytest.raises(superlens.Error) as e:
        superlens.open(str(garbage))
    assert message(e) == cli_error("info", str(garbage))

    no_config = tmp_path / "no-config"
    no_config.mkdir()
    with pytest.raises(superlens.Error) as e:  # the folder exists: not a FileNotFoundError
        superlens.open(str(no_config))
    assert not isinstance(e.value, FileNotFoundError)
    assert message(e) == cli_error("info", str(no_config))


def test_bad_edits_raise_with_the_cli_message(planted):
    for spec in ["bogus", "model.layers.9.mlp.down_proj.weight[0,0]=0", "model.layers.1.mlp.down_proj.weight[999,0]=0",
                 "blocks.1.hook_mlp_out[0,64]=1", "blocks.1.hook_mlp_out[5,0]=1", "laser:model.layers.1.mlp.down_proj.weight:rank=2",
                 "rtn:nothing.*:bits=4:block=64", "model.layers.1.mlp.down_proj.weight[1,2]=abc"]:
        with pytest.raises(superlens.Error) as e:
            planted.run([1, 2, 3], edits=[spec])
        assert message(e) == cli_error("logits", PLANTED, "--ids", "1,2,3", "--edit", spec), spec
    with pytest.raises(superlens.Error):
        planted.parse_edits(["bogus"])
    assert planted.parse_edits("model.layers.1.mlp.down_proj.weight[13,57]=0.0") == ["model.layers.1.mlp.down_proj.weight[13,57]=0"]
    with pytest.raises(TypeError):
        planted.run([1, 2], edits=[3])


def test_bad_hook_patterns_raise_with_the_cli_message(planted, tmp_path):
    out = str(tmp_path / "x.h5")
    for pattern in ["blocks.*.hook_nothing", "blocks.7.hook_mlp_out", "hook_pos_embed"]:
        with pytest.raises(superlens.Error) as e:
            planted.run([1, 2, 3], hooks=[pattern])
        assert message(e) == cli_error("capture", PLANTED, "--ids", "1,2,3", "--hooks", pattern, "--out", out), pattern
    # a hook the family lacks is refused by name (GPT-J's parallel block has no resid_mid)
    gptj = superlens.open(os.path.join(FAMILIES, "gptj-bf16"))
    with pytest.raises(superlens.Error, match="hook_resid_mid"):
        gptj.run([1, 2], hooks="blocks.0.hook_resid_mid")
    with pytest.raises(superlens.Error, match="hook_resid_mid"):
        gptj.run([1, 2], hooks={"blocks.0.hook_resid_mid": lambda a: None})


def test_token_ids_out_of_vocabulary_and_bad_inputs(planted):
    with pytest.raises(superlens.Error) as e:
        planted.run([1, 999])
    assert message(e) == cli_error("logits", PLANTED, "--ids", "1,999")
    with pytest.raises(superlens.Error):
        planted.run([1, -1])
    with pytest.raises(superlens.Error):
        planted.run([1, 2 ** 40])
    with pytest.raises(superlens.Error, match="no tokens"):
        planted.run([])
    with pytest.raises(TypeError):
        planted.run(3.5)
    with pytest.raises(TypeError):
        planted.run([1.5, 2.0])
    with pytest.raises(TypeError):
        planted.run([True, False])
    with pytest.raises(TypeError):
        planted.run(np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        planted.run(np.array([[1, 2]]))
    # numpy integer arrays and scalars are token ids
    np.testing.assert_array_equal(planted.run(np.array([1, 5, 9], dtype=np.int64)).logits,
                                  planted.run([np.int32(1), 5, np.uint8(9)]).logits)


def test_text_without_tokenizer_names_the_folder(planted):
    assert planted.tokenizer is None
    with pytest.raises(superlens.Error) as e:
        planted.run("hello")
    cli_message = cli_error("logits", PLANTED, "--prompt", "hello")
    # core's part of the message is the same; the CLI names its option, Python the argument
    assert cli_message.split(" (needed")[0] == message(e).split(" (needed")[0]
    with pytest.raises(superlens.Error):
        planted.perplexity("some text")


def test_missing_files_are_file_not_found(planted, demo, tmp_path):
    with pytest.raises(FileNotFoundError):
        superlens.cache.open(str(tmp_path / "none.h5"))
    with pytest.raises(FileNotFoundError):
        demo.perplexity(tmp_path / "none.txt")
    with pytest.raises(FileNotFoundError):
        planted.run([1, 2], edits=tmp_path / "edits.json")
    with pytest.raises(FileNotFoundError):
        demo.zeroshot(tasks=str(tmp_path / "tasks.jsonl"))
    with pytest.raises(FileNotFoundError):
        superlens.load_tokenizer(tmp_path / "tokenizer.json")


def test_damaged_and_foreign_cache_files(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(superlens.Error) as e:
        superlens.cache.open(garbage)
    assert str(garbage) in message(e)
    assert not isinstance(e.value, FileNotFoundError)
    h5py = pytest.importorskip("h5py")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(superlens.Error, match="foreign.h5"):
        superlens.cache.open(foreign)


def test_weights_errors(planted):
    with pytest.raises(superlens.Error, match="unknown tensor 'nope'"):
        planted.weight("nope")
    with pytest.raises(superlens.Error):
        planted.weight("model.layers.1.mlp.down_proj.weight", raw=True, edits=["model.layers.1.mlp.down_proj.weight[0,0]=0"])
    with pytest.raises(superlens.Error):
        planted.down_proj_name(99)


def test_hostile_strings_never_crash(planted):
    samples = ["", "[", "]", "=", "*", "**", "a" * 10000, "blocks.", "blocks.1.hook_mlp_out[", "blocks.1.hook_mlp_out[0,0]=",
               "model.layers.1.mlp.down_proj.weight[-1,0]=0", "laser:", "rtn:*:bits=99:block=0", "actq:*:bits=1",
               "blocks.1.hook_mlp_out[0,0]=nan", "\x00\xff", "model.layers.1.mlp.down_proj.weight[99999999999999999999,0]=0"]
    for s in samples:
        for kwargs in ({"edits": [s]}, {"hooks": [s]}):
            try:
                planted.run([1, 2], **kwargs)
            except (superlens.Error, TypeError):
                pass
