"""Type stubs of the native module; the public API is convoy/__init__.py."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

class Failure(Exception):
    """args: (kind, rendered message, [diagnostic dicts])."""

class Pipeline:
    @property
    def name(self) -> str: ...
    def origin(self) -> Tuple[str, str, Optional[str], List[Tuple[str, bytes]]]: ...
    def info(self) -> Dict[str, Any]: ...
    def table(self) -> List[Dict[str, Any]]: ...
    def run(
        self,
        names: List[str],
        arrays: List[npt.NDArray[np.uint8]],
        descrs: List[str],
        shapes: List[List[int]],
        backend: str,
        threads: int,
        raw: bool,
    ) -> List[Tuple[str, npt.NDArray[np.uint8], str, List[int]]]: ...
    def bench(self, iters: int, threads: int) -> Dict[str, Any]: ...
    def estimate(
        self, style: str, parallel: List[Tuple[str, str]], part: Optional[str], clock_ns: float
    ) -> str: ...
    def emit_hls(
        self,
        dir: str,
        style: str,
        parallel: List[Tuple[str, str]],
        part: Optional[str],
        clock_ns: float,
        seed: int,
        force: bool,
    ) -> List[str]: ...

def load(path: str, pipeline: Optional[str] = None) -> Pipeline: ...
def compile(
    source: str, pipeline: Optional[str] = None, name: str = "<string>", base_dir: str = "."
) -> Pipeline: ...
def restore(
    name: str, source: str, pipeline: Optional[str], files: List[Tuple[str, bytes]]
) -> Pipeline: ...
