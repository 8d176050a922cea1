"""The app's runtime: switching the SAE leaves nothing of the old one on the model."""

import gc
import weakref

from tests.conftest import build_tiny_sae
from ui import runtime


def test_switching_the_sae_releases_its_persistent_hook(tiny_subject, tiny_sae_dir):
    from core.splice import make_persistent

    old = build_tiny_sae(tiny_subject, seed=3)
    module = tiny_subject.module(old.hook_name)
    hooks_before = len(module._forward_hooks)
    rt = runtime.set_runtime(tiny_subject, old)
    make_persistent(tiny_subject, old)  # what a compiled (static cache) generation registers
    assert len(module._forward_hooks) == hooks_before + 1
    gone = weakref.ref(old)
    rt.switch_sae(str(tiny_sae_dir))
    assert len(module._forward_hooks) == hooks_before
    assert id(old) not in tiny_subject.steering_hooks
    del old
    gc.collect()
    assert gone() is None, "the old SAE is still referenced after the switch"


def test_the_model_lock_belongs_to_the_subject(tiny_subject):
    from core.generate import model_lock

    assert model_lock(tiny_subject) is tiny_subject.lock
    with model_lock(tiny_subject):  # re-entrant: inspect inside a locked section works
        assert tiny_subject.lock.acquire(blocking=False)
        tiny_subject.lock.release()
