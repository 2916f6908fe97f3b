"""The raw ceiling's workflow. Kept out of the module run as __main__, which the sandbox cannot re-import."""

from temporalio import workflow


@workflow.defn(name="BenchNoop")
class BenchNoop:
    """Waits for one signal then returns: one start and one signal, no state, no timers."""

    def __init__(self) -> None:
        self._signalled = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._signalled)

    @workflow.signal(name="go")
    def go(self) -> None:
        self._signalled = True
