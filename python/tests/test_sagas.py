"""Saga state written by the C++ service (nexum demo runs LoanApplicationSaga), read from Python."""

import subprocess

import pytest

import nexum

from conftest import nexum_cli


def test_saga_state_matches_what_the_demo_reports(tmp_path):
    data = tmp_path / "demo"
    out = subprocess.run([str(nexum_cli()), "demo", "--data", str(data), "--customers", "20", "--workers", "0"],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    # e.g. "  completed 4, rejected 4: kyc_revoked 2, no_account 2"
    line = next(l for l in out.splitlines() if l.strip().startswith("completed "))
    completed = int(line.split()[1].rstrip(","))
    rejected = int(line.split()[3].rstrip(":"))
    with nexum.EventStore.open(data) as store:
        [summary] = [s for s in store.sagas() if s["saga"] == "loan_application"]
        assert (summary["completed"], summary["rejected"]) == (completed, rejected)
        instances = store.saga_instances("loan_application")
        assert len(instances) == summary["instances"]
        done = [i for i in instances if i["status"] == "completed"]
        assert len(done) == completed
        one = store.saga_instance("loan_application", done[0]["id"])
        assert one == done[0]
        assert one["history"], "an instance keeps its history"
        with pytest.raises(nexum.NotFound):
            store.saga_instance("loan_application", "nobody")
