"""Process lifecycle: a script that never closes its store or subscriptions exits cleanly."""

import subprocess
import sys
import textwrap


def run(script: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=60)


def test_exit_with_live_subscriptions_and_open_store_is_clean(tmp_path):
    r = run("""
        import sys, nexum
        store = nexum.EventStore.open(sys.argv[1])
        seen = []
        subs = [store.subscribe(seen.append) for _ in range(3)]
        store.append("account-a", [{"event_type": "account_created"} for _ in range(100)])
        subs[0].wait_for_position(100)
        print("done", len(seen) >= 100)
        # no close(), no stop(): the atexit hook stops the subscriptions and closes the store
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "done True" in r.stdout
    r = run("""
        import sys, nexum
        with nexum.EventStore.open(sys.argv[1]) as store:
            print(store.last_position)
    """, tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "100", r.stderr  # closed cleanly: the lock was released


def test_a_raising_callback_does_not_end_the_process(tmp_path):
    r = run("""
        import sys, nexum
        with nexum.EventStore.open(sys.argv[1]) as store:
            def boom(e):
                raise SystemExit("a callback must not end the process")
            sub = store.subscribe(boom)
            store.append("account-a", [{"event_type": "account_created"}])
            try:
                sub.wait_for_position(1, timeout=10)
            except nexum.SubscriptionFailed as e:
                print("failed:", type(e.__cause__).__name__)
            store.append("account-a", [{"event_type": "account_updated"}])
            print("still here", store.last_position)
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "failed: SystemExit" in r.stdout
    assert "still here 2" in r.stdout
