"""Cyclic garbage holding Qt widgets is collected on the GUI thread, never a worker's."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QMenu


class Holder:
    """A widget caught in a reference cycle, as a closed dialog's wrapper often is."""

    def __init__(self) -> None:
        self.menu = QMenu()
        self.menu.addAction("an action")
        self.me = self


def test_a_worker_that_allocates_does_not_collect_the_windows_garbage(window, qtbot):
    collected_on: list[str] = []
    holder = Holder()
    weakref.finalize(holder, lambda: collected_on.append(threading.current_thread().name))
    del holder  # unreachable now: only a collection frees it

    def allocate() -> None:  # far past gen 0's threshold: automatic GC would collect here
        for _ in range(20):
            junk = [[i] for i in range(20_000)]
            del junk

    worker = threading.Thread(target=allocate, name="allocating-worker")
    worker.start()
    worker.join()
    assert not gc.isenabled()
    ballast = []

    def collected() -> bool:  # the window goes on allocating, past the threshold: its timer collects
        ballast.append([[i] for i in range(1000)])
        return bool(collected_on)

    qtbot.waitUntil(collected, timeout=10_000)
    assert collected_on == [threading.main_thread().name]


class Node:
    pass


def test_a_full_collection_freezes_its_survivors_which_still_free_by_refcount(qapp):
    from studio.ui.gui_thread_gc import collect_on_the_gui_thread

    collector = collect_on_the_gui_thread()
    survivor = Node()
    garbage = Node()
    garbage.me = garbage  # a cycle: only a collection frees it
    freed = weakref.ref(garbage)
    del garbage
    collector.collect_all()
    assert freed() is None  # collected, not frozen
    assert not any(o is survivor for o in gc.get_objects(generation=2))  # frozen: the next full one skips it
    alive = weakref.ref(survivor)
    del survivor
    assert alive() is None  # a frozen object still goes when its last reference does
