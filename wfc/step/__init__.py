"""The lifecycle of one concrete step: resolve -> key -> claim -> hit or execute -> collect ->
archive -> record (BRIEF §6). ``run_step`` is the library function behind ``wfc run-step``; the
orchestration of many steps lives in ``wfc.pipeline``.
"""
