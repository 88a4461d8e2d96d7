"""National benchmarks from TEDS-D, SAMHSA's public file of treatment discharges.

So far: a generator of PUF-shaped files (:func:`generate_puf`, :func:`write_puf`) with 2019's
margins and planted differences (:class:`Planted`, :func:`planted_rates`).
"""

from outcomes.national._synth import Planted, planted_rates
from outcomes.national._synth import generate as generate_puf
from outcomes.national._synth import write as write_puf

__all__ = ["Planted", "generate_puf", "planted_rates", "write_puf"]
