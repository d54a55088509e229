"""Errors people can act on, and the exit codes the CLI returns for them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    MISSING_TOOL = 3
    SERVICE_FAILED = 4
    PORT_IN_USE = 5
    GATE_FAILED = 6
    RECONCILIATION_FAILED = 7
    NO_DISK = 8
    TESTS_FAILED = 9
    OUT_OF_MEMORY = 10
    BUSY = 11            # another run holds the pipeline lock
    INTERRUPTED = 130


class MedleyError(Exception):
    """One clear line: what went wrong and how to fix it."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} -> {self.fix}" if self.fix else self.message


class MissingTool(MedleyError):
    exit_code = ExitCode.MISSING_TOOL


class ServiceFailed(MedleyError):
    exit_code = ExitCode.SERVICE_FAILED


class PortInUse(MedleyError):
    exit_code = ExitCode.PORT_IN_USE


class GateFailed(MedleyError):
    exit_code = ExitCode.GATE_FAILED


class ReconciliationFailed(MedleyError):
    exit_code = ExitCode.RECONCILIATION_FAILED


class NoDiskSpace(MedleyError):
    exit_code = ExitCode.NO_DISK


class OutOfMemory(MedleyError):
    exit_code = ExitCode.OUT_OF_MEMORY
