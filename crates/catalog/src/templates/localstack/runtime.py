"""vers's launcher for LocalStack (community build, localstack-core), run with the Python of
LocalStack's virtual environment.

LocalStack's community build keeps every service's state in memory (its `PERSISTENCE` is a
feature of the commercial build), so a checkpoint of the data directory would hold nothing.
This launcher keeps the state in $VERS_LOCALSTACK_STATE (in the service's data directory):

- POST /_vers/save writes every running service's stores (LocalStack's own state containers,
  pickled with LocalStack's own pickler) and the bodies of S3 objects into a new snapshot
  directory, then switches the `current` link to it in one rename. vers calls it in
  `quiesce`, before every checkpoint.
- At start, the `current` snapshot is loaded back into the services; GET /_vers/ready answers
  200 only once that is done (vers's health probe), 503 before.

Not kept: S3 multipart uploads still in progress (their parts) and in-flight SQS receipt
handles' visibility timers, which restart from the saved state.
"""

import hashlib
import logging
import os
import shutil
import sys
import threading
import time

STATE_DIR = os.environ["VERS_LOCALSTACK_STATE"]
CURRENT = os.path.join(STATE_DIR, "current")
SERVICES = [s for s in os.environ.get("SERVICES", "").split(",") if s]
LOG = logging.getLogger("vers")

loaded = threading.Event()
save_lock = threading.Lock()


def service(name):
    from localstack.services.plugins import SERVICE_PLUGINS

    return SERVICE_PLUGINS.require(name)


def containers(svc):
    """The state containers a service holds (stores, moto backends, asset directories)."""
    from localstack.state import StateVisitor

    found = []

    class Collect(StateVisitor):
        def visit(self, state_container):
            found.append(state_container)

    svc.accept_state_visitor(Collect())
    return found


def call(svc, hook):
    fn = getattr(getattr(svc, "lifecycle_hook", None), hook, None)
    if fn is not None:
        fn()


def s3_objects():
    """Every stored S3 object version as (bucket name, S3Object)."""
    from localstack.services.s3.models import S3Object, s3_stores

    seen = set()
    for regions in list(dict.values(s3_stores)):
        for store in list(dict.values(regions)):
            for bucket in list(store.buckets.values()):
                if id(bucket) in seen:
                    continue
                seen.add(id(bucket))
                for obj in bucket.objects.values(with_versions=True):
                    if isinstance(obj, S3Object):
                        yield bucket.name, obj


def body_name(bucket, obj):
    key = f"{bucket}\0{obj.key}\0{obj.version_id}".encode()
    return hashlib.sha256(key).hexdigest()


def save_bodies(svc, directory):
    backend = svc.lifecycle_hook._storage_backend
    os.makedirs(directory)
    for bucket, obj in s3_objects():
        with backend.open(bucket, obj, mode="r") as stored, open(
            os.path.join(directory, body_name(bucket, obj)), "wb"
        ) as out:
            while chunk := stored.read(1 << 20):
                out.write(chunk)


def load_bodies(svc, directory):
    backend = svc.lifecycle_hook._storage_backend
    for bucket, obj in s3_objects():
        backend.create_bucket(bucket)
        etag = obj.etag
        with open(os.path.join(directory, body_name(bucket, obj)), "rb") as body, backend.open(
            bucket, obj, mode="w"
        ) as stored:
            stored.write(body)
        # Writing recomputes a plain MD5; a multipart object's ETag is not one.
        obj.etag = etag


def snapshot(directory):
    from localstack.state import AssetDirectory, pickle

    for name in SERVICES:
        svc = service(name)
        call(svc, "on_before_state_save")
        target = os.path.join(directory, name)
        os.makedirs(target)
        for i, container in enumerate(containers(svc)):
            if isinstance(container, AssetDirectory):
                # S3's asset directory holds only its spooled temporary files: the bodies
                # are saved object by object below.
                if name != "s3" and os.path.isdir(container.path):
                    shutil.copytree(container.path, os.path.join(target, f"{i}.assets"))
            else:
                with open(os.path.join(target, f"{i}.pickle"), "wb") as f:
                    pickle.dump(container, f)
        if name == "s3":
            save_bodies(svc, os.path.join(target, "bodies"))
        call(svc, "on_after_state_save")


def save():
    """Writes a new snapshot and makes it `current` atomically; returns its name."""
    with save_lock:
        last_error = None
        for _ in range(5):
            directory = os.path.join(STATE_DIR, f"snapshot-{time.time_ns()}")
            os.makedirs(directory)
            try:
                snapshot(directory)
            except RuntimeError as e:
                # A store changed while it was pickled ("dictionary changed size during
                # iteration"): take the snapshot again.
                last_error = e
                shutil.rmtree(directory, ignore_errors=True)
                time.sleep(0.05)
                continue
            link = CURRENT + ".new"
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.basename(directory), link)
            os.replace(link, CURRENT)
            for entry in os.listdir(STATE_DIR):
                if entry.startswith("snapshot-") and entry != os.path.basename(directory):
                    shutil.rmtree(os.path.join(STATE_DIR, entry), ignore_errors=True)
            return os.path.basename(directory)
        raise RuntimeError(f"the state kept changing while it was saved: {last_error}")


def restore(container, path):
    """Replaces the contents of a live state container with the pickled one at `path`."""
    from localstack.services.stores import AccountRegionBundle
    from localstack.state import pickle
    from moto.core.base_backend import BackendDict

    with open(path, "rb") as f:
        saved = pickle.load(f)
    if isinstance(container, AccountRegionBundle):
        with container.lock:
            dict.clear(container)
            container._universal = saved._universal
            for account, regions in dict.items(saved):
                regions.lock = container.lock
                dict.__setitem__(container, account, regions)
    elif isinstance(container, BackendDict):
        dict.clear(container)
        dict.update(container, dict.items(saved))
    else:
        raise TypeError(f"vers cannot restore a {type(container).__name__}")


def load():
    from localstack.state import AssetDirectory

    if not os.path.isdir(CURRENT):
        return
    for name in SERVICES:
        source = os.path.join(CURRENT, name)
        if not os.path.isdir(source):
            continue
        svc = service(name)
        call(svc, "on_before_state_load")
        for i, container in enumerate(containers(svc)):
            if isinstance(container, AssetDirectory):
                assets = os.path.join(source, f"{i}.assets")
                if os.path.isdir(assets):
                    shutil.copytree(assets, container.path, dirs_exist_ok=True)
                continue
            path = os.path.join(source, f"{i}.pickle")
            if os.path.exists(path):
                restore(container, path)
        if name == "s3":
            load_bodies(svc, os.path.join(source, "bodies"))
        call(svc, "on_after_state_load")
        LOG.info("vers: loaded the saved state of %s", name)


def fresh_locks_when_pickled():
    """Locks and conditions pickle as new, free ones. dill keeps a lock's state, so one a
    thread held while the state was saved (SQS's queue worker takes each queue's lock every
    second) would come back held by nobody, and the restored queue would hang for ever."""
    from localstack.state import pickle

    @pickle.register(type(threading.Lock()))
    def _lock(pickler, obj):
        pickler.save_reduce(threading.Lock, (), obj=obj)

    @pickle.register(type(threading.RLock()))
    def _rlock(pickler, obj):
        pickler.save_reduce(threading.RLock, (), obj=obj)

    @pickle.register(threading.Condition)
    def _condition(pickler, obj):
        pickler.save_reduce(threading.Condition, (obj._lock,), obj=obj)


def add_routes():
    from localstack.http import Resource, Response
    from localstack.services.internal import get_internal_apis

    class Ready:
        def on_get(self, request):
            if loaded.is_set():
                return Response("ready\n", status=200)
            return Response("loading the saved state\n", status=503)

    class Save:
        def on_post(self, request):
            if not loaded.is_set():
                return Response("not started yet\n", status=503)
            return Response(f"saved {save()}\n", status=200)

    get_internal_apis().add(Resource("/_vers/ready", Ready()))
    get_internal_apis().add(Resource("/_vers/save", Save()))


def load_when_ready():
    from localstack.runtime.current import get_current_runtime

    while True:
        try:
            runtime = get_current_runtime()
            break
        except ValueError:
            time.sleep(0.02)
    runtime.ready.wait()
    if runtime.stopping.is_set():
        return
    try:
        load()
    except Exception:
        LOG.exception("vers: loading the saved state from %s failed", CURRENT)
        sys.stdout.flush()
        os._exit(3)
    loaded.set()


def private_s3_storage():
    """LocalStack's S3 spools object bodies under a fixed /tmp/localstack-s3-storage, which
    every LocalStack on the machine would share; this one's goes in its own temporary directory."""
    import tempfile

    from localstack.services.s3 import provider

    provider.DEFAULT_S3_TMP_DIR = os.path.join(tempfile.gettempdir(), "s3-storage")


def private_tmp():
    """Temporary files go in $VERS_LOCALSTACK_TMP (in the run directory), created here by the
    user LocalStack runs as: Python falls back to /tmp for a directory it cannot write."""
    import tempfile

    path = os.environ["VERS_LOCALSTACK_TMP"]
    os.makedirs(path, exist_ok=True)
    tempfile.tempdir = path


def prebuilt_service_catalog():
    """LocalStack's index of the AWS APIs, built once at install (see discover.rs), instead of
    parsing every botocore service spec again at each start."""
    static = os.environ.get("VERS_LOCALSTACK_STATIC")
    if static and os.path.isdir(static):
        from localstack import config

        config.dirs.static_libs = static


def main():
    os.makedirs(STATE_DIR, exist_ok=True)
    private_tmp()
    prebuilt_service_catalog()
    from localstack.runtime import main as localstack_main

    private_s3_storage()

    fresh_locks_when_pickled()
    add_routes()
    threading.Thread(target=load_when_ready, daemon=True, name="vers-load").start()
    try:
        localstack_main.main()
    except SystemExit as e:
        # LocalStack has stopped its services; a worker thread it left running (as when a stop
        # comes while it is still starting) must not keep the process alive.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(e.code if isinstance(e.code, int) else 1)


main()
