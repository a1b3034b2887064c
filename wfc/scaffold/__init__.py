"""Scaffolding: the files a user starts from, written only where nothing exists yet. ``project``
lays out a project (``wfc init``); ``method`` writes a method that runs as generated, and its
environment when missing (``wfc method new``), from the texts in ``templates``."""

from wfc.scaffold.method import LANGS, NewMethod, new_method
from wfc.scaffold.project import GitInit, InitResult, init_project

__all__ = ["LANGS", "GitInit", "InitResult", "NewMethod", "init_project", "new_method"]
