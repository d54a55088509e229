"""Placeholder wiring; replaced by the component's owner."""


def add_arguments(parser):
    pass


def run(cfg, args):
    raise SystemExit("not implemented yet")
