"""Records and the one table writer every report uses."""
import json

import pytest

from graphcl.errors import InvalidArgumentError
from graphcl.records import (ORACLE_FLAG, Record, Table, format_cell, mean_std, read_records, summarize, write_records,
                             write_report)


def record(seed: int, acc: float, seconds: float = 1.0, **extra) -> Record:
    return Record("grace", "cora", seed, metrics={"acc": acc}, train_seconds=seconds, peak_memory_mb=10.0, extra=extra)


def test_mean_std_and_summarize():
    assert mean_std([1.0, 3.0]) == (2.0, 1.0)
    assert mean_std([1.0, None, float("nan"), 3.0]) == (2.0, 1.0)
    mean, std = mean_std([])
    assert mean != mean and std != std  # nan: nothing to average
    s = summarize([record(0, 0.5, 1.0), record(1, 0.7, 3.0)])
    assert s["acc"][0] == pytest.approx(0.6) and s["train_seconds"] == (2.0, 1.0)
    assert format_cell("acc", 0.6, 0.1) == "60.00 ± 10.00" and format_cell("train_seconds", 2.0, 1.0) == "2.0 ± 1.0"


def test_records_round_trip_with_their_extra_facts_at_the_top_level(tmp_path):
    records = [record(0, 0.5, best_epoch=7), record(1, 0.7)]
    records[0].arrays["embeddings"] = [[1.0]]  # in-memory only
    path = write_records(records, tmp_path / "r.json")
    raw = json.loads(path.read_text())
    assert raw[0]["best_epoch"] == 7 and "extra" not in raw[0] and "arrays" not in raw[0]
    back = read_records(path)
    assert back == records and back[0].extra == {"best_epoch": 7} and back[0].arrays == {}
    (tmp_path / "bad.json").write_text(json.dumps([{"metrics": {}}]))
    with pytest.raises(InvalidArgumentError, match="not a graphcl run record"):
        read_records(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InvalidArgumentError, match="not a readable JSON"):
        read_records(tmp_path / "broken.json")


def test_table_writes_mean_std_cells_as_markdown_and_csv(tmp_path):
    group = [record(0, 0.5), record(1, 0.7)]
    table = Table(["method", "mode", "acc", "nmi", "train_seconds"], headers={"acc": "ACC"})
    table.add(method="grace", mode="final", acc=("acc", group), nmi=("nmi", group), train_seconds=("train_seconds", group))
    table.add(method="grace", mode=ORACLE_FLAG, acc="n/a")
    md = table.markdown().splitlines()
    assert md[0] == "| method | mode | ACC | nmi | train_seconds |"
    assert md[2] == "| grace | final | 60.00 ± 10.00 | – | 1.0 ± 0.0 |"
    assert md[3].startswith(f"| grace | {ORACLE_FLAG} | n/a |")
    rows = table.csv().splitlines()
    assert rows[0] == "method,mode,acc_mean,acc_std,nmi_mean,nmi_std,train_seconds_mean,train_seconds_std"
    assert rows[1].startswith("grace,final,0.6") and ",nan,nan," in rows[1]
    with pytest.raises(InvalidArgumentError, match="no columns"):
        table.add(method="x", unknown=1)
    path = write_report(tmp_path / "out" / "t.md", "Title", table, intro="Intro.", note="Note.",
                        csv_path=tmp_path / "out" / "t.csv")
    text = path.read_text()
    assert text.startswith("# Title\n\nIntro.\n\nNote.\n\n| method |") and (tmp_path / "out" / "t.csv").exists()
